"""Inventory + findings -> live Plan. Pure: no AWS calls; values stay in memory.

Per revision that services run (one "unit"): store entries, a grant merged into its execution role's
tool-owned policy (one policy per role for the whole plan: ``migrate.iam_policy``),
``RegisterRevision``; then per service using it ``UpdateService`` + ``WaitHealthy`` (or nothing but a
note for CODE_DEPLOY / EXTERNAL controllers). One family revision used by several services gets one
new revision and several updates.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from migrate import iam_policy
from migrate.arn import Arn, short
from migrate.errors import PlanError
from migrate.live.source import KIND, Inventory, LiveService
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, Finding
from migrate.plan import naming
from migrate.plan.actions import (
    Action,
    CreateSecret,
    EcsMove,
    PutParameter,
    PutRolePolicy,
    RegisterRevision,
    StoreAction,
    UpdateService,
    ValueSource,
    WaitHealthy,
)
from migrate.plan.choices import Group
from migrate.plan.model import BlockedItem, Plan, PlanSettings
from migrate.plan.placement import SM_MAX, Placement, place, store_action, template_for
from migrate.plan.planner import BLOCK_CLASH, BLOCK_LIMIT, new_plan_id
from migrate.stores.base import TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_PLAN_ID

#: kind of blocked item only live plans have: a revision that could not be described
BLOCK_DESCRIBE = "describe-error"
BLOCK_IAM_SIZE = "iam-size"  #: the shared role's grants would not fit IAM's policy size limit


def _pointer(p: str) -> tuple[int, str]:
    parts = p.strip("/").split("/")
    loc = LOC_ENVIRONMENT if parts[2] == "environment" else LOC_LOG_OPTIONS
    return int(parts[1]), loc


def _refusal(arn: str, f: Finding, reason: str) -> dict[str, object]:
    e = f.entry
    return {"path": arn, "unit": e.unit, "name": e.name, "location": e.location, "reason": reason}


@dataclass
class _Placed:
    """One entry of a revision about to move: where it goes (the value stays in memory only)."""

    finding: Finding
    spot: Placement
    group: str  #: the ``{group}`` / ``{project}`` field of the revision
    value: str = field(repr=False)

    @property
    def label(self) -> str:
        e = self.finding.entry
        return f"{short(e.path)} {e.unit}.{e.name}"


def make_live_plan(inv: Inventory, findings: Sequence[Finding], settings: PlanSettings, *,
                   health_timeout: float = 600.0, plan_id: str | None = None) -> Plan:
    """The live plan. A problem with one revision (name clash, a value no store can hold, a bad entry name)
    blocks that revision and the services running it only: they are listed in ``blocked`` with reason and fix,
    stay as they are, and every other service is planned (non-negotiable 6). ``--group per-unit``: one Secrets
    Manager JSON secret per container of a revision, each variable a key of it."""
    _check_template(settings)
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

    def next_id() -> str:
        return f"a{next(counter)}"

    actions: list[Action] = []
    warnings: list[str] = list(inv.warnings)
    refused: list[dict[str, object]] = []
    blocked: list[BlockedItem] = []
    names: dict[tuple[str, str], _Placed] = {}  #: entry names taken by planned revisions
    first_rev_of_family: dict[str, str] = {}
    order: list[str] = []
    for arn in sorted(services_of, key=lambda a: (inv.revisions[a].family, inv.revisions[a].revision)
                      if a in inv.revisions else ("", 0)):
        rev = inv.revisions.get(arn)
        if rev is None:
            if arn in inv.failed:  # the services running it stay as they are; the rest is planned
                blocked.append(BlockedItem(
                    kind=BLOCK_DESCRIBE, path=arn, reason=f"{inv.failed[arn]}; {_left(services_of[arn])}",
                    fix="let the caller read it (ecs:DescribeTaskDefinition), or leave these services out with "
                        "--service / --family"))
            else:
                warnings.append(f"{arn}: not described; skipped")
            continue
        found = sorted(by_rev.get(arn, []), key=lambda f: f.entry.pointer)
        if not found:
            continue
        role = rev.execution_role or settings.execution_role or ""
        svcs = services_of[arn]
        why = _foreign_account(role, arn) if role else "the revision has no execution role; pass --execution-role"
        if why:
            refused += [_refusal(arn, f, why) for f in found]
            continue
        group = rev.family if first_rev_of_family.setdefault(rev.family, arn) == arn else f"{rev.family}-r{rev.revision}"
        placed, problems = _place_all(arn, found, group, settings, refused)
        problems += _clashes(placed, names, settings)
        problems += _json_limits(placed)
        if problems:  # the revision and every service running it stay as they are
            blocked += [dataclasses.replace(b, reason=f"{b.reason}; {_left(svcs)}") for b in problems]
            continue
        if not placed:
            continue
        for pl in placed:
            names[(pl.spot.store, pl.spot.name)] = pl
        stores, moves = _entries(arn, placed, settings, tags, next_id)
        actions += stores
        store_ids = [x.id for x in stores]
        ssm_ids = [x.id for x in stores if isinstance(x, PutParameter)]
        sm_ids = [x.id for x in stores if not isinstance(x, PutParameter)]
        pid = next_id()
        kms = (settings.kms_key,) if settings.kms_key and not settings.kms_key.startswith("alias/aws/") else ()
        actions.append(PutRolePolicy(id=pid, role_arn=role, policy_name=iam_policy.TOOL_POLICY,
                                     ssm_actions=tuple(ssm_ids), sm_actions=tuple(sm_ids), kms_keys=kms))
        rid = next_id()
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
            uid = next_id()
            actions.append(UpdateService(id=uid, cluster=s.cluster_arn, service=s.name, region=s.region,
                                         register_id=rid, previous=arn))
            actions.append(WaitHealthy(id=next_id(), cluster=s.cluster_arn, service=s.name, region=s.region,
                                       update_id=uid, register_id=rid, timeout=health_timeout))
            order.append(s.key)
    actions, order, over = _fit_roles(_with_scopes(actions, settings.prefix), order, settings, plan_id)
    if any(isinstance(a, CreateSecret) and a.is_json for a in actions):
        warnings.append("JSON-key references need Fargate platform 1.4.0+ or ECS agent 1.37.0+ (facts §1.3)")
    warnings += [f"{arn}: {why}; not migrated" for arn, why in sorted(inv.failed.items()) if arn not in services_of]
    extra = len(set(inv.revisions) - set(services_of))
    if extra > 0:
        warnings.append(f"{extra} other ACTIVE revision(s) hold environment values too; they are not migrated "
                        "(deregister them after finalize)")
    return Plan(id=plan_id, created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), settings=settings,
                inputs=(), actions=tuple(actions), warnings=tuple(dict.fromkeys(
                    warnings + iam_policy.size_warnings(actions, plan_id=plan_id, region=settings.region))), refused=tuple(refused),
                deploy_order=tuple(order), blocked=tuple(blocked + over))


def _place_all(arn: str, found: Sequence[Finding], group: str, settings: PlanSettings,
               refused: list[dict[str, object]]) -> tuple[list[_Placed], list[BlockedItem]]:
    """Store and name of each entry of one revision; unmigratable ones to ``refused``, the problems returned."""
    placed: list[_Placed] = []
    problems: list[BlockedItem] = []
    for f in found:
        e = f.entry
        if not f.migratable:
            refused.append(_refusal(arn, f, f.why_not or "not migratable"))
            continue
        assert e.value is not None
        value = e.value.reveal()
        try:
            spot = place(settings, size=len(value.encode("utf-8")), where=arn, group=group, unit=e.unit, name=e.name)
        except PlanError as err:
            problems.append(_block(BLOCK_LIMIT, e, str(err), err.hint or "migrate this value by hand"))
            continue
        placed.append(_Placed(f, spot, group, value))
    return placed, problems


def _entries(arn: str, placed: Sequence[_Placed], settings: PlanSettings, tags: dict[str, str],
             next_id: Callable[[], str]) -> tuple[list[StoreAction], list[EcsMove]]:
    """One store action per name (a variable, or with per-unit every variable of a container as JSON keys)
    and the moves pointing at it."""
    by_name: dict[tuple[str, str], list[_Placed]] = defaultdict(list)
    for pl in placed:
        by_name[(pl.spot.store, pl.spot.name)].append(pl)
    stores: list[StoreAction] = []
    moves: list[EcsMove] = []
    for (store, name), same in by_name.items():
        aid = next_id()
        vss = tuple(ValueSource(key=pl.finding.entry.key, definition=arn, source=KIND, json_key=pl.spot.json_key,
                                name=pl.finding.entry.name, unit=pl.finding.entry.unit, display=arn) for pl in same)
        stores.append(store_action(aid, store, name, same[0].spot.tier, settings, tags, vss))
        for pl in same:
            ci, loc = _pointer(pl.finding.entry.pointer)
            moves.append(EcsMove(container=ci, location=loc, name=pl.finding.entry.name, store_id=aid,
                                 json_key=pl.spot.json_key))
    return stores, moves


def _left(svcs: Sequence[LiveService] | Sequence[str]) -> str:
    keys = [s if isinstance(s, str) else s.key for s in svcs]
    return ", ".join(keys) + (" is left as it is" if len(keys) == 1 else " are left as they are")


def _block(kind: str, e: Entry, reason: str, fix: str) -> BlockedItem:
    return BlockedItem(kind=kind, path=e.path, unit=e.unit, name=e.name, reason=reason, fix=fix)


def _check_template(settings: PlanSettings) -> None:
    """A bad --name-template is a usage problem of the whole plan, not of one revision: refuse it up front."""
    for store in ("ssm", "secretsmanager"):
        naming.render_name(template_for(settings, store), prefix=settings.prefix, group="g", unit="u", name="n",
                           store=store)


def _clashes(placed: Sequence[_Placed], names: Mapping[tuple[str, str], _Placed],
             settings: PlanSettings) -> list[BlockedItem]:
    """Entries of one revision that would take a name another planned revision holds, or a name (per-unit: a
    key of one secret) another entry of this revision takes. Live, no entry is shared between revisions (each
    unit is rolled back alone), so a taken name is a clash whatever the two values."""
    out: list[BlockedItem] = []
    mine: dict[tuple[str, str, str | None], _Placed] = {}
    for pl in placed:
        key = (pl.spot.store, pl.spot.name)
        taken, other = names.get(key), mine.get((*key, pl.spot.json_key))
        if taken is None and other is None:
            mine[(*key, pl.spot.json_key)] = pl
            continue
        if taken is not None:  # the entry of another revision (per-unit: the whole secret of one of its containers)
            other = taken
            e = taken.finding.entry
            held = f"{short(e.path)} {e.unit}" + ("" if taken.spot.json_key else f".{e.name}")
            reason = f"name clash: {pl.spot.name} already holds {held}" + ("" if taken.spot.json_key else _differs(taken, pl))
        else:
            assert other is not None
            where = f"key {pl.spot.json_key} of " if pl.spot.json_key else ""
            reason = f"name clash: {where}{pl.spot.name} already holds {other.label}" + _differs(other, pl)
        suggestion = _separating_template(pl, other, settings)
        fix = (f"use --name-template '{suggestion}'" if suggestion
               else "rename one of the two variables (no name template tells them apart)")
        out.append(_block(BLOCK_CLASH, pl.finding.entry, reason, fix))
    return out


def _differs(a: _Placed, b: _Placed) -> str:
    if a.spot.json_key != b.spot.json_key:
        return ""  # two keys of a per-unit secret: their values do not compare
    return " (another value)" if a.value != b.value else " (the same value; live entries are never shared)"


def _insert(template: str, field_: str, before: Sequence[str]) -> str:
    for anchor in before:
        if anchor in template:
            return template.replace(anchor, f"{field_}/{anchor}", 1)
    return template.rstrip("/") + "/" + field_


def _separating_template(a: _Placed, b: _Placed, settings: PlanSettings) -> str | None:
    """A name template under which ``a`` and ``b`` get different valid names (or keys); None when none does.
    Tried: the template with ``{project}`` (the revision), with ``{unit}`` (the container), with both, and the
    default one. Each candidate is rendered for both entries and checked before it is suggested."""
    tmpl = template_for(settings, a.spot.store)
    cands: list[str] = []
    if "{project}" not in tmpl and "{group}" not in tmpl:
        cands.append(_insert(tmpl, "{project}", ("{unit}", "{name}")))
    if "{unit}" not in tmpl and settings.group != Group.PER_UNIT:
        cands.append(_insert(tmpl, "{unit}", ("{name}",)))
        if len(cands) == 2:
            cands.append(_insert(cands[0], "{unit}", ("{name}",)))
    if "{unit}" not in tmpl and settings.group == Group.PER_UNIT:
        cands.append(tmpl.rstrip("/") + "/{unit}")
    cands.append(template_for(dataclasses.replace(settings, name_template=None), a.spot.store))

    def name(t: str, pl: _Placed) -> str:
        e = pl.finding.entry
        return naming.render_name(t, prefix=settings.prefix, group=pl.group, unit=e.unit, name=e.name,
                                  store=pl.spot.store)

    for t in dict.fromkeys(cands):
        if t == tmpl:
            continue
        na, nb = name(t, a), name(t, b)
        if (na != nb or a.spot.json_key != b.spot.json_key) and not _bad_name(na, a.spot.store) \
                and not _bad_name(nb, b.spot.store):
            return t
    return None


def _bad_name(name: str, store: str) -> bool:
    try:
        naming.check_name(name, store)
    except PlanError:
        return True
    return False


def _json_limits(placed: Sequence[_Placed]) -> list[BlockedItem]:
    """Per-unit secrets over Secrets Manager's 64 KiB (the JSON object of all the container's keys)."""
    docs: dict[str, dict[str, str]] = defaultdict(dict)
    first: dict[str, _Placed] = {}
    for pl in placed:
        if pl.spot.json_key is not None:
            docs[pl.spot.name][pl.spot.json_key] = pl.value
            first.setdefault(pl.spot.name, pl)
    out: list[BlockedItem] = []
    for name, doc in docs.items():
        if len(json.dumps(doc, sort_keys=True).encode("utf-8")) > SM_MAX:
            out.append(_block(BLOCK_LIMIT, first[name].finding.entry,
                              f"the per-unit secret {name} would be over the 64 KiB Secrets Manager limit",
                              "use --group per-var for this service, or move its largest values by hand"))
    return out


def _foreign_account(role: str, revision_arn: str) -> str:
    """Why a role in another account than the revision's (the caller's) cannot be granted; '' when it can."""
    r, t = Arn.parse(role), Arn.parse(revision_arn)
    if r is None or t is None or not r.account or r.account == t.account:
        return ""
    return (f"execution role {role} is in account {r.account}, not {t.account}: the tool cannot grant it; add a "
            "statement allowing ssm:GetParameters and secretsmanager:GetSecretValue on these entries to that role")


def _fit_roles(actions: list[Action], order: list[str], settings: PlanSettings,
               plan_id: str) -> tuple[list[Action], list[str], list[BlockedItem]]:
    """Caught at plan time, not by a rollback mid-batch: when the read grants of every revision sharing one
    execution role cannot fit IAM's inline-policy limit even as the widest patterns, the revisions that fit
    (in plan order) stay planned and the rest are blocked, each with the fix (a ``--prefix`` makes the grants
    compress to one pattern; or another execution role)."""
    blocked: list[BlockedItem] = []
    for role in sorted({r.role_arn for r in iam_policy.estimate_sizes(actions, plan_id=plan_id, region=settings.region)
                        if r.level < 0}):
        grants_of_role = {p.id for p in actions if isinstance(p, PutRolePolicy) and p.role_arn == role}
        revs = [a for a in actions if isinstance(a, RegisterRevision) and grants_of_role & set(a.policy_ids)]
        lo, hi = 0, len(revs)  # the largest number of this role's revisions (in plan order) whose grants fit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            trial = _with_scopes(_without(actions, revs[mid:]), settings.prefix)
            sizes = iam_policy.estimate_sizes(trial, plan_id=plan_id, region=settings.region)
            if all(r.level >= 0 for r in sizes if r.role_arn == role):
                lo = mid
            else:
                hi = mid - 1
        dropped = revs[lo:]
        actions = _with_scopes(_without(actions, dropped), settings.prefix)
        gone = {k for r in dropped for k in r.services}
        order = [k for k in order if k not in gone]
        blocked += [BlockedItem(
            kind=BLOCK_IAM_SIZE, path=r.source_arn,
            reason=(f"the read grants of the {len(revs)} revisions sharing execution role {role} need more than "
                    f"IAM's {iam_policy.INLINE_TOTAL_MAX:,} characters of inline policy even as the widest "
                    f"patterns; {lo} fit and are planned; {_left(r.services)}"),
            fix="plan again with --prefix NAME (every entry then sits under one directory and the grants compress to "
                "one pattern), or give these services their own execution role") for r in dropped]
    return actions, order, blocked


def _without(actions: list[Action], revs: Sequence[RegisterRevision]) -> list[Action]:
    """``actions`` minus everything of ``revs``: their entries, grants, registration, updates and waits."""
    drop: set[str] = set()
    for r in revs:
        drop.update(r.store_ids, r.policy_ids, (r.id,))
    drop.update(a.id for a in actions if isinstance(a, (UpdateService, WaitHealthy)) and a.register_id in drop)
    return [a for a in actions if a.id not in drop]


def _with_scopes(actions: list[Action], prefix: str) -> list[Action]:
    """Each grant gets the name directories its role may be granted as ``dir/*`` (plan-wide knowledge)."""
    name_of = {a.id: a.name for a in actions if isinstance(a, StoreAction)}
    grants = [a for a in actions if isinstance(a, PutRolePolicy)]
    by_role: dict[str, set[str]] = defaultdict(set)
    for g in grants:
        by_role[g.role_arn].update(name_of[i] for i in (*g.ssm_actions, *g.sm_actions))
    every = set(name_of.values())
    scopes = {role: iam_policy.scopes_for(names, every, prefix) for role, names in by_role.items()}
    out: list[Action] = []
    for a in actions:
        if isinstance(a, PutRolePolicy):
            mine = [name_of[i] for i in (*a.ssm_actions, *a.sm_actions)]
            a = dataclasses.replace(a, scopes=tuple(d for d in scopes[a.role_arn] if any(n.startswith(d) for n in mine)))
        out.append(a)
    return out


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
