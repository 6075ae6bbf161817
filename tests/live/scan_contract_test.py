"""One contract for every scan (issue 14): a live scan's JSON validates against the same shipped JSON
Schema as a file scan, and its SARIF against SARIF 2.1.0. Runs the CLI against a moto server."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import jsonschema

from migrate.live.seed import seed_synthetic
from migrate.schemas import load
from tests.support.testing import run_cli

SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "resources" / "sarif-2.1.0-trimmed.schema.json"
SEEDED = "Xk9-app000-s3cr3t-0-Qz7"  # a value seed_synthetic writes: must never appear in a report


def test_live_json_is_the_file_scan_contract(server_env: str, tmp_path: Path) -> None:
    keys = seed_synthetic(2, per_family=2, secrets=2, region="us-east-1")
    r = run_cli(["scan", "--live", "--region", "us-east-1", "--format", "json"], cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert SEEDED not in r.stdout
    doc = json.loads(r.stdout)
    validator = jsonschema.Draft7Validator(load("scan"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors[:5]
    arn = boto3.client("ecs", region_name="us-east-1").describe_services(
        cluster="batch", services=["svc000"])["services"][0]["taskDefinition"]
    # the same entry fields as a file scan; path is the revision ARN, services its ecs:// users
    assert sorted(e["name"] for e in doc["entries"]) == ["DB_PASSWORD", "DB_PASSWORD_1"]
    for e in doc["entries"]:
        assert e["path"] == arn and e["unit"] == "app" and e["location"] == "environment"
        assert e["verdict"] == "secret" and e["confidence"] in ("high", "medium") and e["reasons"]
        assert e["value_kind"] == "literal" and e["migratable"] is True and e["source"] == "ecs-live"
        assert e["services"] == [f"ecs://us-east-1/{k}" for k in keys]
    assert doc["files"] == [] and doc["other_revisions"] == []
    assert [(s["service"], s["secrets"], s["task_definition"]) for s in doc["services"]] == [
        (f"ecs://us-east-1/{k}", 2, arn) for k in keys]
    # --all reports the harmless entry too, still within the contract
    a = run_cli(["scan", "--live", "--region", "us-east-1", "--format", "json", "--all"], cwd=tmp_path)
    every = json.loads(a.stdout)
    assert validator.is_valid(every)
    assert {(e["name"], e["verdict"]) for e in every["entries"]} >= {("PORT", "not-secret"), ("DB_PASSWORD", "secret")}
    # `live scan --format json` is the same document
    same = run_cli(["live", "scan", "--region", "us-east-1", "--format", "json"], cwd=tmp_path)
    assert json.loads(same.stdout) == doc


def test_live_sarif_validates(server_env: str, tmp_path: Path) -> None:
    seed_synthetic(1, secrets=1, region="us-east-1")
    s = run_cli(["scan", "--live", "--region", "us-east-1", "--format", "sarif"], cwd=tmp_path)
    assert s.returncode == 1, s.stderr
    assert "s3cr3t" not in s.stdout
    doc = json.loads(s.stdout)
    jsonschema.validate(doc, json.loads(SARIF_SCHEMA.read_text()), cls=jsonschema.Draft4Validator)
    (result,) = doc["runs"][0]["results"]
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].startswith("arn:aws:ecs:us-east-1:") and "region" not in loc
    assert "DB_PASSWORD" in result["message"]["text"]


def test_live_scan_refuses_an_unknown_format(server_env: str, tmp_path: Path) -> None:
    r = run_cli(["live", "scan", "--region", "us-east-1", "--format", "xml"], cwd=tmp_path)
    assert r.returncode == 2 and "--format must be" in r.stderr and r.stdout == ""
