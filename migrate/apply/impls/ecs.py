"""Live ECS actions: register the new revision, point a service at it, wait until it is healthy.

Reverts: service back to the ARN it ran before, new revision deregistered. The old revision stays
ACTIVE until finalize, so a rollback never needs the plaintext again. Finalize deregisters and deletes
the old plaintext revisions (10 per DeleteTaskDefinitions call).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from migrate.apply.checks import Check, Preflight, VerifyContext
from migrate.apply.env import EcsClient, Env
from migrate.apply.journal import ActionState
from migrate.arn import short
from migrate.errors import ActionFailed, MigrateError, PreconditionFailed
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS
from migrate.plan.actions import EcsAction, RegisterRevision, StoreAction, UpdateService, WaitHealthy
from migrate.plan.actions.ecs import RegisterReceipt, UpdateReceipt, WaitReceipt
from migrate.sources.ecs_taskdef import register_input
from migrate.stores.aws import safe_aws_message
from migrate.stores.base import TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_PLAN_ID

TAG_ACTION = "secrets-migrate:action"


class EcsImpl:
    def preflight(self, env: Env, a: EcsAction, st: ActionState, out: Preflight) -> None:
        return None  # live guardrails (``migrate.live.guardrails``) run before the waves

    def apply(self, env: Env, a: EcsAction, st: ActionState) -> None:
        if isinstance(a, RegisterRevision):
            apply_register(env, a, st)
        elif isinstance(a, UpdateService):
            apply_update(env, a, st)
        else:
            apply_wait(env, a, st)

    def check_revert(self, env: Env, a: EcsAction, st: ActionState) -> None:
        return None

    def revert(self, env: Env, a: EcsAction, st: ActionState) -> str:
        if isinstance(a, RegisterRevision):
            return revert_register(env, a, st)
        if isinstance(a, UpdateService):
            return revert_update(env, a, st)
        return ""  # WaitHealthy changes nothing

    def verify(self, env: Env, actions: Sequence[EcsAction], ctx: VerifyContext) -> list[Check]:
        return verify_live(env, actions, ctx)

    def finalize(self, env: Env, actions: Sequence[EcsAction]) -> list[str]:
        return finalize_live(env, [a for a in actions if isinstance(a, RegisterRevision)])


def _marker(env: Env, a: RegisterRevision) -> str:
    return f"{env.plan.id}/{a.id}"


def _find_registered(env: Env, a: RegisterRevision) -> str | None:
    """After a crash between intent and applied: the revision this action registered, if any."""
    ecs = env.ecs(a.region)
    arns = ecs.list_task_definitions(familyPrefix=a.family, status="ACTIVE", sort="DESC").get("taskDefinitionArns", [])
    for arn in arns[:10]:
        if arn == a.source_arn:
            continue
        env.limit("ecs.DescribeTaskDefinition")
        tags = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"]).get("tags") or []
        if any(t.get("key") == TAG_ACTION and t.get("value") == _marker(env, a) for t in tags):
            return str(arn)
    return None


def new_body(env: Env, a: RegisterRevision, source: dict[str, Any]) -> dict[str, Any]:
    """RegisterTaskDefinition input: source minus read-only keys, moved values as references."""
    body = copy.deepcopy(register_input(source))
    conts = body.get("containerDefinitions") or []
    for m in a.moves:
        c = conts[m.container]
        ref = env.arn_of(m.store_id) + m.suffix
        if m.location == LOC_ENVIRONMENT:
            env_vars = [e for e in c.get("environment") or [] if e.get("name") != m.name]
            if env_vars:
                c["environment"] = env_vars
            else:
                c.pop("environment", None)
            c.setdefault("secrets", []).append({"name": m.name, "valueFrom": ref})
        elif m.location == LOC_LOG_OPTIONS:
            lc = c["logConfiguration"]
            (lc.get("options") or {}).pop(m.name, None)
            if not lc.get("options"):
                lc.pop("options", None)
            lc.setdefault("secretOptions", []).append({"name": m.name, "valueFrom": ref})
        else:
            raise ActionFailed(f"unknown location {m.location} in plan")
    for c in conts:
        names = {e.get("name") for e in c.get("environment") or []}
        sec = [s["name"] for s in c.get("secrets") or []]
        if names & set(sec) or len(set(sec)) != len(sec):
            raise ActionFailed(f"{a.family}: a name would be both in environment and secrets, or twice in secrets")
    if a.execution_role and not body.get("executionRoleArn"):
        body["executionRoleArn"] = a.execution_role
    return body


def apply_register(env: Env, a: RegisterRevision, st: ActionState) -> None:
    ecs = env.ecs(a.region)
    if st.phase == "intent":
        found = _find_registered(env, a)
        if found:
            env.journal.append("applied", a.id, a.kind, receipt=RegisterReceipt(arn=found, adopted_after_crash=True))
            return
    env.limit("ecs.DescribeTaskDefinition")
    r = ecs.describe_task_definition(taskDefinition=a.source_arn, include=["TAGS"])
    src = r["taskDefinition"]
    if src.get("status", "ACTIVE") != "ACTIVE":
        raise PreconditionFailed(f"{short(a.source_arn)} is no longer ACTIVE; re-run plan")
    body = new_body(env, a, src)
    tags = [t for t in r.get("tags") or [] if t.get("key") not in (TAG_MANAGED_BY, TAG_PLAN_ID, TAG_ACTION)]
    tags += [{"key": TAG_MANAGED_BY, "value": TAG_MANAGED_BY_VALUE}, {"key": TAG_PLAN_ID, "value": env.plan.id},
             {"key": TAG_ACTION, "value": _marker(env, a)}]
    env.journal.append("intent", a.id, a.kind, expect={"family": a.family})
    env.limit("ecs.RegisterTaskDefinition")
    try:
        out = ecs.register_task_definition(**body, tags=tags)["taskDefinition"]
    except ClientError as e:
        raise ActionFailed(f"RegisterTaskDefinition for {a.family} refused ({safe_aws_message(e)})") from None
    finally:
        body.clear()
    env.journal.append("applied", a.id, a.kind, receipt=RegisterReceipt(arn=str(out["taskDefinitionArn"]), revision=int(out["revision"])))


def revert_register(env: Env, a: RegisterRevision, st: ActionState) -> str:
    arn = st.receipt.get("arn") if st.phase == "applied" else None
    arn = arn or _find_registered(env, a)
    if not arn:
        return ""
    env.limit("ecs.DeregisterTaskDefinition")
    with contextlib.suppress(ClientError):  # already INACTIVE
        env.ecs(a.region).deregister_task_definition(taskDefinition=arn)
    return ""


def service_td(ecs: EcsClient, cluster: str, service: str) -> str:
    svcs = ecs.describe_services(cluster=cluster, services=[service]).get("services") or []
    if not svcs or svcs[0].get("status") != "ACTIVE":
        raise PreconditionFailed(f"service {short(cluster)}/{service} is gone or not ACTIVE")
    return str(svcs[0].get("taskDefinition", ""))


def apply_update(env: Env, a: UpdateService, st: ActionState) -> None:
    ecs = env.ecs(a.region)
    new = env.arn_of(a.register_id)
    cur = service_td(ecs, a.cluster, a.service)
    previous = st.expect.get("previous") if st.phase == "intent" else None
    if cur == new and previous:
        env.journal.append("applied", a.id, a.kind, receipt=UpdateReceipt(previous=str(previous), new=new))
        return
    previous = previous or cur
    if short(previous) != short(a.previous):
        raise PreconditionFailed(f"{short(a.cluster)}/{a.service} runs {short(cur)} now, the plan expected "
                                 f"{short(a.previous)}; re-run plan")
    env.journal.append("intent", a.id, a.kind, expect={"previous": previous})
    env.limit("ecs.UpdateService")
    try:
        ecs.update_service(cluster=a.cluster, service=a.service, taskDefinition=new)
    except ClientError as e:
        raise ActionFailed(f"UpdateService {short(a.cluster)}/{a.service} refused ({safe_aws_message(e)})") from None
    env.journal.append("applied", a.id, a.kind, receipt=UpdateReceipt(previous=str(previous), new=new))


def revert_update(env: Env, a: UpdateService, st: ActionState) -> str:
    ecs = env.ecs(a.region)
    previous = st.receipt.get("previous") or st.expect.get("previous") or a.previous
    try:
        cur = service_td(ecs, a.cluster, a.service)
    except PreconditionFailed:
        return f"{short(a.cluster)}/{a.service} is gone: nothing to roll back"
    if cur == previous:
        return ""
    env.limit("ecs.UpdateService")
    ecs.update_service(cluster=a.cluster, service=a.service, taskDefinition=previous)
    return ""


def apply_wait(env: Env, a: WaitHealthy, st: ActionState) -> None:
    if env.health is None:
        raise ActionFailed(f"{short(a.cluster)}/{a.service}: no deployment health checker configured")
    new = env.arn_of(a.register_id)
    env.journal.append("intent", a.id, a.kind)
    res = env.health.wait(env.ecs(a.region), cluster=a.cluster, service=a.service, task_definition=new,
                          timeout=env.health_timeout or a.timeout)
    if not res.ok:
        raise ActionFailed(f"{short(a.cluster)}/{a.service}: deployment {res.state.lower()}: {res.reason}")
    env.journal.append("applied", a.id, a.kind, receipt=WaitReceipt(state=res.state, seconds=round(res.seconds, 3)))


# ---------------------------------------------------------------------------------------------------
# verify: each new revision references the store entries (and no longer carries the values in plain
# text), each entry holds the value the old revision had (compared in memory: the old revision stays
# ACTIVE until finalize), and each updated service runs the new revision.
# ---------------------------------------------------------------------------------------------------


def verify_live(env: Env, actions: Sequence[EcsAction], ctx: VerifyContext) -> list[Check]:
    checks: list[Check] = []
    states = ctx.states
    stores: dict[str, StoreAction] = {a.id: a for a in env.plan.store_actions}
    for a in actions:
        st = states.get(a.id)
        if isinstance(a, RegisterRevision):
            if st is None or st.phase != "applied":
                continue  # rolled back or not applied: the store checks already report that side
            new_arn = str(st.receipt.get("arn", ""))
            try:
                td = env.ecs(a.region).describe_task_definition(taskDefinition=new_arn)["taskDefinition"]
            except Exception as e:  # noqa: BLE001
                checks.append(Check("revision", short(new_arn), False, f"cannot describe ({type(e).__name__})"))
                continue
            checks.extend(_check_revision(env, a, td, stores, states))
        elif isinstance(a, UpdateService) and st is not None and st.phase == "applied":
            want = str(st.receipt.get("new", ""))
            svc = env.ecs(a.region).describe_services(cluster=a.cluster, services=[a.service]).get("services") or []
            cur = str(svc[0].get("taskDefinition", "")) if svc else ""
            ok = short(cur) == short(want)
            checks.append(Check("service", f"{short(a.cluster)}/{a.service}", ok,
                                f"runs {short(cur)}" + ("" if ok else f", expected {short(want)}")))
    return checks


def _check_revision(env: Env, a: RegisterRevision, td: dict[str, Any], stores: Mapping[str, StoreAction],
                    states: Mapping[str, ActionState]) -> list[Check]:
    out: list[Check] = []
    conts = td.get("containerDefinitions", [])
    for m in a.moves:
        c = conts[m.container] if m.container < len(conts) else {}
        name = m.name
        subject = f"{short(td.get('taskDefinitionArn', ''))} {c.get('name', '?')}.{name}"
        if m.location == LOC_LOG_OPTIONS:
            lc = c.get("logConfiguration") or {}
            plain = name in (lc.get("options") or {})
            refs = {s["name"]: s["valueFrom"] for s in lc.get("secretOptions") or []}
        else:
            plain = any(e.get("name") == name for e in c.get("environment") or [])
            refs = {s["name"]: s["valueFrom"] for s in c.get("secrets") or []}
        sa = stores.get(m.store_id)
        arn = str(states[sa.id].receipt.get("arn", "")) if sa is not None and sa.id in states else ""
        want = arn + m.suffix
        if plain or refs.get(name) != want:
            out.append(Check("revision", subject, False, "still plaintext" if plain else "reference missing or wrong"))
            continue
        try:
            if sa is None:
                raise AttributeError("no store action")
            vs = next(v for v in sa.values if v.name == name)
            held = env.store_for(sa).read(arn)
            original = env.value_of(vs)
            if held is not None and vs.json_key:
                held_text = json.loads(held.reveal()).get(vs.json_key)
                same = held_text == original.reveal()
            else:
                same = held is not None and held == original
        except (MigrateError, StopIteration, ValueError, AttributeError) as e:
            out.append(Check("original-value", subject, False, f"cannot compare ({type(e).__name__})"))
            continue
        out.append(Check("original-value", subject, same,
                         "store holds the old revision's value" if same else "store value differs from the old revision"))
    return out


# ---------------------------------------------------------------------------------------------------
# finalize: deregister and delete the old plaintext revisions
# ---------------------------------------------------------------------------------------------------


def finalize_live(env: Env, registers: Sequence[RegisterRevision]) -> list[str]:
    """Deregister, then DeleteTaskDefinitions (10 per call), the source revisions of every applied
    RegisterRevision, unless a service still runs one. Returns the deleted ARNs."""
    states = env.journal.states()
    by_region: dict[str, list[str]] = {}
    for a in registers:
        st = states.get(a.id)
        if st is None or st.phase != "applied":
            continue
        ecs = env.ecs(a.region)
        running = []
        for key in a.services:
            cluster, service = key.split("/", 1)
            try:
                running.append(short(service_td(ecs, cluster, service)))
            except PreconditionFailed:
                continue
        if short(a.source_arn) in running:
            continue  # a service still runs the old revision (rolled back): keep it
        env.limit("ecs.DeregisterTaskDefinition")
        with contextlib.suppress(ClientError):  # already INACTIVE
            ecs.deregister_task_definition(taskDefinition=a.source_arn)
        by_region.setdefault(a.region, []).append(a.source_arn)
    done: list[str] = []
    for region, arns in by_region.items():
        ecs = env.ecs(region)
        for i in range(0, len(arns), 10):
            chunk = arns[i:i + 10]
            env.limit("ecs.DeleteTaskDefinitions")
            try:
                ecs.delete_task_definitions(taskDefinitions=chunk)
            except (ClientError, AttributeError) as e:
                env.journal.append("finalize-warning", error=f"DeleteTaskDefinitions: {safe_aws_message(e)}")
                continue
            done.extend(chunk)
            env.journal.append("finalize-deleted", receipt={"arns": chunk})
    return done


ECS = EcsImpl()
