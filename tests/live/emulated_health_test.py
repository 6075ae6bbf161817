"""Issue 15 §1: ``live apply --health ecs`` (the real DescribeServices path) against the sandbox, whose ECS
emulator fails a deployment exactly when ECS would. A broken grant makes the canary fail for a real reason,
and the tool rolls that service back by itself; a correct plan completes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from migrate.commands.live import apply_live, plan_live
from migrate.live.seed import create_service, ensure_network
from migrate.plan.model import PlanSettings
from migrate.sandbox import SANDBOX_ACCOUNT, SANDBOX_CREDENTIALS, SANDBOX_REGION, Sandbox
from migrate.sandbox.limits import Quotas
from migrate.sandbox.verdict import ASM_PREFIX, SSM_PREFIX

pytest.importorskip("moto")

ACCT, REGION = SANDBOX_ACCOUNT, SANDBOX_REGION
DEPLOY = 0.2
TRUST_ECS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}
TRUST_EC2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "ec2.amazonaws.com"}}]}
SECRET = "Pq7-sandbox-s3cr3t-Zx9"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(deploy_seconds=DEPLOY, quotas=Quotas())
    sb.start()
    yield sb
    sb.stop()


@dataclass
class World:
    sb: Sandbox
    tmp: Path

    @property
    def aws(self) -> Any:
        return self.sb.context()

    def client(self, name: str) -> Any:
        return self.aws.client(name)

    def td(self, service: str) -> str:
        return str(self.client("ecs").describe_services(cluster="c", services=[service])["services"][0]["taskDefinition"])

    def plan(self, store: str = "ssm", name: str = "plan.json") -> Path:
        out = self.tmp / name
        rc = plan_live(out_path=out, settings=PlanSettings.from_options(store=store, region=REGION), regions=[REGION],
                       clusters=["c"], fmt="json", credentials=SANDBOX_CREDENTIALS, endpoint_url=self.sb.url)
        assert rc == 0 and out.exists()
        assert SECRET not in out.read_text()
        return out

    def apply(self, plan: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
        capsys.readouterr()
        rc = apply_live(plan, yes=True, waves="1,rest", concurrency=2, health="ecs", health_interval=0.05,
                        health_timeout=20, report_format="json", aws=self.aws)
        out = capsys.readouterr().out
        assert SECRET not in out
        return rc, json.loads(out)


@pytest.fixture
def world(sandbox: Sandbox, tmp_path: Path) -> World:
    """Cluster ``c``: service ``api`` (canary, role api-exec) and ``web`` (role web-exec), plaintext secrets."""
    sandbox.reset()
    w = World(sandbox, tmp_path)
    ecs, iam = w.client("ecs"), w.client("iam")
    net = ensure_network(w.client("ec2"))
    ecs.create_cluster(clusterName="c")
    for name in ("api", "web"):
        role = iam.create_role(RoleName=f"{name}-exec", AssumeRolePolicyDocument=json.dumps(TRUST_ECS))["Role"]["Arn"]
        arn = ecs.register_task_definition(
            family=name, executionRoleArn=role, containerDefinitions=[{
                "name": "app", "image": "nginx:1.27", "memory": 128,
                "environment": [{"name": "PORT", "value": "8080"}, {"name": "DB_PASSWORD", "value": SECRET + name}]}],
        )["taskDefinition"]["taskDefinitionArn"]
        create_service(ecs, "c", name, arn, net, awsvpc=False, desired=2)
    return w


def _by_service(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in report["services"]}


def _deny(action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": "*"}]})


def _assert_canary_rolled_back(w: World, report: dict[str, Any], old: str, *fragments: str) -> str:
    rows = _by_service(report)
    api = rows["c/api"]
    assert api["status"] == "rolled-back", api
    for f in fragments:
        assert f in api["reason"], (f, api["reason"])
    assert rows["c/web"]["status"] == "migrated"  # policy rollback-service: the rest carries on
    assert w.td("api") == old  # the tool put the service back on its previous revision
    assert "web:2" in w.td("web")
    # the canary's entries were deleted with its rollback (the other unit's stay)
    names = [p["Name"] for p in w.client("ssm").describe_parameters()["Parameters"]]
    names += [s["Name"] for s in w.client("secretsmanager").list_secrets()["SecretList"]]
    assert not any("api" in n.lower() for n in names), names
    assert any("web" in n.lower() for n in names), names
    return str(api["reason"])


def test_correct_plan_completes_with_health_ecs(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    plan = world.plan()
    rc, rep = world.apply(plan, capsys)
    assert rc == 0, rep
    assert {k: r["status"] for k, r in _by_service(rep).items()} == {"c/api": "migrated", "c/web": "migrated"}
    svc = world.client("ecs").describe_services(cluster="c", services=["api"])["services"][0]
    primary = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
    assert primary["rolloutState"] == "COMPLETED" and primary["taskDefinition"].endswith("api:2")


def test_role_not_assumable_by_ecs_tasks_rolls_the_canary_back(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    plan = world.plan()
    old = world.td("api")
    world.client("iam").update_assume_role_policy(RoleName="api-exec", PolicyDocument=json.dumps(TRUST_EC2))
    rc, rep = world.apply(plan, capsys)
    assert rc != 0
    _assert_canary_rolled_back(world, rep, old, "circuit breaker",
                               f"ECS was unable to assume the role 'arn:aws:iam::{ACCT}:role/api-exec'")


def test_explicit_deny_on_ssm_rolls_the_canary_back(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    plan = world.plan()
    old = world.td("api")
    world.client("iam").put_role_policy(RoleName="api-exec", PolicyName="guard", PolicyDocument=_deny("ssm:GetParameters"))
    rc, rep = world.apply(plan, capsys)
    assert rc != 0
    why = _assert_canary_rolled_back(world, rep, old, SSM_PREFIX[:60], "ssm:GetParameters", "explicit deny")
    assert "assumed-role/api-exec/" in why


def test_explicit_deny_on_secrets_manager_rolls_the_canary_back(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    plan = world.plan(store="secretsmanager")
    old = world.td("api")
    world.client("iam").put_role_policy(RoleName="api-exec", PolicyName="guard",
                                        PolicyDocument=_deny("secretsmanager:GetSecretValue"))
    rc, rep = world.apply(plan, capsys)
    assert rc != 0
    _assert_canary_rolled_back(world, rep, old, ASM_PREFIX[:60], "secretsmanager:GetSecretValue", "explicit deny")
