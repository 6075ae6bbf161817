"""The live planner: a problem with one service blocks that service only (listed with reason and a checked fix),
``--group per-unit`` (one JSON secret per container) planned, applied, verified and rolled back, and the
per-service proofs stored in the plan. In-process moto; the CLI runs are in ``live_planner_cli_test.py``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from migrate.apply.verify import verify_plan
from migrate.live.health import ScriptedHealth
from migrate.live.planner import BLOCK_DESCRIBE, live_findings, make_live_plan, units_of
from migrate.live.runtime import LockedJournal, live_env
from migrate.live.seed import EXEC_ROLE, seed_synthetic
from migrate.live.source import discover
from migrate.live.waves import MIGRATED, LiveRunner, RunOptions, rollback_live
from migrate.plan.actions import CreateSecret, RegisterRevision
from migrate.plan.choices import Group, StoreKind
from migrate.plan.model import Plan, PlanSettings, ServiceProof
from migrate.plan.planner import BLOCK_CLASH, BLOCK_LIMIT
from migrate.report import build, to_html, to_markdown
from migrate.stores.aws import Aws

MARK = "s3cr3t"


def _twin(cluster: str = "batch") -> str:
    """A service whose two containers both hold DB_PASSWORD (two values): they clash without ``{unit}``."""
    ecs = boto3.client("ecs")
    td = ecs.register_task_definition(
        family="twin", executionRoleArn=EXEC_ROLE, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512",
        containerDefinitions=[{"name": n, "image": "nginx:1.27", "essential": n == "app",
                               "environment": [{"name": "DB_PASSWORD", "value": f"Xk9-twin-{n}-s3cr3t-Qz7"}]}
                              for n in ("app", "worker")])["taskDefinition"]["taskDefinitionArn"]
    net = ecs.describe_services(cluster=cluster, services=["svc000"])["services"][0]["networkConfiguration"]
    ecs.create_service(cluster=cluster, serviceName="svc-twin", taskDefinition=td, desiredCount=1,
                       networkConfiguration=net)
    return str(td)


def _plan(settings: PlanSettings, ecs: Any = None) -> Plan:
    inv = discover(ecs or boto3.client("ecs"), "us-east-1")
    p = make_live_plan(inv, live_findings(inv), settings)
    assert MARK not in p.to_json()
    return Plan.from_json(p.to_json())  # through the plan file, as the CLI does


def _services(p: Plan) -> set[str]:
    return {k for a in p.actions if isinstance(a, RegisterRevision) for k in a.services}


def _template(fix: str) -> str:
    assert fix.startswith("use --name-template '"), fix
    return fix.split("'")[1]


def test_a_clash_inside_one_service_blocks_it_alone_with_a_fix_that_separates_the_names(aws: None) -> None:
    seed_synthetic(3, secrets=1)
    twin = _twin()
    tmpl = "/{prefix}/{project}/{name}"
    p = _plan(PlanSettings(store=StoreKind.SSM, name_template=tmpl))
    assert _services(p) == {"batch/svc000", "batch/svc001", "batch/svc002"}  # the rest is planned
    assert "batch/svc-twin" not in p.deploy_order
    (b,) = p.blocked
    assert (b.kind, b.path, b.unit, b.name) == (BLOCK_CLASH, twin, "worker", "DB_PASSWORD")
    assert "/twin/DB_PASSWORD already holds" in b.reason and "app.DB_PASSWORD (another value)" in b.reason
    assert "batch/svc-twin is left as it is" in b.reason
    assert not any("/twin/" in a.name for a in p.store_actions)  # nothing of the blocked service is created
    fixed = _template(b.fix)
    assert "{unit}" in fixed
    again = _plan(PlanSettings(store=StoreKind.SSM, name_template=fixed))  # the suggestion really separates them
    assert not again.blocked and "batch/svc-twin" in _services(again)
    assert {a.name for a in again.store_actions} >= {"/twin/app/DB_PASSWORD", "/twin/worker/DB_PASSWORD"}


def test_a_name_taken_by_another_service_blocks_the_later_ones_only(aws: None) -> None:
    seed_synthetic(3, secrets=1)
    p = _plan(PlanSettings(store=StoreKind.SSM, name_template="/{prefix}/{name}"))
    assert _services(p) == {"batch/svc000"}
    assert [a.name for a in p.store_actions] == ["/DB_PASSWORD"]
    assert sorted(b.reason.rsplit("; ", 1)[1] for b in p.blocked) == ["batch/svc001 is left as it is",
                                                                       "batch/svc002 is left as it is"]
    assert all(b.kind == BLOCK_CLASH and "app000" in b.reason and b.fix for b in p.blocked)
    fixed = {_template(b.fix) for b in p.blocked}
    assert fixed == {"/{prefix}/{project}/{name}"}
    assert not _plan(PlanSettings(store=StoreKind.SSM, name_template=fixed.pop())).blocked


def test_per_unit_clash_suggests_a_template_with_the_container(aws: None) -> None:
    seed_synthetic(1, secrets=1)
    _twin()
    p = _plan(PlanSettings(store=StoreKind.SECRETSMANAGER, group=Group.PER_UNIT, name_template="{prefix}/{project}"))
    (b,) = p.blocked
    assert b.unit == "worker" and "key DB_PASSWORD of twin" in b.reason
    fixed = _template(b.fix)
    assert fixed == "{prefix}/{project}/{unit}"
    assert not _plan(PlanSettings(store=StoreKind.SECRETSMANAGER, group=Group.PER_UNIT, name_template=fixed)).blocked


def test_per_unit_secret_taken_by_another_service_blocks_the_later_one(aws: None) -> None:
    seed_synthetic(2, secrets=2)
    settings = PlanSettings(store=StoreKind.AUTO, group=Group.PER_UNIT, name_template="{prefix}/{unit}")
    p = _plan(settings)
    assert _services(p) == {"batch/svc000"} and [a.name for a in p.store_actions] == ["app"]
    assert {b.name for b in p.blocked} == {"DB_PASSWORD", "DB_PASSWORD_1"}  # every entry of svc001, one run
    assert all(b.reason.startswith("name clash: app already holds app000:1 app") for b in p.blocked)
    assert all("batch/svc001 is left as it is" in b.reason for b in p.blocked)
    (fix,) = {_template(b.fix) for b in p.blocked}
    assert fix == "{prefix}/{project}/{unit}"
    again = _plan(dataclasses.replace(settings, name_template=fix))
    assert not again.blocked and sorted(a.name for a in again.store_actions) == ["app000/app", "app001/app"]


def test_a_value_no_store_can_hold_blocks_its_service_only(aws: None) -> None:
    seed_synthetic(2, secrets=1)
    ecs = boto3.client("ecs")
    big = "Xk9-" + "a1B2c3D4" * 1100  # over the 8 KiB Parameter Store limit
    td = ecs.register_task_definition(family="big", executionRoleArn=EXEC_ROLE, containerDefinitions=[
        {"name": "app", "image": "nginx:1.27", "memory": 128,
         "environment": [{"name": "TLS_PRIVATE_KEY", "value": big}]}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="batch", serviceName="svc-big", taskDefinition=td, desiredCount=1)
    p = _plan(PlanSettings(store=StoreKind.SSM))
    assert _services(p) == {"batch/svc000", "batch/svc001"}
    (b,) = p.blocked
    assert b.kind == BLOCK_LIMIT and b.name == "TLS_PRIVATE_KEY" and "8 KiB" in b.reason
    assert "svc-big is left as it is" in b.reason and "secretsmanager" in b.fix
    assert "a1B2c3D4" not in p.to_json()


class _Unreadable:
    """An ECS client that cannot describe one family's revisions (AccessDenied), like a narrow policy."""

    def __init__(self, inner: Any, family: str) -> None:
        self._inner, self._family = inner, family

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def describe_task_definition(self, **kw: Any) -> Any:
        if f"/{self._family}:" in kw["taskDefinition"] or kw["taskDefinition"].startswith(f"{self._family}:"):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeTaskDefinition")
        return self._inner.describe_task_definition(**kw)


def test_a_revision_that_cannot_be_described_blocks_its_service_and_the_rest_is_planned(aws: None) -> None:
    seed_synthetic(3, secrets=1)
    p = _plan(PlanSettings(store=StoreKind.SSM), ecs=_Unreadable(boto3.client("ecs"), "app001"))
    assert _services(p) == {"batch/svc000", "batch/svc002"}
    (b,) = p.blocked
    assert b.kind == BLOCK_DESCRIBE and "app001" in b.path
    assert "AccessDeniedException" in b.reason and "batch/svc001 is left as it is" in b.reason
    assert "ecs:DescribeTaskDefinition" in b.fix


def test_per_unit_plans_one_json_secret_per_container_and_round_trips(aws: None, tmp_path: Path) -> None:
    keys = seed_synthetic(2, secrets=2)
    ecs = boto3.client("ecs")
    before = {k: ecs.describe_services(cluster="batch", services=[k.split("/")[1]])["services"][0]["taskDefinition"]
              for k in keys}
    plan = _plan(PlanSettings(store=StoreKind.AUTO, group=Group.PER_UNIT))
    secrets = [a for a in plan.actions if isinstance(a, CreateSecret)]
    assert [s.name for s in secrets] == ["app000/app", "app001/app"] and len(plan.store_actions) == 2
    assert all(s.is_json and {v.json_key for v in s.values} == {"DB_PASSWORD", "DB_PASSWORD_1"} for s in secrets)
    reg = next(a for a in plan.actions if isinstance(a, RegisterRevision))
    assert {(m.name, m.json_key) for m in reg.moves} == {("DB_PASSWORD", "DB_PASSWORD"), ("DB_PASSWORD_1", "DB_PASSWORD_1")}
    assert len(units_of(plan)[0]) == 2
    rt = live_env(plan=plan, journal=LockedJournal(tmp_path / "state", plan.id), aws=Aws(), health=ScriptedHealth())
    rep = LiveRunner(rt, RunOptions()).run()
    assert rep.by_status() == {MIGRATED: 2}, [r.reason for r in rep.results]
    sm = boto3.client("secretsmanager")
    doc = json.loads(sm.get_secret_value(SecretId="app000/app")["SecretString"])
    assert doc == {"DB_PASSWORD": "Xk9-app000-s3cr3t-0-Qz7", "DB_PASSWORD_1": "Xk9-app000-s3cr3t-1-Qz7"}
    arn = sm.describe_secret(SecretId="app000/app")["ARN"]
    now = ecs.describe_services(cluster="batch", services=["svc000"])["services"][0]["taskDefinition"]
    c = ecs.describe_task_definition(taskDefinition=now)["taskDefinition"]["containerDefinitions"][0]
    assert {e["name"] for e in c["environment"]} == {"PORT"}
    assert {(s["name"], s["valueFrom"]) for s in c["secrets"]} == {("DB_PASSWORD", f"{arn}:DB_PASSWORD::"),
                                                                  ("DB_PASSWORD_1", f"{arn}:DB_PASSWORD_1::")}
    checks = verify_plan(rt)
    assert checks and all(ch.ok for ch in checks), [ch for ch in checks if not ch.ok]
    assert sum(ch.kind == "original-value" for ch in checks) >= 4
    rollback_live(rt)
    for k in keys:
        assert ecs.describe_services(cluster="batch", services=[k.split("/")[1]])["services"][0]["taskDefinition"] \
            == before[k]
    assert not [s for s in sm.list_secrets()["SecretList"] if not s.get("DeletedDate")]


def test_proofs_are_stored_outside_the_digest_and_shown_by_report(aws: None) -> None:
    seed_synthetic(2, secrets=1)
    p = _plan(PlanSettings(store=StoreKind.SSM))
    proofs = (ServiceProof("batch/svc000", "will start"),
              ServiceProof("batch/svc001", "would fail", "ECS was unable to assume the role 'x'"))
    with_proofs = dataclasses.replace(p, proofs=proofs)
    assert with_proofs.digest() == p.digest()  # review information, like warnings: not what apply executes
    back = Plan.from_json(with_proofs.to_json())
    assert back.proofs == proofs and back.digest() == p.digest()
    assert "proofs" not in p.to_doc()  # plans without proofs are written as before
    d = build(back, [])
    for text in (to_html(d), to_markdown(d)):
        assert "Deployment proofs" in text and "batch/svc001" in text and "would fail" in text
        assert "unable to assume the role" in text
    assert "Deployment proofs" not in to_markdown(build(p, []))


def test_a_shared_role_over_the_iam_size_limit_blocks_the_revisions_that_do_not_fit(aws: None) -> None:
    """200 services share one execution role and, with no --prefix, each family's entries sit in their own
    directory: the grants cannot fit IAM's 10,240-character inline limit. The plan says so (the services that do
    not fit are blocked with the fix) instead of apply rolling them back mid-batch; with a prefix all fit."""
    from migrate import iam_policy
    from migrate.live.planner import BLOCK_IAM_SIZE

    seed_synthetic(200, per_family=1, secrets=2, region="us-east-1")
    p = _plan(PlanSettings(store=StoreKind.SSM, region="us-east-1"))
    over = [b for b in p.blocked if b.kind == BLOCK_IAM_SIZE]
    assert 0 < len(over) < 200, len(over)
    assert all("--prefix" in b.fix and EXEC_ROLE in b.reason for b in over)
    planned = _services(p)
    assert len(planned) + len(over) == 200 and len(p.deploy_order) == len(planned)
    assert not {b.path for b in over} & {a.source_arn for a in p.actions if isinstance(a, RegisterRevision)}
    sizes = iam_policy.estimate_sizes(list(p.actions), plan_id=p.id, region="us-east-1")
    assert sizes and all(r.level >= 0 and r.size <= iam_policy.INLINE_TOTAL_MAX for r in sizes)
    assert not any("apply will fail" in w for w in p.warnings)
    # one directory for every entry: the grants compress to one pattern and every service is planned
    q = _plan(PlanSettings(store=StoreKind.SSM, region="us-east-1", prefix="batch"))
    assert not [b for b in q.blocked if b.kind == BLOCK_IAM_SIZE] and len(_services(q)) == 200
