"""Client-side token buckets, one per AWS API family, so calls go no faster than AWS's quotas allow.

Defaults are the documented quotas (issue 4). ``scale`` multiplies every rate (benchmarks run scaled
quotas against a local endpoint that enforces them). One ``RateLimits`` per account and run: its buckets are
shared by every thread. It is the account context's throttle pacer (:meth:`RateLimits.attach`): when AWS
throttles a call anyway, the context's ``ThrottleRetry`` (``migrate.stores.aws``) asks :meth:`RateLimits.throttled`
for the retry's slot, which charges the family's bucket once per refusal whichever thread saw it, so
throttling costs time in proportion to what AWS refused instead of every thread backing off on its own
(botocore's per-client backoff never sees a throttle).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from migrate.model import SecretValue
from migrate.stores.aws import THROTTLE_CODES, AwsContext
from migrate.stores.base import SecretStore, StoredEntry

__all__ = ["DEFAULT_QUOTAS", "THROTTLE_CODES", "LimitedStore", "RateLimits", "TokenBucket", "family_of"]

#: family -> (sustained requests per second, burst)
DEFAULT_QUOTAS: dict[str, tuple[float, float]] = {
    "ecs.RegisterTaskDefinition": (1.0, 20.0),
    "ecs.UpdateService": (5.0, 5.0),
    "ecs.DescribeTaskDefinition": (20.0, 20.0),
    "ecs.DescribeServices": (20.0, 20.0),
    "ecs.DeregisterTaskDefinition": (1.0, 20.0),
    "ecs.DeleteTaskDefinitions": (1.0, 1.0),
    "ssm.PutParameter": (3.0, 3.0),
    "secretsmanager.write": (50.0, 50.0),
}


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked. ``acquire`` blocks until a token is free."""

    def __init__(self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> float:
        """Take one token; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def refused(self) -> None:
        """AWS throttled a call of this family: the call's token is spent again, so every thread's next
        acquire waits one slot more (the time lost is one slot per refusal, whichever thread saw it)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate) - 1.0
            self._last = now


@dataclass
class RateLimits:
    """Buckets by API family. Unknown families are not limited."""

    quotas: Mapping[str, tuple[float, float]]
    scale: float = 1.0

    def __post_init__(self) -> None:
        self._buckets = {k: TokenBucket(r * self.scale, max(1.0, b)) for k, (r, b) in self.quotas.items()}
        self.refusals: dict[str, int] = {}  #: family -> throttled responses seen (any thread, any client)
        self._refusal_lock = threading.Lock()

    @classmethod
    def defaults(cls, overrides: Mapping[str, tuple[float, float]] | None = None, scale: float = 1.0) -> RateLimits:
        q = dict(DEFAULT_QUOTAS)
        q.update(overrides or {})
        return cls(q, scale)

    @classmethod
    def unlimited(cls) -> RateLimits:
        return cls({})

    def acquire(self, family: str) -> float:
        b = self._buckets.get(family)
        return b.acquire() if b is not None else 0.0

    def waited(self) -> dict[str, float]:
        return {k: round(b.waited, 3) for k, b in self._buckets.items() if b.waited}

    # -- throttling: the pacer of the account context's ThrottleRetry -------------------------------------
    def throttled(self, service: str, operation: str) -> float | None:
        """AWS refused a call of ``service``/``operation`` (any thread, any client of the account): count it and,
        when its family has a bucket, take the retry's slot there (blocking). The seconds waited, or None when
        the family is not paced here (the throttle retry then waits its own short jittered step)."""
        family = family_of(service, operation)
        if not family:
            return None
        with self._refusal_lock:
            self.refusals[family] = self.refusals.get(family, 0) + 1
        b = self._buckets.get(family)
        return b.acquire() if b is not None else None

    def attach(self, aws: AwsContext) -> AwsContext:
        """Pace the throttled calls of every client of ``aws`` (and of its ``for_region`` contexts) here."""
        aws.throttle.pacer = self
        return aws


_SM_WRITES = frozenset({"CreateSecret", "PutSecretValue", "UpdateSecret", "DeleteSecret", "RestoreSecret", "TagResource"})


def family_of(service: str, operation: str) -> str:
    """The rate family of a botocore (service, operation), "" when the tool does not pace it."""
    if service == "secretsmanager":
        return "secretsmanager.write" if operation in _SM_WRITES else ""
    family = f"{service}.{operation}"
    return family if family in DEFAULT_QUOTAS else ""


class LimitedStore:
    """A SecretStore whose writes go through a bucket (reads are not limited here)."""

    def __init__(self, inner: SecretStore, limits: RateLimits, family: str) -> None:
        self._inner = inner
        self._limits = limits
        self._family = family
        self.kind = inner.kind

    def lookup(self, name: str) -> StoredEntry | None:
        return self._inner.lookup(name)

    def read(self, name_or_arn: str) -> SecretValue | None:
        return self._inner.read(name_or_arn)

    def create(self, name: str, value: SecretValue, *, tags: dict[str, str], kms_key: str | None,
               tier: str | None, token: str) -> StoredEntry:
        self._limits.acquire(self._family)
        return self._inner.create(name, value, tags=tags, kms_key=kms_key, tier=tier, token=token)

    def delete(self, name: str) -> bool:
        self._limits.acquire(self._family)
        return self._inner.delete(name)
