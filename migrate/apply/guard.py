"""One runner per plan: the local locks and the run lease at the target, taken before the first side effect.

Three layers, all keyed on what identifies the run, not on a path:

1. ``journal.locked(state_dir)``: the plan file's state directory (same path, same machine);
2. ``plan_locked(plan_id)``: a per-user lock keyed on the plan id, so a copy or a symlink of the plan
   (another folder, a second checkout) on the same machine is refused at once, before any AWS call;
3. ``RunLease``: ``/secrets-migrate/locks/<plan-id>`` in SSM where the side effects go, so a second
   runner on another machine (or another user) is refused too, naming the holder and since when.

The second runner exits 4 before it writes a single journal record, so its journal never claims anything.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from migrate.apply.env import Env
from migrate.errors import LockedError
from migrate.stores.lease import RunLease

_SAFE = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def _lock_dir() -> Path | None:
    d = Path(tempfile.gettempdir()) / f"secrets-migrate-{os.geteuid()}" / "locks"
    try:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = os.lstat(d)
    except OSError:
        return None
    if st.st_uid != os.geteuid() or st.st_mode & 0o022 or not os.path.isdir(d) or os.path.islink(d):
        return None  # not private to us: skip this layer (the lease at the target still guards)
    return d


@contextmanager
def plan_locked(plan_id: str, plan_ref: str = "") -> Iterator[None]:
    """Exclusive per-user lock on ``plan_id`` on this machine (a no-op when no private lock directory exists)."""
    d = _lock_dir()
    if d is None or not _SAFE.fullmatch(plan_id):
        yield
        return
    path = d / f"{plan_id}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip().replace("\n", " ")
            raise LockedError(f"another secrets-migrate command is running on plan {plan_id} on this machine "
                              f"(a copy or a link of this plan file: {holder or 'unknown holder'})",
                              hint="wait for it to finish; the lock is released when that process exits") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} {plan_ref}\n".encode(), 0)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


@contextmanager
def run_guard(env: Env, plan_path: Path) -> Iterator[RunLease]:
    """Hold the plan-id lock and the run lease for the duration of a command that changes things."""
    env.plan_ref = str(plan_path)
    with plan_locked(env.plan.id, str(plan_path)):
        lease = RunLease(env.aws, env.plan.id, plan_ref=str(plan_path))
        lease.acquire()
        env.lease = lease
        try:
            yield lease
        finally:
            env.lease = None
            lease.release()
