"""``scan --live -o FILE``: a live scan's report written to a file by the same rules as a file scan.

The live scan renders to stdout (:func:`migrate.commands.live.scan_live`); here that stdout is the
file scan's sink: the same refusals (:func:`migrate.commands.scan.check_output`, with no inputs named),
written beside its final name and renamed at the end (an interrupted or failing run leaves no half
report and keeps the old file), the old file's mode kept, and a one-line summary on stderr.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from migrate.errors import EXIT_FINDINGS, UsageError


def scan_live_to(output: Path | None, *, fmt: str = "table", **kwargs: Any) -> int:
    """Run the live scan (``kwargs`` are :func:`scan_live`'s) with its report going to ``output``."""
    from migrate.commands import live
    from migrate.commands.scan import _Sink, check_output

    if output is None:
        return live.scan_live(fmt=fmt, **kwargs)
    if fmt not in ("table", "json", "sarif"):  # before the file is touched
        raise UsageError(f"--format must be table, json or sarif, not {fmt!r}")
    check_output((), output)
    sink = _Sink(output)
    ok = False
    try:
        with contextlib.redirect_stdout(sink.fh):
            rc = live.scan_live(fmt=fmt, **{**kwargs, "no_color": True})
        ok = True
    finally:
        sink.close(ok=ok)
    found = "plaintext secrets found" if rc == EXIT_FINDINGS else "no plaintext secret"
    sys.stderr.write(f"secrets-migrate: wrote the {fmt} live report to {output}: {found}\n")
    return rc
