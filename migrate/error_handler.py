"""Map failures to exit codes: MigrateError -> its code with a one-line message and a hint,
Ctrl-C -> 130, anything else -> 70 with the traceback written to a log file only (a traceback can
show local variables' reprs; SecretValue's repr is redacted, but we still keep it off the terminal)."""

from __future__ import annotations

import datetime as _dt
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from migrate.errors import EXIT_BUG, EXIT_INTERRUPTED, MigrateError


def log_path() -> Path:
    base = os.environ.get("SECRETS_MIGRATE_LOG_DIR") or os.path.join(tempfile.gettempdir(), "secrets-migrate")
    return Path(base) / "secrets-migrate.log"


@contextmanager
def error_handler() -> Iterator[None]:
    try:
        yield
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise
    except MigrateError as e:
        sys.stderr.write(f"error: {e.args[0] if e.args else type(e).__name__}\n")
        if e.hint:
            sys.stderr.write(f"hint: {e.hint}\n")
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as e:  # noqa: BLE001
        p = log_path()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            with p.open("a") as fh:
                fh.write(f"--- {_dt.datetime.now().isoformat()} {type(e).__name__}\n")
                fh.write("".join(traceback.format_exception(type(e), e, e.__traceback__)))
            where = f"details in {p}"
        except OSError:
            where = "and the log file could not be written"
        sys.stderr.write(f"error: unexpected {type(e).__name__}; this is a bug in secrets-migrate ({where})\n")
        raise typer.Exit(EXIT_BUG) from None
