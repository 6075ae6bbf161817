"""The ``Env`` of a live run: values re-read from the (immutable) source revisions instead of files, ECS
clients per region, rate-limited store writes, a health checker, and a journal safe across threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from migrate.apply.env import EcsClient, EcsClients, Env, FileValues, HealthChecker, Progress, ValueResolver
from migrate.apply.journal import ActionState, Journal
from migrate.arn import region_of
from migrate.errors import ActionFailed
from migrate.live.ratelimit import LimitedStore, RateLimits
from migrate.live.source import KIND, describe_revision, values_of
from migrate.model import SecretValue
from migrate.plan.actions import ValueSource
from migrate.plan.model import Plan
from migrate.stores.aws import Aws
from migrate.stores.iam import Iam
from migrate.stores.secretsmanager import SecretsManagerStore
from migrate.stores.ssm import SsmStore


class LockedJournal(Journal):
    """Journal whose appends and reads are serialized (waves run services on threads)."""

    def __init__(self, state_dir: Path, plan_id: str) -> None:
        self._lock = threading.RLock()
        super().__init__(state_dir, plan_id)

    def append(self, phase: str, action_id: str = "", kind: str = "", **extra: Any) -> dict[str, Any]:
        with self._lock:
            return super().append(phase, action_id, kind, **extra)

    def states(self) -> dict[str, ActionState]:
        with self._lock:
            return super().states()


class RevisionValues:
    """Values re-read from the source task-definition revisions (live mode); other sources from files."""

    def __init__(self, ecs: Callable[[str], EcsClient], limits: RateLimits | None = None,
                 fallback: ValueResolver | None = None) -> None:
        self._ecs = ecs
        self._limits = limits
        self._fallback = fallback or FileValues()
        self._values: dict[str, SecretValue] = {}
        self._loaded: set[str] = set()
        self._lock = threading.Lock()

    def value_of(self, vs: ValueSource) -> SecretValue:
        if vs.source != KIND:
            return self._fallback.value_of(vs)
        with self._lock:
            if vs.key not in self._values and vs.definition not in self._loaded:
                rev = describe_revision(self._ecs(region_of(vs.definition)), vs.definition, limits=self._limits)
                self._values.update(values_of(rev))
                self._loaded.add(vs.definition)
            v = self._values.get(vs.key)
        if v is None:
            raise ActionFailed(f"{vs.display}: {vs.unit}.{vs.name} is not in that revision any more", hint="re-run plan")
        return v


def live_env(*, plan: Plan, journal: Journal, aws: Aws, health: HealthChecker | None = None,
             limits: RateLimits | None = None, health_timeout: float | None = None,
             progress: Progress | None = None) -> Env:
    """The Env of a live run. Without ``health`` deployments are watched through DescribeServices."""
    from migrate.live.health import EcsHealthChecker

    if limits is not None:
        # throttled calls on any thread are retried in the shared buckets of this account (issue 15 §5)
        limits.attach(aws)
    ecs = EcsClients(aws)
    ssm = SsmStore(aws)
    sm = SecretsManagerStore(aws)
    return Env(plan=plan, journal=journal, aws=aws,
               ssm=LimitedStore(ssm, limits, "ssm.PutParameter") if limits is not None else ssm,
               sm=LimitedStore(sm, limits, "secretsmanager.write") if limits is not None else sm,
               iam=Iam(aws), values=RevisionValues(ecs, limits), ecs=ecs, limits=limits,
               health=health if health is not None else EcsHealthChecker(),
               health_timeout=health_timeout, progress=progress)


#: the former name (benchmarks/batch_bench.py builds one by keyword with health and limits)
LiveRuntime = live_env
