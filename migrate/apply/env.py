"""The effects an action implementation may use, passed explicitly: ``Env``.

An ``Env`` holds the plan and its journal, the stores, IAM, ECS clients per region, the value resolver
(files for file plans, source revisions for live plans), the optional rate limits and health checker,
a progress callback and a clock. The command layer builds one (``make_env``; live mode: ``migrate.live.runtime``);
tests build one against moto.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from migrate.apply.journal import Journal
from migrate.errors import ActionFailed
from migrate.model import SecretValue
from migrate.plan.actions import Action, PutParameter, StoreAction, ValueSource
from migrate.plan.model import Plan
from migrate.sources.base import read_source
from migrate.stores.aws import Aws
from migrate.stores.base import SecretStore
from migrate.stores.iam import Iam
from migrate.stores.secretsmanager import SecretsManagerStore
from migrate.stores.ssm import SsmStore

Progress = Callable[[str, Action], None]

#: an ECS client (botocore has no static types)
EcsClient = Any


class ValueResolver(Protocol):
    """Where a store entry's plaintext comes from at apply (and live verify) time."""

    def value_of(self, vs: ValueSource) -> SecretValue: ...


class Limiter(Protocol):
    """Client-side rate limits, one token bucket per AWS API family."""

    def acquire(self, family: str) -> float: ...


class HealthOutcome(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def seconds(self) -> float: ...


class HealthChecker(Protocol):
    def wait(self, ecs: EcsClient, *, cluster: str, service: str, task_definition: str,
             timeout: float) -> HealthOutcome: ...


class Lease(Protocol):
    """The run lease held while a command acts (``migrate.stores.lease.RunLease``)."""

    @property
    def lost(self) -> str: ...


class FileValues:
    """Values re-read from the source files named in the plan (file mode). Thread-safe, cached."""

    def __init__(self, root: str = "") -> None:
        self._root = root  #: plan paths are relative to it
        self._values: dict[str, SecretValue] = {}
        self._loaded: set[str] = set()
        self._lock = threading.Lock()

    def value_of(self, vs: ValueSource) -> SecretValue:
        from migrate.sources.registry import SOURCES

        with self._lock:
            if vs.key not in self._values and vs.definition not in self._loaded:
                src = SOURCES.get(vs.source)
                if src is None:
                    raise ActionFailed(f"unknown source kind {vs.source!r} in plan")
                loaded = src.load(read_source(Path(self._root) / vs.definition if self._root else Path(vs.definition),
                                              vs.definition_display or vs.definition))
                for e in loaded.entries:
                    if e.value is not None:
                        self._values[e.key] = e.value
                self._loaded.add(vs.definition)
            v = self._values.get(vs.key)
        if v is None:
            raise ActionFailed(f"{vs.display}: {vs.unit}.{vs.name} is no longer in the file", hint="re-run plan")
        return v


class EcsClients:
    """ECS clients per region, built on the same credentials as ``aws``."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws
        self._regional: dict[str, Aws] = {}
        self._lock = threading.Lock()

    def __call__(self, region: str = "") -> EcsClient:
        if not region or region == self._aws.region_name:
            return self._aws.client("ecs")
        with self._lock:
            aws = self._regional.get(region)
            if aws is None:
                aws = self._regional[region] = self._aws.for_region(region)
        return aws.client("ecs")


@dataclass
class Env:
    """Everything an action implementation touches. Mutable only in ``progress`` (set by the CLI)."""

    plan: Plan
    journal: Journal
    aws: Aws
    ssm: SecretStore
    sm: SecretStore
    iam: Iam
    values: ValueResolver
    ecs: Callable[[str], EcsClient]
    limits: Limiter | None = None
    health: HealthChecker | None = None
    health_timeout: float | None = None
    progress: Progress | None = field(default=None, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)  #: seconds, for durations
    plan_ref: str = "PLAN"  #: how the user names the plan, for the commands a failure message gives
    lease: Lease | None = field(default=None, repr=False)  #: the run lease, when a command holds one

    def store_for(self, a: StoreAction) -> SecretStore:
        return self.ssm if isinstance(a, PutParameter) else self.sm

    def value_of(self, vs: ValueSource) -> SecretValue:
        return self.values.value_of(vs)

    def payload(self, a: StoreAction) -> SecretValue:
        """The value a store action writes: one value, or a JSON object of several."""
        if not isinstance(a, PutParameter) and a.is_json:
            doc = {v.json_key: self.value_of(v).reveal() for v in a.values}
            return SecretValue(json.dumps(doc, sort_keys=True))
        return self.value_of(a.values[0])

    def arn_of(self, action_id: str) -> str:
        """The ARN a store action (or a registered revision) recorded in its receipt."""
        st = self.journal.states().get(action_id)
        if st is None or "arn" not in st.receipt:
            raise ActionFailed(f"no ARN recorded for {action_id}; its store entry was not created")
        return str(st.receipt["arn"])

    def limit(self, family: str) -> None:
        if self.limits is not None:
            self.limits.acquire(family)


def make_env(*, plan: Plan, journal: Journal, aws: Aws, ssm: SecretStore | None = None,
             sm: SecretStore | None = None, values: ValueResolver | None = None,
             progress: Progress | None = None) -> Env:
    """A file-mode ``Env``: real AWS stores and values from the files, unless given. (Live: ``live_env``.)"""
    return Env(plan=plan, journal=journal, aws=aws, ssm=ssm or SsmStore(aws), sm=sm or SecretsManagerStore(aws),
               iam=Iam(aws), values=values or FileValues(plan.root), ecs=EcsClients(aws), progress=progress)


#: the former name, kept for callers that build one by keyword
Runtime = make_env
