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


# --- one contract for every scan: the shipped JSON Schema, SARIF 2.1.0 ---------------------------------

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "resources" / "sarif-2.1.0-trimmed.schema.json"
SETS = sorted(p.name for p in FIXTURES.iterdir() if (p / "labels.json").is_file())


def test_schema_command_prints_the_shipped_schema(tmp_path: Path) -> None:
    import jsonschema

    from migrate.schemas import load
    from tests.support.testing import run_cli

    r = run_cli(["schema", "scan"], cwd=tmp_path)
    assert r.returncode == 0
    assert json.loads(r.stdout) == load("scan")
    jsonschema.Draft7Validator.check_schema(load("scan"))
    bad = run_cli(["schema", "nope"], cwd=tmp_path)
    assert bad.returncode == 2 and "no schema named" in bad.stderr and bad.stdout == ""


def test_every_fixture_set_scan_validates_against_the_schema() -> None:
    import jsonschema

    from migrate.commands.scan import to_json
    from migrate.schemas import load

    validator = jsonschema.Draft7Validator(load("scan"))
    assert {"legacy", "monorepo", "ecs"} <= set(SETS)
    for name in SETS:
        doc = to_json(scan([str(FIXTURES / name)], keep_loaded=False), all_entries=True)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, (name, errors[:5])
        assert doc["entries"] and {f["status"] for f in doc["files"]} <= {"scanned", "skipped", "error"}
    # the schema is strict: an unknown field or status is refused
    assert not validator.is_valid({**doc, "extra": 1})
    assert not validator.is_valid({**doc, "files": [{**doc["files"][0], "status": "clean"}]})


def test_cli_json_and_sarif_validate(tmp_path: Path) -> None:
    import jsonschema

    from migrate.schemas import load
    from tests.support.testing import run_cli

    r = run_cli(["scan", str(FIXTURES / "legacy"), "--all", "--format", "json"], cwd=tmp_path)
    assert r.returncode == 3  # class 9 files are unrecognised definitions: errors
    jsonschema.validate(json.loads(r.stdout), load("scan"), cls=jsonschema.Draft7Validator)
    sarif_schema = json.loads(SARIF_SCHEMA.read_text())
    s = run_cli(["scan", str(FIXTURES / "legacy"), "--format", "sarif"], cwd=tmp_path)
    doc = json.loads(s.stdout)
    jsonschema.validate(doc, sarif_schema, cls=jsonschema.Draft4Validator)
    results = doc["runs"][0]["results"]
    assert results and all("baselineState" not in x for x in results)
    assert not doc["runs"][0]["invocations"][0]["executionSuccessful"]


def test_sarif_with_a_baseline_marks_results_new(tmp_path: Path) -> None:
    import jsonschema

    from tests.support.testing import run_cli

    defs = tmp_path / "defs"
    defs.mkdir()
    td = {"family": "a", "containerDefinitions": [{"name": "app", "image": "x", "environment": [
        {"name": "DB_PASSWORD", "value": "Pq8-0001-zv7LmN2"}]}]}
    (defs / "a.json").write_text(json.dumps(td))
    assert run_cli(["scan", "defs", "--update-baseline", "bl.json"], cwd=tmp_path).returncode == 0
    td["containerDefinitions"][0]["environment"].append({"name": "API_TOKEN", "value": "tok-9Xz81LmQw02PzR"})
    (defs / "a.json").write_text(json.dumps(td))
    s = run_cli(["scan", "defs", "--baseline", "bl.json", "--format", "sarif"], cwd=tmp_path)
    doc = json.loads(s.stdout)
    jsonschema.validate(doc, json.loads(SARIF_SCHEMA.read_text()), cls=jsonschema.Draft4Validator)
    results = doc["runs"][0]["results"]
    assert [x["baselineState"] for x in results] == ["new"] and "API_TOKEN" in results[0]["message"]["text"]


# --- the scan's fast path for task definitions gives exactly the strict loader's entries ------------


def _strict_and_fast(path: Path) -> tuple[Any, Any]:
    from migrate.sources.base import read_source
    from migrate.sources.ecs_taskdef import SOURCE, fast

    src = read_source(path, str(path))
    return SOURCE.parse(src), fast.load(src, path.name.split(".")[0] or str(path))


def _fields(lf: Any) -> tuple[Any, ...]:
    import dataclasses

    return ([(dataclasses.asdict(dataclasses.replace(e, value=None)), e.value.reveal() if e.value else None)
             for e in lf.entries], lf.units, lf.group, lf.execution_roles)


def test_fast_task_definition_load_equals_the_strict_one(tmp_path: Path) -> None:
    from migrate.sources.ecs_taskdef import SOURCE

    checked = 0
    for path in sorted(FIXTURES.rglob("*.json")):
        if not SOURCE.sniff(path, path.read_text(encoding="utf-8", errors="replace")):
            continue
        try:
            strict, quick = _strict_and_fast(path)
        except Exception:  # noqa: BLE001 - files the strict loader refuses are checked below
            continue
        if quick is not None:
            assert _fields(quick) == _fields(strict), path
            checked += 1
    assert checked >= 20
    # escapes, non-ASCII, secrets before environment, log options, several containers, CRLF
    td = {"family": "f", "executionRoleArn": "arn:aws:iam::1:role/x", "containerDefinitions": [
        {"secrets": [{"name": "S", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/s"}], "name": "a", "image": "i",
         "environment": [{"value": "p\\u00e9\"q", "name": "DB_PASSWORD"}, {"name": "E", "value": ""}],
         "logConfiguration": {"logDriver": "x", "options": {"api-key": "k\u00e9y-9Xz81LmQ"},
                              "secretOptions": [{"name": "t", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/t"}]}},
        {"name": "b", "image": "i", "environment": [{"name": "TOKEN", "value": "tok-\\n-9Xz81LmQw02PzR"}]}]}
    f = tmp_path / "td.json"
    f.write_bytes(json.dumps(td, indent=3, ensure_ascii=False).replace("\n", "\r\n").encode())
    strict, quick = _strict_and_fast(f)
    assert quick is not None and _fields(quick) == _fields(strict)
    assert {e.line for e in quick.entries} != {1}


def test_fast_task_definition_load_defers_to_the_strict_parser(tmp_path: Path) -> None:
    """What the C decoder would accept but the strict parser refuses, and unusual items, take the strict path."""
    from migrate.sources.base import unproven_loads
    from migrate.sources.walk import Candidate, load_candidate

    base = '{"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "environment": [%s]}]}'
    cases = {
        "dup.json": (base % '{"name": "A", "name": "B", "value": "x"}', "duplicate key"),
        "nan.json": (base % '{"name": "A", "value": NaN}', None),  # strict: a masked template hole
        "deep.json": (base % ('{"name": "A", "value": "x", "d": ' + "[" * 210 + "]" * 210 + "}"), "nesting deeper"),
        "bom.json": ("\ufeff" + base % '{"name": "A", "value": "x"}', None),
        "num.json": (base % '{"name": "PORT", "value": 8080}', None),
        "null.json": (base % '{"name": "A", "value": null}', None),
        "noname.json": (base % '{"value": "x"}', "no string name"),
    }
    for name, (text, error) in cases.items():
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        strict_report, strict = load_candidate(Candidate(p, name, True, tmp_path))
        with unproven_loads():
            report, quick = load_candidate(Candidate(p, name, True, tmp_path))
        assert (report.status, report.reason, report.line) == (strict_report.status, strict_report.reason,
                                                               strict_report.line), name
        if error:
            assert error in report.reason, (name, report.reason)
        else:
            assert quick is not None and strict is not None and _fields(quick) == _fields(strict), name


def test_classify_judges_repeated_values_once_but_keeps_identifier_context() -> None:
    """The per-call memo keys on name and value, plus unit/units/group for strong names."""
    from migrate.detect.engine import classify, classify_one
    from migrate.model import Entry, SecretValue

    def e(unit: str, name: str, value: str, group: str = "g") -> Entry:
        return Entry(path="a.json", line=1, unit=unit, location="environment", name=name, value=SecretValue(value),
                     group=group)

    batch = [e("photoprism", "MYSQL_PASSWORD", "photoprism"), e("web", "MYSQL_PASSWORD", "photoprism"),
             e("web", "LOG_LEVEL", "info"), e("api", "LOG_LEVEL", "info"), e("x", "DB_PASSWORD", "shop", group="shop"),
             e("x", "DB_PASSWORD", "shop", group="blog")]
    got = classify(batch)
    assert [(f.verdict, f.confidence, f.reasons) for f in got] == [
        (x.verdict, x.confidence, x.reasons) for x in (classify_one(y) for y in batch)]
    assert "value:equals-identifier" in got[0].reasons and "value:equals-identifier" not in got[1].reasons
    assert got[4].reasons != got[5].reasons
