"""The issue's end-to-end checks, through the real CLI against a moto server."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from support.testing import run_cli

from migrate.apply.journal import Journal, state_dir_for
from migrate.live.seed import seed_synthetic

SECRET_MARK = "s3cr3t"


def _tds(keys: list[str]) -> dict[str, str]:
    ecs = boto3.client("ecs")
    out = {}
    for k in keys:
        c, s = k.split("/")
        out[k] = ecs.describe_services(cluster=c, services=[s])["services"][0]["taskDefinition"]
    return out


def test_fifty_services_failure_in_wave_two_rolls_back_that_wave(server_env, tmp_path: Path):
    keys = seed_synthetic(50)
    before = _tds(keys)
    plan = tmp_path / "live.json"
    r = run_cli(["live", "plan", "--store", "ssm", "-o", str(plan)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert SECRET_MARK not in plan.read_text() and SECRET_MARK not in r.stdout + r.stderr
    r = run_cli(["live", "apply", str(plan), "--yes", "--waves", "10,20,rest", "--concurrency", "5",
                 "--failure-policy", "rollback-wave", "--health", "scripted", "--fail", "batch/svc017",
                 "--report", "json", "--rate-scale", "20"], cwd=tmp_path, timeout=300)
    assert r.returncode == 4, r.stderr
    assert SECRET_MARK not in r.stdout + r.stderr
    rep = json.loads(r.stdout)
    by_wave: dict[int, set[str]] = {}
    for s in rep["services"]:
        by_wave.setdefault(s["wave"], set()).add(s["status"])
    assert by_wave == {1: {"migrated"}, 2: {"rolled-back"}, 3: {"skipped"}}
    failing = next(s for s in rep["services"] if s["key"] == "batch/svc017")
    assert "deployment failed" in failing["reason"]
    assert rep["summary"] == {"migrated": 10, "rolled-back": 20, "skipped": 20}
    # the account matches the journal
    after = _tds(keys)
    from migrate.plan.model import Plan

    p = Plan.from_json(plan.read_text(), base=plan.parent)
    states = Journal(state_dir_for(plan), p.id).states()
    for a in p.actions:
        if a.kind == "ecs.update-service":
            key = f"batch/{a.service}"
            st = states.get(a.id)
            if key in [s["key"] for s in rep["services"] if s["status"] == "migrated"]:
                assert st.phase == "applied" and after[key] == st.receipt["new"] != before[key]
            else:
                assert after[key] == before[key]
                assert st is None or st.phase == "reverted"
    params = {x["Name"] for pg in boto3.client("ssm").get_paginator("describe_parameters").paginate()
              for x in pg["Parameters"]}
    assert len(params) == 20  # 2 per migrated service, none left from the rolled-back wave
    # finalize deletes the migrated services' old revisions only
    r = run_cli(["live", "finalize", str(plan), "--yes", "--format", "json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["deleted_revisions"]) == 10
    ecs = boto3.client("ecs")
    active = ecs.list_task_definitions(familyPrefix="app000", status="ACTIVE")["taskDefinitionArns"]
    assert before["batch/svc000"] not in active and len(active) == 1
    assert ecs.describe_task_definition(taskDefinition=before["batch/svc017"])["taskDefinition"]["status"] == "ACTIVE"
    r = run_cli(["live", "rollback", str(plan), "--yes"], cwd=tmp_path)
    assert r.returncode != 0 and "finalized" in r.stderr


def test_crash_mid_wave_then_apply_resumes_without_duplicates(server_env, tmp_path: Path):
    keys = seed_synthetic(6)
    plan = tmp_path / "live.json"
    assert run_cli(["live", "plan", "--store", "ssm", "-o", str(plan)], cwd=tmp_path).returncode == 0
    args = ["live", "apply", str(plan), "--yes", "--waves", "1,rest", "--concurrency", "1", "--health", "scripted"]
    crash = {"SECRETS_MIGRATE_TEST_CRASH_AFTER_RECORD": "40", "SECRETS_MIGRATE_TEST_MODE": "i-know-this-kills-the-process"}
    r = run_cli(args, cwd=tmp_path, env=crash)
    assert r.returncode == -9
    r = run_cli(args + ["--report", "json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert {s["status"] for s in json.loads(r.stdout)["services"]} == {"migrated"}
    ecs = boto3.client("ecs")
    for i in range(6):
        assert len(ecs.list_task_definitions(familyPrefix=f"app{i:03d}")["taskDefinitionArns"]) == 2
    after = _tds(keys)
    assert all(td.endswith(":2") for td in after.values())
    params = [x["Name"] for pg in boto3.client("ssm").get_paginator("describe_parameters").paginate()
              for x in pg["Parameters"]]
    assert len(params) == len(set(params)) == 12
