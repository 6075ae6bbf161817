"""1,000 services sharing one execution role, migrated against moto with AWS's IAM size limits enforced.

moto does not enforce IAM's policy size limits, so the IAM client is wrapped with a checker that refuses a
PutRolePolicy taking a role's inline policies over 10,240 characters in all (whitespace not counted),
with AWS's ``LimitExceeded`` error. Before issue 13 a real account failed after about 38 services.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from migrate import iam_policy as ip
from migrate.apply.verify import verify_plan
from migrate.live.health import ScriptedHealth
from migrate.live.planner import live_findings, make_live_plan
from migrate.live.runtime import LockedJournal, live_env
from migrate.live.seed import EXEC_ROLE, seed_synthetic
from migrate.live.source import discover
from migrate.live.waves import MIGRATED, LiveRunner, RunOptions, WaveSpec, rollback_live
from migrate.plan.choices import StoreKind
from migrate.plan.model import Plan, PlanSettings
from migrate.sandbox import limits
from migrate.stores.aws import Aws, AwsContext, boto_client


def _text(doc: Any) -> str:
    return doc if isinstance(doc, str) else json.dumps(doc)


class IamLimits:
    """An IAM client that enforces a role's inline policy size limit as AWS does (the sandbox's pure check)."""

    def __init__(self, client: Any) -> None:
        self._c = client
        self.puts = 0
        self.max_total = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)

    def put_role_policy(self, *, RoleName: str, PolicyName: str, PolicyDocument: str) -> Any:  # noqa: N803
        existing = {n: _text(self._c.get_role_policy(RoleName=RoleName, PolicyName=n)["PolicyDocument"])
                    for n in self._c.list_role_policies(RoleName=RoleName)["PolicyNames"]}
        err = limits.check_role_inline_policies(RoleName, existing, PolicyName, PolicyDocument)
        if err is not None:
            raise ClientError({"Error": {"Code": err.code, "Message": err.message}}, "PutRolePolicy")
        self.puts += 1
        total = limits.policy_chars(PolicyDocument) + sum(limits.policy_chars(d) for n, d in existing.items()
                                                          if n != PolicyName)
        self.max_total = max(self.max_total, total)
        return self._c.put_role_policy(RoleName=RoleName, PolicyName=PolicyName, PolicyDocument=PolicyDocument)


def checked_aws() -> tuple[Aws, list[IamLimits]]:
    made: list[IamLimits] = []

    def factory(ctx: AwsContext, service: str) -> Any:
        c = boto_client(ctx, service)
        if service == "iam":
            made.append(IamLimits(c))
            return made[-1]
        return c

    return Aws(client_factory=factory), made


def test_the_checker_refuses_like_aws(aws: None) -> None:
    boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    a, made = checked_aws()
    iam = a.client("iam")
    stmt = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"arn:aws:s3:::b{i:05d}/*" for i in range(300)]}
    iam.put_role_policy(RoleName="r", PolicyName="one", PolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                                   "Statement": [stmt]}))
    with pytest.raises(ClientError) as ei:
        iam.put_role_policy(RoleName="r", PolicyName="two", PolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                                       "Statement": [stmt]}))
    assert ei.value.response["Error"]["Code"] == "LimitExceeded"
    assert "Maximum policy size of 10240 bytes exceeded for role r" in str(ei.value)
    assert made[0].puts == 1


def _run(n: int, tmp_path: Path, prefix: str) -> tuple[Plan, Any, list[IamLimits]]:
    seed_synthetic(n)
    inv = discover(boto3.client("ecs"), "us-east-1")
    plan = make_live_plan(inv, live_findings(inv), PlanSettings(store=StoreKind.SSM, prefix=prefix))
    plan = Plan.from_json(plan.to_json())
    aws, made = checked_aws()
    rt = live_env(plan=plan, journal=LockedJournal(tmp_path / "state", plan.id), aws=aws, health=ScriptedHealth())
    return plan, rt, made


@pytest.mark.slow
def test_thousand_services_sharing_one_execution_role(aws: None, tmp_path: Path) -> None:
    n = int(os.environ.get("H10B_N", "1000"))
    t0 = time.monotonic()
    plan, rt, made = _run(n, tmp_path, "batch")
    assert len(plan.policies) == n and {p.role_arn for p in plan.policies} == {EXEC_ROLE}
    assert {p.policy_name for p in plan.policies} == {ip.TOOL_POLICY}
    assert not [w for w in plan.warnings if "characters" in w]
    (est,) = ip.estimate_sizes(plan.actions, plan_id=plan.id, region=None)
    assert est.level == (2 if n >= 200 else 1) and est.size <= ip.INLINE_TOTAL_MAX  # 1,000 x app/* would not fit
    rep = LiveRunner(rt, RunOptions(waves=(WaveSpec("rest", 8),))).run()
    assert rep.by_status() == {MIGRATED: n}, [r.reason for r in rep.results if r.status != MIGRATED][:3]
    iam = boto3.client("iam")
    names = iam.list_role_policies(RoleName="ecsTaskExecutionRole")["PolicyNames"]
    assert names == [ip.TOOL_POLICY]
    doc = iam.get_role_policy(RoleName="ecsTaskExecutionRole", PolicyName=ip.TOOL_POLICY)["PolicyDocument"]
    (st,) = ip.statements(doc)
    assert st["Sid"] == ip.plan_sid(plan.id) + "Ssm" and st["Action"] == "ssm:GetParameters"
    if n >= 200:
        assert st["Resource"] == "arn:aws:ssm:us-east-1:123456789012:parameter/batch/*"
    assert ip.policy_size(doc) == est.size
    assert sum(m.puts for m in made) == n and max(m.max_total for m in made) <= ip.INLINE_TOTAL_MAX
    checks = [c for c in verify_plan(rt) if c.kind == "iam"]
    assert len(checks) == 2 * n and all(c.ok for c in checks)
    rollback_live(rt)
    assert iam.list_role_policies(RoleName="ecsTaskExecutionRole")["PolicyNames"] == []
    print(f"\n{n} services: {time.monotonic() - t0:.1f}s, policy {ip.policy_size(doc)} characters")  # noqa: T201


def test_without_a_prefix_the_plan_says_the_grants_cannot_fit(aws: None, tmp_path: Path) -> None:
    """200 families, no common directory: the plan blocks the revisions whose grants do not fit (with the
    --prefix fix) instead of planning a grant that apply could not write; what is planned fits."""
    plan, _, _ = _run(200, tmp_path, "")
    over = [b for b in plan.blocked if b.kind == "iam-size"]
    assert over and all(EXEC_ROLE in b.reason and "--prefix" in b.fix for b in over)
    (est,) = ip.estimate_sizes(plan.actions, plan_id=plan.id, region=None)
    assert est.level >= 0 and est.size <= ip.INLINE_TOTAL_MAX
    assert len(plan.deploy_order) + len(over) == 200


@pytest.mark.slow
def test_what_the_planner_kept_under_the_iam_limit_applies_without_a_rollback(aws: None, tmp_path: Path) -> None:
    """The plan-time estimate agrees with AWS's limit at apply: every service it kept is migrated."""
    plan, rt, made = _run(200, tmp_path, "")
    assert [b for b in plan.blocked if b.kind == "iam-size"]
    rep = LiveRunner(rt, RunOptions(waves=(WaveSpec("rest", 8),))).run()
    assert rep.by_status() == {MIGRATED: len(plan.deploy_order)}, [r.reason for r in rep.results if r.status != MIGRATED][:3]


def test_an_execution_role_in_another_account_is_refused_at_plan_time(aws: None, tmp_path: Path) -> None:
    seed_synthetic(1)
    ecs = boto3.client("ecs")
    other = "arn:aws:iam::999999999999:role/ecsTaskExecutionRole"
    td = ecs.register_task_definition(
        family="elsewhere", executionRoleArn=other, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512", containerDefinitions=[{"name": "app", "image": "nginx:1.27", "essential": True,
                                                        "environment": [{"name": "DB_PASSWORD",
                                                                         "value": "Xk9-elsewhere-s3cr3t-Qz7"}]}],
    )["taskDefinition"]["taskDefinitionArn"]
    svc = ecs.describe_services(cluster="batch", services=["svc000"])["services"][0]
    ecs.create_service(cluster="batch", serviceName="svc-elsewhere", taskDefinition=td, desiredCount=1,
                       networkConfiguration=svc["networkConfiguration"])
    inv = discover(ecs, "us-east-1")
    plan = make_live_plan(inv, live_findings(inv), PlanSettings(store=StoreKind.SSM, prefix="batch"))
    assert {p.role_arn for p in plan.policies} == {EXEC_ROLE}  # the name alone does not make it the same role
    (r,) = [r for r in plan.refused if r["path"] == td]
    assert "account 999999999999" in str(r["reason"]) and "cannot grant" in str(r["reason"])
    assert not any(getattr(a, "name", "").startswith("/batch/elsewhere/") for a in plan.actions)
