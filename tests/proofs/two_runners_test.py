"""Two runners, one plan (issue 12.1): the second is refused before it changes anything, however it names
the plan (same path, a copy in another folder, a second checkout of the project) or wherever it runs (a
lease held by another machine); nothing the surviving run created is ever deleted."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
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
#: the first runner pauses on its first entry create (PutParameter #1 is its lease), holding every lock
SLOW_FIRST_CREATE = '[{"kind": "delay", "ops": ["ssm.PutParameter"], "at": [2], "seconds": 8}]'


@pytest.fixture
def project(server_env: str, tmp_path: Path) -> tuple[Path, Path]:
    W.reset_moto(server_env)
    defs = tmp_path / "work" / "defs"
    W.write_project(defs)
    r = run_cli(["plan", "defs", "--execution-role", W.ROLE, "-o", "plan.json"], cwd=defs.parent)
    assert r.returncode == 0, r.stderr
    return defs, defs.parent / "plan.json"


def _same_path(plan: Path) -> tuple[Path, str]:
    return plan.parent, "plan.json"


def _copied_plan(plan: Path) -> tuple[Path, str]:
    (plan.parent / "copy").mkdir()
    shutil.copy2(plan, plan.parent / "copy" / "plan.json")
    return plan.parent, "copy/plan.json"


def _second_checkout(plan: Path) -> tuple[Path, str]:
    other = plan.parent.parent / "checkout2"
    shutil.copytree(plan.parent / "defs", other / "defs")
    shutil.copy2(plan, other / "plan.json")
    return other, "plan.json"


def lock_name(plan_id: str) -> str:
    """Where the run lease lives (``migrate.stores.lease.lock_name``; spelled out so this file also runs
    against a tree that has no lease, to show the old behaviour failing)."""
    return f"/secrets-migrate/locks/{plan_id}"


def _lease_params() -> list[str]:
    return [p["Name"] for p in boto3.client("ssm").describe_parameters()["Parameters"]
            if p["Name"].startswith("/secrets-migrate/locks/")]


@pytest.mark.parametrize("second", [_same_path, _copied_plan, _second_checkout], ids=["same-path", "copy", "checkout"])
def test_second_runner_is_refused_and_deletes_nothing(project: tuple[Path, Path],
                                                      second: Callable[[Path], tuple[Path, str]]) -> None:
    defs, plan_path = project
    env = {**os.environ, **FAULTS, "COLUMNS": "200", "SECRETS_MIGRATE_TEST_FAULTS": SLOW_FIRST_CREATE}
    first = subprocess.Popen([sys.executable, str(LAUNCHER), "apply", "plan.json", "--yes"], cwd=plan_path.parent,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = plan_path.with_name("plan.json.state") / "journal.jsonl"
    deadline = time.monotonic() + 60
    while not journal.exists() and time.monotonic() < deadline:  # run-start: every lock is held
        time.sleep(0.05)
    assert journal.exists()
    cwd, arg = second(plan_path)
    r = run_cli(["apply", arg, "--yes"], cwd=cwd)
    out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    assert r.returncode == 4, r.stderr
    assert "another secrets-migrate" in r.stderr and f"pid {first.pid}" in r.stderr, r.stderr
    # the second runner wrote no journal record of its own
    own = (cwd / (arg + ".state") / "journal.jsonl")
    assert own == journal or not own.exists()
    # every entry the first run created is there, and the files it rewrote resolve
    plan = Plan.from_json(plan_path.read_text(), base=plan_path.parent)
    snap = W.store_snapshot()
    assert set(snap["ssm"]) == {a.name for a in plan.store_actions}
    v = run_cli(["verify", "plan.json"], cwd=plan_path.parent)
    assert v.returncode == 0, v.stdout + v.stderr
    assert _lease_params() == []  # released at the end


def test_lease_held_by_another_machine_refuses_names_holder_and_force_unlock_breaks_it(
        project: tuple[Path, Path]) -> None:
    defs, plan_path = project
    before = W.tree_bytes(defs)
    plan = Plan.from_json(plan_path.read_text(), base=plan_path.parent)
    held: dict[str, str | int] = {"run_id": "0123456789abcdef0123456789abcdef", "holder": "alice", "host": "build-7.example", "pid": 4242,
            "since": "2026-01-01T00:00:00+00:00", "heartbeat": "2026-01-01T00:00:00+00:00"}
    boto3.client("ssm").put_parameter(Name=lock_name(plan.id), Value=json.dumps(held), Type="String")
    r = run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent)
    assert r.returncode == 4
    assert "alice@build-7.example pid 4242 since 2026-01-01" in r.stderr and "stale" in r.stderr
    assert f"force-unlock plan.json {held['run_id']}" in r.stderr
    assert W.tree_bytes(defs) == before and W.store_snapshot()["ssm"].keys() == {lock_name(plan.id)}
    assert not (plan_path.with_name("plan.json.state") / "journal.jsonl").exists()
    # the wrong lock id removes nothing; the right one breaks it; then apply runs
    assert run_cli(["force-unlock", "plan.json", "f" * 32, "--yes"], cwd=plan_path.parent).returncode == 4
    assert _lease_params() == [lock_name(plan.id)]
    u = run_cli(["force-unlock", "plan.json", str(held["run_id"]), "--yes"], cwd=plan_path.parent)
    assert u.returncode == 0, u.stderr
    assert _lease_params() == []
    a = run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent)
    assert a.returncode == 0, a.stderr
    assert _lease_params() == []


def test_lease_of_a_dead_process_on_this_host_is_taken_over(project: tuple[Path, Path]) -> None:
    import socket

    defs, plan_path = project
    plan = Plan.from_json(plan_path.read_text(), base=plan_path.parent)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    from migrate.stores.lease import machine_id

    held = {"run_id": "dead" * 8, "holder": "me", "host": socket.gethostname(), "pid": dead.pid,
            "since": "2026-01-01T00:00:00+00:00", "heartbeat": "2026-01-01T00:00:00+00:00", "machine": machine_id()}
    boto3.client("ssm").put_parameter(Name=lock_name(plan.id), Value=json.dumps(held), Type="String")
    a = run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent)
    assert a.returncode == 0, a.stderr
    assert _lease_params() == []
