"""Baseline of known findings, so CI fails only on *new* plaintext secrets.

An entry is identified by ``(file, unit, location, name)`` -- never by a value, a value hash or a
length: the baseline file is committed and must not help anyone guess a secret. ``file`` is the
definition file relative to the baseline file's directory, with ``/`` separators, so the same baseline
works whatever the current directory and whatever paths are given to ``scan``.

Entries are either *known debt* (``accepted: false``: still to migrate) or *accepted* (``accepted:
true``: a reviewed decision to keep it, which must carry a ``reason``). Both keep CI green; stale
entries (in a scanned file but no longer found, or whose file is gone) are reported.

The file is versioned JSON, sorted and stable (no timestamps), written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrate import __version__
from migrate.errors import InputError
from migrate.model import Finding

BASELINE_FORMAT = "secrets-migrate/baseline"
BASELINE_VERSION = 1

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class BaselineEntry:
    file: str
    unit: str
    location: str
    name: str
    accepted: bool = False
    reason: str = ""

    @property
    def key(self) -> Key:
        return (self.file, self.unit, self.location, self.name)

    def to_record(self) -> dict[str, Any]:
        return {"file": self.file, "unit": self.unit, "location": self.location, "name": self.name,
                "accepted": self.accepted, "reason": self.reason}


@dataclass(frozen=True)
class Baseline:
    entries: tuple[BaselineEntry, ...] = ()

    def by_key(self) -> dict[Key, BaselineEntry]:
        return {e.key: e for e in self.entries}

    def to_json(self) -> str:
        doc = {"format": BASELINE_FORMAT, "version": BASELINE_VERSION,
               "generated_by": f"secrets-migrate {__version__}",
               "entries": [e.to_record() for e in sorted(self.entries, key=lambda e: e.key)]}
        return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


@dataclass(frozen=True)
class Comparison:
    new: tuple[Finding, ...]  #: secret findings not in the baseline: these fail CI
    known: tuple[Finding, ...]  #: secret findings the baseline covers
    stale: tuple[BaselineEntry, ...]  #: baseline entries in a scanned (or missing) file that were not found


def rel_file(path: str, base_dir: Path) -> str:
    """``path`` relative to ``base_dir``, posix separators (``..`` when outside)."""
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, os.path.abspath(base_dir))
    except ValueError:  # another drive on Windows
        rel = absolute
    return Path(rel).as_posix()


def finding_key(f: Finding, base_dir: Path) -> Key:
    e = f.entry
    return (rel_file(e.path, base_dir), e.unit, e.location, e.name)


def load(path: Path) -> Baseline:
    """Read a baseline file. A missing file is an empty baseline; a malformed one is an InputError."""
    if not path.exists():
        return Baseline()
    where = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        raise InputError(where, "cannot read baseline file") from None
    except json.JSONDecodeError as e:
        raise InputError(where, "baseline is not valid JSON", line=e.lineno,
                         hint="regenerate it with `secrets-migrate scan PATH --update-baseline FILE`") from None
    if not isinstance(doc, dict) or doc.get("format") != BASELINE_FORMAT:
        raise InputError(where, "not a secrets-migrate baseline file",
                         hint="regenerate it with `secrets-migrate scan PATH --update-baseline FILE`")
    if doc.get("version") != BASELINE_VERSION:
        raise InputError(where, f"baseline version {doc.get('version')!r} is not supported (expects {BASELINE_VERSION})",
                         hint="regenerate it with this version: `secrets-migrate scan PATH --update-baseline FILE`")
    entries = []
    raw = doc.get("entries")
    if not isinstance(raw, list):
        raise InputError(where, "baseline has no entries list")
    for i, r in enumerate(raw):
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in ("file", "unit", "location", "name")):
            raise InputError(where, f"baseline entry {i} needs string file, unit, location and name")
        accepted = bool(r.get("accepted", False))
        reason = r.get("reason", "")
        if not isinstance(reason, str):
            raise InputError(where, f"baseline entry {i}: reason must be a string")
        if accepted and not reason.strip():
            raise InputError(where, f"baseline entry {i} ({r['name']}) is accepted but has no reason",
                             hint='write why it is accepted in its "reason" field, or set "accepted": false')
        entries.append(BaselineEntry(file=r["file"], unit=r["unit"], location=r["location"], name=r["name"],
                                     accepted=accepted, reason=reason))
    return Baseline(tuple(entries))


def compare(findings: Iterable[Finding], baseline: Baseline, *, base_dir: Path,
            scanned_files: Sequence[str]) -> Comparison:
    """Split secret findings into new and known; list the stale baseline entries.

    An entry is stale when its file was scanned this time and it was not found, or its file no
    longer exists. Entries of files outside this scan are left alone (pre-commit scans a few files).
    """
    known_keys = baseline.by_key()
    new, known, seen = [], [], set()
    for f in findings:
        if not f.is_secret:
            continue
        k = finding_key(f, base_dir)
        if k in known_keys:
            known.append(f)
            seen.add(k)
        else:
            new.append(f)
    scanned = {rel_file(p, base_dir) for p in scanned_files}
    stale = tuple(e for e in baseline.entries if e.key not in seen
                  and (e.file in scanned or not (base_dir / e.file).exists()))
    return Comparison(new=tuple(new), known=tuple(known), stale=stale)


def updated(findings: Iterable[Finding], old: Baseline, *, base_dir: Path,
            scanned_files: Sequence[str]) -> Baseline:
    """The baseline after this scan: every current secret, reasons and ``accepted`` kept; entries of
    scanned files that are gone dropped; entries of files outside this scan kept as they are."""
    prev = old.by_key()
    scanned = {rel_file(p, base_dir) for p in scanned_files}
    out: dict[Key, BaselineEntry] = {}
    for e in old.entries:
        if e.file not in scanned and (base_dir / e.file).exists():
            out[e.key] = e
    for f in findings:
        if not f.is_secret:
            continue
        k = finding_key(f, base_dir)
        was = prev.get(k)
        out[k] = was if was is not None else BaselineEntry(*k)
    return Baseline(tuple(out.values()))


def write(path: Path, baseline: Baseline) -> bool:
    """Write atomically (temp file + os.replace). Returns False when the content is unchanged."""
    text = baseline.to_json()
    if path.exists():
        try:
            if path.read_text(encoding="utf-8") == text:
                return False
        except (OSError, UnicodeDecodeError):
            pass
    from migrate.apply.fs import atomic_write

    atomic_write(path, text.replace("\r\n", "\n"), mode=0o644)
    return True
