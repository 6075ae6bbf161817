"""The streaming scan: worker processes change nothing but speed; no value is kept in findings."""

from __future__ import annotations

import json
from pathlib import Path

from migrate.commands.common import scan


def _tree(root: Path, n: int) -> None:
    for i in range(n):
        d = root / f"team{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        td = {"family": f"svc{i}", "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
              "containerDefinitions": [{"name": "app", "image": "x", "environment": [
                  {"name": "DB_PASSWORD", "value": f"Pq8-{i:04d}-zv7LmN2"},
                  {"name": "PORT", "value": "8080"}]}]}
        (d / f"svc{i}.json").write_text(json.dumps(td, indent=2))
    (root / "bad.json").write_text('{"family": "x", "containerDefinitions": [')


def _key(o):  # type: ignore[no-untyped-def]
    return ([(f.path, f.status.value, f.reason) for f in o.files],
            [(f.entry.path, f.entry.line, f.entry.name, f.verdict.value, f.reasons) for f in o.findings])


def test_parallel_and_serial_scans_agree(tmp_path: Path) -> None:
    _tree(tmp_path, 130)
    serial = scan([str(tmp_path)], keep_loaded=False, keep_all=True, workers=1)
    parallel = scan([str(tmp_path)], keep_loaded=False, keep_all=True, workers=2)
    assert _key(serial) == _key(parallel)
    assert sum(f.is_secret for f in parallel.findings) == 130
    assert [f.path for f in parallel.errors] == [str(tmp_path / "bad.json")]
    assert all(f.entry.value is None for f in parallel.findings)


def test_streaming_matches_the_planning_scan(tmp_path: Path) -> None:
    _tree(tmp_path, 30)
    planning = scan([str(tmp_path)])
    streaming = scan([str(tmp_path)], keep_loaded=False, keep_all=True)
    assert _key(planning)[1] == _key(streaming)[1]
