"""Two applies on one plan, stale plans, and entries that already exist under the target names."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from support.testing import LAUNCHER, run_cli

from migrate.plan.model import Plan

_spec = importlib.util.spec_from_file_location("_proofs_world", Path(__file__).with_name("_world.py"))
assert _spec and _spec.loader
W = sys.modules.setdefault("_proofs_world", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(W)

FAULTS = {"SECRETS_MIGRATE_TEST_MODE": "i-know-this-injects-faults"}


@pytest.fixture
def project(server_env: str, tmp_path: Path) -> tuple[Path, Path]:
    W.reset_moto(server_env)
    defs = tmp_path / "defs"
    W.write_project(defs)
    r = run_cli(["plan", "defs", "--execution-role", W.ROLE, "-o", "plan.json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return defs, tmp_path / "plan.json"


def test_second_concurrent_apply_is_refused(project: tuple[Path, Path]) -> None:
    defs, plan_path = project
    env = {**os.environ, **FAULTS, "COLUMNS": "200",
           "SECRETS_MIGRATE_TEST_FAULTS": '[{"kind": "delay", "ops": ["ssm.PutParameter"], "at": [2], "seconds": 4}]'}  # 1st: the run lease
    first = subprocess.Popen([sys.executable, str(LAUNCHER), "apply", "plan.json", "--yes"], cwd=plan_path.parent,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = plan_path.with_name("plan.json.state") / "journal.jsonl"
    deadline = time.monotonic() + 60
    while not journal.exists() and time.monotonic() < deadline:  # run-start is written under the lock
        time.sleep(0.05)
    assert journal.exists()
    second = run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent)
    out, err = first.communicate(timeout=120)
    assert second.returncode == 4 and "another secrets-migrate command is running" in second.stderr, second.stderr
    assert first.returncode == 0, err
    assert len(W.store_snapshot()["ssm"]) == 5


def test_stale_plan_is_refused_and_nothing_changes(project: tuple[Path, Path]) -> None:
    defs, plan_path = project
    (defs / "compose" / "app.env").write_bytes((defs / "compose" / "app.env").read_bytes() + b"NEW=1\r\n")
    before = W.tree_bytes(defs)
    r = run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent)
    assert r.returncode == 4 and "stale" in r.stderr
    assert W.tree_bytes(defs) == before and W.store_snapshot() == {"ssm": {}, "sm": {}, "policies": {}}


def _targets(plan_path: Path) -> dict[str, str]:
    plan = Plan.from_json(plan_path.read_text(), base=plan_path.parent)
    return {a.values[0].name: a.name for a in plan.store_actions}  # type: ignore[attr-defined]


def test_foreign_entry_with_other_value_is_never_touched(project: tuple[Path, Path]) -> None:
    defs, plan_path = project
    name = _targets(plan_path)["JWT_SECRET"]
    boto3.client("ssm").put_parameter(Name=name, Value="someone-else", Type="SecureString")
    before = W.tree_bytes(defs)
    r = run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent)
    assert r.returncode == 4 and name in r.stderr and "someone-else" not in r.stderr
    r = run_cli(["rollback", "plan.json", "--yes"], cwd=plan_path.parent)
    assert r.returncode == 0, r.stderr
    snap = W.store_snapshot()
    assert W.tree_bytes(defs) == before and set(snap["ssm"]) == {name} and snap["ssm"][name][:2] == ("someone-else", 1)


def test_adopted_entry_survives_auto_rollback_and_rollback(project: tuple[Path, Path]) -> None:
    defs, plan_path = project
    t = _targets(plan_path)
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=t["DB_PASSWORD"], Value=W.CANARIES[0], Type="SecureString")  # same value: adopted
    before = W.tree_bytes(defs)
    # auto-rollback path: the 3rd create is denied, everything is undone except the adopted entry
    r = run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent,
                env={**FAULTS, "SECRETS_MIGRATE_TEST_FAULTS": '[{"kind": "access-denied", "ops": ["ssm.PutParameter"], "at": [3]}]'})
    assert r.returncode == 4 and "rolled back" in r.stderr
    snap = W.store_snapshot()
    assert W.tree_bytes(defs) == before and set(snap["ssm"]) == {t["DB_PASSWORD"]}
    assert snap["ssm"][t["DB_PASSWORD"]][:2] == (W.CANARIES[0], 1)
    # apply then explicit rollback: still kept, never overwritten (one revision)
    assert run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent).returncode == 0
    assert W.store_snapshot()["ssm"][t["DB_PASSWORD"]][1] == 1
    assert run_cli(["rollback", "plan.json", "--yes"], cwd=plan_path.parent).returncode == 0
    snap = W.store_snapshot()
    assert W.tree_bytes(defs) == before and set(snap["ssm"]) == {t["DB_PASSWORD"]} and not snap["policies"]
