"""The console entry point (:mod:`migrate.entry`): a plain ``scan`` runs without the full command line
(typer is never imported when it succeeds), with the same output and exit codes; a failing quick scan
goes through the same error handler; everything else is the full command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = ("import sys\n"
          "from {mod} import main\n"
          "sys.argv = ['secrets-migrate', *sys.argv[1:]]\n"
          "rc = main()\n"
          "sys.stdout.flush()\n"
          "sys.stderr.write(f'\\nrc={{rc}} typer={{\"typer\" in sys.modules}}\\n')\n")

_DEF = {"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx", "environment": [
    {"name": "DB_PASSWORD", "value": "hunter2-Quite-Long-9"}, {"name": "PORT", "value": "8080"}]}]}


def _run(mod: str, args: list[str], cwd: Path) -> tuple[str, str, int, bool]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-c", _PROBE.format(mod=mod), *args], cwd=cwd, capture_output=True,
                       text=True, env=env, timeout=120, check=False)
    err, _, tail = r.stderr.rpartition("\n")[0].rpartition("\n")
    rc, typer = tail.split()
    return r.stdout, err, int(rc.split("=")[1]), typer == "typer=True"


def test_plain_scan_skips_typer_and_matches_the_full_command_line(tmp_path: Path) -> None:
    (tmp_path / "td.json").write_text(json.dumps(_DEF, indent=2), encoding="utf-8")
    for args in (["scan", "td.json", "--format", "json"], ["scan", ".", "-f", "sarif", "--all"]):
        quick = _run("migrate.entry", args, tmp_path)
        full = _run("migrate.cli", args, tmp_path)
        assert quick[2] == full[2] == 1
        assert quick[0] == full[0] and "hunter2" not in quick[0]
        assert quick[3] is False, "a plain successful scan imports typer"


def test_a_failing_quick_scan_gets_the_error_handler(tmp_path: Path) -> None:
    for args, code, text in ((["scan", "missing"], 2, "error: no such file or directory: missing"),
                             (["scan", ".", "--format", "xml"], 2, "--format must be table, json or sarif")):
        out, err, rc, _ = _run("migrate.entry", args, tmp_path)
        assert (rc, out) == (code, "") and text in err
        assert _run("migrate.cli", args, tmp_path)[:3] == (out, err, rc)


def test_other_commands_and_help_go_to_the_full_command_line(tmp_path: Path) -> None:
    for args in (["--version"], ["scan", "--help"], ["scan", "."] + ["--baseline", "b.json"]):
        quick = _run("migrate.entry", args, tmp_path)
        assert quick[3] is True
        assert quick[:3] == _run("migrate.cli", args, tmp_path)[:3]


def test_python_dash_m_and_the_console_script_use_the_entry_point() -> None:
    assert (ROOT / "migrate" / "__main__.py").read_text(encoding="utf-8").startswith("from migrate.entry import main")
    assert 'secrets-migrate = "migrate.entry:main"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
