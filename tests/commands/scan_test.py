"""The streaming scan: worker processes change nothing but speed; no value is kept in findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def _key(o: Any) -> tuple[Any, Any]:
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


# -- the report file and a closed stdout (issue 12, case 7) -----------------------------------------

def _defs(root: Path, n: int) -> Path:
    d = root / "defs"
    d.mkdir()
    for i in range(n):
        td = {"family": f"svc{i}", "containerDefinitions": [{"name": "app", "image": "x", "environment": [
            {"name": "DB_PASSWORD", "value": f"Pq8-{i:04d}-zv7LmN2"}]}]}
        (d / f"svc{i}.json").write_text(json.dumps(td, indent=2))
    return d


def test_check_output_refuses_inputs_and_definitions_only(tmp_path: Path) -> None:
    import os

    import pytest

    from migrate.commands.scan import check_output
    from migrate.errors import UsageError

    d = _defs(tmp_path, 2)
    (d / "notes.json").write_text('{"not": "a definition"}')
    (d / "skip").mkdir()
    (d / "skip" / "svc9.json").write_text((d / "svc0.json").read_text())
    os.symlink(d / "svc1.json", tmp_path / "link.json")
    os.link(d / "svc0.json", tmp_path / "hard.json")
    refused = [([str(d / "svc0.json")], d / "svc0.json"), ([str(d)], d / "svc1.json"),
               ([str(d / "svc1.json")], tmp_path / "link.json"), ([str(d)], tmp_path / "hard.json"),
               ([str(tmp_path)], d / "svc0.json"), ([str(d)], d)]
    for paths, out in refused:
        with pytest.raises(UsageError):
            check_output(paths, out)
    fine = [([str(d)], d / "report.json"), ([str(d)], d / "notes.json"), ([str(d)], d / "report.txt"),
            ([str(d / "svc0.json")], d / "svc1.json")]
    for paths, out in fine:
        check_output(paths, out)
    check_output([str(d)], d / "skip" / "svc9.json", exclude=("skip",))  # an excluded folder is not scanned
    with pytest.raises(UsageError):
        check_output([str(d)], d / "skip" / "svc9.json")


def test_scan_output_keeps_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    import stat

    from support.testing import run_cli

    _defs(tmp_path, 2)
    (tmp_path / "r.sarif").write_text("old")
    (tmp_path / "r.sarif").chmod(0o600)
    r = run_cli(["scan", "defs", "--format", "sarif", "-o", "r.sarif"], cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == "" and "wrote the sarif report to r.sarif: 2 plaintext" in r.stderr
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    assert stat.S_IMODE((tmp_path / "r.sarif").stat().st_mode) == 0o600
    r = run_cli(["scan", "defs", "-o", "table.txt"], cwd=tmp_path)
    assert r.returncode == 1 and "2 plaintext secret(s)" in (tmp_path / "table.txt").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["defs", "r.sarif", "table.txt"]


def test_scan_into_a_closed_pipe_table_and_sarif(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    _defs(tmp_path, 400)
    for fmt in ("table", "sarif"):
        p = subprocess.Popen([sys.executable, "-m", "migrate", "scan", "defs", "--format", fmt], cwd=tmp_path,
                             env={**os.environ, "COLUMNS": "200"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.stdout is not None and p.stderr is not None
        p.stdout.readline()
        p.stdout.close()
        err = p.stderr.read().decode()
        assert p.wait(timeout=120) == 1, (fmt, err)
        assert "Traceback" not in err and "Exception ignored" not in err
