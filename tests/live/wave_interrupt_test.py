"""In-process checks of a live run's stop and resume paths (moto in-process; the subprocess proofs are
tests/live/interrupt_wave_test.py and tests/proofs/live_crash_test.py)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import boto3
import pytest

from migrate.live.health import ScriptedHealth
from migrate.live.planner import live_findings, make_live_plan
from migrate.live.runtime import LockedJournal, live_env
from migrate.live.seed import seed_synthetic
from migrate.live.source import discover
from migrate.live.waves import FAILED, MIGRATED, ROLLED_BACK, SKIPPED, LiveRunner, RunInterrupted, RunOptions, WaveSpec
from migrate.plan.model import Plan, PlanSettings
from migrate.stores.aws import Aws


class _Killed(BaseException):
    """Stands in for SIGKILL right after a journal record is durable (the record stays, nothing after it runs)."""


class _SlowAfterCanary(ScriptedHealth):
    """Healthy at once for the canary, after 5 s for the others (an interrupt ends that wait)."""

    def wait(self, ecs: object, **kw: object) -> object:  # type: ignore[override]
        self.delay = 0.0 if kw["service"] == "svc000" else 5.0
        return super().wait(ecs, **kw)  # type: ignore[arg-type]


def _plan() -> Plan:
    inv = discover(boto3.client("ecs"), "us-east-1")
    return Plan.from_json(make_live_plan(inv, live_findings(inv), PlanSettings(store="ssm")).to_json())


def _runner(tmp_path: Path, plan: Plan, health: ScriptedHealth, **kw: object) -> LiveRunner:
    rt = live_env(plan=plan, journal=LockedJournal(tmp_path / "state", plan.id), aws=Aws(), health=health)
    rt.plan_ref = "live.json"
    return LiveRunner(rt, RunOptions(**kw))  # type: ignore[arg-type]


def _active(family: str) -> list[str]:
    return boto3.client("ecs").list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]


def _params() -> list[str]:
    return sorted(p["Name"] for p in boto3.client("ssm").describe_parameters()["Parameters"])


def test_a_cut_rollback_is_finished_before_the_service_is_deployed_again(aws: None, tmp_path: Path) -> None:
    """Killed right after 'reverting' of the new revision (deregister not done): apply again must not register
    a second new revision next to the first, still ACTIVE one."""
    seed_synthetic(2)  # app000 -> svc000, app001 -> svc001
    plan = _plan()
    reg = next(a for a in plan.actions if a.kind == "ecs.register-task-definition" and "app001" in a.describe())
    first = _runner(tmp_path, plan, ScriptedHealth({"svc001": "FAILED"}))

    def kill(rec: dict[str, object]) -> None:
        if rec.get("action_id") == reg.id and rec.get("phase") == "reverting":
            raise _Killed

    first.rt.journal._after_append = kill  # noqa: SLF001 - the test's crash point
    rep = first.run()
    assert {r.key: r.status for r in rep.results} == {"batch/svc000": MIGRATED, "batch/svc001": FAILED}
    assert len(_active("app001")) == 2  # the cut left the new revision ACTIVE, journaled 'reverting'
    # a fresh process: apply again (svc001 still fails health)
    again = _runner(tmp_path, plan, ScriptedHealth({"svc001": "FAILED"}))
    rep = again.run()
    assert {r.key: r.status for r in rep.results} == {"batch/svc000": MIGRATED, "batch/svc001": ROLLED_BACK}
    assert [a.rsplit(":", 1)[1] for a in _active("app001")] == ["1"]  # no revision of either attempt left ACTIVE
    assert not any(p.startswith("/app001/") for p in _params())
    phases = {str(s.phase) for s in again.rt.journal.states().values()}
    assert phases <= {"applied", "reverted"}, phases


@pytest.mark.parametrize("how", ["signal", "flag"])
def test_interrupt_during_health_wait_rolls_back_the_wave_and_says_what_to_run(aws: None, tmp_path: Path,
                                                                               how: str) -> None:
    seed_synthetic(3)
    plan = _plan()
    before = signal.getsignal(signal.SIGINT)
    runner = _runner(tmp_path, plan, _SlowAfterCanary(),
                     waves=(WaveSpec("1", 1), WaveSpec("rest", 2)))
    said: list[str] = []
    runner.notify = said.append

    def on_event(ev: str, wave: int, key: str, status: str) -> None:
        if ev == "start" and wave == 2 and key == "batch/svc001":
            fire = (lambda: os.kill(os.getpid(), signal.SIGINT)) if how == "signal" else (
                lambda: runner.interrupt.hit("SIGTERM"))
            threading.Timer(0.5, fire).start()  # lands in svc001's (and svc002's) health wait

    runner.on_event = on_event
    with pytest.raises(RunInterrupted) as info:
        runner.run()
    assert signal.getsignal(signal.SIGINT) is before  # the run's handlers are gone
    name = "SIGINT" if how == "signal" else "SIGTERM"
    rep = info.value.report
    assert {r.key: r.status for r in rep.results} == {"batch/svc000": MIGRATED, "batch/svc001": ROLLED_BACK,
                                                     "batch/svc002": ROLLED_BACK}
    assert all(f"interrupted ({name})" in r.reason for r in rep.results if r.status == ROLLED_BACK)
    msg, hint = str(info.value), str(info.value.hint)
    assert f"interrupted ({name}) in wave 2 of 2" in msg and "back on their previous revision: batch/svc001" in msg
    assert "secrets-migrate live apply live.json" in hint and "secrets-migrate live rollback live.json" in hint
    if how == "signal":
        assert said and "interrupted (SIGINT)" in said[0]
    recs = [r for r in runner.rt.journal.records if r["phase"] == "live-interrupted"]
    assert len(recs) == 1 and recs[0]["receipt"]["wave"] == 2 and recs[0]["receipt"]["signal"] == name
    assert sorted(p.split("/")[1] for p in _params()) == ["app000", "app000"]
    assert SKIPPED not in {r.status for r in rep.results}
