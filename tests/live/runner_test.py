from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from migrate.apply.env import Env
from migrate.live.health import ScriptedHealth
from migrate.live.planner import live_findings, make_live_plan, units_of
from migrate.live.runtime import LockedJournal, live_env
from migrate.live.seed import seed_synthetic
from migrate.live.source import discover
from migrate.live.waves import (
    MIGRATED,
    REGISTERED_ONLY,
    ROLLED_BACK,
    SKIPPED,
    LiveRunner,
    RunOptions,
    WaveSpec,
    rollback_live,
    split_waves,
)
from migrate.plan.model import Plan, PlanSettings
from migrate.stores.aws import Aws

SECRET = "Xk9-app000-s3cr3t-0-Qz7"


def _plan(tmp_path: Path, **kw):
    ecs = boto3.client("ecs")
    inv = discover(ecs, "us-east-1", **kw)
    plan = make_live_plan(inv, live_findings(inv), PlanSettings(store="ssm"))
    # through the plan file, as the CLI does
    plan = Plan.from_json(plan.to_json())
    return inv, plan


def _rt(tmp_path: Path, plan: Plan, health: ScriptedHealth) -> Env:
    return live_env(plan=plan, journal=LockedJournal(tmp_path / "state", plan.id), aws=Aws(), health=health)


def _td(key: str) -> str:
    cluster, svc = key.split("/")
    return boto3.client("ecs").describe_services(cluster=cluster, services=[svc])["services"][0]["taskDefinition"]


def test_split_waves_canary_then_rest():
    keys = [f"s{i}" for i in range(10)]
    assert split_waves(keys, (WaveSpec("1"), WaveSpec("rest"))) == [["s0"], keys[1:]]
    assert split_waves(keys, (WaveSpec("20%"), WaveSpec("3"))) == [["s0", "s1"], keys[2:]]


def test_plan_has_one_revision_per_family_and_no_plaintext(aws, tmp_path):
    seed_synthetic(4, per_family=2, controller_every=4)
    inv, plan = _plan(tmp_path)
    units, steps = units_of(plan)
    assert len(units) == 2
    assert sorted(s.key for s in steps) == ["batch/svc000", "batch/svc001", "batch/svc002", "batch/svc003"]
    assert [s.key for s in steps if s.register_only] == ["batch/svc003"]
    text = plan.to_json()
    assert "s3cr3t" not in text and "CODE_DEPLOY" in text
    assert {a.name for a in plan.store_actions} >= {"/app000/app/DB_PASSWORD", "/app000/app/DB_PASSWORD_1"}


def test_apply_migrates_and_keeps_old_revision_active(aws, tmp_path):
    keys = seed_synthetic(2)
    inv, plan = _plan(tmp_path)
    before = {k: _td(k) for k in keys}
    rt = _rt(tmp_path, plan, ScriptedHealth())
    rep = LiveRunner(rt, RunOptions()).run()
    assert [r.status for r in rep.results] == [MIGRATED, MIGRATED]
    ecs = boto3.client("ecs")
    for k in keys:
        new = ecs.describe_task_definition(taskDefinition=_td(k), include=["TAGS"])
        c = new["taskDefinition"]["containerDefinitions"][0]
        assert [e["name"] for e in c["environment"]] == ["PORT"]
        assert sorted(s["name"] for s in c["secrets"]) == ["DB_PASSWORD", "DB_PASSWORD_1"]
        assert all(s["valueFrom"].startswith("arn:aws:ssm:us-east-1:") for s in c["secrets"])
        assert {"key": "team", "value": "batch"} in new["tags"]
        assert ecs.describe_task_definition(taskDefinition=before[k])["taskDefinition"]["status"] == "ACTIVE"
    assert boto3.client("ssm").get_parameter(Name="/app000/app/DB_PASSWORD", WithDecryption=True)["Parameter"]["Value"] == SECRET
    # re-running is a no-op: nothing registered twice
    rep2 = LiveRunner(rt, RunOptions()).run()
    assert [r.status for r in rep2.results] == [MIGRATED, MIGRATED]
    assert len(ecs.list_task_definitions(familyPrefix="app000")["taskDefinitionArns"]) == 2
    # whole-run rollback: services back, new revisions inactive, entries gone
    rollback_live(rt)
    assert {k: _td(k) for k in keys} == before
    assert boto3.client("ssm").describe_parameters()["Parameters"] == []


def test_failed_deployment_rolls_that_service_back(aws, tmp_path):
    keys = seed_synthetic(3)
    inv, plan = _plan(tmp_path)
    before = {k: _td(k) for k in keys}
    rt = _rt(tmp_path, plan, ScriptedHealth({"svc001": "FAILED"}))
    rep = LiveRunner(rt, RunOptions(waves=(WaveSpec("rest", 2),))).run()
    st = {r.key: r for r in rep.results}
    assert st["batch/svc001"].status == ROLLED_BACK and "failed" in st["batch/svc001"].reason
    assert st["batch/svc000"].status == MIGRATED and st["batch/svc002"].status == MIGRATED
    assert _td("batch/svc001") == before["batch/svc001"]
    assert _td("batch/svc000") != before["batch/svc000"]
    names = {p["Name"] for p in boto3.client("ssm").describe_parameters()["Parameters"]}
    assert not any(n.startswith("/app001/") for n in names) and any(n.startswith("/app000/") for n in names)
    ecs = boto3.client("ecs")
    arns = ecs.list_task_definitions(familyPrefix="app001", status="ACTIVE")["taskDefinitionArns"]
    assert arns == [before["batch/svc001"]]


def test_shared_revision_kept_while_another_service_uses_it(aws, tmp_path):
    seed_synthetic(2, per_family=2)
    inv, plan = _plan(tmp_path)
    rt = _rt(tmp_path, plan, ScriptedHealth({"svc001": "TIMEOUT"}))
    rep = LiveRunner(rt, RunOptions(waves=(WaveSpec("rest", 1),))).run()
    assert [r.status for r in rep.results] == [MIGRATED, ROLLED_BACK]
    assert "timeout" in rep.results[1].reason
    assert len(boto3.client("ssm").describe_parameters()["Parameters"]) == 2  # still used by svc000


def test_code_deploy_service_gets_revision_only(aws, tmp_path):
    keys = seed_synthetic(2, controller_every=2)
    inv, plan = _plan(tmp_path)
    before = _td(keys[1])
    rep = LiveRunner(_rt(tmp_path, plan, ScriptedHealth()), RunOptions()).run()
    assert {r.key: r.status for r in rep.results} == {"batch/svc000": MIGRATED, "batch/svc001": REGISTERED_ONLY}
    assert _td(keys[1]) == before
    assert len(boto3.client("ecs").list_task_definitions(familyPrefix="app001")["taskDefinitionArns"]) == 2


@pytest.mark.parametrize("policy,expect", [
    ("rollback-wave", {1: {MIGRATED}, 2: {ROLLED_BACK}, 3: {SKIPPED}}),
    ("rollback-service", {1: {MIGRATED}, 2: {MIGRATED, ROLLED_BACK}, 3: {MIGRATED}}),
    ("rollback-all", {1: {ROLLED_BACK}, 2: {ROLLED_BACK}, 3: {SKIPPED}}),
    ("stop", {1: {MIGRATED}, 2: {MIGRATED, ROLLED_BACK}, 3: {SKIPPED}}),
])
def test_failure_policies(aws, tmp_path, policy, expect):
    seed_synthetic(7)
    inv, plan = _plan(tmp_path)
    rt = _rt(tmp_path, plan, ScriptedHealth({"svc002": "FAILED"}))
    waves = (WaveSpec("1"), WaveSpec("3", 2), WaveSpec("rest", 3))
    rep = LiveRunner(rt, RunOptions(waves=waves, failure_policy=policy)).run()
    got: dict[int, set[str]] = {}
    for r in rep.results:
        got.setdefault(r.wave, set()).add(r.status)
    assert got == expect
    assert next(r for r in rep.results if r.key == "batch/svc002").status == ROLLED_BACK


def test_sandbox_seed_is_plannable_without_plaintext_in_plan(aws, tmp_path):
    from migrate.live.seed import seed_sandbox

    summary = seed_sandbox()
    assert "legacy-prod" in summary
    inv, plan = _plan(tmp_path, clusters=["legacy-prod"])
    assert len(inv.services) >= 10
    assert plan.store_actions and "Pa55w0rd" not in plan.to_json()


def test_token_bucket_enforces_rate_after_burst():
    from migrate.live.ratelimit import TokenBucket

    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    b = TokenBucket(1.0, 20.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(25):
        b.acquire()
    assert 4.9 < now[0] < 5.1  # 20 free (burst), then 1 per second


def test_report_formats_name_every_service():
    from migrate.live import report
    from migrate.live.waves import RunReport, ServiceResult

    rep = RunReport("p1", "rollback-wave", [ServiceResult("c/a", 1, MIGRATED), ServiceResult("c/b|x", 2, ROLLED_BACK, "deployment failed")],
                    [["c/a"], ["c/b|x"]])
    assert '"rolled-back": 1' in report.to_json(rep)
    md = report.to_markdown(rep)
    assert "| 2 | c/b\\|x | rolled-back |" in md and md.count("\n| ") == 3


@pytest.mark.parametrize("policy", ["stop", "rollback-wave", "rollback-all"])
def test_a_would_fail_proof_makes_stopping_policies_refuse_its_wave(aws, tmp_path, policy):
    """Issue 15 §4: the proof said svc002's tasks would not start: its wave is refused before anything is touched."""
    seed_synthetic(5)
    inv, plan = _plan(tmp_path)
    rt = _rt(tmp_path, plan, ScriptedHealth())
    proofs = {f"batch/svc{i:03d}": "will start" for i in range(5)}
    proofs["batch/svc002"] = "would fail: ECS was unable to assume the role"
    before = {k: _td(k) for k in proofs}
    waves = (WaveSpec("1"), WaveSpec("rest", 2))
    rep = LiveRunner(rt, RunOptions(waves=waves, failure_policy=policy), proofs=proofs).run()
    status = {r.key: r.status for r in rep.results}
    assert status["batch/svc000"] == MIGRATED
    assert {status[k] for k in proofs if k != "batch/svc000"} == {SKIPPED}
    assert all(k == "batch/svc000" or _td(k) == before[k] for k in proofs)  # the refused wave was not touched
    refused = next(r for r in rep.results if r.key == "batch/svc003")
    assert refused.reason.startswith(f"refused by policy {policy}: batch/svc002 would fail")
    assert refused.proof == "will start" and rep.stopped_after_wave == 2


def test_a_would_fail_proof_still_deploys_under_rollback_service(aws, tmp_path):
    seed_synthetic(3)
    inv, plan = _plan(tmp_path)
    rt = _rt(tmp_path, plan, ScriptedHealth())
    proofs = {"batch/svc001": "would fail: no grant"}
    rep = LiveRunner(rt, RunOptions(waves=(WaveSpec("1"), WaveSpec("rest", 2))), proofs=proofs).run()
    assert {r.key: r.status for r in rep.results} == {f"batch/svc{i:03d}": MIGRATED for i in range(3)}
    assert next(r for r in rep.results if r.key == "batch/svc001").proof == "would fail: no grant"
