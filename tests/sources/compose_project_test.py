"""The compose project: neither ``scan`` nor ``plan`` takes a ``-p/--project`` option; both derive the
project the same way (top-level ``name:``, an override file's base, then the folder name), and only
plan's entry names use it. A scan's report does not depend on the project (units are service names),
so scan and plan cannot disagree about it; these tests fail if either of those stops holding."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from migrate.cli import app

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
COMPOSE = "services:\n  web:\n    image: x\n    environment:\n      DB_PASSWORD: Zq8-KjLm2-vv91-PxR7\n"


def _cli(cwd: Path, *args: str) -> Any:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old)


def _options(command: str) -> set[str]:
    cmd: Any = typer.main.get_command(app)
    return {o for p in cmd.commands[command].params for o in getattr(p, "opts", [])}


def test_scan_and_plan_agree_on_a_project_option() -> None:
    wanted = {"-p", "--project"}
    assert _options("scan") & wanted == _options("plan") & wanted


def _scan_entries(cwd: Path, folder: str) -> list[dict[str, Any]]:
    r = _cli(cwd, "scan", folder, "--format", "json", "--all")
    assert r.exit_code == 1, r.stderr
    return [{k: (v.removeprefix(f"{folder}/") if k == "path" else v) for k, v in e.items()}
            for e in json.loads(r.stdout)["entries"]]


def _plan_names(cwd: Path, folder: str) -> list[str]:
    r = _cli(cwd, "plan", folder, "--execution-role", ROLE, "-o", f"{folder}.plan.json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads((cwd / f"{folder}.plan.json").read_text())
    return sorted(a["name"] for a in doc["actions"] if a.get("kind") in ("ssm.put-parameter", "secretsmanager.create-secret"))


def test_the_project_names_plan_entries_but_never_changes_a_scan(aws: None, tmp_path: Path) -> None:
    for folder, text in (("alpha", COMPOSE), ("beta", COMPOSE), ("gamma", COMPOSE + "name: shop\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "compose.yaml").write_text(text)
    scans = {f: _scan_entries(tmp_path, f) for f in ("alpha", "beta", "gamma")}
    assert scans["alpha"] == scans["beta"] == scans["gamma"]  # same services: the same report, whatever the project
    assert [(e["unit"], e["name"]) for e in scans["alpha"]] == [("web", "DB_PASSWORD")]
    names = {f: _plan_names(tmp_path, f) for f in ("alpha", "beta", "gamma")}
    assert names["alpha"] == ["/alpha/web/DB_PASSWORD"] and names["beta"] == ["/beta/web/DB_PASSWORD"]
    assert names["gamma"] == ["/shop/web/DB_PASSWORD"]  # top-level name: wins over the folder
