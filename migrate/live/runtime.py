"""LiveRuntime: the file-mode Runtime plus ECS clients per region, rate limits, a health checker, and
values re-read from the (immutable) source revisions instead of files. A journal safe across threads."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from migrate.apply.executor import Runtime
from migrate.apply.journal import Journal
from migrate.errors import ActionFailed
from migrate.live import actions as _actions  # noqa: F401  (registers the live kinds)
from migrate.live.ratelimit import LimitedStore, RateLimits
from migrate.live.source import KIND, describe_revision, values_of
from migrate.model import SecretValue
from migrate.plan.actions import ValueSource
from migrate.stores.aws import Aws


class LockedJournal(Journal):
    """Journal whose appends and reads are serialized (waves run services on threads)."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        self._lock = threading.RLock()
        super().__init__(*a, **kw)

    def append(self, *a: Any, **kw: Any) -> dict[str, Any]:
        with self._lock:
            return super().append(*a, **kw)

    def states(self) -> dict[str, Any]:
        with self._lock:
            return super().states()


@dataclass
class LiveRuntime(Runtime):
    health: Any = None
    limits: RateLimits | None = None
    health_timeout: float | None = None
    _regional: dict[str, Aws] = field(default_factory=dict, repr=False)
    _vlock: Any = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.limits is not None and not isinstance(self.ssm, LimitedStore):
            self.ssm = LimitedStore(self.ssm, self.limits, "ssm.PutParameter")
            self.sm = LimitedStore(self.sm, self.limits, "secretsmanager.write")

    def ecs(self, region: str = "") -> Any:
        if not region or region == self.aws.region_name:
            return self.aws.client("ecs")
        aws = self._regional.get(region)
        if aws is None:
            aws = self._regional[region] = self.aws.for_region(region)
        return aws.client("ecs")

    def value_of(self, vs: ValueSource) -> SecretValue:
        if vs.source != KIND:
            return super().value_of(vs)
        with self._vlock:
            if vs.key not in self._values and vs.definition not in self._loaded:
                rev = describe_revision(self.ecs(vs.definition.split(":")[3]), vs.definition, limits=self.limits)
                self._values.update(values_of(rev))
                self._loaded.add(vs.definition)
        v = self._values.get(vs.key)
        if v is None:
            raise ActionFailed(f"{vs.display}: {vs.unit}.{vs.name} is not in that revision any more", hint="re-run plan")
        return v
