"""The report's header carries the plan's canonical digest: the one `show` prints and `apply --digest`
checks, so a reviewer can tie the report to the exact plan that was (or will be) applied."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import boto3
from typer.testing import CliRunner

from migrate.cli import app

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
TASKDEF = {"family": "payments", "executionRoleArn": ROLE, "containerDefinitions": [{
    "name": "api", "image": "payments:1",
    "environment": [{"name": "DB_PASSWORD", "value": "CANARY-repdig-5c2a91"}]}]}


def _cli(cwd: Path, *args: str):  # type: ignore[no-untyped-def]
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old)


def _shown_digest(cwd: Path) -> str:
    r = _cli(cwd, "show", "plan.json")
    assert r.exit_code == 0, r.stderr
    m = re.search(r"Digest: ([0-9a-f]{64})", r.stdout)
    assert m, r.stdout
    return m.group(1)


def test_report_header_has_the_digest_show_prints_and_apply_accepts(aws: None, tmp_path: Path) -> None:
    (tmp_path / "payments.json").write_text(json.dumps(TASKDEF, indent=2))
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
    assert _cli(tmp_path, "plan", "payments.json", "-o", "plan.json").exit_code == 0
    digest = _shown_digest(tmp_path)
    r = _cli(tmp_path, "report", "plan.json", "-o", "r.html", "--markdown", "r.md")
    assert r.exit_code == 0, r.stderr
    html_text = (tmp_path / "r.html").read_text()
    md = (tmp_path / "r.md").read_text()
    assert f'<code id="digest">{digest}</code>' in html_text
    assert html_text.index('id="digest"') < html_text.index('<h2 id="findings">')  # in the header
    header = md.split("## Findings")[0]
    assert f"- Plan digest: `{digest}`" in header
    assert digest in r.stderr
    # the digest in the report is the one apply checks: applying with it is accepted
    r = _cli(tmp_path, "apply", "plan.json", "--yes", "--digest", digest)
    assert r.exit_code == 0, r.stderr[-2000:]
    assert "CANARY-repdig" not in html_text + md + r.stdout + r.stderr


def test_a_changed_plan_shows_a_different_digest(aws: None, tmp_path: Path) -> None:
    (tmp_path / "payments.json").write_text(json.dumps(TASKDEF, indent=2))
    assert _cli(tmp_path, "plan", "payments.json", "-o", "plan.json").exit_code == 0
    before = _shown_digest(tmp_path)
    doc = json.loads((tmp_path / "plan.json").read_text())
    doc["settings"]["prefix"] = "tampered"  # the plan no longer is the reviewed one
    (tmp_path / "plan.json").write_text(json.dumps(doc, indent=2))
    after = _shown_digest(tmp_path)
    assert _cli(tmp_path, "report", "plan.json", "--markdown", "r.md", "-o", "r.html").exit_code == 0
    md = (tmp_path / "r.md").read_text()
    assert after in md and before not in md
    assert after in (tmp_path / "r.html").read_text()
    r = _cli(tmp_path, "apply", "plan.json", "--yes", "--digest", before)
    assert r.exit_code != 0 and "not the reviewed" in r.stderr
