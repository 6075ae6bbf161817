"""report: self-contained HTML (renders offline in a real headless browser) and Markdown, with the
run's facts and never a value."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import urllib.parse
import zlib
from html.parser import HTMLParser
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from migrate.cli import app

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
CANARIES = ["CANARY-rep-db-a81c0f2e", "CANARY-rep-sk_live_9Zt4Wq7Yc2", "CANARY-rep-pg-3e7d"]
TASKDEF = {"family": "payments", "executionRoleArn": ROLE, "containerDefinitions": [{
    "name": "api", "image": "payments:1",
    "environment": [{"name": "PORT", "value": "8080"}, {"name": "DB_PASSWORD", "value": CANARIES[0]},
                    {"name": "STRIPE_SECRET_KEY", "value": CANARIES[1]}]}]}
COMPOSE = f"services:\n  web:\n    image: web:1\n    environment:\n      POSTGRES_PASSWORD: {CANARIES[2]}  # x\n"


def _cli(cwd: Path, *args: str):  # type: ignore[no-untyped-def]
    old = os.getcwd()
    os.chdir(cwd)
    try:
        r = CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old)
    return r


def _encodings(v: str) -> list[str]:
    return [v, base64.b64encode(v.encode()).decode(), urllib.parse.quote(v, safe=""), json.dumps(v)[1:-1],
            hashlib.sha256(v.encode()).hexdigest()]


def _no_canary(**texts: str) -> None:
    for where, t in texts.items():
        for c in CANARIES:
            for enc in _encodings(c):
                assert enc not in t, f"canary in {where}"


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "srcset", "action", "data", "poster")]


@pytest.fixture
def applied(aws: None, tmp_path: Path) -> Path:
    (tmp_path / "payments.json").write_text(json.dumps(TASKDEF, indent=2) + "\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
    for args in (["plan", ".", "--execution-role", ROLE, "--kms-key", "alias/aws/ssm", "-o", "plan.json"],
                 ["apply", "plan.json", "--yes"]):
        r = _cli(tmp_path, *args)
        assert r.exit_code == 0, r.stderr[-2000:]
    r = _cli(tmp_path, "verify", "plan.json", "--format", "json")
    assert r.exit_code == 0, r.stdout[-2000:]
    (tmp_path / "verify.json").write_text(r.stdout)
    return tmp_path


def test_report_html_and_markdown(applied: Path) -> None:
    r = _cli(applied, "report", "plan.json", "-o", "out/report.html", "--markdown", "out/report.md",
             "--verify-json", "verify.json")
    assert r.exit_code == 0, r.stderr
    html_text = (applied / "out" / "report.html").read_text()
    md = (applied / "out" / "report.md").read_text()
    _no_canary(html=html_text, md=md, stdout=r.stdout, stderr=r.stderr)
    plan = json.loads((applied / "plan.json").read_text())
    journal = [json.loads(ln) for ln in (applied / "plan.json.state" / "journal.jsonl").read_text().splitlines()]
    arns = [rec["receipt"]["arn"] for rec in journal if rec["phase"] == "applied" and "arn" in rec.get("receipt", {})]
    assert arns
    for text in (html_text, md):
        assert plan["id"] in text and "applied (can be rolled back)" in text
        for arn in arns:
            assert arn in text
        for name in ("DB_PASSWORD", "STRIPE_SECRET_KEY", "POSTGRES_PASSWORD", "alias/aws/ssm", "monthly usd"):
            assert name in text, name
        assert "api.DB_PASSWORD" in text  # names to rotate
    assert "<svg" in html_text and html_text.count("<rect") >= 3 and "PASS" in html_text
    assert "```diff" in md and "## Journal timeline" in md and "## Values to rotate" in md
    # self-contained: no script, no external reference of any kind
    p = _Refs()
    p.feed(html_text)
    assert "script" not in p.tags and "link" not in p.tags and "img" not in p.tags
    assert p.urls == []
    assert not re.search(r"url\(|@import|https?://(?!www\.w3\.org/2000/svg)", html_text)


def test_report_states_not_applied_and_rolled_back(aws: None, tmp_path: Path) -> None:
    (tmp_path / "payments.json").write_text(json.dumps(TASKDEF))
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
    assert _cli(tmp_path, "plan", "payments.json", "-o", "plan.json").exit_code == 0
    assert _cli(tmp_path, "report", "plan.json", "--markdown", "r.md").exit_code == 0
    assert "**not applied**" in (tmp_path / "r.md").read_text()
    assert "Not included" in (tmp_path / "r.md").read_text()
    assert _cli(tmp_path, "apply", "plan.json", "--yes").exit_code == 0
    assert _cli(tmp_path, "rollback", "plan.json", "--yes").exit_code == 0
    assert _cli(tmp_path, "report", "plan.json", "-o", "r.html").exit_code == 0
    assert 'id="state">rolled back<' in (tmp_path / "r.html").read_text()


def test_report_bad_inputs_have_hints(tmp_path: Path) -> None:
    r = _cli(tmp_path, "report", "missing.json")
    assert r.exit_code == 2 and "hint:" in r.stderr
    (tmp_path / "payments.json").write_text(json.dumps(TASKDEF))
    assert _cli(tmp_path, "plan", "payments.json", "-o", "plan.json").exit_code == 0
    (tmp_path / "v.json").write_text("[]")
    r = _cli(tmp_path, "report", "plan.json", "--verify-json", "v.json")
    assert r.exit_code == 3 and "verify --format json" in r.stderr


def _png_stats(data: bytes) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the decompressed image data) without Pillow."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    w = h = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    return w, h, len(set(zlib.decompress(idat)))


def _chromium() -> str | None:
    """Debian's /usr/bin/chromium (what .ci/run installs), else any Chromium/Chrome on PATH."""
    for name in ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium", "/usr/lib/chromium/chromium"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


@pytest.mark.skipif(_chromium() is None,
                    reason="no headless Chromium on this machine (apt-get install chromium); the HTML is still "
                           "checked with html.parser in test_report_html_and_markdown")
def test_report_renders_offline_in_headless_chromium(applied: Path, tmp_path: Path) -> None:
    assert _cli(applied, "report", "plan.json", "-o", "report.html", "--verify-json", "verify.json").exit_code == 0
    exe = _chromium()
    url = (applied / "report.html").as_uri()
    common = [str(exe), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any network lookup fails
              f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-1500:]
    assert "Created entries" in dom.stdout and "<svg" in dom.stdout and "Journal timeline" in dom.stdout
    shot = tmp_path / "report.png"
    r = subprocess.run([*common, "--hide-scrollbars", "--window-size=1200,1600", f"--screenshot={shot}", url],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0 and shot.exists(), r.stderr[-1500:]
    data = shot.read_bytes()
    w, h, distinct = _png_stats(data)
    assert (w, h) == (1200, 1600)
    assert len(data) > 20_000 and distinct > 40  # text, tables, coloured bars: far from a blank page
