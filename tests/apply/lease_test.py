"""The run lease (``migrate.stores.lease``) and the plan-id lock (``migrate.apply.guard``) in process, on moto."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from migrate.apply.guard import plan_locked
from migrate.apply.journal import Journal
from migrate.errors import LockedError
from migrate.stores.aws import Aws
from migrate.stores.lease import LeaseInfo, RunLease, force_unlock, lock_name, machine_id

PLAN = "20260101000000-abcdef01"


def _value() -> dict[str, object]:
    return dict(json.loads(boto3.client("ssm", region_name="us-east-1").get_parameter(Name=lock_name(PLAN))["Parameter"]["Value"]))


def test_second_lease_is_refused_naming_the_holder_then_released(aws: None) -> None:
    first = RunLease(Aws(region="us-east-1"), PLAN, plan_ref="plan.json")
    first.acquire()
    v = _value()
    assert v["run_id"] == first.run_id and v["pid"] == os.getpid() and v["host"] == socket.gethostname()
    second = RunLease(Aws(region="us-east-1"), PLAN, plan_ref="copy/plan.json")
    with pytest.raises(LockedError) as info:
        second.acquire()
    assert f"pid {os.getpid()}" in str(info.value) and first.run_id in str(info.value)
    assert f"force-unlock copy/plan.json {first.run_id}" in str(info.value.hint)
    second.release()  # never held: removes nothing
    assert _value()["run_id"] == first.run_id
    assert first.heartbeat() and _value()["run_id"] == first.run_id
    first.release()
    with pytest.raises(Exception, match="ParameterNotFound"):
        _value()
    with RunLease(Aws(region="us-east-1"), PLAN):  # free again
        pass


def test_heartbeat_notices_a_lost_lease_and_release_keeps_the_new_holders(aws: None) -> None:
    mine = RunLease(Aws(region="us-east-1"), PLAN, heartbeat_seconds=3600)
    mine.acquire()
    force_unlock(Aws(region="us-east-1"), PLAN, mine.run_id)
    other = RunLease(Aws(region="us-east-1"), PLAN, heartbeat_seconds=3600)
    other.acquire()
    assert not mine.heartbeat() and "taken by" in mine.lost
    mine.release()
    assert _value()["run_id"] == other.run_id  # release deletes only a lease that still holds our run id
    other.release()


def test_heartbeat_racing_a_force_unlock_puts_the_new_holders_lease_back(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """SSM has no compare-and-swap: the heartbeat reads "still ours", then the lease is broken and taken by
    another run, then the heartbeat writes. The write must not leave the other run's lease replaced by ours."""
    mine = RunLease(Aws(region="us-east-1"), PLAN, heartbeat_seconds=3600)
    mine.acquire()
    stale_read = mine.current()
    force_unlock(Aws(region="us-east-1"), PLAN, mine.run_id)
    other = RunLease(Aws(region="us-east-1"), PLAN, heartbeat_seconds=3600)
    other.acquire()
    monkeypatch.setattr(mine, "current", lambda: stale_read)  # the read happened before the break
    assert not mine.heartbeat()
    assert "taken by" in mine.lost and not mine.held
    assert _value()["run_id"] == other.run_id  # the other run's lease is back
    monkeypatch.undo()
    assert other.heartbeat() and _value()["run_id"] == other.run_id
    mine.release()
    assert _value()["run_id"] == other.run_id
    other.release()


def test_heartbeat_with_no_race_keeps_the_lease(aws: None) -> None:
    mine = RunLease(Aws(region="us-east-1"), PLAN, heartbeat_seconds=3600)
    mine.acquire()
    for _ in range(3):
        assert mine.heartbeat() and mine.held and not mine.lost
    assert _value()["run_id"] == mine.run_id
    mine.release()


def test_force_unlock_needs_the_right_lock_id(aws: None) -> None:
    lease = RunLease(Aws(region="us-east-1"), PLAN, heartbeat_seconds=3600)
    lease.acquire()
    with pytest.raises(LockedError, match="not f+"):
        force_unlock(Aws(region="us-east-1"), PLAN, "f" * 32)
    assert force_unlock(Aws(region="us-east-1"), PLAN, lease.run_id).run_id == lease.run_id
    with pytest.raises(LockedError, match="no run lock"):
        force_unlock(Aws(region="us-east-1"), PLAN, lease.run_id)
    lease.release()


def test_lease_info_stale_and_abandoned() -> None:
    old = LeaseInfo(run_id="r", holder="a", host="elsewhere", pid=1, since="2020-01-01T00:00:00+00:00",
                    heartbeat="2020-01-01T00:00:00+00:00")
    assert old.stale and not old.abandoned  # another host: never provably dead
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = dict(run_id="r", holder="a", host=socket.gethostname(), pid=dead.pid, since="x", heartbeat="x")
    assert LeaseInfo(**mine, machine=machine_id()).abandoned  # this machine, process gone
    assert not LeaseInfo(**mine).abandoned  # no machine id: another container may share the hostname
    assert not LeaseInfo(**mine, machine=f"{socket.gethostname()}/another-boot").abandoned
    assert LeaseInfo.parse("not json").run_id == "?"


def test_plan_id_lock_refuses_a_second_holder_on_this_machine(tmp_path: Path) -> None:
    with plan_locked(PLAN, "a/plan.json"), pytest.raises(LockedError, match="a/plan.json"), \
            plan_locked(PLAN, "b/plan.json"):
        pass
    with plan_locked(PLAN, "b/plan.json"):  # released
        pass


def test_a_failed_journal_append_leaves_no_torn_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    j = Journal(tmp_path, "p1")
    j.append("run-start")
    real = os.fsync

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        j.append("intent", "a1", "put-parameter")
    monkeypatch.setattr(os, "fsync", real)
    j.close()  # never raises
    j.append("failed", "a1", "put-parameter", error="x")
    again = Journal(tmp_path, "p1")
    assert [r["phase"] for r in again.records][0] == "run-start"
