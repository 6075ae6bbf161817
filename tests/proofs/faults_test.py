"""Injected AWS faults (tests/support/faults.py, botocore before-send hooks) against a moto server.

30 % throttling on every write completes with nothing duplicated; AccessDenied on the k-th write
rolls back cleanly and names the permission; a timeout after the write reached the server is
adopted by the retry instead of failing or duplicating.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from support.faults import WRITES, Rule, inject, rules_from_env
from support.testing import run_cli

from migrate.apply.executor import Runtime, apply_plan, rollback_plan
from migrate.apply.journal import Journal, state_dir_for
from migrate.errors import ActionFailed
from migrate.plan.model import Plan
from migrate.stores.aws import Aws

_spec = importlib.util.spec_from_file_location("_proofs_world", Path(__file__).with_name("_world.py"))
assert _spec and _spec.loader
W = sys.modules.setdefault("_proofs_world", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(W)

EMPTY = {"ssm": {}, "sm": {}, "policies": {}}


@pytest.fixture
def project(server_env: str, tmp_path: Path) -> tuple[Path, Path]:
    W.reset_moto(server_env)
    defs = tmp_path / "defs"
    W.write_project(defs)
    r = run_cli(["plan", "defs", "--execution-role", W.ROLE, "-o", "plan.json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return defs, tmp_path / "plan.json"


def _rt(plan_path: Path, rules: list[Rule]) -> tuple[Runtime, object]:
    plan = Plan.from_json(plan_path.read_text(), base=plan_path.parent)
    aws = Aws()
    inj = inject(aws, rules)
    return Runtime(plan=plan, journal=Journal(state_dir_for(plan_path), plan.id), aws=aws), inj


def test_thirty_percent_throttling_on_every_write_completes_without_duplicates(project: tuple[Path, Path],
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.retries.standard as std
    from botocore.retries import adaptive

    monkeypatch.setattr(std.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.01)  # keep the test fast
    monkeypatch.setattr(adaptive.ClientRateLimiter, "on_sending_request", lambda self, request, **kw: None)
    defs, plan_path = project
    rt, inj = _rt(plan_path, [Rule("throttle", ops=WRITES, rate=0.3, seed=7)])
    apply_plan(rt)
    assert any(f.startswith("throttle") for f in inj.fired())  # type: ignore[attr-defined]
    snap = W.store_snapshot()
    assert len(snap["ssm"]) == len(rt.plan.store_actions)
    assert all(v[1] == 1 for v in snap["ssm"].values()), "a parameter got a second revision"
    assert len(snap["policies"]) == 1
    rollback_plan(rt)
    assert W.store_snapshot() == EMPTY


@pytest.mark.parametrize("k", [1, 3, 6])
def test_access_denied_on_kth_write_rolls_back_and_names_the_permission(project: tuple[Path, Path], k: int) -> None:
    defs, plan_path = project
    before = W.tree_bytes(defs)
    rt, inj = _rt(plan_path, [Rule("access-denied", ops=("ssm.PutParameter", "iam.PutRolePolicy"), at=(k,))])
    with pytest.raises(ActionFailed) as info:
        apply_plan(rt)
    msg = str(info.value)
    assert "rolled back" in msg
    assert "ssm:PutParameter" in msg or "iam:PutRolePolicy" in msg, msg
    assert W.tree_bytes(defs) == before
    assert W.store_snapshot() == EMPTY
    assert not W.leaks({"message": msg, "hint": str(info.value.hint)})


def test_access_denied_through_the_cli_is_one_clear_line(project: tuple[Path, Path]) -> None:
    defs, plan_path = project
    before = W.tree_bytes(defs)
    r = run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent,
                env={"SECRETS_MIGRATE_TEST_MODE": "i-know-this-injects-faults",
                     "SECRETS_MIGRATE_TEST_FAULTS": '[{"kind": "access-denied", "ops": ["ssm.PutParameter"], "at": [2]}]'})
    assert r.returncode == 4, r.stderr
    assert "ssm:PutParameter" in r.stderr and "rolled back" in r.stderr and "Traceback" not in r.stderr
    assert W.tree_bytes(defs) == before and W.store_snapshot() == EMPTY
    assert not W.leaks({"stdout": r.stdout, "stderr": r.stderr})


def test_server_errors_are_retried(project: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.retries.standard as std

    monkeypatch.setattr(std.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.01)
    _, plan_path = project
    rt, inj = _rt(plan_path, [Rule("server-error", ops=("ssm.*", "iam.*"), at=(1, 4, 9))])
    apply_plan(rt)
    assert len(inj.fired()) == 3  # type: ignore[attr-defined]
    assert all(v[1] == 1 for v in W.store_snapshot()["ssm"].values())


@pytest.mark.parametrize("at", [1, 3])
def test_timeout_after_the_write_reached_the_server_is_adopted(project: tuple[Path, Path], at: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.retries.standard as std

    monkeypatch.setattr(std.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.01)
    defs, plan_path = project
    rt, inj = _rt(plan_path, [Rule("timeout", ops=("ssm.PutParameter",), at=(at,))])
    apply_plan(rt)
    assert inj.fired() == ["timeout ssm.PutParameter"]  # type: ignore[attr-defined]
    snap = W.store_snapshot()
    assert len(snap["ssm"]) == len(rt.plan.store_actions)
    assert all(v[1] == 1 for v in snap["ssm"].values()), "retry overwrote or duplicated"
    rollback_plan(rt)  # adopted-by-retry entries are ours (tagged with the plan id): rollback removes them
    assert W.store_snapshot() == EMPTY


def test_timeout_on_secrets_manager_create_is_adopted(server_env: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.retries.standard as std

    monkeypatch.setattr(std.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.01)
    W.reset_moto(server_env)
    defs = tmp_path / "defs"
    W.write_project(defs)
    r = run_cli(["plan", "defs", "--execution-role", W.ROLE, "--store", "secretsmanager", "-o", "plan.json"],
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rt, inj = _rt(tmp_path / "plan.json", [Rule("timeout", ops=("secretsmanager.CreateSecret",), at=(2,))])
    apply_plan(rt)
    assert inj.fired() == ["timeout secretsmanager.CreateSecret"]  # type: ignore[attr-defined]
    snap = W.store_snapshot()
    assert len(snap["sm"]) == len(rt.plan.store_actions)
    assert all(v[1] == 1 for v in snap["sm"].values()), "a secret got a second version"
    rollback_plan(rt)
    assert W.store_snapshot() == EMPTY


def test_env_switch_needs_its_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_MIGRATE_TEST_FAULTS", '[{"kind": "throttle", "rate": 1.0}]')
    monkeypatch.delenv("SECRETS_MIGRATE_TEST_MODE", raising=False)
    assert rules_from_env() is None
    monkeypatch.setenv("SECRETS_MIGRATE_TEST_MODE", "i-know-this-kills-the-process")
    assert rules_from_env() is None
    monkeypatch.setenv("SECRETS_MIGRATE_TEST_MODE", "i-know-this-injects-faults")
    assert [r.kind for r in rules_from_env() or []] == ["throttle"]


def test_crash_switch_needs_its_guard() -> None:
    from support.launcher import crash_point_from_env

    at = {"SECRETS_MIGRATE_TEST_CRASH_AFTER_RECORD": "3"}
    assert crash_point_from_env(at) is None
    assert crash_point_from_env({**at, "SECRETS_MIGRATE_TEST_MODE": "i-know-this-injects-faults"}) is None
    assert crash_point_from_env({**at, "SECRETS_MIGRATE_TEST_MODE": "i-know-this-kills-the-process"}) == 3


def test_journal_calls_after_append_with_each_durable_record(tmp_path: Path) -> None:
    seen: list[tuple[object, int]] = []
    j = Journal(tmp_path / "state", "plan-1",
                after_append=lambda rec: seen.append((rec["seq"], len((tmp_path / "state" / "journal.jsonl").read_bytes().splitlines()))))
    j.append("run-start")
    j.append("intent", "a1", "ssm")
    j.close()
    assert seen == [(1, 1), (2, 2)]  # called after the record is on disk
    assert Journal(tmp_path / "state", "plan-1").records[-1]["seq"] == 2  # no hook by default
