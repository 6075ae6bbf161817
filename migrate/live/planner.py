"""Inventory + findings -> live Plan. Pure: no AWS calls; values stay in memory.

Per revision that services run (one "unit"): store entries, an inline grant on its execution role,
``RegisterRevision``; then per service using it ``UpdateService`` + ``WaitHealthy`` (or nothing but a
note for CODE_DEPLOY / EXTERNAL controllers). One family revision used by several services gets one
new revision and several updates.
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from migrate.arn import short
from migrate.errors import PlanError
from migrate.live.source import KIND, Inventory
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Finding
from migrate.plan.actions import (
    Action,
    EcsMove,
    PutRolePolicy,
    RegisterRevision,
    UpdateService,
    ValueSource,
    WaitHealthy,
)
from migrate.plan.choices import Group
from migrate.plan.model import Plan, PlanSettings
from migrate.plan.placement import place, store_action
from migrate.plan.planner import new_plan_id
from migrate.stores.base import TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_PLAN_ID


def _pointer(p: str) -> tuple[int, str]:
    parts = p.strip("/").split("/")
    loc = LOC_ENVIRONMENT if parts[2] == "environment" else LOC_LOG_OPTIONS
    return int(parts[1]), loc


def _refusal(arn: str, f: Finding, reason: str) -> dict[str, object]:
    e = f.entry
    return {"path": arn, "unit": e.unit, "name": e.name, "location": e.location, "reason": reason}


def make_live_plan(inv: Inventory, findings: Sequence[Finding], settings: PlanSettings, *,
                   health_timeout: float = 600.0, plan_id: str | None = None) -> Plan:
    if settings.group != Group.PER_VAR:
        raise PlanError("live mode supports --group per-var only")
    plan_id = plan_id or new_plan_id()
    tags = {TAG_MANAGED_BY: TAG_MANAGED_BY_VALUE, TAG_PLAN_ID: plan_id}
    by_rev: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.is_secret and f.entry.source == KIND:
            by_rev[f.entry.path].append(f)
    services_of = defaultdict(list)
    for s in inv.services:
        services_of[s.task_definition].append(s)
    counter = iter(range(1, 1_000_000))
    actions: list[Action] = []
    warnings: list[str] = list(inv.warnings)
    refused: list[dict[str, object]] = []
    names: dict[tuple[str, str], str] = {}
    first_rev_of_family: dict[str, str] = {}
    order: list[str] = []
    for arn in sorted(services_of, key=lambda a: (inv.revisions[a].family, inv.revisions[a].revision)
                      if a in inv.revisions else ("", 0)):
        rev = inv.revisions.get(arn)
        if rev is None:
            warnings.append(f"{arn}: not described; skipped")
            continue
        found = sorted(by_rev.get(arn, []), key=lambda f: f.entry.pointer)
        if not found:
            continue
        role = rev.execution_role or settings.execution_role or ""
        svcs = services_of[arn]
        if not role:
            refused += [_refusal(arn, f, "the revision has no execution role; pass --execution-role") for f in found]
            continue
        group = rev.family if first_rev_of_family.setdefault(rev.family, arn) == arn else f"{rev.family}-r{rev.revision}"
        store_ids: list[str] = []
        moves: list[EcsMove] = []
        ssm_ids: list[str] = []
        sm_ids: list[str] = []
        for f in found:
            e = f.entry
            if not f.migratable:
                refused.append(_refusal(arn, f, f.why_not or "not migratable"))
                continue
            assert e.value is not None
            spot = place(settings, size=len(e.value.reveal().encode("utf-8")), where=arn, group=group, unit=e.unit,
                         name=e.name)
            store, name = spot.store, spot.name
            if (store, name) in names:
                raise PlanError(f"name clash: {names[(store, name)]} and {arn} {e.unit}.{e.name} both map to {name}",
                                hint="use a --name-template with {group} and {unit}")
            names[(store, name)] = f"{arn} {e.unit}.{e.name}"
            aid = f"a{next(counter)}"
            vs = ValueSource(key=e.key, definition=arn, source=KIND, name=e.name, unit=e.unit, display=arn)
            actions.append(store_action(aid, store, name, spot.tier, settings, tags, (vs,)))
            (ssm_ids if store == "ssm" else sm_ids).append(aid)
            store_ids.append(aid)
            ci, loc = _pointer(e.pointer)
            moves.append(EcsMove(container=ci, location=loc, name=e.name, store_id=aid))
        if not moves:
            continue
        pid = f"a{next(counter)}"
        kms = (settings.kms_key,) if settings.kms_key and not settings.kms_key.startswith("alias/aws/") else ()
        actions.append(PutRolePolicy(id=pid, role_arn=role, policy_name=f"secrets-migrate-{plan_id}-{group}"[:128],
                                     ssm_actions=tuple(ssm_ids), sm_actions=tuple(sm_ids), kms_keys=kms))
        rid = f"a{next(counter)}"
        upd = [s for s in svcs if s.updatable]
        only = [s for s in svcs if not s.updatable]
        actions.append(RegisterRevision(
            id=rid, family=rev.family, source_arn=arn, region=rev.region, moves=tuple(moves), store_ids=tuple(store_ids),
            policy_ids=(pid,), execution_role="" if rev.execution_role else role,
            services=tuple(s.key for s in svcs), register_only=tuple(s.key for s in only)))
        for s in only:
            warnings.append(f"{s.key}: {s.controller} deployment controller: the new revision is registered only; "
                            "deploy it through your pipeline")
            order.append(s.key)
        for s in upd:
            uid = f"a{next(counter)}"
            actions.append(UpdateService(id=uid, cluster=s.cluster_arn, service=s.name, region=s.region,
                                         register_id=rid, previous=arn))
            actions.append(WaitHealthy(id=f"a{next(counter)}", cluster=s.cluster_arn, service=s.name, region=s.region,
                                       update_id=uid, register_id=rid, timeout=health_timeout))
            order.append(s.key)
        if sum(1 for a in actions if isinstance(a, PutRolePolicy) and a.role_arn == role) > 25:
            warnings.append(f"{role}: more than 25 inline policies from this plan; IAM caps inline policies at "
                            "10,240 characters per role")
    extra = len(inv.revisions) - len(services_of)
    if extra > 0:
        warnings.append(f"{extra} other ACTIVE revision(s) hold environment values too; they are not migrated "
                        "(deregister them after finalize)")
    return Plan(id=plan_id, created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), settings=settings,
                inputs=(), actions=tuple(actions), warnings=tuple(dict.fromkeys(warnings)), refused=tuple(refused),
                deploy_order=tuple(order))


# ---------------------------------------------------------------------------------------------------
# grouping a live plan into units and services (used by the wave runner)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSteps:
    key: str  #: cluster/service
    unit: str  #: RegisterRevision id
    actions: tuple[Action, ...]  #: UpdateService, WaitHealthy (empty for register-only)
    register_only: bool = False


@dataclass(frozen=True)
class Unit:
    register: RegisterRevision
    shared: tuple[Action, ...]  #: store entries, grants, RegisterRevision


def units_of(plan: Plan) -> tuple[dict[str, Unit], list[ServiceSteps]]:
    by_id = plan.by_id()
    units: dict[str, Unit] = {}
    steps: list[ServiceSteps] = []
    for a in plan.actions:
        if isinstance(a, RegisterRevision):
            shared = tuple(by_id[i] for i in (*a.store_ids, *a.policy_ids)) + (a,)
            units[a.id] = Unit(a, shared)
            for k in a.register_only:
                steps.append(ServiceSteps(k, a.id, (), True))
    for a in plan.actions:
        if isinstance(a, UpdateService):
            wait = next(w for w in plan.actions if isinstance(w, WaitHealthy) and w.update_id == a.id)
            steps.append(ServiceSteps(f"{short(a.cluster)}/{a.service}", a.register_id, (a, wait)))
    pos = {k: i for i, k in enumerate(plan.deploy_order)}
    steps.sort(key=lambda s: pos.get(s.key, len(pos)))
    return units, steps


def live_findings(inv: Inventory, config: object = None) -> list[Finding]:
    """Classify every entry of the described revisions (values stay in memory)."""
    from migrate.detect.engine import classify

    return classify(inv.entries(), config)  # type: ignore[arg-type]
