"""benchmarks/batch_bench.py's modes table (issue 15 §5): one row per mode, the target each must meet, and
benchmarks/out/batch.md rebuilt from every mode recorded."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "batch_bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("batch_bench_table", BENCH)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["batch_bench_table"] = mod
    spec.loader.exec_module(mod)
    return mod


bb = _bench()


def _res(accounts: int = 1, random_throttle: float = 0.0, wall: float = 100.0, floor: float = 80.0,
         surfaced: tuple[str, ...] = (), failed: int = 0) -> dict:
    return {"services": 20 * accounts if accounts > 1 else 200, "accounts": accounts, "random_throttle": random_throttle,
            "scale": 2.0 / accounts, "statuses": {"migrated": 180, "rolled-back": 20}, "throttled": {"f": 3, "g": 4},
            "surfaced": list(surfaced), "wall": wall, "floor": floor,
            "verify": {"checks": 900, "failed": failed, "rolled_back": 80, "failures": []}}


def test_modes_and_their_targets() -> None:
    assert [bb.mode_of(_res(20)), bb.mode_of(_res(random_throttle=0.3)), bb.mode_of(_res())] == ["a", "b", "c"]
    row = bb.summary_row(_res(wall=100.0, floor=80.0))  # 1.25: just met
    assert row.startswith("| (c) ") and "| **1.25** | <= 1.25 met |" in row and "| 820 ok, 0 wrong, 80 of rolled-back services | 7 | 0 |" in row
    assert "NOT met" in bb.summary_row(_res(wall=101.0, floor=80.0))
    assert "NOT met" in bb.summary_row(_res(wall=90.0, floor=80.0, surfaced=("x: Throttling",)))  # errors fail it
    row = bb.summary_row(_res(wall=90.0, floor=80.0, failed=2))  # so does a wrong value (a failed verify check)
    assert "NOT met" in row and "| 818 ok, 2 wrong, 80 of rolled-back services |" in row
    assert "<= 2 met" in bb.summary_row(_res(random_throttle=0.3, wall=159.0))
    assert "| x0.1 |" in bb.summary_row(_res(20, wall=130.0, floor=123.0))


def test_batch_md_holds_every_mode_recorded_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bb, "OUT", tmp_path)
    bb.record(_res(), "details of c\n")
    table = bb.record(_res(20, wall=130.0, floor=123.0), "details of a\n")
    bb.record(_res(wall=96.0), "details of c, again\n")  # a mode's new run replaces its row
    md = (tmp_path / "batch.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| (")]
    assert [r[:5] for r in rows] == ["| (a)", "| (c)"] and "| **1.20** |" in rows[1]
    assert "details of c, again" in md and "details of c\n" not in md and "details of a" in md
    assert table.count("| (") == 2  # the returned table is the modes table, (b) not recorded yet


def test_only_checks_of_rolled_back_entries_are_set_apart() -> None:
    from migrate.apply.checks import Check

    assert bb._rolled_back(Check("reference", "/app1/app/DB_PASSWORD", False, "not applied (state: reverted)"))
    assert bb._rolled_back(Check("iam", "ecsTaskExecutionRole -> entry a7", False,
                                 "its entry is not applied (rolled back or not created yet), so no grant is checked"))
    assert not bb._rolled_back(Check("iam", "ecsTaskExecutionRole -> arn:aws:ssm:us-east-1:1:parameter/a", False))
    assert not bb._rolled_back(Check("original-value", "/app1/app/DB_PASSWORD", False, "differs from the source"))
