"""Read grants for task execution roles: one tool-owned policy per role, merged across plans.

The design (details in ``migrate.iam_policy``):

* A role is its full ARN. Preflight resolves a bare name in the caller's account, refuses a role in
  another account (the tool cannot grant it there; the problem names the statement to add there) and
  a full ARN that does not match the role of that name (another path or account).
* Every plan's grants live in the role's ``secrets-migrate`` inline policy as statements with Sid
  ``SecretsMigrate<plan id>{Ssm,Sm,Kms}``. An action writes the union of the grants of every applied
  action of its plan on that role (their receipts) plus its own: a read-modify-write that replaces only
  this plan's statements. A policy holding any statement without the ``SecretsMigrate`` prefix, or a
  policy name not starting with ``secrets-migrate``, is foreign: never written, never deleted.
* Compare-before-write: the policy is read again just before the write and the write is redone when it
  changed since; after the write it is read back and the write is redone when this plan's statements
  are not there (another plan wrote over them). Writers on one machine (threads of a live run, other
  plans' processes) are serialized per role and policy by a file lock (``lock_dir``, private); across machines
  the window left is the one call between the re-read and the write (IAM has no conditional write).
* Size: the narrowest compression level whose document fits 10,240 characters minus the role's other
  inline policies. When nothing fits inline, the plan's grants on that role move to a customer-managed
  policy of its own (``/secrets-migrate/secrets-migrate-<plan>-<role hash>``, 6,144 characters, attached
  to the role; at most 10 per role) and stay there for the rest of the plan; rollback removes them from
  it and deletes it (detached, every version) with the plan's last grant on that role. When that does
  not fit either, the action fails with the sizes (nothing is written).
* Receipt: the full role ARN, the policy name, this action's grants, the digest of the document
  written and, on this plan's first write to the policy, the before-image (ARNs only, never values).
* Rollback removes only this plan's statements (recomputed from the plan's other still-applied actions).
  The before-image is restored only when the current document still has the digest of the one written;
  otherwise the new document is the current one minus this plan's statements, so another plan's grants
  are never dropped. A policy without this plan's statements is left as it is. The policy is deleted
  only when nothing else is left in it. Read errors (a missing permission) are errors, never "reverted".
"""

from __future__ import annotations

import fcntl
import fnmatch
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from migrate import iam_policy as ip
from migrate.apply.checks import Check, Preflight, VerifyContext
from migrate.apply.env import Env
from migrate.apply.journal import ActionState
from migrate.arn import Arn, role_name, secret_pattern
from migrate.errors import ActionFailed, PreconditionFailed
from migrate.plan.actions import PutParameter, PutRolePolicy
from migrate.plan.actions.iam import PolicyReceipt
from migrate.stores.aws import safe_aws_message

ATTEMPTS = 6

LOCK_TIMEOUT = 300.0  #: seconds to wait for another writer of the same role policy on this machine


def lock_dir() -> Path:
    """Where the per-role write locks live: one machine-wide place per user (several plans, one role)."""
    d = os.environ.get("SECRETS_MIGRATE_LOCK_DIR")
    return Path(d) if d else Path(tempfile.gettempdir()) / f"secrets-migrate-locks-{os.geteuid()}"


def _lock_fd(name: str) -> int:
    """The lock file ``name`` in ``lock_dir()``: a private directory (not a link, ours, 0700), no link followed."""
    d = lock_dir()
    with suppress(FileExistsError):
        os.makedirs(d, mode=0o700)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        st = os.fstat(dfd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise ActionFailed(f"lock directory {d} is not private (owner or mode)",
                               hint="remove it or set SECRETS_MIGRATE_LOCK_DIR")
        return os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600, dir_fd=dfd)
    finally:
        os.close(dfd)


@contextmanager
def _lock(role_arn: str, policy: str) -> Iterator[None]:
    """Serialize writers of one role policy: threads of a live run and other plans' processes on this machine
    (flock on a file per role and policy). Across machines only the compare-before-write protects."""
    key = hashlib.sha256(f"{role_arn}\n{policy}".encode()).hexdigest()[:24]
    fd = _lock_fd(f"iam-{key}.lock")
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ActionFailed(f"another process has been writing policy {policy} on {role_arn} "
                                       f"for {LOCK_TIMEOUT:.0f}s", hint="apply again when it is done") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the flock


class IamImpl:
    def preflight(self, env: Env, a: PutRolePolicy, st: ActionState, out: Preflight) -> None:
        if not ip.is_tool_policy_name(a.policy_name):
            out.problems.append(f"policy {a.policy_name} on {a.role_arn} is not a secrets-migrate policy: "
                                "the tool writes only policies named secrets-migrate*")
            return
        other = _other_account(env, a.role_arn)
        if other:
            out.problems.append(f"execution role {a.role_arn} is in account {other}, not the caller's "
                                f"({env.aws.account}): the tool cannot grant it; add this statement there: "
                                + json.dumps(_planned_statement(env, a), separators=(",", ":")))
            return
        found = env.iam.role_arn(a.role_arn)
        if found is None:
            out.problems.append(f"execution role {a.role_arn} does not exist")
            return
        if ":role/" in a.role_arn and found != a.role_arn:
            out.problems.append(f"execution role {a.role_arn} does not exist (the role of that name is {found})")
            return
        cur = env.iam.get_policy(found, a.policy_name)
        if ip.foreign_statements(cur):
            out.problems.append(f"policy {a.policy_name} on {found} holds statements the tool did not write: "
                                "left as it is")

    def apply(self, env: Env, a: PutRolePolicy, st: ActionState) -> None:
        role = env.iam.role_arn(a.role_arn) if _other_account(env, a.role_arn) == "" else None
        if role is None or (":role/" in a.role_arn and role != a.role_arn):
            raise PreconditionFailed(f"execution role {a.role_arn} does not exist in the caller's account")
        if not ip.is_tool_policy_name(a.policy_name):
            raise PreconditionFailed(f"policy {a.policy_name} is not a secrets-migrate policy")
        grants = _grants(env, a)
        env.journal.append("intent", a.id, a.kind, expect={"role_arn": role, "policy_name": a.policy_name})
        with _lock(role, a.policy_name):
            receipt = _write(env, a, role, grants)
        env.journal.append("applied", a.id, a.kind, receipt=receipt)

    def check_revert(self, env: Env, a: PutRolePolicy, st: ActionState) -> None:
        return None

    def revert(self, env: Env, a: PutRolePolicy, st: ActionState) -> str:
        rc = st.receipt if "policy_name" in st.receipt else {}
        role = str(rc.get("role_arn") or st.expect.get("role_arn") or a.role_arn)
        policy = str(rc.get("policy_name") or st.expect.get("policy_name") or a.policy_name)
        if not ip.is_tool_policy_name(policy):
            return f"policy {policy} on {role_name(role)} is not a secrets-migrate policy: left as it is"
        with _lock(role, policy):
            if rc and "grants" not in rc:
                return _unwrite_legacy(env, role, policy)
            return _unwrite(env, a, role, policy, rc)

    def verify(self, env: Env, actions: Sequence[PutRolePolicy], ctx: VerifyContext) -> list[Check]:
        docs: dict[tuple[str, str], dict[str, Any] | None] = {}
        out: list[Check] = []
        for p in actions:
            st = ctx.states.get(p.id)
            rc = st.receipt if st is not None else {}
            role = str(rc.get("role_arn") or p.role_arn)
            key = (role, str(rc.get("policy_name") or p.policy_name))
            if key not in docs:
                managed = _managed_of(env, *key)
                docs[key] = env.iam.get_policy(*key)
                if managed:
                    md = env.iam.get_managed(managed)
                    both = ip.statements(docs[key]) + ip.statements(md)
                    docs[key] = {"Version": ip.VERSION, "Statement": both} if both else None
            out += _check_policy(p, role, key[1], docs[key], ctx.arns)
        return out

    def finalize(self, env: Env, actions: Sequence[PutRolePolicy]) -> list[str]:
        return []


# ---------------------------------------------------------------------------------------------------
# write and unwrite (called with the role's lock held)
# ---------------------------------------------------------------------------------------------------


def _peers(env: Env, role: str, policy: str, exclude: str) -> list[dict[str, Any]]:
    """Receipts of this plan's other applied grants on the same policy."""
    return [st.receipt for aid, st in env.journal.states().items()
            if aid != exclude and st.phase == "applied" and st.receipt.get("policy_name") == policy
            and st.receipt.get("role_arn") == role and "grants" in st.receipt]


def _budget(env: Env, role: str, policy: str) -> int:
    used = 0
    for name in env.iam.list_policies(role):
        if name != policy:
            used += ip.policy_size(env.iam.get_policy(role, name))
    return ip.INLINE_TOTAL_MAX - used


def _write(env: Env, a: PutRolePolicy, role: str, grants: ip.Grants) -> PolicyReceipt:
    pid = env.plan.id
    for _ in range(ATTEMPTS):
        cur = env.iam.get_policy(role, a.policy_name)
        if ip.foreign_statements(cur):
            raise PreconditionFailed(f"policy {a.policy_name} on {role} holds statements the tool did not write")
        peers = _peers(env, role, a.policy_name, a.id)
        total = ip.union([*(p["grants"] for p in peers), grants])
        scopes = sorted({s for p in peers for s in p.get("scopes", [])} | set(a.scopes))
        managed = _managed_of(env, role, a.policy_name)
        budget = _budget(env, role, a.policy_name)
        doc, level = ip.fit(cur, pid, total, scopes, budget)
        if managed or level < 0:
            inline = (f"{ip.policy_size(doc):,} characters inline ({budget:,} of {ip.INLINE_TOTAL_MAX:,} left)")
            done = _write_managed(env, a, role, cur, total, scopes, grants, managed, inline)
            if done is None:
                continue
            return done
        receipt = PolicyReceipt(role_arn=role, policy_name=a.policy_name, created=cur is None, grants=grants,
                                scopes=list(a.scopes), digest=ip.digest(doc), size=ip.policy_size(doc), level=level)
        if not ip.own_statements(cur, pid):
            receipt["before"] = cur
        if ip.digest(env.iam.get_policy(role, a.policy_name)) != ip.digest(cur):
            continue  # changed since read: merge again
        env.iam.put_policy(role, a.policy_name, doc)
        back = env.iam.get_policy(role, a.policy_name)
        if _canon(ip.own_statements(back, pid)) == _canon(ip.own_statements(doc, pid)):
            return receipt
    raise ActionFailed(f"policy {a.policy_name} on {role} kept changing while being written",
                       hint="another plan is writing grants to the same role; apply again")


def _managed_of(env: Env, role: str, policy: str) -> str:
    """The customer-managed policy this plan moved its grants on ``role`` to, if it did (any receipt)."""
    for st in env.journal.states().values():
        rc = st.receipt
        if rc.get("managed_arn") and rc.get("role_arn") == role and rc.get("policy_name") == policy:
            return str(rc["managed_arn"])
    return ""


def _write_managed(env: Env, a: PutRolePolicy, role: str, cur: dict[str, Any] | None, total: ip.Grants,
                   scopes: list[str], grants: ip.Grants, managed: str, inline: str) -> PolicyReceipt | None:
    """The fallback: this plan's grants on ``role`` in a customer-managed policy of its own (None: retry)."""
    pid = env.plan.id
    arn = managed or env.iam.managed_arn(ip.managed_name(pid, role))
    mdoc, level = ip.fit(None, pid, total, scopes, ip.MANAGED_MAX)
    if level < 0:
        raise PreconditionFailed(
            f"the read grants for {role} need {inline} or {ip.policy_size(mdoc):,} in a managed policy "
            f"(at most {ip.MANAGED_MAX:,})", hint="split the services over several execution roles, or use --prefix")
    attached = env.iam.attached(role)
    if arn not in attached and len(attached) >= ip.MANAGED_PER_ROLE:
        raise PreconditionFailed(f"the inline policies of {role} are full and it already has "
                                 f"{ip.MANAGED_PER_ROLE} managed policies attached")
    receipt = PolicyReceipt(role_arn=role, policy_name=a.policy_name, created=cur is None, grants=grants,
                            scopes=list(a.scopes), digest=ip.digest(mdoc), size=ip.policy_size(mdoc), level=level,
                            managed_arn=arn)
    if ip.own_statements(cur, pid):  # this plan's inline statements move to the managed policy
        rest = ip.merge(cur, pid, {})
        if ip.digest(env.iam.get_policy(role, a.policy_name)) != ip.digest(cur):
            return None
        env.iam.put_managed(role, arn, mdoc)
        if ip.statements(rest):
            env.iam.put_policy(role, a.policy_name, rest)
        else:
            env.iam.delete_policy(role, a.policy_name)
    else:
        env.iam.put_managed(role, arn, mdoc)
    return receipt


def _unwrite_managed(env: Env, a: PutRolePolicy, role: str, policy: str, managed: str) -> str:
    pid = env.plan.id
    mdoc = env.iam.get_managed(managed)
    if mdoc is not None:
        if ip.foreign_statements(mdoc) or len(ip.own_statements(mdoc, pid)) != len(ip.statements(mdoc)):
            return f"managed policy {managed} holds statements of others: left as it is"
        peers = _peers(env, role, policy, a.id)
        if peers:
            scopes = sorted({s for p in peers for s in p.get("scopes", [])})
            new, _ = ip.fit(None, pid, ip.union(p["grants"] for p in peers), scopes, ip.MANAGED_MAX)
            env.iam.put_managed(role, managed, new)
        else:
            env.iam.delete_managed(role, managed)
    for _ in range(ATTEMPTS):  # statements left inline by a run interrupted while moving them
        cur = env.iam.get_policy(role, policy)
        if not ip.own_statements(cur, pid):
            return ""
        rest = ip.merge(cur, pid, {})
        if ip.digest(env.iam.get_policy(role, policy)) != ip.digest(cur):
            continue
        if ip.statements(rest):
            env.iam.put_policy(role, policy, rest)
        else:
            env.iam.delete_policy(role, policy)
        return ""
    raise ActionFailed(f"policy {policy} on {role} kept changing during rollback", hint="run rollback again")


def _unwrite(env: Env, a: PutRolePolicy, role: str, policy: str, rc: dict[str, Any]) -> str:
    pid = env.plan.id
    managed = _managed_of(env, role, policy)
    if managed:
        return _unwrite_managed(env, a, role, policy, managed)
    for _ in range(ATTEMPTS):
        cur = env.iam.get_policy(role, policy)  # a missing permission raises: never "reverted"
        if cur is None or not ip.own_statements(cur, pid):
            return "" if cur is None else (f"policy {policy} on {role_name(role)} holds no grants of this plan: "
                                           "left as it is")
        peers = _peers(env, role, policy, a.id)
        new: dict[str, Any] | None
        if not peers and "before" in rc and rc.get("digest") == ip.digest(cur):
            before = rc["before"]
            new = dict(before) if isinstance(before, dict) else None  # unchanged since our write: restore
        else:
            total = ip.union(p["grants"] for p in peers)
            scopes = sorted({s for p in peers for s in p.get("scopes", [])})
            new, _ = ip.fit(cur, pid, total, scopes, ip.INLINE_TOTAL_MAX)
        if new is not None and not ip.statements(new):
            new = None
        if ip.digest(env.iam.get_policy(role, policy)) != ip.digest(cur):
            continue
        if new is None:
            env.iam.delete_policy(role, policy)
        else:
            env.iam.put_policy(role, policy, new)
        return ""
    raise ActionFailed(f"policy {policy} on {role} kept changing during rollback", hint="run rollback again")


#: the Sids of the one-policy-per-plan documents written before the shared policy existed
LEGACY_SIDS = frozenset({"ReadParameters", "ReadSecrets", "DecryptWithCustomerKey"})


def _unwrite_legacy(env: Env, role: str, policy: str) -> str:
    """A grant applied by an older version: a policy per plan, named after the plan id. Deleted only when
    its name holds this plan's id and it holds nothing but the statements that version wrote."""
    cur = env.iam.get_policy(role, policy)
    if cur is None:
        return ""
    sids = {str(s.get("Sid", "")) for s in ip.statements(cur)}
    if f"{ip.TOOL_POLICY}-{env.plan.id}" not in policy or not sids <= LEGACY_SIDS:
        return f"policy {policy} on {role_name(role)} is not this plan's: left as it is"
    env.iam.delete_policy(role, policy)
    return ""


def _canon(stmts: list[dict[str, Any]]) -> str:
    return json.dumps(sorted(stmts, key=lambda s: str(s.get("Sid", ""))), sort_keys=True)


# ---------------------------------------------------------------------------------------------------
# grants
# ---------------------------------------------------------------------------------------------------


def _grants(env: Env, a: PutRolePolicy) -> ip.Grants:
    ssm = [env.arn_of(i) for i in a.ssm_actions]
    sm = [secret_pattern(env.arn_of(i)) for i in a.sm_actions] + [secret_pattern(x) for x in a.existing_arns]
    kms = [_kms_arn(env, k) for k in a.kms_keys]
    return ip.union([{"ssm": ssm, "sm": sm, "kms": kms}])


def policy_document(env: Env, a: PutRolePolicy) -> dict[str, Any]:
    """This action's grants alone, as one policy document (uncompressed)."""
    return ip.merge(None, env.plan.id, _grants(env, a))


def _other_account(env: Env, role: str) -> str:
    """The role's account when it is not the caller's; '' for the caller's account or a bare name."""
    arn = Arn.parse(role)
    if arn is None or not arn.account or arn.account == env.aws.account:
        return ""
    return arn.account


def _planned_statement(env: Env, a: PutRolePolicy) -> dict[str, Any]:
    """What to grant by hand in another account: the entries by name in the caller's account."""
    by_id = env.plan.by_id()
    where = {"region": env.aws.region_name, "account": env.aws.account, "partition": env.aws.partition}
    res = [ip.planned_arn("ssm" if isinstance(by_id.get(i), PutParameter) else "secretsmanager",
                          str(getattr(by_id.get(i), "name", i)), **where) for i in (*a.ssm_actions, *a.sm_actions)]
    res += [secret_pattern(x) for x in a.existing_arns]
    return {"Effect": "Allow", "Action": ["ssm:GetParameters", "secretsmanager:GetSecretValue"],
            "Resource": sorted(res)}


def _kms_arn(env: Env, key: str) -> str:
    if key.startswith("arn:"):
        return key
    try:
        return str(env.aws.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"])
    except Exception as e:  # noqa: BLE001
        raise PreconditionFailed(f"KMS key {key} cannot be described ({safe_aws_message(e)})") from None


def _check_policy(p: PutRolePolicy, role_arn: str, policy: str, doc: dict[str, Any] | None,
                  arns: dict[str, str]) -> list[Check]:
    role = role_name(role_arn)
    if doc is None:
        return [Check("iam", role, False, f"policy {policy} is missing")]
    grants: list[tuple[str, str]] = []
    for s in ip.statements(doc):
        if s.get("Effect") != "Allow":
            continue
        acts = s.get("Action", [])
        res = s.get("Resource", [])
        for act in [acts] if isinstance(acts, str) else acts:
            for r in [res] if isinstance(res, str) else res:
                grants.append((act, r))

    def covered(action: str, arn: str) -> bool:
        # IAM wildcards: * any run, ? one character -- the same as fnmatch for ARNs (no brackets in them)
        return any(fnmatch.fnmatchcase(action, ga) and fnmatch.fnmatchcase(arn, gr) for ga, gr in grants)

    out: list[Check] = []
    for aid, action in [*((i, "ssm:GetParameters") for i in p.ssm_actions),
                        *((i, "secretsmanager:GetSecretValue") for i in p.sm_actions)]:
        arn = arns.get(aid, "")
        if not arn:  # the entry is not there (rolled back, or never created): nothing to grant, and it says so
            out.append(Check("iam", f"{role} -> entry {aid}", False,
                             "its entry is not applied (rolled back or not created yet), so no grant is checked"))
            continue
        out.append(Check("iam", f"{role} -> {arn}", covered(action, arn)))
    return out


IAM = IamImpl()
