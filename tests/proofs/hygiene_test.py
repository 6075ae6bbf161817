"""Issue 12, local hygiene: failures outside ClientError, local-file hazards and ambiguous units.

Each test names the case it proves; each failed on the code before the fix (exit 70, a followed
symlink, a broken hard link, a silently overwritten file, a truncated input reported clean, a
merged unit) and passes after it.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
import pytest
import typer
from support.testing import run_cli

NO_CREDS = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
CANARY = "CANARY-hyg-5d2e8a41"


def _taskdef(family: str, containers: dict[str, list[tuple[str, str]]]) -> str:
    return json.dumps({"family": family, "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                       "containerDefinitions": [
                           {"name": c, "image": "x", "secrets": [{"name": n, "valueFrom": vf} for n, vf in secrets]}
                           for c, secrets in containers.items()]}, indent=2) + "\n"


def _one_error(stderr: str) -> None:
    lines = stderr.splitlines()
    assert lines and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    assert all(ln.startswith(("error: ", "hint: ")) for ln in lines), stderr
    assert "this is a bug" not in stderr and CANARY not in stderr


# -- 6: failures outside ClientError ---------------------------------------------------------------

def test_6_no_credentials_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "td.json").write_text(_taskdef("payments", {"api": [("DB_PASSWORD", "/prod/db")]}))
    full = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    full.update(NO_CREDS)
    p = subprocess.run([sys.executable, "-m", "migrate", "exec", "td.json", "--unit", "api", "--", "true"],
                       cwd=tmp_path, env=full, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    _one_error(p.stderr)
    assert "credentials" in p.stderr and "hint:" in p.stderr


def test_6_unknown_profile_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "td.json").write_text(_taskdef("payments", {"api": [("DB_PASSWORD", "/prod/db")]}))
    r = run_cli(["exec", "td.json", "--unit", "api", "--profile", "no-such-profile", "--", "true"], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    _one_error(r.stderr)
    assert "no-such-profile" in r.stderr and "hint:" in r.stderr


def test_6_unreachable_endpoint_is_an_operation_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from migrate.cli import app
    from migrate.stores import aws

    monkeypatch.setattr(aws, "RETRIES", {"mode": "standard", "max_attempts": 1})
    (tmp_path / "td.json").write_text(_taskdef("payments", {"api": [("DB_PASSWORD", "/prod/db")]}))
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["exec", "td.json", "--unit", "api", "--endpoint-url", "http://127.0.0.1:9", "--",
                                 "true"])
    assert r.exit_code == 4, r.stderr
    _one_error(r.stderr)
    assert "cannot reach AWS" in r.stderr and "127.0.0.1:9" in r.stderr


def test_6_file_too_large_is_one_line_exit_4(tmp_path: Path) -> None:
    d = tmp_path / "defs"
    d.mkdir()
    for i in range(40):
        (d / f"s{i}.json").write_text(json.dumps({"family": f"s{i}", "containerDefinitions": [
            {"name": "app", "image": "x", "environment": [{"name": "DB_PASSWORD", "value": f"Pq8-{i:04d}-zv7LmN2x"}]}]}))

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    full = {**os.environ, "COLUMNS": "200"}
    p = subprocess.run([sys.executable, "-m", "migrate", "scan", "defs", "--format", "json", "-o", "out.json"],
                       cwd=tmp_path, env=full, capture_output=True, text=True, timeout=120, preexec_fn=small_files)
    assert p.returncode == 4, p.stderr
    _one_error(p.stderr)
    assert "File too large" in p.stderr and "ulimit" in p.stderr
    assert not (tmp_path / "out.json").exists()  # no half report under the final name


# -- 7: local-file hazards ---------------------------------------------------------------------------

def _bug_through_handler() -> int:
    from migrate.error_handler import error_handler

    with pytest.raises(typer.Exit) as ei, error_handler():
        raise ValueError("a bug")
    return int(ei.value.exit_code)


def test_7_log_does_not_follow_a_planted_symlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    # another user plants the old shared path and the new per-user one
    (shared / "secrets-migrate").mkdir(mode=0o777)
    (shared / "secrets-migrate" / "secrets-migrate.log").symlink_to(victim)
    (shared / f"secrets-migrate-{os.geteuid()}").symlink_to(shared / "secrets-migrate")
    monkeypatch.delenv("SECRETS_MIGRATE_LOG_DIR")
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert _bug_through_handler() == 70
    assert victim.read_text() == "keep\n"
    # without the plant: a private directory and file
    (shared / f"secrets-migrate-{os.geteuid()}").unlink()
    assert _bug_through_handler() == 70
    d = shared / f"secrets-migrate-{os.geteuid()}"
    log = d / "secrets-migrate.log"
    assert stat.S_IMODE(d.stat().st_mode) == 0o700 and d.stat().st_uid == os.geteuid()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and "ValueError" in log.read_text()
    assert victim.read_text() == "keep\n"


def test_7_rewrite_keeps_the_owner_and_refuses_hard_links(tmp_path: Path) -> None:
    from migrate.apply.fs import atomic_write
    from migrate.errors import MigrateError

    p = tmp_path / "task.json"
    p.write_text(CANARY)
    os.link(p, tmp_path / "task.json.bak")
    with pytest.raises(MigrateError, match="hard links"):
        atomic_write(p, "rewritten")
    assert p.read_text() == CANARY  # nothing half done: the refusal comes first
    (tmp_path / "task.json.bak").unlink()
    if os.geteuid() == 0:
        os.chown(p, 4321, 4321)
        p.chmod(0o640)
    before = p.stat()
    atomic_write(p, "rewritten")
    after = p.stat()
    assert p.read_text() == "rewritten"
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (before.st_uid, before.st_gid,
                                                                         stat.S_IMODE(before.st_mode))


def test_7_open_beneath_refuses_a_parent_swapped_for_a_symlink(tmp_path: Path) -> None:
    from migrate.apply.fs import read_beneath
    from migrate.errors import MigrateError

    (tmp_path / "repo" / "ecs").mkdir(parents=True)
    (tmp_path / "repo" / "ecs" / "td.json").write_text("{}")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "td.json").write_text("not ours")
    assert read_beneath(tmp_path / "repo", "ecs/td.json") == b"{}"
    os.rename(tmp_path / "repo" / "ecs", tmp_path / "repo" / "ecs.old")
    (tmp_path / "repo" / "ecs").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(MigrateError, match="symbolic link"):
        read_beneath(tmp_path / "repo", "ecs/td.json")


def test_7_env_does_not_overwrite_an_existing_file(tmp_path: Path, server_env: str) -> None:
    boto3.client("ssm", endpoint_url=server_env).put_parameter(Name="/prod/db", Value=CANARY, Type="SecureString")
    (tmp_path / "td.json").write_text(_taskdef("payments", {"api": [("DB_PASSWORD", "/prod/db")]}))
    (tmp_path / "notes.txt").write_text("my notes\n")
    r = run_cli(["env", "td.json", "--unit", "api", "-o", "notes.txt"], cwd=tmp_path)
    assert r.returncode == 2 and "already exists" in r.stderr and "--force" in r.stderr, r.stderr
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"
    r = run_cli(["env", "td.json", "--unit", "api", "-o", "notes.txt", "--force"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert CANARY in (tmp_path / "notes.txt").read_text() and CANARY not in r.stderr + r.stdout


def _defs(d: Path, n: int) -> None:
    d.mkdir()
    for i in range(n):
        (d / f"svc{i}.json").write_text(json.dumps({"family": f"svc{i}", "containerDefinitions": [
            {"name": "app", "image": "x", "environment": [{"name": "DB_PASSWORD", "value": f"Pq8-{i:04d}-zv7LmN2"},
                                                          {"name": "PORT", "value": "8080"}]}]}, indent=2))


@pytest.mark.parametrize("fmt", ["json", "table", "sarif"])
def test_7_scan_output_over_an_input_is_refused(tmp_path: Path, fmt: str) -> None:
    _defs(tmp_path / "defs", 2)
    original = (tmp_path / "defs" / "svc0.json").read_text()
    for args in (["defs/svc0.json", "-o", "defs/svc0.json"], ["defs", "-o", "defs/svc0.json"],
                 ["defs/svc0.json", "defs/svc1.json", "-o", "./defs/../defs/svc1.json"]):
        r = run_cli(["scan", *args, "--format", fmt], cwd=tmp_path)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        _one_error(r.stderr)
        assert "would destroy it" in r.stderr
    assert (tmp_path / "defs" / "svc0.json").read_text() == original


def test_7_scan_report_inside_the_scanned_folder_is_fine_and_summarised(tmp_path: Path) -> None:
    _defs(tmp_path / "defs", 3)
    for _ in range(2):  # the second run finds the first report in the folder: not a definition
        r = run_cli(["scan", "defs", "--format", "json", "-o", "defs/findings.json"], cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        assert r.stdout == ""
        assert r.stderr.splitlines() == [
            "secrets-migrate: wrote the json report to defs/findings.json: 3 plaintext secret(s) in 3 definition "
            "file(s), 0 error(s)"]
        doc = json.loads((tmp_path / "defs" / "findings.json").read_text())
        assert len(doc["entries"]) == 3
    assert sorted(p.name for p in (tmp_path / "defs").iterdir()) == ["findings.json", "svc0.json", "svc1.json",
                                                                      "svc2.json"]


def test_7_scan_into_a_closed_pipe_ends_cleanly(tmp_path: Path, fmt: str = "json") -> None:
    """The streaming JSON report (table and SARIF: tests/commands/scan_test.py)."""
    _defs(tmp_path / "defs", 400)
    full = {**os.environ, "COLUMNS": "200"}
    p = subprocess.Popen([sys.executable, "-m", "migrate", "scan", "defs", "--format", fmt, "--all"], cwd=tmp_path,
                         env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.readline()
    p.stdout.close()  # `| head -1`
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 1, err  # findings: 1, as if the whole report had been read
    assert "Traceback" not in err and "Exception ignored" not in err and "bug" not in err


# -- 8: a unit must be unique ------------------------------------------------------------------------

def _two_apps(tmp_path: Path, server: str) -> None:
    ssm = boto3.client("ssm", endpoint_url=server)
    for app in ("payments", "orders"):
        ssm.put_parameter(Name=f"/{app}/db", Value=f"{CANARY}-{app}", Type="SecureString")
        (tmp_path / f"{app}.json").write_text(_taskdef(app, {"api": [("DB_PASSWORD", f"/{app}/db")],
                                                               "worker": [(f"{app.upper()}_ONLY", f"/{app}/db")]}))


def test_8_an_ambiguous_unit_is_refused_with_the_candidates(tmp_path: Path, server_env: str) -> None:
    _two_apps(tmp_path, server_env)
    r = run_cli(["env", ".", "--unit", "api", "-o", "out.env"], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    _one_error(r.stderr)
    assert "'api' is defined in 2 places" in r.stderr
    assert "orders/api" in r.stderr and "payments/api" in r.stderr
    assert not (tmp_path / "out.env").exists()
    for spec, app in (("payments/api", "payments"), ("orders.json:api", "orders")):
        r = run_cli(["env", ".", "--unit", spec, "-o", f"{app}.env"], cwd=tmp_path)
        assert r.returncode == 0, (spec, r.stderr)
        assert (tmp_path / f"{app}.env").read_text() == f"DB_PASSWORD='{CANARY}-{app}'\n"
    r = run_cli(["env", ".", "--unit", "nope/api", "-o", "x.env"], cwd=tmp_path)
    assert r.returncode == 2 and "no secrets references" in r.stderr


def test_8_a_duplicate_name_in_one_unit_is_an_error_naming_it(tmp_path: Path, server_env: str) -> None:
    ssm = boto3.client("ssm", endpoint_url=server_env)
    ssm.put_parameter(Name="/a", Value=f"{CANARY}-a", Type="SecureString")
    ssm.put_parameter(Name="/b", Value=f"{CANARY}-b", Type="SecureString")
    (tmp_path / "td.json").write_text(_taskdef("payments", {"api": [("DB_PASSWORD", "/a"), ("DB_PASSWORD", "/b")]}))
    r = run_cli(["exec", "td.json", "--unit", "api", "--", "true"], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    _one_error(r.stderr)
    assert "DB_PASSWORD is defined twice" in r.stderr


def test_7_env_force_still_refuses_a_linked_file(tmp_path: Path) -> None:
    (tmp_path / "td.json").write_text(_taskdef("payments", {"api": [("DB_PASSWORD", "/prod/db")]}))
    (tmp_path / "shared.env").write_text("A=1\n")
    os.link(tmp_path / "shared.env", tmp_path / "other.env")
    (tmp_path / "link.env").symlink_to(tmp_path / "shared.env")
    for out in ("shared.env", "link.env"):
        r = run_cli(["env", "td.json", "--unit", "api", "-o", out, "--force"], cwd=tmp_path)
        assert r.returncode == 4, r.stderr
        _one_error(r.stderr)
    assert (tmp_path / "other.env").read_text() == "A=1\n" and (tmp_path / "link.env").is_symlink()
