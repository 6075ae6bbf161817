"""Map failures to exit codes: MigrateError -> its code with a one-line message and a hint,
Ctrl-C -> 130, a closed output pipe -> a quiet stop, AWS configuration problems (no credentials,
unknown profile, no region) -> 2, an unreachable endpoint or a refused call -> 4, an operating
system error (permission, disk full, file too large) -> 4, anything else -> 70 with the traceback
written to a log file only (a traceback can show local variables' reprs; SecretValue's repr is
redacted, but we still keep it off the terminal).

No message here quotes an exception's own text when it may carry input: botocore's parameter
errors quote the value, so every AWS message is built from the exception's class and its named
fields (profile, endpoint host) only.

The log directory is private to the user: ``$SECRETS_MIGRATE_LOG_DIR`` or
``$TMPDIR/secrets-migrate-<uid>``, created 0700, refused when it is a symbolic link, owned by
someone else or writable by group/others; the log file is opened with ``O_NOFOLLOW`` and created 0600.
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import stat
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import typer

from migrate.errors import EXIT_BUG, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, MigrateError

LOG_NAME = "secrets-migrate.log"


class LogDirError(OSError):
    """The log directory is not private to us; nothing is written there."""


def log_dir() -> Path:
    base = os.environ.get("SECRETS_MIGRATE_LOG_DIR")
    if base:
        return Path(base)
    return Path(tempfile.gettempdir()) / f"secrets-migrate-{os.geteuid()}"


def log_path() -> Path:
    return log_dir() / LOG_NAME


def _open_private_dir(d: Path) -> int:
    """A descriptor on ``d``: created 0700 if missing; refused if a link, not ours or group/world-writable."""
    with suppress(OSError):
        os.makedirs(d.parent, exist_ok=True)
    with suppress(FileExistsError):
        os.mkdir(d, 0o700)
    try:
        fd = os.open(d, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise LogDirError(f"{d} is a symbolic link or not a directory") from None
        raise
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISDIR(st.st_mode):
        problem = "is not a directory"
    elif st.st_uid != os.geteuid():
        problem = "is owned by another user"
    elif st.st_mode & 0o022:
        problem = "is writable by group or others"
    if problem:
        os.close(fd)
        raise LogDirError(f"{d} {problem}")
    return fd


def write_log(text: str) -> Path:
    """Append ``text`` to the private log file; returns its path. Raises OSError when it cannot."""
    d = log_dir()
    dfd = _open_private_dir(d)
    try:
        fd = os.open(LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                     0o600, dir_fd=dfd)
    finally:
        os.close(dfd)
    with os.fdopen(fd, "a", encoding="utf-8", errors="replace") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise LogDirError(f"{d / LOG_NAME} is not a regular file of ours")
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fh.fileno(), 0o600)
        fh.write(text)
    return d / LOG_NAME


@dataclass(frozen=True)
class Failure:
    """What the user sees for an exception: exit code, one-line message, optional hint."""

    exit_code: int
    message: str
    hint: str | None = None


_CRED_HINT = ("configure credentials: `aws configure`, `aws sso login --profile NAME`, "
              "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run on a host with an instance role")


def _host(url: object) -> str:
    """The scheme://host[:port] of an endpoint URL: no user info, path or query."""
    try:
        u = urlsplit(str(url))
        host = u.hostname or ""
        port = f":{u.port}" if u.port else ""
    except ValueError:
        return "the endpoint"
    return f"{u.scheme}://{host}{port}" if host else "the endpoint"


_AUTH_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException", "InvalidClientTokenId",
                         "InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure", "RequestExpired"})
_NET_HINT = "check the network, proxy, region and --endpoint-url, then run again"


def _client_error(e: BaseException) -> Failure:
    resp = getattr(e, "response", None)
    err = resp.get("Error", {}) if isinstance(resp, dict) else {}
    code = str(err.get("Code") or "Unknown")
    op = getattr(e, "operation_name", "") or "an AWS call"
    return Failure(EXIT_FAILED, f"AWS refused {op} ({code})",
                   "refresh your credentials (expired or invalid)" if code in _AUTH_CODES
                   else "check that your identity may do this in this account and region (--profile, --region)")


def _botocore_failure(e: BaseException) -> Failure | None:
    """A Failure for the botocore exceptions a user can cause (configuration, network, refusal)."""
    if not type(e).__module__.startswith(("botocore", "boto3")):
        return None
    from botocore import exceptions as be

    if isinstance(e, be.ClientError):
        return _client_error(e)
    kw = getattr(e, "kwargs", {}) or {}
    host = _host(kw.get("endpoint_url"))
    name = type(e).__name__
    table: list[tuple[tuple[type[BaseException], ...], int, str, str]] = [
        ((be.ProfileNotFound,), EXIT_USAGE, f"AWS profile {kw.get('profile', '?')!s} not found",
         "check --profile / AWS_PROFILE against `aws configure list-profiles`"),
        ((be.PartialCredentialsError,), EXIT_USAGE,
         f"incomplete AWS credentials (missing {kw.get('cred_var', 'a field')!s})", _CRED_HINT),
        ((be.NoCredentialsError, be.NoAuthTokenError, be.CredentialRetrievalError, be.TokenRetrievalError,
          be.SSOError, be.UnknownCredentialError), EXIT_USAGE, f"no usable AWS credentials ({name})", _CRED_HINT),
        ((be.NoRegionError,), EXIT_USAGE, "no AWS region configured", "pass --region REGION or set AWS_REGION"),
        ((be.InvalidRegionError, be.UnknownRegionError), EXIT_USAGE, "invalid AWS region",
         "pass a region name like us-east-1 (--region)"),
        ((be.ConfigParseError, be.ConfigNotFound, be.InvalidConfigError), EXIT_USAGE,
         f"cannot use the AWS configuration ({name})", "check ~/.aws/config and AWS_CONFIG_FILE"),
        ((be.ConnectTimeoutError, be.ReadTimeoutError), EXIT_FAILED, f"AWS did not answer in time ({host})", _NET_HINT),
        ((be.EndpointConnectionError, be.ConnectionClosedError, be.ProxyConnectionError, be.SSLError,
          be.HTTPClientError), EXIT_FAILED, f"cannot reach AWS ({name}, {host})", _NET_HINT),
    ]
    for classes, code, message, hint in table:
        if isinstance(e, classes):
            return Failure(code, message, hint)
    return None


def classify(e: BaseException) -> Failure | None:
    """The Failure for an expected exception, None for a bug (exit 70)."""
    if isinstance(e, MigrateError):
        return Failure(e.exit_code, str(e.args[0]) if e.args else type(e).__name__, e.hint)
    if isinstance(e, KeyboardInterrupt):
        return Failure(EXIT_INTERRUPTED, "interrupted")
    bc = _botocore_failure(e)
    if bc is not None:
        return bc
    if isinstance(e, OSError) and e.errno is not None:
        # filename is a path we were given or chose; strerror is the system's text: no file content
        name = e.filename if isinstance(e.filename, (str, bytes, os.PathLike)) else None
        where = f"{os.fsdecode(name)}: " if name is not None else ""
        reason = e.strerror or errno.errorcode.get(e.errno, type(e).__name__)
        hint = {errno.ENOSPC: "free some disk space and run again", errno.EDQUOT: "free some disk space and run again",
                errno.EFBIG: "the file size limit (ulimit -f) was reached",
                errno.EACCES: "check the permissions", errno.EPERM: "check the permissions",
                errno.EROFS: "the file system is read-only"}.get(e.errno)
        return Failure(EXIT_FAILED, " ".join(f"{where}{reason}".split()), hint)
    return None


def silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):
        pass


@contextmanager
def error_handler() -> Iterator[None]:
    try:
        yield
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise
    except BrokenPipeError:
        # the reader went away (`... | head`): stop quietly; the command did not finish its output
        silence_stdout()
        raise typer.Exit(EXIT_FAILED) from None
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001
        f = classify(e)
        if f is not None:
            sys.stderr.write(f"error: {f.message}\n" if f.exit_code != EXIT_INTERRUPTED else "interrupted\n")
            if f.hint:
                sys.stderr.write(f"hint: {f.hint}\n")
            raise typer.Exit(f.exit_code) from None
        try:
            p = write_log(f"--- {_dt.datetime.now().isoformat()} {type(e).__name__}\n"
                          + "".join(traceback.format_exception(type(e), e, e.__traceback__)))
            where = f"details in {p}"
        except OSError:
            where = "and the log file could not be written"
        sys.stderr.write(f"error: unexpected {type(e).__name__}; this is a bug in secrets-migrate ({where})\n")
        raise typer.Exit(EXIT_BUG) from None
