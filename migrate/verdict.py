"""Will a task of this revision start? What the ECS agent checks at task start (issue 15 §1), as a pure function.

Given the task definition, the execution role (trust + policy documents), a resolver for ``valueFrom``
references and a policy evaluator, :func:`task_start_verdict` answers "will start" or "would fail: <ECS wording>".
No moto and no boto3 here: the sandbox emulator feeds it moto's backends, the live preflight (issue 15 §4)
will feed it real lookups. The resolver reports only metadata (exists, key names, stages), never a value.

Order follows the agent: registration rules, role assumption, then the secrets grouped per store
(SSM in one GetParameters call, Secrets Manager one reference at a time).
"""

from __future__ import annotations

import fnmatch
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from migrate.sandbox.limits import DEFAULT_QUOTAS, Quotas, check_task_definition_rules, check_task_definition_size

ECS_TASKS = "ecs-tasks.amazonaws.com"
PREFIX = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
SSM_PREFIX = PREFIX + "unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
ASM_PREFIX = PREFIX + "unable to retrieve secret from asm: service call has been retried 1 time(s): "
REQUEST_TAIL = " status code: 400, request id: 00000000-0000-0000-0000-000000000000"

# --- references --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A parsed ``valueFrom``: store ``ssm`` or ``asm``, where, and the SM selectors."""

    store: str
    region: str
    account: str
    name: str  #: SSM parameter name (with leading ``/`` when hierarchical) or SM secret id (ARN without selectors)
    json_key: str = ""
    version_stage: str = ""
    version_id: str = ""
    by_arn: bool = True

    @property
    def arn(self) -> str:
        if self.store == "asm":
            return self.name
        return f"arn:aws:ssm:{self.region}:{self.account}:parameter/{self.name.lstrip('/')}"


@dataclass(frozen=True)
class Resolution:
    """What a lookup found, metadata only. ``resource_arn``: the real ARN (SM suffix included)."""

    exists: bool
    resource_arn: str = ""
    customer_kms_key_arn: str | None = None  #: None for the default ``aws/ssm`` / ``aws/secretsmanager`` key
    json_keys: frozenset[str] | None = None  #: None when the value is not a JSON object
    stages: frozenset[str] = frozenset()
    version_ids: frozenset[str] = frozenset()


Resolver = Callable[[Reference], Resolution]
#: (policy documents, action, resource) -> "allow" | "deny" (explicit) | "implicit"
Evaluator = Callable[[Sequence[Mapping[str, Any]], str, str], str]


class BadReference(ValueError):
    pass


def parse_reference(value_from: str, *, region: str, account: str) -> Reference:
    """Facts §1.2: SSM by name (task region) or ARN; SM by ARN ``secret:name[:json-key:stage:id]``."""
    if not value_from.startswith("arn:"):
        return Reference("ssm", region, account, value_from, by_arn=False)
    parts = value_from.split(":")
    if len(parts) < 6 or not parts[3] or not parts[4]:
        raise BadReference(value_from)
    service, arn_region, arn_account = parts[2], parts[3], parts[4]
    if service == "ssm":
        resource = ":".join(parts[5:])
        if not resource.startswith("parameter/") or len(resource) <= len("parameter/"):
            raise BadReference(value_from)
        name = resource[len("parameter"):]
        return Reference("ssm", arn_region, arn_account, name if name.count("/") > 1 else name[1:])
    if service == "secretsmanager":
        if parts[5] != "secret" or len(parts) < 7 or not parts[6] or len(parts) not in (7, 10):
            raise BadReference(value_from)
        base = ":".join(parts[:7])
        key, stage, vid = (parts[7], parts[8], parts[9]) if len(parts) == 10 else ("", "", "")
        if stage and vid:
            raise BadReference(value_from)
        return Reference("asm", arn_region, arn_account, base, key, stage, vid)
    raise BadReference(value_from)


# --- a small IAM evaluator ------------------------------------------------------------------------------


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


def _match(patterns: Iterable[str], value: str, *, case: bool) -> bool:
    for p in patterns:
        if case and fnmatch.fnmatchcase(value, p):
            return True
        if not case and fnmatch.fnmatchcase(value.lower(), p.lower()):
            return True
    return False


def _statements(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    st = doc.get("Statement") or []
    return [st] if isinstance(st, Mapping) else [s for s in st if isinstance(s, Mapping)]


def _applies(st: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in st:
        if not _match(_as_list(st["Action"]), action, case=False):
            return False
    elif "NotAction" in st:
        if _match(_as_list(st["NotAction"]), action, case=False):
            return False
    else:
        return False
    if "Resource" in st:
        return _match(_as_list(st["Resource"]), resource, case=True)
    if "NotResource" in st:
        return not _match(_as_list(st["NotResource"]), resource, case=True)
    return False


def evaluate(documents: Sequence[Mapping[str, Any]], action: str, resource: str) -> str:
    """Identity-policy evaluation: an explicit Deny wins, else any Allow, else implicit deny.

    ``Action``/``NotAction``, ``Resource``/``NotResource`` with ``*`` and ``?`` wildcards. A statement with a
    ``Condition`` is not evaluated: as a Deny it applies (fail closed), as an Allow it does not.
    """
    allowed = False
    for doc in documents:
        for st in _statements(doc):
            if not _applies(st, action, resource):
                continue
            effect = st.get("Effect")
            if effect == "Deny":
                return "deny"
            if effect == "Allow" and not st.get("Condition"):
                allowed = True
    return "allow" if allowed else "implicit"


def trusts_ecs_tasks(trust: Mapping[str, Any] | None) -> bool:
    """The role's trust policy lets ``ecs-tasks.amazonaws.com`` call ``sts:AssumeRole``."""
    if not trust:
        return False
    ok = False
    for st in _statements(trust):
        principal = st.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, Mapping) else _as_list(principal)
        if ECS_TASKS not in services and "*" not in services:
            continue
        if not _match(_as_list(st.get("Action")), "sts:AssumeRole", case=False):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow" and not st.get("Condition"):
            ok = True
    return ok


# --- the verdict -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleView:
    arn: str
    exists: bool
    trust: Mapping[str, Any] | None = None
    policies: Sequence[Mapping[str, Any]] = field(default_factory=tuple)  #: inline and attached documents


@dataclass(frozen=True)
class Verdict:
    starts: bool
    reason: str = ""  #: the stoppedReason ECS would give (or the ClientException text for an invalid revision)
    at_registration: bool = False  #: ECS refuses the revision itself (RegisterTaskDefinition)

    def __str__(self) -> str:
        return "will start" if self.starts else f"would fail: {self.reason}"


WILL_START = Verdict(True)


def _pv_tuple(pv: str | None) -> tuple[int, ...] | None:
    if not pv or pv.upper() == "LATEST":
        return None
    try:
        return tuple(int(x) for x in pv.split("."))
    except ValueError:
        return None


TASK_ID = "0123456789abcdef0123456789abcdef"  #: stands for the task id in the agent's assumed-role ARN


def _denied(role: RoleView, action: str, resource: str, account: str, verdict: str) -> str:
    name = role.arn.rsplit("/", 1)[-1]
    why = ("with an explicit deny in an identity-based policy" if verdict == "deny"
           else f"because no identity-based policy allows the {action} action")
    return (f"AccessDeniedException: User: arn:aws:sts::{account}:assumed-role/{name}/{TASK_ID} is not authorized "
            f"to perform: {action} on resource: {resource} {why}")


def _value_froms(task_definition: Mapping[str, Any]) -> list[str]:
    refs: list[str] = []
    for c in task_definition.get("containerDefinitions") or []:
        refs += [str(s.get("valueFrom", "")) for s in c.get("secrets") or []]
        refs += [str(s.get("valueFrom", "")) for s in (c.get("logConfiguration") or {}).get("secretOptions") or []]
    return refs


def _ssm_verdict(refs: Sequence[Reference], role: RoleView, resolve: Resolver, evaluator: Evaluator,
                 account: str) -> Verdict | None:
    """One GetParameters call for every parameter: any denial fails it, then any missing name."""
    missing: list[str] = []
    for ref in refs:
        res = resolve(ref)
        target = res.resource_arn or ref.arn
        v = evaluator(role.policies, "ssm:GetParameters", target)
        if v != "allow":
            return Verdict(False, SSM_PREFIX + _denied(role, "ssm:GetParameters", target, account, v) + REQUEST_TAIL)
        if not res.exists:
            missing.append(ref.name)
            continue
        key = res.customer_kms_key_arn
        if key and (v := evaluator(role.policies, "kms:Decrypt", key)) != "allow":
            return Verdict(False, SSM_PREFIX + _denied(role, "kms:Decrypt", key, account, v) + REQUEST_TAIL)
    if missing:
        return Verdict(False, f"{SSM_PREFIX}invalid ssm parameters: {' '.join(missing)}")
    return None


def _asm_verdict(ref: Reference, role: RoleView, resolve: Resolver, evaluator: Evaluator, account: str) -> Verdict | None:
    res = resolve(ref)
    target = res.resource_arn or ref.name
    fetch = f"{ASM_PREFIX}failed to fetch secret {ref.name} from secrets manager: "
    not_found = f"{fetch}ResourceNotFoundException: Secrets Manager can't find the specified secret"
    v = evaluator(role.policies, "secretsmanager:GetSecretValue", target)
    if v != "allow":
        reason = fetch + _denied(role, "secretsmanager:GetSecretValue", target, account, v) + REQUEST_TAIL
    elif not res.exists:
        reason = f"{not_found}.{REQUEST_TAIL}"
    elif res.customer_kms_key_arn and evaluator(role.policies, "kms:Decrypt", res.customer_kms_key_arn) != "allow":
        reason = f"{fetch}AccessDeniedException: Access to KMS is not allowed{REQUEST_TAIL}"
    elif ref.version_stage and ref.version_stage not in res.stages:
        reason = f"{not_found} value for staging label: {ref.version_stage}{REQUEST_TAIL}"
    elif ref.version_id and ref.version_id not in res.version_ids:
        reason = f"{not_found} value for VersionId: {ref.version_id}{REQUEST_TAIL}"
    elif ref.json_key and (res.json_keys is None or ref.json_key not in res.json_keys):
        reason = f"{ASM_PREFIX}retrieved secret from Secrets Manager did not contain json key {ref.json_key}"
    else:
        return None
    return Verdict(False, reason)


def _platform_verdict(refs: Sequence[Reference], task_definition: Mapping[str, Any], launch_type: str | None,
                      platform_version: str | None) -> Verdict | None:
    fargate = (launch_type or "").upper() == "FARGATE" or "FARGATE" in (task_definition.get("requiresCompatibilities") or [])
    pv = _pv_tuple(platform_version)
    if not (fargate and pv and pv < (1, 4, 0)):
        return None
    for ref in refs:
        if ref.store == "asm" and (ref.json_key or ref.version_stage or ref.version_id):
            # facts §1.3 (feature table, CDK check); the agent's own wording for this case is UNCONFIRMED
            return Verdict(False, f"{ASM_PREFIX}secret {ref.name}: JSON key and version references need Fargate "
                                  f"platform version 1.4.0 or later (service runs {platform_version})")
    return None


def task_start_verdict(task_definition: Mapping[str, Any], role: RoleView | None, resolve: Resolver, *,
                       region: str, account: str, launch_type: str | None = None, platform_version: str | None = None,
                       evaluator: Evaluator = evaluate, quotas: Quotas = DEFAULT_QUOTAS) -> Verdict:
    """Would a task of ``task_definition`` start? ``role`` is None when the revision names no execution role."""
    bad = check_task_definition_size(task_definition, quotas) or check_task_definition_rules(task_definition)
    if bad:
        return Verdict(False, f"{bad.code}: {bad.message}", at_registration=True)
    value_froms = _value_froms(task_definition)
    if not value_froms:
        return WILL_START
    assert role is not None  # check_task_definition_rules refused secrets without an execution role
    if not role.exists or not trusts_ecs_tasks(role.trust):
        return Verdict(False, f"ECS was unable to assume the role '{role.arn}' that was provided for this task. Please "
                              "verify that the role being passed has the proper trust relationship and permissions and "
                              "that your IAM user has permissions to pass this role.")
    refs: list[Reference] = []
    for vf in value_froms:
        try:
            refs.append(parse_reference(vf, region=region, account=account))
        except BadReference:
            # the agent cannot tell which store: an ARN it cannot parse is an invalid SSM parameter to it
            return Verdict(False, f"{SSM_PREFIX}invalid ssm parameters: {vf}")
    found = _platform_verdict(refs, task_definition, launch_type, platform_version)
    found = found or _ssm_verdict([r for r in refs if r.store == "ssm"], role, resolve, evaluator, account)
    for ref in (r for r in refs if r.store == "asm"):
        found = found or _asm_verdict(ref, role, resolve, evaluator, account)
    return found or WILL_START


def json_keys_of(text: str | None) -> frozenset[str] | None:
    """Helper for resolvers: the top-level keys of a JSON object string (the value itself is not kept)."""
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return frozenset(str(k) for k in data) if isinstance(data, dict) else None


def policy_doc(raw: Any) -> Mapping[str, Any]:
    """An IAM policy document as IAM APIs hand it over: a mapping, JSON text, or URL-encoded JSON
    (GetRole/GetRolePolicy answers). ``{}`` when it is none of those."""
    if isinstance(raw, Mapping):
        return raw
    text = str(raw or "")
    for candidate in (text, urllib.parse.unquote(text)):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return {}
