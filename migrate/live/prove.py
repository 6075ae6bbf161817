"""Prove it before deploying (issue 15 §4): per service of a live plan, will its new revision's tasks start?

For each new revision the planned task definition is rebuilt (moved variables become ``secrets`` pointing at
the planned ARNs) and :func:`migrate.verdict.task_start_verdict` - the same pure verdict the sandbox's ECS
emulator runs at deployment - is asked, with IAM's own answers: ``SimulatePrincipalPolicy`` on the execution
role with the planned grant added (``PolicyInputList``) for ``ssm:GetParameters`` / ``secretsmanager:GetSecretValue``
on each ARN and ``kms:Decrypt`` with each customer key, ``GetRole`` for the trust policy, DescribeServices
for the launch type and platform version. Read-only. Each service ends "will start", "would fail: <ECS's
reason>" or "could not check: <why>" (e.g. a missing ``iam:SimulatePrincipalPolicy`` permission).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from migrate.arn import secret_pattern
from migrate.plan.actions import PutParameter, PutRolePolicy, RegisterRevision
from migrate.plan.model import Plan
from migrate.stores.aws import error_code, safe_aws_message
from migrate.verdict import Reference, Resolution, RoleView, parse_reference, policy_doc, task_start_verdict

WILL_START, WOULD_FAIL, NOT_CHECKED = "will start", "would fail", "could not check"
SM_SUFFIX = "-AbCdEf"  #: stands for the 6 random characters Secrets Manager appends (the grant says NAME-??????)
DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
_DECISIONS = {"allowed": "allow", "explicitDeny": "deny"}


@dataclass(frozen=True)
class Proof:
    key: str  #: cluster/service
    state: str  #: WILL_START | WOULD_FAIL | NOT_CHECKED
    reason: str = ""

    def __str__(self) -> str:
        return self.state if self.state == WILL_START else f"{self.state}: {self.reason}"

    @property
    def fails(self) -> bool:
        return self.state == WOULD_FAIL


class _CannotCheck(Exception):
    pass


def _call(what: str, permission: str, fn: Any, **kw: Any) -> Any:
    try:
        return fn(**kw)
    except ClientError as e:
        if error_code(e) in DENIED:
            raise _CannotCheck(f"missing permission {permission}") from None
        raise _CannotCheck(f"{what}: {safe_aws_message(e)}") from None
    except (BotoCoreError, NotImplementedError) as e:
        raise _CannotCheck(f"{what}: {type(e).__name__}") from None


class _Planned:
    """Where each store action of the plan will put its entry (ARN, key, JSON keys); no AWS call, no value."""

    def __init__(self, plan: Plan, *, account: str, region: str, partition: str) -> None:
        self.arn: dict[str, str] = {}
        self.kms: dict[str, str | None] = {}
        self.keys: dict[str, frozenset[str] | None] = {}
        for a in plan.store_actions:
            if isinstance(a, PutParameter):
                self.arn[a.id] = f"arn:{partition}:ssm:{region}:{account}:parameter/{a.name.lstrip('/')}"
            else:
                self.arn[a.id] = f"arn:{partition}:secretsmanager:{region}:{account}:secret:{a.name}{SM_SUFFIX}"
                self.keys[a.id] = frozenset(str(v.json_key) for v in a.values if v.json_key) if a.is_json else None
            key = a.kms_key
            self.kms[a.id] = (key if not key or key.startswith("arn:")
                              else f"arn:{partition}:kms:{region}:{account}:{key if key.startswith('alias/') else 'key/' + key}")

    def grant(self, p: PutRolePolicy) -> dict[str, Any]:
        """The planned inline policy, as apply will write it (same statements as ``impls.iam.policy_document``)."""
        stmts: list[dict[str, Any]] = []
        ssm = sorted(self.arn[i] for i in p.ssm_actions if i in self.arn)
        if ssm:
            stmts.append({"Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": ssm})
        sm = sorted({secret_pattern(self.arn[i]) for i in p.sm_actions if i in self.arn}
                    | {secret_pattern(x) for x in p.existing_arns})
        if sm:
            stmts.append({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": sm})
        if p.kms_keys:
            stmts.append({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": sorted(p.kms_keys)})
        return {"Version": "2012-10-17", "Statement": stmts}


def new_task_definition(source: Mapping[str, Any], r: RegisterRevision, planned: _Planned) -> dict[str, Any]:
    """The revision apply will register, as far as the verdict needs it (moved variables -> ``secrets``)."""
    td = copy.deepcopy(dict(source))
    if r.execution_role and not td.get("executionRoleArn"):
        td["executionRoleArn"] = r.execution_role
    containers = td.get("containerDefinitions") or []
    for m in r.moves:
        c = containers[m.container]
        value_from = planned.arn.get(m.store_id, m.store_id) + m.suffix
        if m.location == "environment":
            c["environment"] = [e for e in c.get("environment") or [] if e.get("name") != m.name]
            c.setdefault("secrets", []).append({"name": m.name, "valueFrom": value_from})
        else:
            log = c.setdefault("logConfiguration", {})
            log["options"] = {k: v for k, v in (log.get("options") or {}).items() if k != m.name}
            log.setdefault("secretOptions", []).append({"name": m.name, "valueFrom": value_from})
    return td


def prove_plan(plan: Plan, aws: Any) -> dict[str, Proof]:
    """cluster/service -> Proof for every service (and CODE_DEPLOY service) of a live plan. Read-only."""
    from migrate.live.guardrails import describe_services, services_of

    out: dict[str, Proof] = {}
    try:
        account, partition = str(aws.account), str(aws.partition)
    except (ClientError, BotoCoreError) as e:
        why = "missing permission sts:GetCallerIdentity" if isinstance(e, ClientError) and error_code(e) in DENIED \
            else f"GetCallerIdentity: {safe_aws_message(e)}"
        return {k: Proof(k, NOT_CHECKED, why) for r in plan.actions if isinstance(r, RegisterRevision)
                for k in (*r.services, *r.register_only)}
    region = plan.settings.region or aws.region_name
    planned = _Planned(plan, account=account, region=region, partition=partition)
    grants = {p.id: p for p in plan.actions if isinstance(p, PutRolePolicy)}
    try:
        described = describe_services(lambda reg: aws.for_region(reg).client("ecs") if reg and reg != aws.region_name
                                      else aws.client("ecs"), services_of(plan))
    except (ClientError, BotoCoreError):
        described = {}
    for r in (a for a in plan.actions if isinstance(a, RegisterRevision)):
        keys = (*r.services, *r.register_only)
        try:
            verdicts = _prove_revision(r, keys, aws, planned, grants, described, account=account)
        except _CannotCheck as e:
            verdicts = {k: Proof(k, NOT_CHECKED, str(e)) for k in keys}
        out.update(verdicts)
    return out


def _prove_revision(r: RegisterRevision, keys: Sequence[str], aws: Any, planned: _Planned,
                    grants: Mapping[str, PutRolePolicy], described: Mapping[str, Mapping[str, Any]], *,
                    account: str) -> dict[str, Proof]:
    ecs_aws = aws.for_region(r.region) if r.region and r.region != aws.region_name else aws
    source = _call("DescribeTaskDefinition", "ecs:DescribeTaskDefinition", ecs_aws.client("ecs").describe_task_definition,
                   taskDefinition=r.source_arn)["taskDefinition"]
    td = new_task_definition(source, r, planned)
    role_arn = str(td.get("executionRoleArn") or "")
    iam = aws.client("iam")
    role: RoleView | None = None
    if role_arn:
        try:
            got = _call("GetRole", "iam:GetRole", iam.get_role, RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
            role = RoleView(role_arn, True, policy_doc(got.get("AssumeRolePolicyDocument")))
        except _CannotCheck as e:
            if "NoSuchEntity" not in str(e):
                raise
            role = RoleView(role_arn, False)
    by_arn = {planned.arn[i]: i for i in r.store_ids if i in planned.arn}

    def resolve(ref: Reference) -> Resolution:
        sid = by_arn.get(ref.arn)
        if sid is not None:
            return Resolution(True, ref.arn, planned.kms.get(sid), planned.keys.get(sid), frozenset({"AWSCURRENT"}))
        return _lookup(aws, ref)

    # IAM's answers for every (action, resource) the verdict will ask about, the planned grant included
    grant_docs = [json.dumps(planned.grant(grants[pid])) for pid in r.policy_ids if pid in grants]
    pairs: dict[str, set[str]] = {}
    if role is not None and role.exists:
        for c in td.get("containerDefinitions") or []:
            for s in [*(c.get("secrets") or []), *((c.get("logConfiguration") or {}).get("secretOptions") or [])]:
                try:
                    ref = parse_reference(str(s.get("valueFrom", "")), region=r.region or aws.region_name, account=account)
                except ValueError:
                    continue
                res = resolve(ref)
                target = res.resource_arn or ref.arn
                pairs.setdefault("ssm:GetParameters" if ref.store == "ssm" else "secretsmanager:GetSecretValue",
                                 set()).add(target)
                if res.customer_kms_key_arn:
                    pairs.setdefault("kms:Decrypt", set()).add(res.customer_kms_key_arn)
    decisions: dict[tuple[str, str], str] = {}
    for action, resources in pairs.items():
        kw: dict[str, Any] = {"PolicySourceArn": role_arn, "ActionNames": [action], "ResourceArns": sorted(resources)}
        if grant_docs:
            kw["PolicyInputList"] = grant_docs
        got = _call("SimulatePrincipalPolicy", "iam:SimulatePrincipalPolicy", iam.simulate_principal_policy, **kw)
        for row in got.get("EvaluationResults") or []:
            decisions[(str(row.get("EvalActionName")), str(row.get("EvalResourceName")))] = \
                _DECISIONS.get(str(row.get("EvalDecision")), "implicit")

    def evaluator(_docs: Sequence[Mapping[str, Any]], action: str, resource: str) -> str:
        return decisions.get((action, resource), "implicit")

    out: dict[str, Proof] = {}
    for key in keys:
        svc = described.get(key) or {}
        v = task_start_verdict(td, role, resolve, region=r.region or aws.region_name, account=account,
                               launch_type=svc.get("launchType"), platform_version=svc.get("platformVersion"),
                               evaluator=evaluator)
        out[key] = Proof(key, WILL_START) if v.starts else Proof(key, WOULD_FAIL, v.reason)
    return out


def _lookup(aws: Any, ref: Reference) -> Resolution:
    """An entry the plan does not create (already referenced by the revision): metadata only, never a value."""
    client_aws = aws.for_region(ref.region) if ref.region and ref.region != aws.region_name else aws
    if ref.store == "ssm":
        got = _call("DescribeParameters", "ssm:DescribeParameters", client_aws.client("ssm").describe_parameters,
                    ParameterFilters=[{"Key": "Name", "Values": [ref.name]}])
        params = got.get("Parameters") or []
        if not params:
            return Resolution(False, ref.arn)
        key = params[0].get("KeyId")
        return Resolution(True, ref.arn, None if not key or key == "alias/aws/ssm" else str(key))
    try:
        got = client_aws.client("secretsmanager").describe_secret(SecretId=ref.name)
    except ClientError as e:
        if error_code(e) == "ResourceNotFoundException":
            return Resolution(False, ref.name)
        if error_code(e) in DENIED:
            raise _CannotCheck("missing permission secretsmanager:DescribeSecret") from None
        raise _CannotCheck(f"DescribeSecret: {safe_aws_message(e)}") from None
    stages: set[str] = set()
    for st in (got.get("VersionIdsToStages") or {}).values():
        stages.update(st)
    key = got.get("KmsKeyId")
    # the JSON keys cannot be known without reading the value: trust the reference's key (not checked)
    keys = frozenset({ref.json_key}) if ref.json_key else None
    return Resolution(True, str(got.get("ARN", ref.name)), str(key) if key and "alias/aws/" not in str(key) else None,
                      keys, frozenset(stages), frozenset(got.get("VersionIdsToStages") or {}))
