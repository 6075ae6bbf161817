"""error_handler: every expected failure maps to its exit code with one line (and a hint), never a
traceback nor a value; a real bug is 70 with the traceback in a private log file only."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
import typer
from botocore import exceptions as be

from migrate import errors
from migrate.apply.fs import UnsafeFileError
from migrate.error_handler import error_handler, log_dir, log_path, write_log

CANARY = "CANARY-eh-9f3b2c71"


def _run(exc: BaseException, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(typer.Exit) as ei, error_handler():
        raise exc
    out = capsys.readouterr()
    return ei.value.exit_code, out.out, out.err


def _all_subclasses(cls: type[errors.MigrateError]) -> list[type[errors.MigrateError]]:
    out: list[type[errors.MigrateError]] = []
    for c in cls.__subclasses__():
        out += [c, *_all_subclasses(c)]
    return out


@pytest.mark.parametrize("cls", [errors.MigrateError, *_all_subclasses(errors.MigrateError)], ids=lambda c: c.__name__)
def test_every_migrate_error_has_its_code_message_and_hint(cls: type[errors.MigrateError], capsys: pytest.CaptureFixture[str]) -> None:
    e: errors.MigrateError
    if issubclass(cls, (errors.InputError, UnsafeFileError)):
        e = cls("some/file.json", "bad thing", hint="fix it")
    else:
        e = cls("bad thing", hint="fix it")
    code, out, err = _run(e, capsys)
    assert code == cls.exit_code and code in (errors.EXIT_USAGE, errors.EXIT_INPUT, errors.EXIT_FAILED)
    assert err.splitlines() == [f"error: {e.args[0]}", "hint: fix it"] and "bad thing" in err
    assert out == ""


def test_ctrl_c_is_130(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(KeyboardInterrupt(), capsys)
    assert code == 130 and err == "interrupted\n"


def test_broken_pipe_stops_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(BrokenPipeError(errno.EPIPE, "Broken pipe"), capsys)
    assert code == errors.EXIT_FAILED and "Traceback" not in err and err == ""


AWS_CASES: list[tuple[BaseException, int, str]] = [
    (be.NoCredentialsError(), 2, "no usable AWS credentials"),
    (be.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), 2, "incomplete AWS credentials"),
    (be.ProfileNotFound(profile="nosuch"), 2, "AWS profile nosuch not found"),
    (be.NoRegionError(), 2, "no AWS region"),
    (be.InvalidRegionError(region_name="us east 1"), 2, "invalid AWS region"),
    (be.TokenRetrievalError(provider="sso", error_msg="expired"), 2, "no usable AWS credentials"),
    (be.EndpointConnectionError(endpoint_url=f"https://u:{CANARY}@ssm.eu-west-9.amazonaws.com/x?t={CANARY}"), 4,
     "cannot reach AWS (EndpointConnectionError, https://ssm.eu-west-9.amazonaws.com)"),
    (be.ConnectTimeoutError(endpoint_url="https://sts.amazonaws.com/"), 4, "AWS did not answer in time"),
    (be.ReadTimeoutError(endpoint_url="https://sts.amazonaws.com/"), 4, "AWS did not answer in time"),
    (be.ClientError({"Error": {"Code": "ExpiredTokenException", "Message": f"token {CANARY}"}}, "GetParameters"), 4,
     "AWS refused GetParameters (ExpiredTokenException)"),
]


@pytest.mark.parametrize(("exc", "code", "text"), AWS_CASES, ids=lambda x: type(x).__name__ if isinstance(x, BaseException) else None)
def test_aws_failures_are_configuration_or_operation_errors(exc: BaseException, code: int, text: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    got, out, err = _run(exc, capsys)
    assert got == code, err
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert text in lines[0]
    assert CANARY not in err and "Traceback" not in err and out == ""
    assert not log_path().exists()


@pytest.mark.parametrize(("exc", "text", "hint"), [
    (PermissionError(errno.EACCES, "Permission denied", "/srv/app/.env"), "/srv/app/.env: Permission denied", "permissions"),
    (OSError(errno.ENOSPC, "No space left on device", "plan.json"), "plan.json: No space left on device", "disk space"),
    (OSError(errno.EFBIG, "File too large"), "File too large", "ulimit -f"),
])
def test_os_errors_are_one_line_exit_4(exc: OSError, text: str, hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(exc, capsys)
    assert code == 4 and err.splitlines() == [f"error: {text}", err.splitlines()[1]] and hint in err


def test_a_bug_is_70_with_the_traceback_only_in_the_private_log(capsys: pytest.CaptureFixture[str]) -> None:
    def buggy() -> None:
        secret_local = CANARY  # noqa: F841 - a traceback shows frames, never on the terminal
        raise ZeroDivisionError("boom")

    with pytest.raises(typer.Exit) as ei, error_handler():
        buggy()
    err = capsys.readouterr().err
    assert ei.value.exit_code == errors.EXIT_BUG
    assert err.count("\n") == 1 and "ZeroDivisionError" in err and "bug" in err and str(log_path()) in err
    assert "Traceback" not in err and CANARY not in err
    log = log_path().read_text()
    assert "Traceback" in log and "buggy" in log
    assert stat.S_IMODE(log_path().stat().st_mode) == 0o600


def test_botocore_parameter_errors_quote_values_so_they_are_bugs_not_messages(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(be.ParamValidationError(report=f"Invalid type for parameter SecretString, value: {CANARY}"), capsys)
    assert code == errors.EXIT_BUG and CANARY not in err


# -- the log directory is private ------------------------------------------------------------------

def test_default_log_dir_is_per_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SECRETS_MIGRATE_LOG_DIR")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert log_dir() == tmp_path / f"secrets-migrate-{os.geteuid()}"
    p = write_log("x\n")
    assert stat.S_IMODE(p.parent.stat().st_mode) == 0o700 and stat.S_IMODE(p.stat().st_mode) == 0o600


def test_log_refuses_a_symlinked_dir_or_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    monkeypatch.setenv("SECRETS_MIGRATE_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "logs").symlink_to(victim)
    with pytest.raises(OSError, match="symbolic link"):
        write_log("x\n")
    (tmp_path / "logs").unlink()
    (tmp_path / "logs").mkdir(mode=0o700)
    target = tmp_path / "target.txt"
    target.write_text("keep\n")
    (tmp_path / "logs" / "secrets-migrate.log").symlink_to(target)
    with pytest.raises(OSError):
        write_log("x\n")
    assert target.read_text() == "keep\n"


def test_log_refuses_a_group_writable_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    d.chmod(0o777)
    monkeypatch.setenv("SECRETS_MIGRATE_LOG_DIR", str(d))
    with pytest.raises(OSError, match="writable by group or others"):
        write_log("x\n")
    code, _, err = _run(ValueError("bug"), capsys)
    assert code == 70 and "log file could not be written" in err and not (d / "secrets-migrate.log").exists()


def test_existing_log_file_is_narrowed_to_0600(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    d = tmp_path / "logs"
    d.mkdir(mode=0o700)
    (d / "secrets-migrate.log").write_text("old\n")
    (d / "secrets-migrate.log").chmod(0o644)
    monkeypatch.setenv("SECRETS_MIGRATE_LOG_DIR", str(d))
    write_log("new\n")
    assert (d / "secrets-migrate.log").read_text() == "old\nnew\n"
    assert stat.S_IMODE((d / "secrets-migrate.log").stat().st_mode) == 0o600


def test_a_nested_log_dir_is_created_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRETS_MIGRATE_LOG_DIR", str(tmp_path / "a" / "b" / "logs"))
    p = write_log("x\n")
    assert p == tmp_path / "a" / "b" / "logs" / "secrets-migrate.log" and p.read_text() == "x\n"
    assert stat.S_IMODE(p.parent.stat().st_mode) == 0o700
