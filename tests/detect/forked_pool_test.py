"""The scan's worker pool by fork (:func:`migrate.commands.common._forked_map`): results in job order
whatever order the workers answer in, a worker's exception raised in the parent, a worker that dies is
an error (never a silently shorter report), and every worker is reaped on every way out."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from migrate.commands import common


def _no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _job(job: Any) -> tuple[list[Any], list[Any]]:
    kind, k = job
    if kind == "slow":
        time.sleep(0.002 * (k % 5))
    elif kind == "raise":
        raise ValueError("job failed")
    elif kind == "die":
        os._exit(3)
    return [], [k, os.getpid()]


def test_results_come_in_job_order_from_several_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "_scan_chunk", _job)
    jobs = [("slow", k) for k in range(60)]
    out = list(common._forked_map(jobs, 3))
    assert [found[0] for _, found in out] == list(range(60))
    assert len({found[1] for _, found in out}) == 3  # three workers took part
    assert os.getpid() not in {found[1] for _, found in out}
    assert _no_children_left()


@pytest.mark.parametrize(("bad", "error"), [("raise", ValueError), ("die", RuntimeError)])
def test_a_failing_or_dying_worker_is_an_error(monkeypatch: pytest.MonkeyPatch, bad: str,
                                               error: type[Exception]) -> None:
    monkeypatch.setattr(common, "_scan_chunk", _job)
    jobs: list[Any] = [("slow", k) for k in range(20)]
    jobs[13] = (bad, 13)
    got: list[Any] = []
    with pytest.raises(error):
        got.extend(common._forked_map(jobs, 2))
    assert len(got) <= 13
    assert _no_children_left()


def test_stopping_early_reaps_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "_scan_chunk", _job)
    gen = common._forked_map([("slow", k) for k in range(40)], 2)
    assert next(gen)[1][0] == 0
    gen.close()
    assert _no_children_left()


def test_more_workers_than_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "_scan_chunk", _job)
    assert [f[0] for _, f in common._forked_map([("fast", 0)], 4)] == [0]
    assert _no_children_left()
