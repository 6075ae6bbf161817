"""Every command documents one worked example; --version; shell completion for bash and zsh; usage
errors point at the help."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from migrate import __version__
from migrate.cli import app


def _leaves(group: Any, prefix: tuple[str, ...] = ()) -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a group (typer vendors click: no isinstance)
            out += _leaves(cmd, (*prefix, name))
        else:
            out.append(" ".join((*prefix, name)))
    return sorted(out)


COMMANDS = _leaves(typer.main.get_command(app))  # type: ignore[arg-type]


def test_every_command_is_listed() -> None:
    assert {"scan", "plan", "show", "apply", "verify", "rollback", "finalize", "status", "exec", "env",
            "report", "live scan"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_a_worked_example(name: str) -> None:
    r = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    m = re.search(r"Example:\s+(.*)", r.output)
    assert m is not None, f"{name} --help has no Example"
    assert f"secrets-migrate {name}" in m.group(1), f"{name}'s example does not run {name}"


def test_version() -> None:
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"secrets-migrate {__version__}"


def test_usage_error_points_at_help() -> None:
    r = CliRunner().invoke(app, ["scan"])
    assert r.exit_code == 2 and "Try 'secrets-migrate scan -h' for help." in r.stderr
    r = CliRunner().invoke(app, ["scna"])  # `schema` is close too: click lists both
    assert r.exit_code == 2 and re.search(r"Did you mean 'scan'(, 'schema')?\?", r.stderr)


def _show(shell: str) -> str:
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}  # take the shell as an argument
    r = subprocess.run([sys.executable, "-m", "migrate", "--show-completion", shell], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _complete(env: dict[str, str]) -> str:
    r = subprocess.run([sys.executable, "-m", "migrate"], capture_output=True, text=True,
                       env={**os.environ, **env}, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_completion_script_completes_commands(tmp_path: Path) -> None:
    script = _show("bash")
    assert "_SECRETS_MIGRATE_COMPLETE=complete_bash" in script and "complete " in script
    (tmp_path / "complete.bash").write_text(script)
    exe = tmp_path / "bin" / "secrets-migrate"
    exe.parent.mkdir()
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} -m migrate \"$@\"\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    drive = ("source complete.bash; COMP_WORDS=(secrets-migrate re); COMP_CWORD=1; "
             "_secrets_migrate_completion secrets-migrate; printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "-c", drive], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PATH": f"{exe.parent}{os.pathsep}{os.environ['PATH']}"})
    assert r.returncode == 0, r.stderr
    assert set(r.stdout.split()) == {"report"}


def test_zsh_completion_script_and_protocol() -> None:
    script = _show("zsh")
    assert "#compdef secrets-migrate" in script and "_SECRETS_MIGRATE_COMPLETE=complete_zsh" in script
    out = _complete({"_SECRETS_MIGRATE_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "secrets-migrate sc"})
    assert '"scan"' in out and '"show"' not in out
    out = _complete({"_SECRETS_MIGRATE_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "secrets-migrate scan --upd"})
    assert "--update-baseline" in out


# every command that reaches AWS gets --endpoint-url as an argument; the CLI never writes os.environ
ENDPOINT_TARGETS = {
    "apply": ("migrate.commands.run", "apply", ["apply", "p.json"]),
    "verify": ("migrate.commands.run", "verify", ["verify", "p.json"]),
    "rollback": ("migrate.commands.run", "rollback", ["rollback", "p.json"]),
    "finalize": ("migrate.commands.run", "finalize", ["finalize", "p.json"]),
    "force-unlock": ("migrate.commands.run", "force_unlock", ["force-unlock", "p.json", "L"]),
    "exec": ("migrate.commands.exec_env", "exec_", ["exec", "--unit", "u", "--plan", "p.json", "--", "true"]),
    "env": ("migrate.commands.exec_env", "env", ["env", "--unit", "u", "--plan", "p.json", "-o", "x.env"]),
    "live scan": ("migrate.commands.live", "scan_live", ["live", "scan"]),
    "live plan": ("migrate.commands.live", "plan_live", ["live", "plan"]),
    "live apply": ("migrate.commands.live", "apply_live", ["live", "apply", "p.json"]),
    "live rollback": ("migrate.commands.live", "rollback_live", ["live", "rollback", "p.json"]),
    "live finalize": ("migrate.commands.live", "finalize_live", ["live", "finalize", "p.json"]),
    "run": ("migrate.playbook", "run_playbook", ["run", "pb.yaml", "--plan-only"]),
    "scan": ("migrate.commands.live", "scan_live", ["scan", "--live"]),
    "plan": ("migrate.commands.live", "plan_live", ["plan", "--live"]),
}


def test_every_command_with_an_endpoint_option_is_checked() -> None:
    root = typer.main.get_command(app)

    def find(path: str) -> Any:
        cmd: Any = root
        for part in path.split():
            cmd = cmd.commands[part]
        return cmd

    with_option = {c for c in COMMANDS if any("--endpoint-url" in p.opts for p in find(c).params)}
    assert with_option == set(ENDPOINT_TARGETS)


@pytest.mark.parametrize("name", sorted(ENDPOINT_TARGETS))
def test_endpoint_url_is_passed_explicitly_not_through_the_environment(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    module, func, args = ENDPOINT_TARGETS[name]
    got: dict[str, Any] = {}

    def fake(*a: Any, **kw: Any) -> int:
        got.update(kw)
        got["environ"] = dict(os.environ)
        return 0

    monkeypatch.setattr(importlib.import_module(module), func, fake)
    before = dict(os.environ)
    cut = args.index("--") if "--" in args else len(args)  # options go before exec's `-- COMMAND`
    r = CliRunner().invoke(app, [*args[:cut], "--endpoint-url", "http://127.0.0.1:4566", *args[cut:]])
    assert r.exit_code == 0, r.output
    assert got["endpoint_url"] == "http://127.0.0.1:4566"
    assert got["environ"] == before and dict(os.environ) == before
