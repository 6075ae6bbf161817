"""findings + settings -> Plan. Pure: no AWS calls, no disk writes (values stay in memory).

Order of actions: store entries, then IAM grants, then file rewrites. Rollback runs the reverse,
so files are restored while the values they need are still in the store.
"""

from __future__ import annotations

import datetime as _dt
import os
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from migrate.errors import PlanError
from migrate.model import Finding
from migrate.plan.actions import Action, PutRolePolicy, RewriteFile, ValueSource
from migrate.plan.fingerprint import fingerprint, key_id
from migrate.plan.model import InputFile, Plan, PlanSettings
from migrate.plan.placement import place, store_action
from migrate.rewrite.edits import ref_token, tokens, with_gaps
from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions, RoleKind, Source, merge_shared
from migrate.stores.base import TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_PLAN_ID

PRICE_SM_SECRET = 0.40  # USD per secret per month (facts sheet §3, UNCONFIRMED against the pricing page)
PRICE_SSM_ADVANCED = 0.05  # USD per advanced parameter per month


@dataclass
class _Target:
    action_id: str
    store: str
    name: str
    tier: str | None
    values: list[ValueSource]
    value_text: str  # in memory only, to detect clashes between entries sharing a name
    group: str = ""


def new_plan_id() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:8]


def make_plan(loaded: Sequence[LoadedFile], findings: Sequence[Finding], settings: PlanSettings, *,
              sources: Mapping[str, Source] | None = None, plan_id: str | None = None,
              root: Path | None = None) -> Plan:
    """The plan. ``root``: the directory plan paths hang from (the plan file's directory when every input
    is below it); default: the deepest directory holding every input."""
    if sources is None:
        from migrate.sources.registry import SOURCES

        sources = SOURCES
    plan_id = plan_id or new_plan_id()
    deepest = plan_root(loaded)
    root = root.resolve() if root is not None and deepest.is_relative_to(root.resolve()) else deepest
    by_key = {f.entry.key: f for f in findings}
    tags = {TAG_MANAGED_BY: TAG_MANAGED_BY_VALUE, TAG_PLAN_ID: plan_id}
    warnings: list[str] = []
    refused: list[dict[str, object]] = []
    targets: dict[tuple[str, str], _Target] = {}  # (store, name) -> target
    moves_by_file: dict[int, list[Move]] = defaultdict(list)
    counter = iter(range(1, 1_000_000))

    def next_id() -> str:
        return f"a{next(counter)}"

    for i, lf in enumerate(loaded):
        for w in lf.warnings:
            warnings.append(f"{lf.path}: {w}")
        for e in lf.entries:
            f = by_key.get(e.key)
            if f is None or not f.is_secret:
                continue
            if e.resolves_to:  # a deploy-time dynamic reference: point at the existing secret instead
                moves_by_file[i].append(Move(entry=e, value_from=e.resolves_to, store="existing", store_name=e.resolves_to))
                continue
            if not f.migratable:
                refused.append({"path": e.path, "line": e.line, "unit": e.unit, "name": e.name,
                                "location": e.location, "reason": f.why_not or "not migratable"})
                continue
            assert e.value is not None
            value = e.value.reveal()
            size = len(value.encode("utf-8"))
            group = e.group or lf.group or Path(lf.path).stem
            spot = place(settings, size=size, where=e.path, group=group, unit=e.unit, name=e.name)
            store, tier, name, json_key = spot.store, spot.tier, spot.name, spot.json_key
            vs = ValueSource(key=e.key, definition=_rel(root, lf.source.path), source=lf.kind, json_key=json_key,
                             name=e.name, unit=e.unit, display=e.value_path,
                             definition_display=lf.path)
            t = targets.get((store, name))
            if t is None:
                t = targets[(store, name)] = _Target(next_id(), store, name, tier, [], value, group)
            else:
                _check_clash(t, vs, value, e.path, by_key)
            t.values.append(vs)
            suffix = f":{json_key}::" if json_key else ""
            moves_by_file[i].append(Move(entry=e, value_from=ref_token(t.action_id) + suffix, store=store,
                                         store_name=name, json_key=json_key))

    if settings.share_identical:
        _merge_identical(targets, moves_by_file)

    store_actions: list[Action] = [store_action(t.action_id, t.store, t.name, t.tier, settings, tags, t.values)
                                   for t in targets.values()]
    if any(t.store == "secretsmanager" and any(v.json_key for v in t.values) for t in targets.values()):
        warnings.append("JSON-key references need Fargate platform 1.4.0+ or ECS agent 1.37.0+ (facts §1.3)")

    # Rewrites
    options = RewriteOptions(compose_target=settings.compose_target, execution_role=settings.execution_role)
    rewrites: list[RewriteFile] = []
    granted: set[str] = set()
    texts = _all_texts(loaded)
    kid = key_id()
    # every value token is re-read at apply from the definition file whose source loads it
    token_sources = {m.entry.key: ValueSource(key=m.entry.key, definition=_rel(root, loaded[i].source.path),
                                              source=loaded[i].kind, name=m.entry.name, unit=m.entry.unit,
                                              display=m.entry.value_path, definition_display=loaded[i].path)
                     for i, moves in moves_by_file.items() for m in moves}
    for ch in _changes(loaded, moves_by_file, sources, options):  # one per file (ecs-params.yml merged)
        granted.update(ch.grants)
        abs_path, _text, bom, raw = texts.get(ch.path, (str(Path(ch.path).absolute()), "", False, None))
        digest: str | None = fingerprint(raw) if raw is not None and not ch.create else None
        used = {arg.split("|", 1)[1] for e in ch.edits for kind, arg in tokens(e.old) if kind == "value"}
        rewrites.append(RewriteFile(id=next_id(), path=_rel(root, Path(abs_path)), display=ch.path,
                                    before_digest=digest, key_id=kid if digest else "", bom=bom,
                                    edits=with_gaps(ch.edits), entries=tuple(ch.entries), summary=ch.summary,
                                    values=tuple(token_sources[k] for k in sorted(used) if k in token_sources)))

    # IAM: one inline policy per execution role, for the entries its units use.
    policies = _policies(loaded, moves_by_file, targets, settings, plan_id, granted, warnings, next_id)

    inputs = _inputs(loaded, root, kid)
    actions = tuple(store_actions) + tuple(policies) + tuple(rewrites)
    cost = _cost(targets)
    order = tuple(dict.fromkeys(r.display for r in rewrites))
    if not actions and refused:
        warnings.append("secrets were found but none can be migrated from these files (see refused)")
    return Plan(id=plan_id, created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                settings=settings, inputs=inputs, actions=actions, warnings=tuple(warnings),
                refused=tuple(refused), cost=cost, deploy_order=order, root=str(root) if loaded else "")


def _changes(loaded: Sequence[LoadedFile], moves_by_file: dict[int, list[Move]], sources: Mapping[str, Source],
             options: RewriteOptions) -> list[FileChange]:
    """Every file change of the plan, one per file: what several inputs write (the ecs-params.yml
    of a compose folder, an env file two compose files use) is merged into one change."""
    out: list[FileChange] = []
    for i, lf in enumerate(loaded):
        moves = moves_by_file.get(i)
        if moves:
            out.extend(sources[lf.kind].rewrite(lf, moves, options))
    return merge_shared(out)


def plaintext_values(findings: Sequence[Finding]) -> list[str]:
    """Values of secret findings that are plaintext (not references): what must never be printed."""
    return [f.entry.value.reveal() for f in findings
            if f.is_secret and f.entry.value is not None and not f.entry.resolves_to]


def _check_clash(t: _Target, vs: ValueSource, value: str, path: str, by_key: dict[str, Finding]) -> None:
    """A second value mapped to the entry of ``t``: fine when it is the same value (or another JSON key)."""
    if vs.json_key is not None:
        other = next((v for v in t.values if v.json_key == vs.json_key), None)
        if other is not None and _values_differ(other, value, by_key):
            raise PlanError(f"two different values would share secret {t.name} key {vs.json_key} "
                            f"({path} and {other.display})", hint="use --name-template with {group}")
    elif t.value_text != value:
        raise PlanError(f"name clash: {path} {vs.unit}.{vs.name} and {t.values[0].display} "
                        f"{t.values[0].unit}.{t.values[0].name} both map to {t.name} with different values",
                        hint="use a --name-template that tells them apart (e.g. add {group})")


def _values_differ(other: ValueSource, value: str, by_key: dict[str, Finding]) -> bool:
    f = by_key.get(other.key)
    return f is None or f.entry.value is None or f.entry.value.reveal() != value


def _merge_identical(targets: dict[tuple[str, str], _Target], moves_by_file: dict[int, list[Move]]) -> None:
    """--share-identical: entries of one group with the same value use one store entry."""
    seen: dict[tuple[str, str, str], _Target] = {}
    remap: dict[str, _Target] = {}
    for key, t in list(targets.items()):
        if any(v.json_key for v in t.values):
            continue
        k = (t.store, t.group, t.value_text)
        if k in seen:
            keep = seen[k]
            keep.values.extend(t.values)
            remap[t.action_id] = keep
            del targets[key]
        else:
            seen[k] = t
    if not remap:
        return
    for moves in moves_by_file.values():
        for j, m in enumerate(moves):
            for old_id, keep in remap.items():
                tok = ref_token(old_id)
                if m.value_from.startswith(tok):
                    moves[j] = Move(entry=m.entry, value_from=ref_token(keep.action_id) + m.value_from[len(tok):],
                                    store=m.store, store_name=keep.name, json_key=m.json_key)


def plan_root(loaded: Sequence[LoadedFile]) -> Path:
    """The deepest directory holding every input file: plan paths are relative to it."""
    dirs = [str(st.path.resolve().parent) for lf in loaded for st in (lf.source, *lf.related)]
    return Path(os.path.commonpath(dirs)) if dirs else Path.cwd()


def _rel(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` (POSIX form); PlanError when it is not below it."""
    p = Path(os.path.abspath(path if path.is_absolute() else Path.cwd() / path))
    try:
        rp = p.resolve().relative_to(root) if p.exists() else p.relative_to(root)
    except ValueError:
        raise PlanError(f"{path} is outside the plan root {root}") from None
    return rp.as_posix()


def _all_texts(loaded: Sequence[LoadedFile]) -> dict[str, tuple[str, str, bool, bytes | None]]:
    out: dict[str, tuple[str, str, bool, bytes | None]] = {}
    for lf in loaded:
        for st in (lf.source, *lf.related):
            out[st.display] = (str(st.path.resolve()), st.text, st.bom, st.encode(st.text))
    return out


def _inputs(loaded: Sequence[LoadedFile], root: Path, kid: str) -> tuple[InputFile, ...]:
    seen: dict[str, InputFile] = {}
    for lf in loaded:
        for st in (lf.source, *lf.related):
            p = _rel(root, st.path)
            if p not in seen:
                seen[p] = InputFile(path=p, display=st.display, digest=fingerprint(st.encode(st.text)),
                                    kind=lf.kind if st is lf.source else "related", key_id=kid)
    return tuple(seen.values())


def _policies(loaded: Sequence[LoadedFile], moves_by_file: dict[int, list[Move]], targets: dict[tuple[str, str], _Target],
              settings: PlanSettings, plan_id: str, granted: set[str], warnings: list[str],
              next_id: Callable[[], str]) -> list[PutRolePolicy]:
    by_role: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"ssm": set(), "sm": set(), "existing": set()})
    ids_by_name = {(t.store, t.name): t.action_id for t in targets.values()}
    missing: set[str] = set()
    for i, lf in enumerate(loaded):
        for m in moves_by_file.get(i, []):
            if m.entry.key in granted:
                continue
            for unit in m.entry.units:
                ref = lf.execution_role_ref(unit)  # the role the task really uses; the fallback only when none
                role = ref.arn or (settings.execution_role if ref.kind is RoleKind.NONE else None)
                if not role:
                    missing.add(f"{lf.path}:{unit}" + (f" (execution role {ref.expression}: {ref.reason})"
                                                       if ref.kind is not RoleKind.NONE else ""))
                    continue
                if m.store == "existing":
                    by_role[role]["existing"].add(m.value_from)
                else:
                    bucket = "ssm" if m.store == "ssm" else "sm"
                    by_role[role][bucket].add(ids_by_name[(m.store, m.store_name)])
    for w in sorted(missing):
        warnings.append(f"{w}: no task execution role known; grant it read access yourself or pass --execution-role")
    out: list[PutRolePolicy] = []
    kms = (settings.kms_key,) if settings.kms_key and not settings.kms_key.startswith("alias/aws/") else ()
    for role in sorted(by_role):
        b = by_role[role]
        out.append(PutRolePolicy(id=next_id(), role_arn=role, policy_name=f"secrets-migrate-{plan_id}",
                                 ssm_actions=tuple(sorted(b["ssm"])), sm_actions=tuple(sorted(b["sm"])),
                                 existing_arns=tuple(sorted(b["existing"])), kms_keys=kms))
    return out


def _cost(targets: dict[tuple[str, str], _Target]) -> dict[str, object]:
    sm = sum(1 for t in targets.values() if t.store == "secretsmanager")
    std = sum(1 for t in targets.values() if t.store == "ssm" and t.tier == "Standard")
    adv = sum(1 for t in targets.values() if t.store == "ssm" and t.tier == "Advanced")
    monthly = round(sm * PRICE_SM_SECRET + adv * PRICE_SSM_ADVANCED, 2)
    return {"secrets_manager_secrets": sm, "ssm_standard_parameters": std, "ssm_advanced_parameters": adv,
            "monthly_usd": monthly, "note": "storage only; API calls extra ($0.05 per 10,000). Prices: see README."}

