"""Grants against in-process moto: one tool-owned policy per role, full-ARN roles, sizes, ownership errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from migrate import iam_policy as ip
from migrate.apply.env import Env, make_env
from migrate.apply.executor import apply_plan, rollback_plan
from migrate.apply.journal import Journal
from migrate.apply.verify import verify_plan
from migrate.errors import ActionFailed, MigrateError, PreconditionFailed
from migrate.model import SecretValue
from migrate.plan.actions import Action, PutParameter, PutRolePolicy, ValueSource
from migrate.plan.model import Plan, PlanSettings
from migrate.stores.aws import Aws, AwsContext, boto_client
from migrate.stores.base import TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_PLAN_ID

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"
PARAM = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter"


class Values:
    def value_of(self, vs: ValueSource) -> SecretValue:
        return SecretValue(f"v-{vs.key}")


def grant_plan(pid: str, role: str, names: list[str], *, policy: str = ip.TOOL_POLICY, prefix: str = "p") -> Plan:
    tags = {TAG_MANAGED_BY: TAG_MANAGED_BY_VALUE, TAG_PLAN_ID: pid}
    acts: list[Action] = [PutParameter(id=f"s{i}", name=n, tags=tags,
                                       values=(ValueSource(key=f"{pid}{i}", definition="x", source="t", name=n),))
                          for i, n in enumerate(names)]
    acts.append(PutRolePolicy(id="g", role_arn=role, policy_name=policy, ssm_actions=tuple(a.id for a in acts),
                              scopes=ip.scopes_for(set(names), set(names), prefix)))
    return Plan(id=pid, created="2026-01-01T00:00:00+00:00", settings=PlanSettings(prefix=prefix), inputs=(),
                actions=tuple(acts))


def env_for(plan: Plan, tmp_path: Path, aws: Aws | None = None) -> Env:
    return make_env(plan=plan, journal=Journal(tmp_path / f"{plan.id}.state", plan.id), aws=aws or Aws(),
                    values=Values())


class _DenyGetRolePolicy:
    def __init__(self, client: Any) -> None:
        self._c = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)

    def get_role_policy(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "User: arn:aws:iam::1:user/x is not "
                                     "authorized to perform: iam:GetRolePolicy on resource: role r"}}, "GetRolePolicy")


def _deny_get_role_policy(ctx: AwsContext, service: str) -> Any:
    c = boto_client(ctx, service)
    return _DenyGetRolePolicy(c) if service == "iam" else c


def _role(name: str = "ecsTaskExecutionRole", path: str = "/") -> str:
    return str(boto3.client("iam").create_role(RoleName=name, Path=path, AssumeRolePolicyDocument="{}")["Role"]["Arn"])


def _policies(role: str = "ecsTaskExecutionRole") -> dict[str, dict[str, object]]:
    iam = boto3.client("iam")
    return {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"]
            for n in iam.list_role_policies(RoleName=role)["PolicyNames"]}


def _params() -> set[str]:
    return {p["Name"] for p in boto3.client("ssm").describe_parameters()["Parameters"]}


def test_one_compressed_policy_verified_then_removed_by_rollback(aws: None, tmp_path: Path) -> None:
    _role()
    plan = grant_plan("20260101-aaaa", ROLE, [f"/p/app/web/V{i}" for i in range(4)])
    env = env_for(plan, tmp_path)
    apply_plan(env)
    pols = _policies()
    assert list(pols) == ["secrets-migrate"]
    assert pols["secrets-migrate"]["Statement"] == [{"Sid": "SecretsMigrate20260101aaaaSsm", "Effect": "Allow", "Action": "ssm:GetParameters",
                  "Resource": f"{PARAM}/p/app/web/*"}]
    rc = env.journal.states()["g"].receipt
    assert rc["role_arn"] == ROLE and rc["created"] is True and rc["level"] == 1
    assert rc["digest"] == ip.digest(pols["secrets-migrate"])
    assert sorted(rc["grants"]["ssm"]) == sorted(f"{PARAM}/p/app/web/V{i}" for i in range(4))
    iam_checks = [c for c in verify_plan(env) if c.kind == "iam"]
    assert len(iam_checks) == 4 and all(c.ok for c in iam_checks)
    rollback_plan(env)
    assert _policies() == {} and _params() == set()


def test_bare_role_name_is_resolved_to_the_callers_role_arn(aws: None, tmp_path: Path) -> None:
    arn = _role("svc-role", path="/ecs/")
    env = env_for(grant_plan("20260101-bbbb", "svc-role", ["/p/a/X"]), tmp_path)
    apply_plan(env)
    assert env.journal.states()["g"].receipt["role_arn"] == arn == f"arn:aws:iam::{ACCOUNT}:role/ecs/svc-role"
    assert list(_policies("svc-role")) == ["secrets-migrate"]


def test_role_in_another_account_is_refused_with_the_statement_to_add_there(aws: None, tmp_path: Path) -> None:
    _role()  # a role of the same name exists in the caller's account: the name alone must not pass
    other = "arn:aws:iam::999999999999:role/ecsTaskExecutionRole"
    env = env_for(grant_plan("20260101-cccc", other, ["/p/a/X", "/p/a/Y"]), tmp_path)
    with pytest.raises(PreconditionFailed) as ei:
        apply_plan(env)
    msg = str(ei.value)
    assert "account 999999999999" in msg and "cannot grant" in msg
    stmt = json.loads(msg[msg.index("{"):msg.rindex("}") + 1].split("; ")[0])
    assert stmt["Resource"] == [f"{PARAM}/p/a/X", f"{PARAM}/p/a/Y"] and "ssm:GetParameters" in stmt["Action"]
    assert _policies() == {} and _params() == set()


def test_role_arn_with_another_path_is_not_the_same_role(aws: None, tmp_path: Path) -> None:
    _role("svc-role", path="/team-a/")
    env = env_for(grant_plan("20260101-dddd", f"arn:aws:iam::{ACCOUNT}:role/team-b/svc-role", ["/p/a/X"]), tmp_path)
    with pytest.raises(PreconditionFailed, match="does not exist"):
        apply_plan(env)
    assert _policies("svc-role") == {}


def test_other_inline_policies_shrink_the_budget_and_widen_the_pattern(aws: None, tmp_path: Path) -> None:
    _role()
    big = {"Version": "2012-10-17", "Statement": [{"Sid": "Theirs", "Effect": "Allow", "Action": "s3:GetObject",
                                                   "Resource": [f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(330)]}]}
    boto3.client("iam").put_role_policy(RoleName="ecsTaskExecutionRole", PolicyName="Theirs",
                                        PolicyDocument=json.dumps(big))
    used = ip.policy_size(big)
    assert 9_400 < used < ip.INLINE_TOTAL_MAX - 300
    names = [f"/p/app{i:02d}/web/V{j}" for i in range(20) for j in range(2)]
    env = env_for(grant_plan("20260101-eeee", ROLE, names), tmp_path)
    apply_plan(env)
    pols = _policies()
    assert pols["Theirs"] == big
    mine = pols["secrets-migrate"]
    assert mine["Statement"][0]["Resource"] == f"{PARAM}/p/*"  # type: ignore[index]
    assert env.journal.states()["g"].receipt["level"] == 2
    assert used + ip.policy_size(mine) <= ip.INLINE_TOTAL_MAX
    assert all(c.ok for c in verify_plan(env) if c.kind == "iam")


def _fill_inline(buckets: int = 349) -> dict[str, Any]:
    big: dict[str, Any] = {"Version": "2012-10-17", "Statement": [{"Sid": "Theirs", "Effect": "Allow", "Action": "s3:GetObject",
                                                   "Resource": [f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(buckets)]}]}
    boto3.client("iam").put_role_policy(RoleName="ecsTaskExecutionRole", PolicyName="Theirs",
                                        PolicyDocument=json.dumps(big))
    return big


def _attached() -> list[str]:
    return [p["PolicyArn"] for p in
            boto3.client("iam").list_attached_role_policies(RoleName="ecsTaskExecutionRole")["AttachedPolicies"]]


def test_full_inline_policies_fall_back_to_a_managed_policy(aws: None, tmp_path: Path) -> None:
    _role()
    big = _fill_inline()
    assert ip.INLINE_TOTAL_MAX - 150 < ip.policy_size(big) <= ip.INLINE_TOTAL_MAX  # not even p/* fits next to it
    plan = grant_plan("20260101-ffff", ROLE, [f"/p/app{i:02d}/web/V{j}" for i in range(3) for j in range(2)])
    env = env_for(plan, tmp_path)
    apply_plan(env)
    assert _policies() == {"Theirs": big}
    (arn,) = _attached()
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/secrets-migrate/" + ip.managed_name(plan.id, ROLE)
    assert env.journal.states()["g"].receipt["managed_arn"] == arn
    iam_checks = [c for c in verify_plan(env) if c.kind == "iam"]
    assert len(iam_checks) == 6 and all(c.ok for c in iam_checks)
    rollback_plan(env)
    assert _attached() == [] and _policies() == {"Theirs": big} and _params() == set()
    assert boto3.client("iam").list_policies(Scope="Local")["Policies"] == []


def test_a_plan_moves_its_grants_to_the_managed_policy_when_inline_fills_up(aws: None, tmp_path: Path) -> None:
    _role()
    big = _fill_inline(340)  # room for one small statement only
    plan = grant_plan("20260101-hhhh", ROLE, ["/a/X"] + [f"/b{i}/Y" for i in range(6)])  # outside --prefix p
    g = plan.policies[0]
    g1 = dataclasses.replace(g, id="g1", ssm_actions=("s0",))
    g2 = dataclasses.replace(g, id="g2", ssm_actions=tuple(f"s{i}" for i in range(1, 7)))
    plan = dataclasses.replace(plan, actions=(*plan.store_actions, g1, g2))
    env = env_for(plan, tmp_path)
    apply_plan(env, auto_rollback=False)
    assert _policies() == {"Theirs": big}  # g1's inline statement moved out with g2's
    (arn,) = _attached()
    doc = env.iam.get_managed(arn)
    assert doc is not None and len(ip.statements(doc)) == 1
    assert all(c.ok for c in verify_plan(env) if c.kind == "iam")
    rollback_plan(env, only={"g2"})
    doc = env.iam.get_managed(arn)
    assert doc is not None and ip.statements(doc)[0]["Resource"] == f"{PARAM}/a/X"
    rollback_plan(env)
    assert _attached() == [] and _policies() == {"Theirs": big}


def test_over_both_limits_fails_with_the_sizes_and_writes_nothing(aws: None, tmp_path: Path) -> None:
    _role()
    _fill_inline()
    plan = grant_plan("20260101-iiii", ROLE, [f"/q{i:03d}/V" for i in range(120)])  # nothing to compress
    with pytest.raises(ActionFailed) as ei:
        apply_plan(env_for(plan, tmp_path))
    msg = str(ei.value)
    assert "10,240" in msg and "6,144" in msg and "rolled back" in msg
    assert list(_policies()) == ["Theirs"] and _attached() == [] and _params() == set()


def test_a_plan_file_from_before_keeps_its_own_policy_name(aws: None, tmp_path: Path) -> None:
    _role()
    pid = "20250101-0000"
    env = env_for(grant_plan(pid, ROLE, ["/p/a/X"], policy=f"secrets-migrate-{pid}"), tmp_path)
    apply_plan(env)
    assert list(_policies()) == [f"secrets-migrate-{pid}"]
    rollback_plan(env)
    assert _policies() == {}


def test_a_missing_permission_while_proving_ownership_is_an_error_never_reverted(aws: None, tmp_path: Path) -> None:
    _role()
    plan = grant_plan("20260101-gggg", ROLE, ["/p/a/X"])
    apply_plan(env_for(plan, tmp_path))
    env = env_for(plan, tmp_path, Aws(client_factory=_deny_get_role_policy))
    with pytest.raises(MigrateError) as ei:  # the executor wraps the StoreError with the run's state
        rollback_plan(env, only={"g"})
    assert "iam:GetRolePolicy" in str(ei.value) + str(ei.value.hint)
    assert "still in place" in str(ei.value)
    assert env.journal.states()["g"].phase != "reverted"
    assert list(_policies()) == ["secrets-migrate"]


def test_a_grant_applied_by_the_previous_version_still_rolls_back(aws: None, tmp_path: Path) -> None:
    _role()
    pid = "20250101-1111"
    old_doc = {"Version": "2012-10-17", "Statement": [{"Sid": "ReadParameters", "Effect": "Allow",
                                                       "Action": ["ssm:GetParameters"], "Resource": [f"{PARAM}/p/a/X"]}]}
    iam = boto3.client("iam")
    for name in (f"secrets-migrate-{pid}", f"secrets-migrate-{pid}-web"):
        iam.put_role_policy(RoleName="ecsTaskExecutionRole", PolicyName=name, PolicyDocument=json.dumps(old_doc))
    iam.put_role_policy(RoleName="ecsTaskExecutionRole", PolicyName="secrets-migrate-other",
                        PolicyDocument=json.dumps(old_doc))
    plan = grant_plan(pid, ROLE, ["/p/a/X"], policy=f"secrets-migrate-{pid}")
    g = plan.policies[0]
    plan = dataclasses.replace(plan, actions=(g, dataclasses.replace(g, id="g2", policy_name=f"secrets-migrate-{pid}-web"),
                                              dataclasses.replace(g, id="g3", policy_name="secrets-migrate-other")))
    env = env_for(plan, tmp_path)
    for a in plan.actions:  # the receipts the previous version wrote
        assert isinstance(a, PutRolePolicy)
        env.journal.append("intent", a.id, a.kind)
        env.journal.append("applied", a.id, a.kind, receipt={"created": True, "role_arn": ROLE,
                                                             "policy_name": a.policy_name})
    notes = rollback_plan(env)
    assert list(_policies()) == ["secrets-migrate-other"]  # not named after this plan: left
    assert any("secrets-migrate-other" in n for n in notes)


def test_the_role_lock_directory_must_be_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from migrate.apply.impls import iam as impl

    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.setenv("SECRETS_MIGRATE_LOCK_DIR", str(link))
    with pytest.raises(OSError), impl._lock(ROLE, "secrets-migrate"):
        pass
    assert list(real.iterdir()) == []
    real.chmod(0o777)
    monkeypatch.setenv("SECRETS_MIGRATE_LOCK_DIR", str(real))
    with pytest.raises(ActionFailed, match="not private"), impl._lock(ROLE, "secrets-migrate"):
        pass
    real.chmod(0o700)
    with impl._lock(ROLE, "secrets-migrate"):
        assert len(list(real.iterdir())) == 1


def test_verify_names_an_entry_that_is_not_applied_instead_of_an_empty_arn() -> None:
    from migrate.apply.impls.iam import _check_policy
    from migrate.plan.actions import PutRolePolicy

    p = PutRolePolicy(id="a9", role_arn="arn:aws:iam::123456789012:role/exec", policy_name=ip.TOOL_POLICY,
                      ssm_actions=("a1", "a2"))
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/app/DB_PASSWORD"
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": [arn]}]}
    ok, gone = _check_policy(p, p.role_arn, ip.TOOL_POLICY, doc, {"a1": arn})
    assert ok.ok and ok.subject == f"exec -> {arn}"
    assert not gone.ok and gone.subject == "exec -> entry a2" and "not applied" in gone.detail
