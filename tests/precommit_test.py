"""The pre-commit hook: its definition, and its entry point on staged-like file lists."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from migrate import precommit

REPO = Path(__file__).resolve().parent.parent
CANARY = "CANARY-hook-db-5c0ffee1"


def _hook() -> dict[str, object]:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "secrets-migrate"]
    return hook


def test_hook_definition() -> None:
    h = _hook()
    assert h["language"] == "python" and h["pass_filenames"] is True
    assert h["entry"] == "secrets-migrate-precommit"
    files = re.compile(str(h["files"]))
    for name in ("task.json", "ecs/compose.yaml", "ecs-params.yml", "main.tf", "app.py", "stack.template"):
        assert files.search(name), name
    for name in ("README.md", "Dockerfile", "image.png"):
        assert not files.search(name), name


def _staged(tmp: Path, files: dict[str, str]) -> list[str]:
    """Commit-like file list: write, `git add`, then what pre-commit would pass (staged + hook regex)."""
    subprocess.run(["git", "init", "-q", str(tmp)], check=True)
    for name, text in files.items():
        p = tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    subprocess.run(["git", "-C", str(tmp), "add", "--", *files], check=True)
    out = subprocess.run(["git", "-C", str(tmp), "diff", "--cached", "--name-only", "-z"], check=True,
                         capture_output=True, text=True).stdout
    rx = re.compile(str(_hook()["files"]))
    return [n for n in out.split("\0") if n and rx.search(n)]


def _entry(tmp: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from migrate.precommit import main; rc = main(sys.argv[1:]); "
            "sys.stderr.write('heavy=%s\\n' % ('migrate.detect.engine' in sys.modules)); sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=tmp, capture_output=True, text=True, timeout=120)


TASKDEF = json.dumps({"family": "shop", "containerDefinitions": [{"name": "web", "image": "w:1", "environment": [
    {"name": "PORT", "value": "80"}, {"name": "DB_PASSWORD", "value": CANARY}]}]}, indent=2)


def test_commit_without_definitions_is_fast_and_green(tmp_path: Path) -> None:
    files = _staged(tmp_path, {"README.md": "# hi\n", "package.json": '{"name": "x", "version": "1.0.0"}\n',
                               "src/app.py": "print('hello')\n"})
    assert files == ["package.json", "src/app.py"]
    r = _entry(tmp_path, files)
    assert r.returncode == 0 and "heavy=False" in r.stderr  # nothing worth scanning: no scanner imported


def test_commit_with_a_plaintext_secret_fails(tmp_path: Path) -> None:
    files = _staged(tmp_path, {"ecs/shop.json": TASKDEF, "README.md": "x\n", "ecs/notes.yaml": "a: 1\n"})
    assert files == ["ecs/notes.yaml", "ecs/shop.json"]
    r = _entry(tmp_path, files)
    assert r.returncode == 1, r.stderr
    assert "DB_PASSWORD" in r.stdout and CANARY not in r.stdout + r.stderr


def test_baseline_makes_the_known_secret_pass(tmp_path: Path) -> None:
    files = _staged(tmp_path, {"ecs/shop.json": TASKDEF})
    assert precommit.main  # the module is importable without the CLI
    r = subprocess.run([sys.executable, "-m", "migrate", "scan", "ecs", "--update-baseline", ".baseline.json"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = _entry(tmp_path, ["--baseline", ".baseline.json", *files])
    assert r.returncode == 0, r.stdout + r.stderr
    assert CANARY not in r.stdout + r.stderr


@pytest.mark.parametrize("name,text,expect", [
    ("a.json", '{"name": "x"}', False), ("a.json", '{"environment": []}', True),
    ("a.txt", "environment", False), ("main.tf", 'container_definitions = "x"', True),
    ("app.py", "import os\n", False), ("stack.py", "c.add_container(environment={})", True),
])
def test_worth_scanning(tmp_path: Path, name: str, text: str, expect: bool) -> None:
    (tmp_path / name).write_text(text)
    assert precommit.worth_scanning(str(tmp_path / name)) is expect


def test_missing_file_is_scanned_to_fail_closed(tmp_path: Path) -> None:
    assert precommit.worth_scanning(str(tmp_path / "gone.json")) is True
