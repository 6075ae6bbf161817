"""Client-side token buckets, one per AWS API family, so throttling rarely reaches botocore's retries.

Defaults are the documented quotas (issue 4). ``scale`` multiplies every rate (benchmarks run scaled
quotas against a local endpoint that enforces them). One ``RateLimits`` per account and run: its buckets are
shared by every thread, and a throttled response seen by any of them (botocore ``needs-retry`` hook,
:meth:`RateLimits.observe`) charges the family's bucket once, so throttling costs time in proportion to what
AWS refused instead of every thread backing off on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from migrate.model import SecretValue
from migrate.stores.base import SecretStore, StoredEntry

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

    # -- throttling seen by botocore: shared across every thread (and client) of this account ------------
    def refused(self, family: str) -> None:
        with self._refusal_lock:
            self.refusals[family] = self.refusals.get(family, 0) + 1
        b = self._buckets.get(family)
        if b is not None:
            b.refused()

    def _on_retry(self, response: Any = None, operation: Any = None, **_kw: Any) -> None:
        """botocore ``needs-retry`` hook: a throttled response charges the operation's family. Never changes
        botocore's decision (returns None)."""
        if not response or operation is None:
            return
        parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else {}
        code = str(((parsed or {}).get("Error") or {}).get("Code", ""))
        if code not in THROTTLE_CODES:
            return
        family = family_of(str(operation.service_model.service_name), str(operation.name))
        if family:
            self.refused(family)

    def observe(self, client: Any) -> Any:
        """Charge this client's throttled calls to the shared buckets (idempotent per client)."""
        events = getattr(getattr(client, "meta", None), "events", None)
        if events is not None:  # unique_id: registering twice for the same limits is a no-op in botocore
            events.register("needs-retry", self._on_retry, unique_id=f"secrets-migrate-limits-{id(self)}")
        return client

    def observing(self, factory: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
        """A client factory whose clients report throttling here (for ``AwsContext.client_factory``)."""
        def make(aws: Any, service: str) -> Any:
            return self.observe(factory(aws, service))
        return make


THROTTLE_CODES = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
                            "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException"})
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
