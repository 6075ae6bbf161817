"""verify on a live plan: references, original values (from the old revision), services on the new revision."""

from __future__ import annotations

from pathlib import Path

import boto3

from migrate.apply.env import Env
from migrate.apply.verify import verify_plan
from migrate.live.health import ScriptedHealth
from migrate.live.planner import live_findings, make_live_plan
from migrate.live.runtime import LockedJournal, live_env
from migrate.live.seed import seed_synthetic
from migrate.live.source import discover
from migrate.live.waves import LiveRunner, RunOptions
from migrate.plan.model import Plan, PlanSettings
from migrate.stores.aws import Aws


def _rt(tmp_path: Path) -> Env:
    inv = discover(boto3.client("ecs"), "us-east-1")
    plan = Plan.from_json(make_live_plan(inv, live_findings(inv), PlanSettings(store="ssm")).to_json())
    return live_env(plan=plan, journal=LockedJournal(tmp_path / "state", plan.id), aws=Aws(), health=ScriptedHealth())


def test_verify_passes_after_a_live_migration(aws: None, tmp_path: Path) -> None:
    seed_synthetic(2)
    rt = _rt(tmp_path)
    LiveRunner(rt, RunOptions()).run()
    checks = verify_plan(rt)
    kinds = {c.kind for c in checks}
    assert {"revision", "service"} <= kinds or {"original-value", "service"} <= kinds
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert sum(c.kind == "original-value" for c in checks) >= 2


def test_verify_fails_when_a_store_value_was_changed(aws: None, tmp_path: Path) -> None:
    seed_synthetic(1)
    rt = _rt(tmp_path)
    LiveRunner(rt, RunOptions()).run()
    name = rt.plan.store_actions[0].name  # type: ignore[attr-defined]
    boto3.client("ssm").put_parameter(Name=name, Value="tampered-value-123", Type="SecureString", Overwrite=True)
    bad = [c for c in verify_plan(rt) if not c.ok]
    assert bad and all("tampered" not in c.detail for c in bad)
    assert any(c.kind == "original-value" for c in bad)


def test_verify_fails_when_the_service_was_moved_back(aws: None, tmp_path: Path) -> None:
    keys = seed_synthetic(1)
    rt = _rt(tmp_path)
    ecs = boto3.client("ecs")
    cluster, svc = keys[0].split("/")
    old = ecs.describe_services(cluster=cluster, services=[svc])["services"][0]["taskDefinition"]
    LiveRunner(rt, RunOptions()).run()
    ecs.update_service(cluster=cluster, service=svc, taskDefinition=old)
    assert any(c.kind == "service" and not c.ok for c in verify_plan(rt))
