"""Baseline: identified by file/unit/location/name only, CI fails on new secrets only, stale entries
reported, updates keep reasons and are stable; no value (nor its hash) ever lands in the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrate import baseline as bl
from migrate.cli import app
from migrate.errors import InputError

CANARY_A = "CANARY-bl-db-0e7c55d1"
CANARY_B = "CANARY-bl-api-91ab3f"
CANARY_C = "CANARY-bl-new-77de02"


def _taskdef(env: dict[str, str]) -> str:
    return json.dumps({"family": "shop", "containerDefinitions": [{
        "name": "web", "image": "web:1",
        "environment": [{"name": k, "value": v} for k, v in env.items()]}]}, indent=2) + "\n"


def _run(tmp: Path, *args: str):  # type: ignore[no-untyped-def]
    import os

    old = os.getcwd()
    os.chdir(tmp)
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old)


def _no_canary(*texts: str) -> None:
    for t in texts:
        for c in (CANARY_A, CANARY_B, CANARY_C):
            assert c not in t and hashlib.sha256(c.encode()).hexdigest() not in t


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "shop.json").write_text(_taskdef({"PORT": "80", "DB_PASSWORD": CANARY_A,
                                                           "API_TOKEN": CANARY_B}))
    return tmp_path


def test_update_then_scan_is_green_and_file_holds_no_value(repo: Path) -> None:
    r = _run(repo, "scan", "defs", "--update-baseline", ".secrets-migrate-baseline.json")
    assert r.exit_code == 0, r.output
    text = (repo / ".secrets-migrate-baseline.json").read_text()
    doc = json.loads(text)
    assert doc["format"] == "secrets-migrate/baseline" and doc["version"] == 1
    assert [(e["file"], e["unit"], e["location"], e["name"]) for e in doc["entries"]] == [
        ("defs/shop.json", "web", "environment", "API_TOKEN"), ("defs/shop.json", "web", "environment", "DB_PASSWORD")]
    assert set(doc["entries"][0]) == {"file", "unit", "location", "name", "accepted", "reason"}
    _no_canary(text, r.stdout, r.stderr)
    r = _run(repo, "scan", "defs", "--baseline", ".secrets-migrate-baseline.json")
    assert r.exit_code == 0, r.output
    assert "2 known" in r.stderr


def test_new_secret_fails_and_only_it_is_reported(repo: Path) -> None:
    assert _run(repo, "scan", "defs", "--update-baseline", "b.json").exit_code == 0
    (repo / "defs" / "shop.json").write_text(_taskdef({"DB_PASSWORD": CANARY_A, "API_TOKEN": CANARY_B,
                                                       "STRIPE_SECRET_KEY": CANARY_C}))
    r = _run(repo, "scan", "defs", "--baseline", "b.json", "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert [e["name"] for e in doc["entries"]] == ["STRIPE_SECRET_KEY"]
    assert doc["baseline"]["known"] == 2 and doc["baseline"]["new"] == 1 and doc["baseline"]["stale"] == []
    _no_canary(r.stdout, r.stderr)
    # the baseline works from another directory and with other path spellings
    r = _run(repo / "defs", "scan", "shop.json", "--baseline", "../b.json", "--format", "json")
    assert r.exit_code == 1 and [e["name"] for e in json.loads(r.stdout)["entries"]] == ["STRIPE_SECRET_KEY"]


def test_value_change_does_not_matter_identity_is_structural(repo: Path) -> None:
    assert _run(repo, "scan", "defs", "--update-baseline", "b.json").exit_code == 0
    (repo / "defs" / "shop.json").write_text(_taskdef({"DB_PASSWORD": CANARY_C, "API_TOKEN": CANARY_B}))
    assert _run(repo, "scan", "defs", "--baseline", "b.json").exit_code == 0


def test_stale_entries_reported_and_dropped_on_update_reasons_kept(repo: Path) -> None:
    b = repo / "b.json"
    assert _run(repo, "scan", "defs", "--update-baseline", str(b)).exit_code == 0
    doc = json.loads(b.read_text())
    for e in doc["entries"]:
        if e["name"] == "API_TOKEN":
            e["accepted"], e["reason"] = True, "test account token, no production access"
    b.write_text(json.dumps(doc))
    (repo / "defs" / "shop.json").write_text(_taskdef({"API_TOKEN": CANARY_B}))  # DB_PASSWORD migrated
    r = _run(repo, "scan", "defs", "--baseline", str(b))
    assert r.exit_code == 0 and "stale baseline entry" in r.stderr and "DB_PASSWORD" in r.stderr
    assert "1 accepted" in r.stderr
    r = _run(repo, "scan", "defs", "--update-baseline", str(b))
    assert r.exit_code == 0 and "1 removed" in r.stderr
    entries = json.loads(b.read_text())["entries"]
    assert [(e["name"], e["accepted"], e["reason"]) for e in entries] == [
        ("API_TOKEN", True, "test account token, no production access")]
    # stable: a second update changes nothing, byte for byte
    before = b.read_bytes()
    r = _run(repo, "scan", "defs", "--update-baseline", str(b))
    assert "unchanged" in r.stderr and b.read_bytes() == before


def test_update_keeps_entries_of_files_outside_this_scan(repo: Path) -> None:
    (repo / "other.json").write_text(_taskdef({"SECRET_KEY": CANARY_C}))
    assert _run(repo, "scan", "defs", "other.json", "--update-baseline", "b.json").exit_code == 0
    assert _run(repo, "scan", "other.json", "--update-baseline", "b.json").exit_code == 0
    names = [e["name"] for e in json.loads((repo / "b.json").read_text())["entries"]]
    assert names == ["API_TOKEN", "DB_PASSWORD", "SECRET_KEY"]
    r = _run(repo, "scan", "other.json", "--baseline", "b.json")
    assert r.exit_code == 0 and "stale" not in r.stderr


def test_deleted_file_entries_are_stale(repo: Path) -> None:
    (repo / "old.json").write_text(_taskdef({"SECRET_KEY": CANARY_C}))
    assert _run(repo, "scan", ".", "--update-baseline", "b.json").exit_code == 0
    (repo / "old.json").unlink()
    r = _run(repo, "scan", "defs", "--baseline", "b.json")
    assert r.exit_code == 0 and "stale baseline entry: old.json" in r.stderr


def test_accepted_without_reason_is_refused_with_a_hint(tmp_path: Path) -> None:
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"format": "secrets-migrate/baseline", "version": 1, "entries": [
        {"file": "a.json", "unit": "u", "location": "environment", "name": "X", "accepted": True, "reason": " "}]}))
    with pytest.raises(InputError) as ei:
        bl.load(p)
    assert "no reason" in str(ei.value) and ei.value.hint


@pytest.mark.parametrize("content,msg", [("{nope", "not valid JSON"), ('{"format": "x"}', "not a secrets-migrate baseline"),
                                         ('{"format": "secrets-migrate/baseline", "version": 9, "entries": []}', "version 9")])
def test_bad_baseline_file(tmp_path: Path, content: str, msg: str) -> None:
    (tmp_path / "a.json").write_text(_taskdef({"PORT": "1"}))
    (tmp_path / "b.json").write_text(content)
    r = _run(tmp_path, "scan", "a.json", "--baseline", "b.json")
    assert r.exit_code == 3 and msg in r.stderr and "hint:" in r.stderr and "Traceback" not in r.output


def test_missing_baseline_means_everything_is_new(repo: Path) -> None:
    r = _run(repo, "scan", "defs", "--baseline", "none.json")
    assert r.exit_code == 1 and "2 new" in r.stderr


def test_baseline_and_update_baseline_must_agree(repo: Path) -> None:
    r = _run(repo, "scan", "defs", "--baseline", "a.json", "--update-baseline", "b.json")
    assert r.exit_code == 2 and "hint:" in r.stderr and not (repo / "b.json").exists()
