"""Ctrl-C / SIGTERM in the middle of a live wave, sent to a real ``live apply`` process running against the
sandbox (its ECS emulator keeps each deployment IN_PROGRESS for a while, so the wave is really in flight).

After the interrupt: every service is either on its previous revision or on the new one with the journal
saying so (never half-deployed), the journal records the interrupt and reads back whole, the output says
where things are and names the commands that finish the job, and no plaintext value appears anywhere. A
following ``live apply`` completes the run, and ``live rollback`` returns every service to its original revision and deletes only what the
run created (an entry that was there before stays). A second interrupt, while the wave is being rolled back,
stops that rollback between two reverts; the journal stays consistent, ``live apply`` finishes the cut
rollbacks before deploying again, and ``live rollback`` undoes everything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.faults import ENV_GUARD, ENV_RULES, GUARD_VALUE
from support.testing import LAUNCHER, run_cli

from migrate.apply.journal import Journal
from migrate.live.seed import seed_synthetic
from migrate.sandbox import SANDBOX_ENV, Sandbox

pytest.importorskip("moto")

DEPLOY = 1.5  #: seconds a deployment stays IN_PROGRESS in the emulator: the window the signal lands in
SERVICES = 4  #: wave 1 = svc000 (canary), wave 2 = svc001..svc003 three at a time
KEEP = "/pre-existing/keep-me"  #: an entry the run did not create: nothing may delete it
APPLY = ["live", "apply", "live.json", "--yes", "--waves", "1,rest", "--concurrency", "3", "--health", "ecs",
         "--health-interval", "0.1", "--health-timeout", "60", "--rate-scale", "50", "--report", "json"]


def _secrets() -> list[str]:
    """Every plaintext value seed_synthetic(SERVICES, per_family=1, secrets=2) puts in the task definitions."""
    return [f"Xk9-app{i:03d}-s3cr3t-{j}-Qz7" for i in range(SERVICES) for j in range(2)]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(deploy_seconds=DEPLOY)
    sb.start()
    yield sb
    sb.stop()


class World:
    def __init__(self, sb: Sandbox, root: Path) -> None:
        self.sb, self.root = sb, root
        self.env = {**SANDBOX_ENV, "AWS_ENDPOINT_URL": sb.url}
        self.plan = root / "live.json"
        self.journal = root / "live.json.state" / "journal.jsonl"
        self.ecs, self.ssm, self.iam = (sb.context().client(s) for s in ("ecs", "ssm", "iam"))

    def running(self) -> dict[str, str]:
        names = [f"svc{i:03d}" for i in range(SERVICES)]
        return {f"batch/{s['serviceName']}": s["taskDefinition"]
                for s in self.ecs.describe_services(cluster="batch", services=names)["services"]}

    def params(self) -> list[str]:
        return sorted(p["Name"] for p in self.ssm.describe_parameters()["Parameters"])

    def policies(self) -> list[str]:
        return list(self.iam.list_role_policies(RoleName="ecsTaskExecutionRole")["PolicyNames"])

    def records(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        raw = self.journal.read_bytes()
        return [json.loads(line) for line in raw.splitlines() if line.endswith(b"}")]

    def cli(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        return run_cli(args, cwd=self.root, env=self.env, timeout=180)

    def start_apply(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        env = {**os.environ, **self.env, "COLUMNS": "200", **(extra_env or {})}
        return subprocess.Popen([sys.executable, str(LAUNCHER), *APPLY], cwd=self.root, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait_for(self, proc: subprocess.Popen[str], what: str, test: Any, timeout: float = 90) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if test(self.records()):
                return
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"live apply ended (rc {proc.returncode}) before {what}: {err[-1500:]}")
            time.sleep(0.02)
        proc.kill()
        pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def world(sandbox: Sandbox, tmp_path: Path) -> World:
    sandbox.reset()
    w = World(sandbox, tmp_path)
    seed_synthetic(SERVICES, per_family=1, secrets=2, aws=sandbox.context())
    w.ssm.put_parameter(Name=KEEP, Value="not the tool's", Type="String")
    r = w.cli(["live", "plan", "--store", "ssm", "--cluster", "batch", "-o", "live.json"])
    assert r.returncode == 0, r.stderr[-1500:]
    return w


def _updates(recs: list[dict[str, Any]], phase: str) -> list[dict[str, Any]]:
    return [r for r in recs if r["kind"] == "ecs.update-service" and r["phase"] == phase]


def _in_wave_two(recs: list[dict[str, Any]]) -> bool:
    """Wave 2 is in flight: it started and at least two of its services were pointed at their new revision
    (so they are waiting for health while the emulator keeps the deployment IN_PROGRESS)."""
    started = [i for i, r in enumerate(recs) if r["phase"] == "wave-start" and r["receipt"]["wave"] == 2]
    return bool(started) and len(_updates(recs[started[0]:], "applied")) >= 2


def _assert_each_service_whole(w: World, original: dict[str, str]) -> dict[str, str]:
    """Every service on its previous revision (its update never applied or reverted) or on the new one with
    the journal saying applied. Returns key -> "old" | "new"."""
    j = Journal(w.journal.parent, json.loads(w.plan.read_text())["id"])
    states = j.states()  # reads back whole: every line parses, none torn
    plan = json.loads(w.plan.read_text())
    where = {}
    running = w.running()
    for a in plan["actions"]:
        if a["kind"] != "ecs.update-service":
            continue
        key = f"{a['cluster'].rsplit('/', 1)[-1]}/{a['service']}"
        st = states.get(a["id"])
        phase = str(st.phase) if st else "pending"
        if running[key] == original[key]:
            assert phase in ("pending", "reverted"), (key, phase)
            where[key] = "old"
        else:
            assert phase == "applied" and st is not None and running[key] == st.receipt["new"], (key, phase)
            waits = [b for b in plan["actions"] if b["kind"] == "ecs.wait-healthy" and b["service"] == a["service"]]
            assert all(states[b["id"]].phase == "applied" for b in waits), key
            where[key] = "new"
    return where


def _assert_no_plaintext(*texts: str) -> None:
    for t in texts:
        for s in _secrets():
            assert s not in t


def _rollback_returns_everything(w: World, original: dict[str, str]) -> None:
    r = w.cli(["live", "rollback", "live.json", "--yes"])
    assert r.returncode == 0, r.stderr[-1500:]
    _assert_no_plaintext(r.stdout, r.stderr)
    assert w.running() == original
    assert w.params() == [KEEP]  # only what the run created was deleted
    assert w.policies() == []
    states = Journal(w.journal.parent, json.loads(w.plan.read_text())["id"]).states()
    assert {str(s.phase) for s in states.values()} <= {"reverted"}, {str(s.phase) for s in states.values()}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_mid_wave_rolls_the_wave_back_and_rollback_undoes_the_rest(world: World, sig: signal.Signals) -> None:
    original = world.running()
    proc = world.start_apply()
    world.wait_for(proc, "wave 2 in flight", _in_wave_two)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 4, (proc.returncode, err[-1500:])
    _assert_no_plaintext(out, err, world.journal.read_text())
    # what the user reads: where things are, and the commands that finish the job
    assert f"interrupted ({sig.name})" in err
    msg = " ".join(err.split())  # rich may wrap
    assert f"interrupted ({sig.name}) in wave 2 of 2" in msg, msg[-1500:]
    assert "on their new revision (journaled applied): batch/svc000" in msg
    assert "back on their previous revision:" in msg and "not rolled back completely" not in msg
    assert "secrets-migrate live apply live.json" in msg and "secrets-migrate live rollback live.json" in msg
    recs = world.records()
    stop = [r for r in recs if r["phase"] == "live-interrupted"]
    assert len(stop) == 1 and stop[0]["receipt"]["wave"] == 2 and stop[0]["receipt"]["signal"] == sig.name
    # the per-service report (--report json) is still printed: the canary migrated, wave 2 rolled back
    rows = {r["key"]: r["status"] for r in json.loads(out)["services"]}
    assert rows["batch/svc000"] == "migrated", rows
    assert {rows[f"batch/svc00{i}"] for i in (1, 2, 3)} <= {"rolled-back", "skipped"}, rows
    assert stop[0]["receipt"]["running"], "the interrupt came while services of the wave were in flight"
    # the canary wave stays migrated; the interrupted wave is back on its previous revisions
    where = _assert_each_service_whole(world, original)
    assert where == {"batch/svc000": "new", "batch/svc001": "old", "batch/svc002": "old", "batch/svc003": "old"}
    assert len(world.params()) == 1 + 2  # KEEP + the canary's two entries; wave 2's were deleted
    if sig == signal.SIGTERM:  # the other command the message names: apply resumes and completes the run
        r = world.cli(APPLY)
        assert r.returncode == 0, r.stderr[-1500:]
        _assert_no_plaintext(r.stdout, r.stderr)
        assert set(_assert_each_service_whole(world, original).values()) == {"new"}
        assert len(world.params()) == 1 + 2 * SERVICES
    _rollback_returns_everything(world, original)


def test_second_interrupt_stops_the_rollback_between_reverts_and_rollback_finishes(world: World) -> None:
    original = world.running()
    # slow reverts (each DeleteParameter waits 1 s), so the second interrupt lands while wave 2 is rolled back
    faults = json.dumps([{"kind": "delay", "ops": ["ssm.DeleteParameter"], "rate": 1.0, "seconds": 1.0}])
    proc = world.start_apply({ENV_GUARD: GUARD_VALUE, ENV_RULES: faults})
    world.wait_for(proc, "wave 2 in flight", _in_wave_two)
    proc.send_signal(signal.SIGINT)
    world.wait_for(proc, "the rollback of an entry", lambda recs: any(
        r["phase"] == "reverting" and r["kind"].startswith("ssm.") for r in recs))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 4, (proc.returncode, err[-1500:])
    _assert_no_plaintext(out, err, world.journal.read_text())
    msg = " ".join(err.split())
    assert "interrupted again" in msg
    assert "not rolled back completely" in msg and "secrets-migrate live rollback live.json" in msg
    # the journal reads back whole; every service is still either old or new-and-journaled
    _assert_each_service_whole(world, original)
    states = Journal(world.journal.parent, json.loads(world.plan.read_text())["id"]).states()
    assert any(str(s.phase) in ("applied", "failed", "reverting") for s in states.values())  # work left for rollback
    # apply finishes each cut rollback first (no revision or entry of the first attempt left behind), then deploys
    r = world.cli(APPLY)
    assert r.returncode == 0, r.stderr[-1500:]
    _assert_no_plaintext(r.stdout, r.stderr)
    assert set(_assert_each_service_whole(world, original).values()) == {"new"}
    assert len(world.params()) == 1 + 2 * SERVICES
    active = world.ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
    assert len(active) == 2 * SERVICES, active  # each family: the original and exactly one new revision
    _rollback_returns_everything(world, original)


def test_third_interrupt_quits_at_once_and_rollback_still_converges(world: World) -> None:
    """The user insists: the third interrupt ends the process by the signal, mid-rollback. Every record is
    fsync'd whole, so the journal still reads back and ``live rollback`` finishes the job."""
    original = world.running()
    faults = json.dumps([{"kind": "delay", "ops": ["ssm.DeleteParameter"], "rate": 1.0, "seconds": 2.0}])
    proc = world.start_apply({ENV_GUARD: GUARD_VALUE, ENV_RULES: faults})
    world.wait_for(proc, "wave 2 in flight", _in_wave_two)
    proc.send_signal(signal.SIGINT)
    world.wait_for(proc, "the rollback of an entry", lambda recs: any(
        r["phase"] == "reverting" and r["kind"].startswith("ssm.") for r in recs))
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGINT, (proc.returncode, err[-1500:])
    _assert_no_plaintext(out, err, world.journal.read_text())
    assert world.journal.read_bytes().endswith(b"\n")
    assert Journal(world.journal.parent, json.loads(world.plan.read_text())["id"]).states()  # reads back whole
    _rollback_returns_everything(world, original)
