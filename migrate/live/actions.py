"""Live ECS action kinds (inert data) and their executors, registered into the apply registry.

Per task-definition family: store entries -> grant -> ``RegisterRevision``; per service using it:
``UpdateService`` -> ``WaitHealthy``. Reverts: service back to the ARN it ran before, new revision
deregistered. The old revision stays ACTIVE until ``finalize`` (:func:`finalize_live`), so a rollback
never needs the plaintext again.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from migrate.apply.registry import APPLIERS, FINALIZERS, REVERTERS
from migrate.errors import ActionFailed, PreconditionFailed
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS
from migrate.plan.actions import Action, Category, register_action
from migrate.sources.ecs_taskdef import register_input
from migrate.stores.aws import safe_aws_message
from migrate.stores.base import TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_PLAN_ID

TAG_ACTION = "secrets-migrate:action"


def _short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


@register_action
@dataclass(frozen=True)
class RegisterRevision(Action):
    """Register a new revision of ``family``: the source revision with the moved values as references."""

    kind: ClassVar[str] = "ecs.register-task-definition"
    category: ClassVar[Category] = Category.CREATE
    family: str = ""
    source_arn: str = ""  #: the revision services run now (stays ACTIVE until finalize)
    region: str = ""
    #: {"container": index, "location": environment|logConfiguration.options, "name", "store_id", "json_key"}
    moves: tuple[dict[str, Any], ...] = ()
    store_ids: tuple[str, ...] = ()
    policy_ids: tuple[str, ...] = ()
    execution_role: str = ""  #: set on the new revision when the source names none
    services: tuple[str, ...] = ()  #: cluster/service updated to it
    register_only: tuple[str, ...] = ()  #: CODE_DEPLOY / EXTERNAL services: revision registered, no UpdateService

    def describe(self) -> str:
        extra = f"; {len(self.register_only)} service(s) deploy it themselves (CODE_DEPLOY/EXTERNAL)" if self.register_only else ""
        return (f"Register {self.family} revision from {_short(self.source_arn)} with {len(self.moves)} value(s) "
                f"as secrets (old revision stays ACTIVE until finalize){extra}")


@register_action
@dataclass(frozen=True)
class UpdateService(Action):
    kind: ClassVar[str] = "ecs.update-service"
    category: ClassVar[Category] = Category.REWRITE
    cluster: str = ""  #: cluster ARN
    service: str = ""
    region: str = ""
    register_id: str = ""
    previous: str = ""  #: revision ARN at plan time

    def describe(self) -> str:
        return f"Update service {_short(self.cluster)}/{self.service} from {_short(self.previous)} to the new revision"


@register_action
@dataclass(frozen=True)
class WaitHealthy(Action):
    kind: ClassVar[str] = "ecs.wait-healthy"
    category: ClassVar[Category] = Category.REWRITE
    cluster: str = ""
    service: str = ""
    region: str = ""
    update_id: str = ""
    register_id: str = ""
    timeout: float = 600.0

    def describe(self) -> str:
        return (f"Wait until {_short(self.cluster)}/{self.service} runs the new revision (primary deployment "
                f"rolloutState COMPLETED, running == desired; timeout {self.timeout:g}s)")


# ---------------------------------------------------------------------------------------------------
# executors
# ---------------------------------------------------------------------------------------------------


def _ecs(rt: Any, region: str) -> Any:
    fn = getattr(rt, "ecs", None)
    return fn(region) if callable(fn) else rt.aws.client("ecs")


def _limit(rt: Any, family: str) -> None:
    lim = getattr(rt, "limits", None)
    if lim is not None:
        lim.acquire(family)


def _marker(rt: Any, a: Action) -> str:
    return f"{rt.plan.id}/{a.id}"


def _find_registered(rt: Any, a: RegisterRevision) -> str | None:
    """After a crash between intent and applied: the revision this action registered, if any."""
    ecs = _ecs(rt, a.region)
    arns = ecs.list_task_definitions(familyPrefix=a.family, status="ACTIVE", sort="DESC").get("taskDefinitionArns", [])
    for arn in arns[:10]:
        if arn == a.source_arn:
            continue
        _limit(rt, "ecs.DescribeTaskDefinition")
        tags = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"]).get("tags") or []
        if any(t.get("key") == TAG_ACTION and t.get("value") == _marker(rt, a) for t in tags):
            return str(arn)
    return None


def new_body(rt: Any, a: RegisterRevision, source: dict[str, Any]) -> dict[str, Any]:
    """RegisterTaskDefinition input: source minus read-only keys, moved values as references."""
    body = copy.deepcopy(register_input(source))
    conts = body.get("containerDefinitions") or []
    for m in a.moves:
        c = conts[int(m["container"])]
        ref = rt.arn_of(m["store_id"]) + (f":{m['json_key']}::" if m.get("json_key") else "")
        if m["location"] == LOC_ENVIRONMENT:
            env = [e for e in c.get("environment") or [] if e.get("name") != m["name"]]
            if env:
                c["environment"] = env
            else:
                c.pop("environment", None)
            c.setdefault("secrets", []).append({"name": m["name"], "valueFrom": ref})
        elif m["location"] == LOC_LOG_OPTIONS:
            lc = c["logConfiguration"]
            (lc.get("options") or {}).pop(m["name"], None)
            if not lc.get("options"):
                lc.pop("options", None)
            lc.setdefault("secretOptions", []).append({"name": m["name"], "valueFrom": ref})
        else:
            raise ActionFailed(f"unknown location {m['location']} in plan")
    for c in conts:
        env = {e.get("name") for e in c.get("environment") or []}
        sec = [s["name"] for s in c.get("secrets") or []]
        if env & set(sec) or len(set(sec)) != len(sec):
            raise ActionFailed(f"{a.family}: a name would be both in environment and secrets, or twice in secrets")
    if a.execution_role and not body.get("executionRoleArn"):
        body["executionRoleArn"] = a.execution_role
    return body


def apply_register(rt: Any, a: RegisterRevision, st: Any) -> None:
    ecs = _ecs(rt, a.region)
    if st.phase == "intent":
        found = _find_registered(rt, a)
        if found:
            rt.journal.append("applied", a.id, a.kind, receipt={"arn": found, "adopted_after_crash": True})
            return
    _limit(rt, "ecs.DescribeTaskDefinition")
    r = ecs.describe_task_definition(taskDefinition=a.source_arn, include=["TAGS"])
    src = r["taskDefinition"]
    if src.get("status", "ACTIVE") != "ACTIVE":
        raise PreconditionFailed(f"{_short(a.source_arn)} is no longer ACTIVE; re-run plan")
    body = new_body(rt, a, src)
    tags = [t for t in r.get("tags") or [] if t.get("key") not in (TAG_MANAGED_BY, TAG_PLAN_ID, TAG_ACTION)]
    tags += [{"key": TAG_MANAGED_BY, "value": TAG_MANAGED_BY_VALUE}, {"key": TAG_PLAN_ID, "value": rt.plan.id},
             {"key": TAG_ACTION, "value": _marker(rt, a)}]
    rt.journal.append("intent", a.id, a.kind, expect={"family": a.family})
    _limit(rt, "ecs.RegisterTaskDefinition")
    try:
        out = ecs.register_task_definition(**body, tags=tags)["taskDefinition"]
    except ClientError as e:
        raise ActionFailed(f"RegisterTaskDefinition for {a.family} refused ({safe_aws_message(e)})") from None
    finally:
        body.clear()
    rt.journal.append("applied", a.id, a.kind, receipt={"arn": out["taskDefinitionArn"], "revision": out["revision"]})


def revert_register(rt: Any, a: RegisterRevision, st: Any) -> str:
    arn = st.receipt.get("arn") if st.phase == "applied" else None
    arn = arn or _find_registered(rt, a)
    if not arn:
        return ""
    _limit(rt, "ecs.DeregisterTaskDefinition")
    try:
        _ecs(rt, a.region).deregister_task_definition(taskDefinition=arn)
    except ClientError:
        pass  # already INACTIVE
    return ""


def _service_td(ecs: Any, cluster: str, service: str) -> str:
    svcs = ecs.describe_services(cluster=cluster, services=[service]).get("services") or []
    if not svcs or svcs[0].get("status") != "ACTIVE":
        raise PreconditionFailed(f"service {_short(cluster)}/{service} is gone or not ACTIVE")
    return str(svcs[0].get("taskDefinition", ""))


def apply_update(rt: Any, a: UpdateService, st: Any) -> None:
    ecs = _ecs(rt, a.region)
    new = rt.arn_of(a.register_id)
    cur = _service_td(ecs, a.cluster, a.service)
    previous = st.expect.get("previous") if st.phase == "intent" else None
    if cur == new and previous:
        rt.journal.append("applied", a.id, a.kind, receipt={"previous": previous, "new": new})
        return
    previous = previous or cur
    if _short(previous) != _short(a.previous):
        raise PreconditionFailed(f"{_short(a.cluster)}/{a.service} runs {_short(cur)} now, the plan expected "
                                 f"{_short(a.previous)}; re-run plan")
    rt.journal.append("intent", a.id, a.kind, expect={"previous": previous})
    _limit(rt, "ecs.UpdateService")
    try:
        ecs.update_service(cluster=a.cluster, service=a.service, taskDefinition=new)
    except ClientError as e:
        raise ActionFailed(f"UpdateService {_short(a.cluster)}/{a.service} refused ({safe_aws_message(e)})") from None
    rt.journal.append("applied", a.id, a.kind, receipt={"previous": previous, "new": new})


def revert_update(rt: Any, a: UpdateService, st: Any) -> str:
    ecs = _ecs(rt, a.region)
    previous = st.receipt.get("previous") or st.expect.get("previous") or a.previous
    try:
        cur = _service_td(ecs, a.cluster, a.service)
    except PreconditionFailed:
        return f"{_short(a.cluster)}/{a.service} is gone: nothing to roll back"
    if cur == previous:
        return ""
    _limit(rt, "ecs.UpdateService")
    ecs.update_service(cluster=a.cluster, service=a.service, taskDefinition=previous)
    return ""


def apply_wait(rt: Any, a: WaitHealthy, st: Any) -> None:
    from migrate.live.health import EcsHealthChecker

    checker = getattr(rt, "health", None) or EcsHealthChecker()
    new = rt.arn_of(a.register_id)
    rt.journal.append("intent", a.id, a.kind)
    res = checker.wait(_ecs(rt, a.region), cluster=a.cluster, service=a.service, task_definition=new,
                       timeout=getattr(rt, "health_timeout", None) or a.timeout)
    if not res.ok:
        raise ActionFailed(f"{_short(a.cluster)}/{a.service}: deployment {res.state.lower()}: {res.reason}")
    rt.journal.append("applied", a.id, a.kind, receipt={"state": res.state, "seconds": round(res.seconds, 3)})


def revert_wait(rt: Any, a: WaitHealthy, st: Any) -> str:
    return ""


APPLIERS.update({RegisterRevision.kind: apply_register, UpdateService.kind: apply_update, WaitHealthy.kind: apply_wait})
REVERTERS.update({RegisterRevision.kind: revert_register, UpdateService.kind: revert_update,
                  WaitHealthy.kind: revert_wait})


# ---------------------------------------------------------------------------------------------------
# finalize: deregister and delete the old plaintext revisions
# ---------------------------------------------------------------------------------------------------


def finalize_live(rt: Any) -> list[str]:
    """Deregister, then DeleteTaskDefinitions (10 per call), the source revisions of every applied
    RegisterRevision, unless a service still runs one. Returns the deleted ARNs."""
    states = rt.journal.states()
    by_region: dict[str, list[str]] = {}
    for a in rt.plan.actions:
        if not isinstance(a, RegisterRevision) or states.get(a.id) is None or states[a.id].phase != "applied":
            continue
        ecs = _ecs(rt, a.region)
        running = []
        for key in a.services:
            cluster, service = key.split("/", 1)
            try:
                running.append(_short(_service_td(ecs, cluster, service)))
            except PreconditionFailed:
                continue
        if _short(a.source_arn) in running:
            continue  # a service still runs the old revision (rolled back): keep it
        _limit(rt, "ecs.DeregisterTaskDefinition")
        try:
            ecs.deregister_task_definition(taskDefinition=a.source_arn)
        except ClientError:
            pass
        by_region.setdefault(a.region, []).append(a.source_arn)
    done: list[str] = []
    for region, arns in by_region.items():
        ecs = _ecs(rt, region)
        for i in range(0, len(arns), 10):
            chunk = arns[i:i + 10]
            _limit(rt, "ecs.DeleteTaskDefinitions")
            try:
                ecs.delete_task_definitions(taskDefinitions=chunk)
            except (ClientError, AttributeError) as e:  # noqa: PERF203
                rt.journal.append("finalize-warning", error=f"DeleteTaskDefinitions: {safe_aws_message(e)}")
                continue
            done.extend(chunk)
            rt.journal.append("finalize-deleted", receipt={"arns": chunk})
    return done


FINALIZERS.append(finalize_live)
