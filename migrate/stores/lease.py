"""The run lease: one runner per plan, held where the side effects go (not beside the plan file).

A lease is the SSM ``String`` parameter ``/secrets-migrate/locks/<plan-id>`` in the account and region of
the run, created with ``PutParameter(Overwrite=False)`` (create-if-absent: AWS decides who wins). Its value is
a small JSON document ``{"run_id", "holder", "host", "pid", "since", "heartbeat"}``; never a secret.

* ``acquire`` creates it, or refuses (``LockedError``, exit 4) naming who holds it and since when. A lease
  whose holder is this host and whose process is gone is provably abandoned and taken over; any other
  lease, stale or not, is broken only by ``secrets-migrate force-unlock PLAN LOCK_ID`` (Terraform style).
* a heartbeat thread rewrites ``heartbeat`` every ``HEARTBEAT_SECONDS`` while it still holds our run id;
  a lease whose heartbeat is older than ``STALE_SECONDS`` is reported as stale (force-unlock is safe).
* ``release`` deletes it only while it still holds our run id.

Needs ``ssm:PutParameter``, ``ssm:GetParameter`` and ``ssm:DeleteParameter`` on
``arn:aws:ssm:*:*:parameter/secrets-migrate/locks/*``; without them the run is refused before any change.
With ``ssm:GetParameterHistory`` too, a heartbeat that raced a force-unlock and a new holder (SSM has no
compare-and-swap) notices it replaced the other run's lease, puts that lease back and gives its own up.
"""

from __future__ import annotations

import datetime as _dt
import errno
import getpass
import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from migrate.errors import LockedError, StoreError
from migrate.stores.aws import AwsContext, error_code, safe_aws_message

LOCK_PREFIX = "/secrets-migrate/locks/"
HEARTBEAT_SECONDS = 60.0
STALE_SECONDS = 600.0


def lock_name(plan_id: str) -> str:
    return LOCK_PREFIX + plan_id


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def machine_id() -> str:
    """This machine as the lease knows it: hostname plus boot id, so two machines (or containers) that
    share a hostname are never taken for one, and a pid is only ever checked on the boot that wrote it."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            boot = fh.read().strip()
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}" if boot else socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM
    return True


@dataclass(frozen=True)
class LeaseInfo:
    run_id: str
    holder: str
    host: str
    pid: int
    since: str
    heartbeat: str
    machine: str = ""  #: ``machine_id()`` of the holder; empty in leases written before it existed

    @classmethod
    def parse(cls, text: str) -> LeaseInfo:
        try:
            d = json.loads(text)
            return cls(run_id=str(d["run_id"]), holder=str(d.get("holder", "?")), host=str(d.get("host", "?")),
                       pid=int(d.get("pid", 0)), since=str(d.get("since", "?")),
                       heartbeat=str(d.get("heartbeat", d.get("since", "?"))), machine=str(d.get("machine", "")))
        except (ValueError, KeyError, TypeError):
            return cls(run_id="?", holder="?", host="?", pid=0, since="?", heartbeat="?")

    def to_json(self) -> str:
        return json.dumps({"run_id": self.run_id, "holder": self.holder, "host": self.host, "pid": self.pid,
                           "since": self.since, "heartbeat": self.heartbeat, "machine": self.machine}, sort_keys=True)

    def age(self) -> float | None:
        """Seconds since the last heartbeat, or None when unknown."""
        try:
            t = _dt.datetime.fromisoformat(self.heartbeat)
        except ValueError:
            return None
        return (_dt.datetime.now(_dt.UTC) - t).total_seconds()

    @property
    def stale(self) -> bool:
        a = self.age()
        return a is not None and a > STALE_SECONDS

    @property
    def abandoned(self) -> bool:
        """Provably dead: held by a process of this machine (hostname and boot id) that no longer exists.
        A lease without a machine id, or from another machine with the same hostname, is never taken over."""
        return bool(self.machine) and self.machine == machine_id() and self.pid > 0 and not _pid_alive(self.pid)

    def describe(self) -> str:
        return f"{self.holder}@{self.host} pid {self.pid} since {self.since} (lock id {self.run_id})"


class RunLease:
    """The lease of one run on one plan. Use as a context manager, or ``acquire``/``release``."""

    def __init__(self, aws: AwsContext, plan_id: str, *, plan_ref: str = "PLAN", run_id: str | None = None,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        self.aws = aws
        self.name = lock_name(plan_id)
        self.plan_ref = plan_ref
        self.run_id = run_id or uuid.uuid4().hex
        self._interval = heartbeat_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.held = False
        self.lost = ""  #: why the heartbeat found the lease gone or taken, if it did
        try:
            holder = getpass.getuser()
        except (KeyError, OSError):
            holder = str(os.getuid())
        self.info = LeaseInfo(run_id=self.run_id, holder=holder, host=socket.gethostname(), pid=os.getpid(),
                              since=_now(), heartbeat=_now(), machine=machine_id())

    @property
    def _c(self) -> Any:
        return self.aws.client("ssm")

    # -- reading ----------------------------------------------------------------------------------
    def current(self) -> LeaseInfo | None:
        try:
            p = self._c.get_parameter(Name=self.name)["Parameter"]
        except ClientError as e:
            if error_code(e) == "ParameterNotFound":
                return None
            raise StoreError(f"cannot read the run lock {self.name} ({safe_aws_message(e)})",
                             hint="the run lock needs ssm:GetParameter on parameter/secrets-migrate/locks/*") from None
        return LeaseInfo.parse(str(p.get("Value", "")))

    # -- acquiring --------------------------------------------------------------------------------
    def _put(self, *, overwrite: bool) -> int:
        """Write our lease document; the parameter version written."""
        return int(self._c.put_parameter(Name=self.name, Value=self.info.to_json(), Type="String", Overwrite=overwrite,
                              Description="secrets-migrate run lock (no secret)").get("Version", 0))

    def acquire(self) -> None:
        for _ in range(3):
            try:
                self._put(overwrite=False)
                self.held = True
                break
            except ClientError as e:
                if error_code(e) != "ParameterAlreadyExists":
                    raise StoreError(f"cannot take the run lock {self.name} ({safe_aws_message(e)}); nothing was changed",
                                     hint="the run lock needs ssm:PutParameter, ssm:GetParameter and "
                                          "ssm:DeleteParameter on parameter/secrets-migrate/locks/*") from None
            other = self.current()
            if other is None:
                continue  # released in between: try again
            if other.run_id == self.run_id:
                self.held = True
                break
            if other.abandoned:
                # its process is gone (same host): take it over, but only if it still names that run
                if self._take_over(other):
                    self.held = True
                    break
                continue
            state = f"stale: no heartbeat for more than {int(STALE_SECONDS // 60)} min" if other.stale \
                else "last heartbeat " + other.heartbeat
            raise LockedError(f"another secrets-migrate run holds this plan's lock {self.name}: {other.describe()}; {state}",
                              hint="wait for it to finish; if that run is dead, "
                                   f"`secrets-migrate force-unlock {self.plan_ref} {other.run_id}`")
        if not self.held:
            raise LockedError(f"could not take the run lock {self.name} (it keeps changing hands)",
                              hint="another run is starting on this plan; wait and try again")
        self._thread = threading.Thread(target=self._beat, name="secrets-migrate-lease", daemon=True)
        self._thread.start()

    def _take_over(self, other: LeaseInfo) -> bool:
        again = self.current()
        if again is None or again.run_id != other.run_id:
            return False
        try:
            self._put(overwrite=True)
        except ClientError as e:
            raise StoreError(f"cannot take over the abandoned run lock {self.name} ({safe_aws_message(e)})") from None
        now = self.current()
        return now is not None and now.run_id == self.run_id

    # -- heartbeat ---------------------------------------------------------------------------------
    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.heartbeat()
            except (ClientError, BotoCoreError, StoreError):
                continue  # a missed beat is not fatal: the lease only turns stale after STALE_SECONDS

    def heartbeat(self) -> bool:
        """Refresh the heartbeat while the lease still names this run. False when it was lost."""
        cur = self.current()
        if cur is None or cur.run_id != self.run_id:
            self.lost = "the run lock was removed" if cur is None else f"the run lock was taken by {cur.describe()}"
            return False
        self.info = LeaseInfo(**{**self.info.__dict__, "heartbeat": _now()})
        written = self._put(overwrite=True)
        clobbered = self._clobbered_before(written)
        if clobbered is not None:
            # between our read and our write the lease was broken and taken by another run: our write replaced
            # that run's lease. Put its own document back and give the lease up (never keep a lease by accident).
            self._c.put_parameter(Name=self.name, Value=clobbered.to_json(), Type="String", Overwrite=True,
                                  Description="secrets-migrate run lock (no secret)")
            self.lost = f"the run lock was taken by {clobbered.describe()}"
            self.held = False
            return False
        return True

    def _clobbered_before(self, written: int) -> LeaseInfo | None:
        """The other run's lease our heartbeat write at version ``written`` replaced, if it replaced one.

        SSM has no compare-and-swap, so the heartbeat's read-then-write has a window; the parameter's history
        closes it after the fact: the version just before ours must still be one of ours.
        """
        if written <= 1:
            return None  # the lease was deleted and we re-created it: nobody else's document was replaced
        try:
            pages = self._c.get_paginator("get_parameter_history").paginate(Name=self.name)
            prev = [h for page in pages for h in page.get("Parameters", []) if int(h.get("Version", 0)) == written - 1]
        except (ClientError, BotoCoreError):
            return None  # no ssm:GetParameterHistory: the window stays as small as the read-write gap
        if not prev:
            return None
        before = LeaseInfo.parse(str(prev[0].get("Value", "")))
        return None if before.run_id == self.run_id else before

    # -- releasing ---------------------------------------------------------------------------------
    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if not self.held:
            return
        self.held = False
        try:
            cur = self.current()
            if cur is not None and cur.run_id == self.run_id:
                self._c.delete_parameter(Name=self.name)
        except (ClientError, BotoCoreError, StoreError):
            pass  # the lease stays; its heartbeat stops, so it turns stale and force-unlock can break it

    def __enter__(self) -> RunLease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def force_unlock(aws: AwsContext, plan_id: str, lock_id: str) -> LeaseInfo:
    """Break the lease of ``plan_id`` if it holds ``lock_id``. Returns what was removed."""
    lease = RunLease(aws, plan_id)
    cur = lease.current()
    if cur is None:
        raise LockedError(f"no run lock is held for plan {plan_id}")
    if cur.run_id != lock_id:
        raise LockedError(f"the run lock of plan {plan_id} holds lock id {cur.run_id}, not {lock_id}; nothing removed",
                          hint="pass the lock id the refusal named")
    try:
        lease._c.delete_parameter(Name=lease.name)
    except ClientError as e:
        raise StoreError(f"cannot remove the run lock {lease.name} ({safe_aws_message(e)})") from None
    return cur
