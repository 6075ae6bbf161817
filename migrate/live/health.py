"""Deployment health: did the service roll out the new revision?

The real checker polls DescribeServices: healthy means the PRIMARY deployment runs the new revision,
its ``rolloutState`` is COMPLETED and running == desired. (The ``services_stable`` waiter alone can
report success after a circuit-breaker rollback, facts §5.) moto runs no deployments, so tests and the
sandbox use :class:`ScriptedHealth`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from migrate.arn import same_resource, short

C = TypeVar("C")

COMPLETED = "COMPLETED"
FAILED = "FAILED"
TIMEOUT = "TIMEOUT"


@dataclass(frozen=True)
class HealthResult:
    state: str  #: COMPLETED | FAILED | TIMEOUT
    reason: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state == COMPLETED


class HealthChecker(Protocol):
    def wait(self, ecs: Any, *, cluster: str, service: str, task_definition: str, timeout: float) -> HealthResult:
        ...


def _same_td(a: str, b: str) -> bool:
    """ARNs or ``family:rev`` forms (moto stores what it is given)."""
    return same_resource(a, b)


def judge(svc: Mapping[str, Any], task_definition: str) -> tuple[str | None, str]:
    """(COMPLETED | FAILED | None while in progress, reason) from one DescribeServices service."""
    deps = svc.get("deployments") or []
    # real ECS keeps a failed deployment ACTIVE (rolloutState FAILED) while the circuit breaker rolls back:
    # that is the reason to report, before the primary (the old revision again) says anything
    failed = next((d for d in deps if d.get("rolloutState") == FAILED
                   and _same_td(str(d.get("taskDefinition", "")), task_definition)), None)
    if failed is not None:
        return FAILED, f"rollout failed: {str(failed.get('rolloutStateReason', ''))[:120]}"
    primary = next((d for d in deps if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return None, "no primary deployment yet"
    if not _same_td(str(primary.get("taskDefinition", "")), task_definition):
        if any(_same_td(str(d.get("taskDefinition", "")), task_definition) for d in deps):
            return None, "new deployment not primary yet"
        return FAILED, "the primary deployment runs another revision (circuit breaker rolled back?)"
    state = primary.get("rolloutState")
    if state == COMPLETED and primary.get("runningCount") == primary.get("desiredCount"):
        return COMPLETED, ""
    return None, f"rollout {state or 'IN_PROGRESS'}"


STOPPED_REASON_CHARS = 600


def stopped_reason(ecs: Any, cluster: str, svc: Mapping[str, Any], task_definition: str) -> str:
    """The ``stoppedReason`` of a stopped task of the failed deployment (the agent's own words: the real cause
    behind "circuit breaker: tasks failed to start"). Best effort: "" when none can be read. The reason names
    ARNs and error codes, never a value."""
    deps = [d for d in svc.get("deployments") or [] if _same_td(str(d.get("taskDefinition", "")), task_definition)]
    try:
        for dep in deps:
            arns = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED", startedBy=str(dep.get("id", ""))).get("taskArns")
            if not arns:
                continue
            for t in ecs.describe_tasks(cluster=cluster, tasks=arns[:10]).get("tasks") or []:
                if t.get("stoppedReason"):
                    return str(t["stoppedReason"])[:STOPPED_REASON_CHARS]
    except Exception:  # noqa: BLE001 - the reason is a courtesy: the verdict FAILED stands without it
        return ""
    return ""


@dataclass
class EcsHealthChecker:
    """Polls DescribeServices until the rollout completes, fails, or ``timeout`` passes."""

    interval: float = 15.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    before_call: Callable[[], object] = lambda: None

    def wait(self, ecs: Any, *, cluster: str, service: str, task_definition: str, timeout: float) -> HealthResult:
        start = self.clock()
        reason = ""
        while True:
            self.before_call()
            svcs = ecs.describe_services(cluster=cluster, services=[service]).get("services") or []
            if not svcs:
                return HealthResult(FAILED, "service not found", self.clock() - start)
            verdict, reason = judge(svcs[0], task_definition)
            if verdict == FAILED:
                why = stopped_reason(ecs, cluster, svcs[0], task_definition)
                return HealthResult(FAILED, f"{reason}; a task stopped: {why}" if why else reason, self.clock() - start)
            if verdict is not None:
                return HealthResult(verdict, reason, self.clock() - start)
            if self.clock() - start >= timeout:
                return HealthResult(TIMEOUT, f"not healthy after {timeout:g}s ({reason})", self.clock() - start)
            self.sleep(self.interval)


@dataclass
class ScriptedHealth:
    """Outcome per service name (or ``cluster/service``): COMPLETED, FAILED or TIMEOUT; default COMPLETED.

    Used by tests and by ``--health scripted`` in the sandbox, where moto runs no deployments.
    """

    outcomes: Mapping[str, str] = field(default_factory=dict)
    default: str = COMPLETED
    delay: float = 0.0
    calls: list[str] = field(default_factory=list)
    sleep: Callable[[float], None] = time.sleep

    def wait(self, ecs: Any, *, cluster: str, service: str, task_definition: str, timeout: float) -> HealthResult:
        cname = short(cluster)
        self.calls.append(f"{cname}/{service}")
        if self.delay:
            self.sleep(self.delay)
        state = self.outcomes.get(f"{cname}/{service}", self.outcomes.get(service, self.default))
        if state == COMPLETED:
            # the real checker would see this revision as primary: check the service points at it
            svc = (ecs.describe_services(cluster=cluster, services=[service]).get("services") or [{}])[0]
            if not _same_td(str(svc.get("taskDefinition", "")), task_definition):
                return HealthResult(FAILED, "service does not run the new revision", self.delay)
            return HealthResult(COMPLETED, "", self.delay)
        if state == TIMEOUT:
            return HealthResult(TIMEOUT, f"not healthy after {timeout:g}s (scripted)", self.delay)
        return HealthResult(FAILED, "deployment failed (scripted)", self.delay)


def with_sleep(checker: C, sleep: Callable[[float], None]) -> C:
    """``checker`` waiting through ``sleep`` (a live run's interruptible sleep, which raises to end the wait).
    A checker of another kind is returned as is: an interrupt then waits for its verdict."""
    if isinstance(checker, (EcsHealthChecker, ScriptedHealth)):
        return dataclasses.replace(checker, sleep=sleep)
    return checker
