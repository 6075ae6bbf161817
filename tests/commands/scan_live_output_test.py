"""``scan --live -o FILE`` (and ``live scan -o FILE``) writes the report to FILE exactly as a file scan
does: nothing on stdout, the same refusals, an atomic write that keeps the old file's mode, every format."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from migrate.live.seed import seed_synthetic
from tests.support.testing import run_cli

SEEDED = "s3cr3t"  # part of every value seed_synthetic writes: never in a report


def test_live_scan_honours_output_in_every_format(server_env: str, tmp_path: Path) -> None:
    seed_synthetic(2, per_family=2, secrets=2, region="us-east-1")
    base = ["scan", "--live", "--region", "us-east-1"]
    plain = run_cli([*base, "--format", "json"], cwd=tmp_path)
    assert plain.returncode == 1, plain.stderr
    (tmp_path / "r.json").write_text("old")
    (tmp_path / "r.json").chmod(0o600)
    r = run_cli([*base, "--format", "json", "-o", "r.json"], cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stdout == "" and "wrote the json live report to r.json" in r.stderr
    text = (tmp_path / "r.json").read_text()
    assert SEEDED not in text and json.loads(text) == json.loads(plain.stdout)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o600

    s = run_cli([*base, "--format", "sarif", "--output", "r.sarif"], cwd=tmp_path)
    assert s.returncode == 1 and s.stdout == "", s.stderr
    doc = json.loads((tmp_path / "r.sarif").read_text())
    assert doc["version"] == "2.1.0" and len(doc["runs"][0]["results"]) == 2

    t = run_cli(["live", "scan", "--region", "us-east-1", "-o", "table.txt"], cwd=tmp_path)
    assert t.returncode == 1 and t.stdout == "", t.stderr
    table = (tmp_path / "table.txt").read_text()
    assert "Live services" in table and "DB_PASSWORD" in table and SEEDED not in table
    assert "\x1b[" not in table  # no colour codes in a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.sarif", "table.txt"]  # no temp file left


def test_live_scan_refuses_the_outputs_a_file_scan_refuses(server_env: str, tmp_path: Path) -> None:
    seed_synthetic(1, secrets=1, region="us-east-1")
    (tmp_path / "d").mkdir()
    r = run_cli(["scan", "--live", "--region", "us-east-1", "-o", "d"], cwd=tmp_path)
    assert r.returncode == 2 and "is a directory" in r.stderr and r.stdout == ""
    td = {"family": "f", "containerDefinitions": [{"name": "app", "image": "x", "environment": []}]}
    (tmp_path / "td.json").write_text(json.dumps(td))
    os.link(tmp_path / "td.json", tmp_path / "hard.json")  # a definition reached through a second name
    r = run_cli(["scan", "--live", "--region", "us-east-1", "--format", "json", "-o", "hard.json"], cwd=tmp_path)
    assert r.returncode == 2 and "definition file" in r.stderr
    assert json.loads((tmp_path / "td.json").read_text()) == td
    r = run_cli(["scan", "--live", "--region", "us-east-1", "--format", "xml", "-o", "new.txt"], cwd=tmp_path)
    assert r.returncode == 2 and not (tmp_path / "new.txt").exists()


def test_a_failing_live_scan_keeps_the_old_report_and_leaves_no_temp_file(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from migrate.commands import live
    from migrate.commands.scan_output import scan_live_to

    def half(**kw: Any) -> int:
        print('{"entries": [')
        raise RuntimeError("describe_services failed")

    monkeypatch.setattr(live, "scan_live", half)
    (tmp_path / "r.json").write_text("old report")
    with pytest.raises(RuntimeError):
        scan_live_to(tmp_path / "r.json", fmt="json", regions=("us-east-1",))
    assert (tmp_path / "r.json").read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_without_output_the_live_scan_prints(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from migrate.commands import live
    from migrate.commands.scan_output import scan_live_to

    got: dict[str, Any] = {}

    def fake(**kw: Any) -> int:
        got.update(kw)
        print("report")
        return 0

    monkeypatch.setattr(live, "scan_live", fake)
    assert scan_live_to(None, fmt="table", no_color=False, regions=()) == 0
    assert capsys.readouterr().out == "report\n" and got == {"fmt": "table", "no_color": False, "regions": ()}
