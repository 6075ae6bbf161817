"""End to end through the real CLI in subprocesses against a moto server the tests start.

The promise under test: scan -> plan -> show -> apply -> verify -> rollback leaves every file
byte-identical and the account empty, and no canary value (nor a common encoding of it) appears
in any output, the plan, the journal, the state directory or the logs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.parse
from pathlib import Path

import boto3
from support.testing import run_cli

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
CANARIES = [
    "CANARY-db-pass-8d1f0c3e",
    "CANARY-stripe-sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "CANARY-splunk-5b2a9e77-0c1d",
    "CANARY-compose-pg-71c4",
    "CANARY-dotenv-jwt-9aa0e2",
]

TASKDEF = {
    "family": "payments",
    "executionRoleArn": ROLE,
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{
        "name": "api",
        "image": "payments:1",
        "environment": [
            {"name": "PORT", "value": "8080"},
            {"name": "DB_PASSWORD", "value": CANARIES[0]},
            {"name": "STRIPE_SECRET_KEY", "value": CANARIES[1]},
        ],
        "logConfiguration": {"logDriver": "splunk",
                             "options": {"splunk-url": "https://splunk.example.com:8088",
                                         "splunk-token": CANARIES[2]}},
    }],
}

COMPOSE = f"""# legacy compose project
services:
  web:
    image: web:1
    environment:
      LOG_LEVEL: info
      POSTGRES_PASSWORD: {CANARIES[3]}   # rotate me
    env_file: app.env
"""
DOTENV = f"# app settings\r\nexport JWT_SECRET={CANARIES[4]}\r\nFEATURE_X=on\r\n"


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _encodings(v: str) -> list[str]:
    return [v, base64.b64encode(v.encode()).decode(), urllib.parse.quote(v, safe=""), json.dumps(v)[1:-1],
            hashlib.sha256(v.encode()).hexdigest()]


def _assert_no_canary(texts: dict[str, str]) -> None:
    for where, text in texts.items():
        for c in CANARIES:
            for enc in _encodings(c):
                assert enc not in text, f"canary leaked into {where}"


def test_full_pipeline_round_trip_and_no_leak(server_env: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    (defs / "compose").mkdir(parents=True)
    (defs / "payments.json").write_text(json.dumps(TASKDEF, indent=2) + "\n")
    (defs / "compose" / "compose.yaml").write_text(COMPOSE)
    (defs / "compose" / "app.env").write_bytes(DOTENV.encode())
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
    before = _tree(defs)
    outputs: dict[str, str] = {}

    def cli(*args: str, expect: int = 0) -> dict[str, str]:
        r = run_cli(list(args), cwd=tmp_path)
        outputs[f"{args[0]} stdout"] = r.stdout
        outputs[f"{args[0]} stderr"] = r.stderr
        assert r.returncode == expect, (args, r.returncode, r.stderr[-2000:])
        return {"out": r.stdout, "err": r.stderr}

    scan = json.loads(cli("scan", "defs", "--format", "json", expect=1)["out"])
    names = {e["name"] for e in scan["entries"]}
    assert {"DB_PASSWORD", "STRIPE_SECRET_KEY", "splunk-token", "POSTGRES_PASSWORD", "JWT_SECRET"} <= names
    cli("scan", "defs", "--format", "sarif", expect=1)
    cli("plan", "defs", "--execution-role", ROLE, "-o", "plan.json")
    cli("show", "plan.json")
    cli("apply", "plan.json", "--yes")
    assert _tree(defs) != before
    verify = json.loads(cli("verify", "plan.json", "--format", "json")["out"])
    assert verify["ok"] is True and verify["checks"]
    cli("status", "plan.json")
    cli("rollback", "plan.json", "--yes")
    assert _tree(defs) == before
    ssm = boto3.client("ssm").describe_parameters()["Parameters"]
    assert ssm == []
    files = {str(p): p.read_text(errors="replace") for p in tmp_path.rglob("*")
             if p.is_file() and not str(p).startswith(str(defs))}
    logs = os.environ.get("SECRETS_MIGRATE_LOG_DIR", "")
    if logs:
        files.update({str(p): p.read_text(errors="replace") for p in Path(logs).rglob("*") if p.is_file()})
    assert any(k.endswith("journal.jsonl") for k in files)
    _assert_no_canary({**outputs, **files})


def test_apply_refuses_without_confirmation_and_changes_nothing(server_env: str, tmp_path: Path) -> None:
    (tmp_path / "payments.json").write_text(json.dumps(TASKDEF))
    before = _tree(tmp_path)
    r = run_cli(["plan", "payments.json", "-o", "plan.json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_cli(["apply", "plan.json"], cwd=tmp_path, input="")
    assert r.returncode == 4
    assert {k: v for k, v in _tree(tmp_path).items() if k == "payments.json"} == {"payments.json": before["payments.json"]}
    assert boto3.client("ssm").describe_parameters()["Parameters"] == []


def test_bad_plan_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("{not json")
    r = run_cli(["apply", "plan.json", "--yes"], cwd=tmp_path)
    assert r.returncode == 4 and "not a plan file" in r.stderr and "Traceback" not in r.stderr
    r = run_cli(["show", "missing.json"], cwd=tmp_path)
    assert r.returncode == 2 and "no such plan file" in r.stderr


def test_scan_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    r = run_cli(["scan", "nope"], cwd=tmp_path)
    assert r.returncode == 2 and "no such file" in r.stderr


def test_plan_refuses_to_overwrite_an_applied_plan(server_env: str, tmp_path: Path) -> None:
    (tmp_path / "payments.json").write_text(json.dumps(TASKDEF))
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
    assert run_cli(["plan", "payments.json", "-o", "plan.json"], cwd=tmp_path).returncode == 0
    assert run_cli(["plan", "payments.json", "-o", "plan.json"], cwd=tmp_path).returncode == 0  # not applied: fine
    assert run_cli(["apply", "plan.json", "--yes"], cwd=tmp_path).returncode == 0
    before = (tmp_path / "plan.json").read_bytes()
    r = run_cli(["plan", "payments.json", "-o", "plan.json"], cwd=tmp_path)
    assert r.returncode == 4 and "already applied" in r.stderr
    assert (tmp_path / "plan.json").read_bytes() == before
