"""Proofs for the one tool-owned policy per role (issue 12 IAM ownership, issue 13 part 5).

* a tampered plan naming a foreign policy is refused at apply and leaves it alone at rollback;
* two plans writing the same role at the same time both keep their grants, also when the second
  one writes between the first one's read and its write (compare-before-write);
* rolling back plan A leaves plan B's grants, whichever order, and keeps statements someone else added.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest

from migrate import iam_policy as ip
from migrate.apply.env import Env, make_env
from migrate.apply.executor import apply_plan, rollback_plan
from migrate.apply.journal import Journal
from migrate.apply.verify import verify_plan
from migrate.errors import PreconditionFailed
from migrate.model import SecretValue
from migrate.plan.actions import Action, PutParameter, PutRolePolicy, ValueSource
from migrate.plan.model import Plan, PlanSettings
from migrate.stores.aws import Aws
from migrate.stores.base import TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_PLAN_ID
from migrate.stores.iam import Iam

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
RN = "ecsTaskExecutionRole"
PROD = {"Version": "2012-10-17", "Statement": [{"Sid": "ProdAccess", "Effect": "Allow", "Action": "s3:*",
                                                "Resource": "arn:aws:s3:::prod/*"}]}


class Values:
    def value_of(self, vs: ValueSource) -> SecretValue:
        return SecretValue(f"v-{vs.key}")


def grant_plan(pid: str, names: list[str], *, policy: str = ip.TOOL_POLICY) -> Plan:
    tags = {TAG_MANAGED_BY: TAG_MANAGED_BY_VALUE, TAG_PLAN_ID: pid}
    acts: list[Action] = [PutParameter(id=f"s{i}", name=n, tags=tags,
                                       values=(ValueSource(key=f"{pid}{i}", definition="x", source="t", name=n),))
                          for i, n in enumerate(names)]
    acts.append(PutRolePolicy(id="g", role_arn=ROLE, policy_name=policy, ssm_actions=tuple(a.id for a in acts),
                              scopes=ip.scopes_for(set(names), set(names), "p")))
    return Plan(id=pid, created="2026-01-01T00:00:00+00:00", settings=PlanSettings(prefix="p"), inputs=(),
                actions=tuple(acts))


def env_for(plan: Plan, tmp_path: Path) -> Env:
    return make_env(plan=plan, journal=Journal(tmp_path / f"{plan.id}.state", plan.id), aws=Aws(), values=Values())


def _iam() -> Any:
    return boto3.client("iam")


def _policies() -> dict[str, Any]:
    return {n: _iam().get_role_policy(RoleName=RN, PolicyName=n)["PolicyDocument"]
            for n in _iam().list_role_policies(RoleName=RN)["PolicyNames"]}


def _sids() -> list[str]:
    return sorted(s["Sid"] for s in ip.statements(_policies().get(ip.TOOL_POLICY)))


def _iam_ok(env: Env) -> bool:
    checks = [c for c in verify_plan(env) if c.kind == "iam"]
    return bool(checks) and all(c.ok for c in checks)


@pytest.fixture
def role(aws: None) -> None:
    _iam().create_role(RoleName=RN, AssumeRolePolicyDocument="{}")
    _iam().put_role_policy(RoleName=RN, PolicyName="ProdAccess", PolicyDocument=json.dumps(PROD))


A = "20260101-aaaa"
B = "20260102-bbbb"
SA, SB = "SecretsMigrate20260101aaaaSsm", "SecretsMigrate20260102bbbbSsm"


# ---------------------------------------------------------------------------------------------------
# tampered plans
# ---------------------------------------------------------------------------------------------------


def test_tampered_plan_naming_a_foreign_policy_is_refused(role: None, tmp_path: Path) -> None:
    env = env_for(grant_plan(A, ["/p/a/X"], policy="ProdAccess"), tmp_path)
    with pytest.raises(PreconditionFailed, match="ProdAccess"):
        apply_plan(env)
    assert _policies() == {"ProdAccess": PROD}


def test_foreign_statements_in_a_policy_named_like_ours_are_refused(role: None, tmp_path: Path) -> None:
    _iam().put_role_policy(RoleName=RN, PolicyName=ip.TOOL_POLICY, PolicyDocument=json.dumps(PROD))
    with pytest.raises(PreconditionFailed, match="did not write"):
        apply_plan(env_for(grant_plan(A, ["/p/a/X"]), tmp_path))
    assert _policies() == {"ProdAccess": PROD, ip.TOOL_POLICY: PROD}


def test_rollback_of_a_tampered_plan_leaves_the_foreign_policy(role: None, tmp_path: Path) -> None:
    plan = grant_plan(A, ["/p/a/X"])
    apply_plan(env_for(plan, tmp_path))
    tampered = Plan.from_json(plan.to_json().replace(f'"policy_name": "{ip.TOOL_POLICY}"', '"policy_name": "ProdAccess"'))
    assert tampered.policies[0].policy_name == "ProdAccess"
    notes = rollback_plan(env_for(tampered, tmp_path))
    assert _policies() == {"ProdAccess": PROD}  # ours removed (the receipt names it), theirs untouched
    assert notes == []


def test_uncertain_grant_of_a_tampered_plan_never_touches_the_foreign_policy(role: None, tmp_path: Path) -> None:
    plan = grant_plan(A, ["/p/a/X"], policy="ProdAccess")
    env = env_for(plan, tmp_path)
    env.journal.append("intent", "g", "iam.put-role-policy")  # a crash right after the intent record
    notes = rollback_plan(env)
    assert _policies() == {"ProdAccess": PROD}
    assert any("ProdAccess" in n and "left as it is" in n for n in notes)


# ---------------------------------------------------------------------------------------------------
# two plans on one role
# ---------------------------------------------------------------------------------------------------


def test_two_plans_applied_at_the_same_time_keep_both_grants(role: None, tmp_path: Path) -> None:
    plans = [grant_plan(f"2026010{i}-{i}{i}{i}{i}", [f"/p/app{i}/web/V{j}" for j in range(3)]) for i in range(1, 7)]
    envs = [env_for(p, tmp_path) for p in plans]
    errors: list[BaseException] = []

    def run(e: Env) -> None:
        try:
            apply_plan(e)
        except BaseException as x:  # noqa: BLE001 - reported below
            errors.append(x)

    threads = [threading.Thread(target=run, args=(e,)) for e in envs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(_sids()) == 6 and all(_iam_ok(e) for e in envs)
    assert _policies()["ProdAccess"] == PROD


class _Interleave(Iam):
    """Plan B, from another machine (another lock directory), writes between plan A's read and write."""

    def __init__(self, env_a: Env, run_b: Any) -> None:
        super().__init__(env_a.aws)
        self.env_a = env_a
        self.run_b = run_b
        self.fired = False

    def get_policy(self, role_arn: str, policy: str) -> dict[str, Any] | None:
        doc = super().get_policy(role_arn, policy)
        st = self.env_a.journal.states().get("g")
        if not self.fired and st is not None and st.phase == "intent":
            self.fired = True
            self.run_b()
        return doc  # the read A did before B wrote


def test_a_write_between_read_and_write_is_merged_not_lost(role: None, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    env_b = env_for(grant_plan(B, ["/p/b/web/V0", "/p/b/web/V1"]), tmp_path)

    def run_b() -> None:
        with monkeypatch.context() as m:
            m.setenv("SECRETS_MIGRATE_LOCK_DIR", str(tmp_path / "other-machine"))
            apply_plan(env_b)

    env_a = env_for(grant_plan(A, ["/p/a/web/V0", "/p/a/web/V1"]), tmp_path)
    hooked = _Interleave(env_a, run_b)
    env_a = dataclasses.replace(env_a, iam=hooked)
    hooked.env_a = env_a
    apply_plan(env_a)
    assert hooked.fired
    assert _sids() == [SA, SB]
    assert _iam_ok(env_a) and _iam_ok(env_b)


@pytest.mark.parametrize("first", ["A", "B"])
def test_rollback_of_one_plan_leaves_the_other_plans_grants(role: None, tmp_path: Path, first: str) -> None:
    env_a = env_for(grant_plan(A, ["/p/a/web/V0", "/p/a/web/V1"]), tmp_path)
    env_b = env_for(grant_plan(B, ["/p/b/web/V0"]), tmp_path)
    apply_plan(env_a)
    apply_plan(env_b)
    assert _sids() == [SA, SB]
    gone, kept = (env_a, env_b) if first == "A" else (env_b, env_a)
    rollback_plan(gone)
    assert _sids() == [SB if first == "A" else SA]
    assert _iam_ok(kept) and not _iam_ok(gone)
    assert _policies()["ProdAccess"] == PROD
    rollback_plan(kept)
    assert _policies() == {"ProdAccess": PROD}


def test_rollback_keeps_a_statement_someone_added_to_our_policy(role: None, tmp_path: Path) -> None:
    env_a = env_for(grant_plan(A, ["/p/a/X"]), tmp_path)
    apply_plan(env_a)
    doc = _policies()[ip.TOOL_POLICY]
    doc["Statement"].append({"Sid": "SecretsMigrateManualExtra", "Effect": "Allow", "Action": "ssm:GetParameters",
                             "Resource": "arn:aws:ssm:us-east-1:123456789012:parameter/manual"})
    _iam().put_role_policy(RoleName=RN, PolicyName=ip.TOOL_POLICY, PolicyDocument=json.dumps(doc))
    rollback_plan(env_a)
    assert _sids() == ["SecretsMigrateManualExtra"]  # the digest no longer matched: recomputed, not restored


def test_rollback_of_one_of_several_grants_of_a_plan_keeps_the_others(role: None, tmp_path: Path) -> None:
    """Live plans hold one grant per revision; a service rolled back alone removes only its entries."""
    plan = grant_plan(A, ["/p/a/web/V0", "/p/b/web/V0"])
    g = plan.policies[0]
    g1 = dataclasses.replace(g, id="g1", ssm_actions=("s0",))
    g2 = dataclasses.replace(g, id="g2", ssm_actions=("s1",))
    plan = dataclasses.replace(plan, actions=(*plan.store_actions, g1, g2))
    env = env_for(plan, tmp_path)
    apply_plan(env)
    (st,) = ip.statements(_policies()[ip.TOOL_POLICY])
    assert sorted(st["Resource"]) == ["arn:aws:ssm:us-east-1:123456789012:parameter/p/a/web/V0",
                                      "arn:aws:ssm:us-east-1:123456789012:parameter/p/b/web/V0"]
    rollback_plan(env, only={"g1"})
    (st,) = ip.statements(_policies()[ip.TOOL_POLICY])
    assert st["Resource"] == "arn:aws:ssm:us-east-1:123456789012:parameter/p/b/web/V0"
    rollback_plan(env)
    assert _policies() == {"ProdAccess": PROD}
