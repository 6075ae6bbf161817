"""The run journal: append-only JSONL, fsync'd after every record, in a state directory beside the plan.

Layout: ``<plan file>.state/`` holds ``journal.jsonl``, ``lock`` (flock'd while a command runs) and
``finalized`` (present after ``finalize``). Records:
``{"v": 1, "seq", "ts", "plan_id", "action_id", "kind", "phase", "receipt"?, "error"?, "expect"?}`` with
phase in intent | applied | failed | reverting | reverted | run-start | run-end.
An ``intent`` with no later ``applied`` is *uncertain*: the side effect may or may not have happened,
and every revert handles both (delete-if-exists, restore-if-hash-matches). A store ``intent`` carries a
random run token in ``expect``; the entry carries it too (``apply.impls.stores``), which is how an uncertain
entry is proven this run's. No record holds a value.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from migrate.errors import LockedError, PlanError
from migrate.plan.choices import Phase

JOURNAL_VERSION = 1


def state_dir_for(plan_path: Path) -> Path:
    return plan_path.with_name(plan_path.name + ".state")


@dataclass
class ActionState:
    phase: Phase = Phase.PENDING
    receipt: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def uncertain(self) -> bool:
        return self.phase in (Phase.INTENT, Phase.REVERTING)


class Journal:
    def __init__(self, state_dir: Path, plan_id: str, *,
                 after_append: Callable[[dict[str, object]], None] | None = None) -> None:
        self.dir = state_dir
        #: called with each record once it is durable (tests inject crashes here; the product passes none)
        self._after_append = after_append
        self.path = state_dir / "journal.jsonl"
        self.plan_id = plan_id
        self._seq = 0
        self._fh: BinaryIO | None = None
        self.records: list[dict[str, Any]] = []
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        with self.path.open("rb") as fh:
            for n, raw in enumerate(fh, 1):
                if not raw.endswith(b"\n"):
                    break  # torn last line from a crash mid-write: ignore it (it was never fsync'd whole)
                try:
                    rec = json.loads(raw)
                except json.JSONDecodeError:
                    raise PlanError(f"{self.path}: journal line {n} is corrupt") from None
                if rec.get("plan_id") != self.plan_id:
                    raise PlanError(f"{self.path}: journal belongs to plan {rec.get('plan_id')}, not {self.plan_id}")
                self.records.append(rec)
                self._seq = max(self._seq, int(rec.get("seq", 0)))

    def append(self, phase: str, action_id: str = "", kind: str = "", **extra: Any) -> dict[str, Any]:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._fh is None:
            self._truncate_torn_tail()
            self._fh = open(self.path, "ab")  # noqa: SIM115
        self._seq += 1
        rec: dict[str, Any] = {"v": JOURNAL_VERSION, "seq": self._seq,
                               "ts": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
                               "plan_id": self.plan_id, "action_id": action_id, "kind": kind, "phase": phase}
        rec.update({k: v for k, v in extra.items() if v not in (None, "", {})})
        try:
            self._fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True).encode() + b"\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except BaseException:
            # disk full, file size limit, I/O error: the record is not durable. Drop the handle (and whatever
            # it still buffers) so the next append reopens the file and cuts the torn line first.
            self.close()
            raise
        self.records.append(rec)
        if self._after_append is not None:
            self._after_append(rec)
        return rec

    def _truncate_torn_tail(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as fh:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())

    def close(self) -> None:
        """Close the file. Never raises: every record that matters was fsync'd by its own append."""
        fh, self._fh = self._fh, None
        if fh is not None:
            with contextlib.suppress(OSError):  # unflushed bytes of a failed append: never durable
                fh.close()

    def states(self) -> dict[str, ActionState]:
        out: dict[str, ActionState] = {}
        for r in self.records:
            aid = r.get("action_id")
            if not aid:
                continue
            st = out.setdefault(aid, ActionState())
            try:
                ph = st.phase = Phase(r["phase"])
            except ValueError:
                raise PlanError(f"{self.path}: journal record {r.get('seq')} has an unknown phase") from None
            if ph == Phase.INTENT:
                st.expect = dict(r.get("expect", {}))
                st.error = ""
            if ph == Phase.APPLIED:
                st.receipt = dict(r.get("receipt", {}))
            if ph == Phase.FAILED:
                st.error = str(r.get("error", ""))
        return out

    @property
    def finalized(self) -> bool:
        return (self.dir / "finalized").exists()


@contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Exclusive lock on the state directory; a second command on the same plan is refused."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fh = open(state_dir / "lock", "a+")  # noqa: SIM115
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read(32).strip()
            who = f"; held by pid {pid}" if pid.isdigit() else ""
            raise LockedError(f"another secrets-migrate command is running on this plan ({state_dir}{who})",
                              hint="wait for it to finish; the lock is released when that process exits") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        finally:
            fh.close()
