"""scan --baseline / --update-baseline: the glue between a scan outcome and migrate.baseline."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from migrate import baseline as bl
from migrate.commands.common import ScanOutcome
from migrate.errors import UsageError
from migrate.model import FileStatus


def _scanned(out: ScanOutcome) -> list[str]:
    return [f.path for f in out.files if f.status is FileStatus.SCANNED]


def apply_baseline(out: ScanOutcome, *, baseline: Path | None, update: Path | None,
                   console: Console) -> tuple[ScanOutcome, dict[str, Any]]:
    """Filter known findings out of ``out`` (so the exit code counts only new ones), report stale
    entries on ``console``, and write the updated baseline when ``update`` is given.

    Returns the filtered outcome and a summary for the JSON output (names only, never values).
    """
    if baseline is not None and update is not None and baseline.resolve() != update.resolve():
        raise UsageError("--baseline and --update-baseline name different files",
                         hint="use one of them (--update-baseline FILE also reads FILE's reasons)")
    scanned = _scanned(out)
    summary: dict[str, Any] = {}
    if update is not None:
        old = bl.load(update)
        new = bl.updated(out.findings, old, base_dir=update.parent, scanned_files=scanned)
        before, after = set(old.by_key()), set(new.by_key())
        changed = bl.write(update, new)
        console.print(Text(f"baseline {update}: {len(new.entries)} entr{'y' if len(new.entries) == 1 else 'ies'} "
                           f"({len(after - before)} added, {len(before - after)} removed)"
                           + ("" if changed else ", unchanged")))
        summary = {"file": str(update), "updated": True, "entries": len(new.entries),
                   "added": len(after - before), "removed": len(before - after)}
        baseline = update  # everything current is now known
    assert baseline is not None
    base = bl.load(baseline)
    cmp = bl.compare(out.findings, base, base_dir=baseline.parent, scanned_files=scanned)
    accepted = {e.key for e in base.entries if e.accepted}
    n_acc = sum(1 for f in cmp.known if bl.finding_key(f, baseline.parent) in accepted)
    known_ids = {id(f) for f in cmp.known}
    filtered = dataclasses.replace(out, findings=[f for f in out.findings if id(f) not in known_ids])
    if update is None:
        console.print(Text(f"baseline {baseline}: {len(cmp.known)} known finding(s) ignored ({n_acc} accepted), "
                           f"{len(cmp.new)} new"))
        for e in cmp.stale:
            console.print(Text(f"stale baseline entry: {e.file}: {e.unit} {e.location} {e.name} "
                               "(no longer found; remove it with --update-baseline)", style="yellow"))
        summary = {"file": str(baseline), "known": len(cmp.known), "accepted": n_acc, "new": len(cmp.new),
                   "stale": [e.to_record() for e in cmp.stale]}
    return filtered, summary
