"""findings + settings -> Plan. Pure: no AWS calls, no disk writes (values stay in memory).

Order of actions: store entries, then IAM grants, then file rewrites. Rollback runs the reverse,
so files are restored while the values they need are still in the store.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migrate import iam_policy
from migrate.errors import MigrateError, PlanError
from migrate.model import Entry, FileReport, Finding
from migrate.plan import naming
from migrate.plan.actions import Action, PutRolePolicy, RewriteFile, ValueSource
from migrate.plan.fingerprint import fingerprint, key_id
from migrate.plan.model import BlockedItem, InputFile, Plan, PlanSettings
from migrate.plan.placement import place, store_action, template_for
from migrate.plan.render import diffs as render_diffs
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


@dataclass
class _Candidate:
    """One entry about to move: where it goes (the value stays in memory only)."""

    order: int
    file: int
    entry: Entry
    vs: ValueSource
    store: str
    tier: str | None
    name: str
    json_key: str | None
    value: str = field(repr=False)
    group: str
    project: str
    file_field: str


#: kinds of blocked items (plan ``blocked`` list)
BLOCK_PARSE = "parse-error"
BLOCK_CLASH = "name-clash"
BLOCK_ROLE = "execution-role"
BLOCK_GUARD = "plaintext-guard"
BLOCK_REWRITE = "rewrite"
BLOCK_LIMIT = "store-limit"

_GUARD_MIN = 6  # shorter values are too common to tell apart from the text around them


def new_plan_id() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:8]


def project_of(lf: LoadedFile, e: Entry) -> str:
    """``{project}``: compose project, task family, Terraform family; for CloudFormation the stack (the
    template's name), with the task definition's logical id when the template defines several."""
    stack = lf.group or Path(lf.path).stem
    if lf.kind == "cloudformation":
        ids = {x.group for x in lf.entries if x.group}
        return f"{stack}-{e.group}" if len(ids) > 1 and e.group else stack
    return e.group or stack


def is_override(path: str) -> bool:
    """A compose override file (``docker-compose.override.yml``, ``compose.override.yaml``...)."""
    return ".override." in Path(path).name


def parse_blocked(errors: Sequence[FileReport]) -> list[BlockedItem]:
    """Files that could not be read or parsed, as blocked items."""
    return [BlockedItem(kind=BLOCK_PARSE, path=f.path, line=f.line or 0, reason=f.reason or "cannot be parsed",
                        fix="fix the file (or add it to `exclude` in the config); the rest is planned without it")
            for f in errors]


def make_plan(loaded: Sequence[LoadedFile], findings: Sequence[Finding], settings: PlanSettings, *,
              sources: Mapping[str, Source] | None = None, plan_id: str | None = None,
              errors: Sequence[FileReport] = (), root: Path | None = None) -> Plan:
    """The plan for every migratable entry. ``root``: the directory plan paths hang from (the plan file's
    directory when every input is below it); default: the deepest directory holding every input. A problem with one file or entry (parse error, name clash,
    rewrite refused, plaintext guard, store limit) blocks that item only: it is listed in ``blocked``
    with its reason and fix, stays as it is, and everything else is planned."""
    if sources is None:
        from migrate.sources.registry import SOURCES

        sources = SOURCES
    plan_id = plan_id or new_plan_id()
    deepest = plan_root(loaded)
    root = root.resolve() if root is not None and deepest.is_relative_to(root.resolve()) else deepest
    _check_template(settings)
    by_key = {f.entry.key: f for f in findings}
    tags = {TAG_MANAGED_BY: TAG_MANAGED_BY_VALUE, TAG_PLAN_ID: plan_id}
    warnings: list[str] = []
    refused: list[dict[str, object]] = []
    blocked: list[BlockedItem] = parse_blocked(errors)
    moves_by_file: dict[int, list[Move]] = defaultdict(list)
    counter = iter(range(1, 1_000_000))

    def next_id() -> str:
        return f"a{next(counter)}"

    cands = _candidates(loaded, by_key, settings, moves_by_file, warnings, refused, blocked, root)
    targets, clashes = _assign(cands, settings, next_id)
    blocked.extend(clashes)
    for c in cands:
        t = targets.get((c.store, c.name))
        if t is None or all(v.key != c.entry.key for v in t.values):
            continue
        suffix = f":{c.json_key}::" if c.json_key else ""
        moves_by_file[c.file].append(Move(entry=c.entry, value_from=ref_token(t.action_id) + suffix, store=c.store,
                                          store_name=c.name, json_key=c.json_key))

    if settings.share_identical:
        _merge_identical(targets, moves_by_file)

    rewrites, granted = _rewrites(loaded, findings, moves_by_file, targets, sources, settings, blocked,
                                  next_id, root)

    warnings += _weak_notes(targets, by_key)
    warnings += list(dict.fromkeys(f"{b.path}: {b.unit}: {b.reason} (its entries are blocked)"  # one per unit
                                   for b in blocked if b.kind == BLOCK_ROLE and b.unit))
    store_actions: list[Action] = [store_action(t.action_id, t.store, t.name, t.tier, settings, tags, t.values)
                                   for t in targets.values()]
    if any(t.store == "secretsmanager" and any(v.json_key for v in t.values) for t in targets.values()):
        warnings.append("JSON-key references need Fargate platform 1.4.0+ or ECS agent 1.37.0+ (facts §1.3)")

    # IAM: one inline policy per execution role, for the entries its units use.
    policies = _policies(loaded, moves_by_file, targets, settings, plan_id, granted, warnings, next_id)

    inputs = _inputs(loaded, root, key_id())
    actions = tuple(store_actions) + tuple(policies) + tuple(rewrites)
    cost = _cost(targets)
    order = tuple(dict.fromkeys(r.display for r in rewrites))
    if not actions and refused:
        warnings.append("secrets were found but none can be migrated from these files (see refused)")
    if any(r.display.endswith("ecs-params.yml") for r in rewrites):
        warnings.append(COMPOSE_NOTE)
    warnings += iam_policy.size_warnings(actions, plan_id=plan_id, region=settings.region)
    return Plan(id=plan_id, created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                settings=settings, inputs=inputs, actions=actions, warnings=tuple(warnings),
                refused=tuple(refused), cost=cost, deploy_order=order, blocked=tuple(blocked),
                root=str(root) if loaded else "")


#: what moving compose values into ecs-params.yml means for people who run the file with plain compose
COMPOSE_NOTE = ("compose values move to ecs-params.yml (read by ecs-cli): plain `docker compose up` no longer gets "
                "them; run `secrets-migrate exec -- docker compose up` to start it with the values from the store")


def _candidates(loaded: Sequence[LoadedFile], by_key: Mapping[str, Finding], settings: PlanSettings,
                moves_by_file: dict[int, list[Move]], warnings: list[str], refused: list[dict[str, object]],
                blocked: list[BlockedItem], plan_root_dir: Path) -> list[_Candidate]:
    """Every secret entry to move, placed; references to existing secrets go straight to ``moves_by_file``,
    unmigratable ones to ``refused``, values no store can hold to ``blocked``."""
    cands: list[_Candidate] = []
    for i, lf in enumerate(loaded):
        warnings += [path_once(lf.path, w) for w in lf.warnings]
        root = str(lf.root) if lf.root is not None else None
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
            group = e.group or lf.group or Path(lf.path).stem
            project = project_of(lf, e)
            ffield = naming.file_field(lf.path, root)
            try:
                spot = place(settings, size=len(value.encode("utf-8")), where=e.path, group=group, unit=e.unit,
                             name=e.name, project=project, file=ffield)
            except PlanError as err:
                blocked.append(_entry_block(BLOCK_LIMIT, e, str(err), err.hint or "migrate this value by hand"))
                continue
            vs = ValueSource(key=e.key, definition=_rel(plan_root_dir, lf.source.path), source=lf.kind,
                             json_key=spot.json_key, name=e.name, unit=e.unit, display=e.value_path,
                             definition_display=lf.path)
            cands.append(_Candidate(len(cands), i, e, vs, spot.store, spot.tier, spot.name, spot.json_key, value,
                                    group, project, ffield))

    return cands


def _rewrites(loaded: Sequence[LoadedFile], findings: Sequence[Finding], moves_by_file: dict[int, list[Move]],
              targets: dict[tuple[str, str], _Target], sources: Mapping[str, Source], settings: PlanSettings,
              blocked: list[BlockedItem],
              next_id: Callable[[], str], root: Path) -> tuple[list[RewriteFile], set[str]]:
    """Rewrites, file by file: a file whose rewrite is refused or trips the plaintext guard is blocked alone
    (its entries stay as they are, and the store entries only they needed are not created)."""
    options = RewriteOptions(compose_target=settings.compose_target, execution_role=settings.execution_role)
    rewrites: list[RewriteFile] = []
    granted: set[str] = set()
    texts = _all_texts(loaded)
    kid = key_id()
    guard = _Guard(findings, loaded)
    dropped: set[str] = set()
    accepted: list[FileChange] = []
    by_path: dict[str, list[FileChange]] = defaultdict(list)
    for i in sorted(range(len(loaded)), key=lambda j: (is_override(loaded[j].path), j)):  # base files first
        lf = loaded[i]
        moves = moves_by_file.get(i)
        if not moves:
            continue
        done = _rewrite_file(lf, moves, sources[lf.kind], options, guard, blocked)
        if done is None:
            dropped.update(m.entry.key for m in moves)
            moves_by_file[i] = []
            continue
        changes, kept = done
        shared = [ch for ch in changes if ch.path in by_path]
        try:  # what several inputs write (one ecs-params.yml, a shared env file) must merge, or this file waits
            merge_shared([c for ch in shared for c in by_path[ch.path]] + shared)
        except MigrateError as err:
            blocked.append(BlockedItem(kind=BLOCK_REWRITE, path=lf.path, reason=str(err),
                                       fix=err.hint or "plan these definitions separately, or exclude one"))
            dropped.update(m.entry.key for m in moves)
            moves_by_file[i] = []
            continue
        for ch in changes:
            by_path[ch.path].append(ch)
        accepted += changes
        if len(kept) != len(moves):
            dropped.update(m.entry.key for m in moves if m not in kept)
            moves_by_file[i] = kept
    # every value token is re-read at apply from the definition file whose source loads it
    token_sources = {m.entry.key: ValueSource(key=m.entry.key, definition=_rel(root, loaded[i].source.path),
                                              source=loaded[i].kind, name=m.entry.name, unit=m.entry.unit,
                                              display=m.entry.value_path, definition_display=loaded[i].path)
                     for i, moves in moves_by_file.items() for m in moves}
    for ch in merge_shared(accepted):  # one change per file
        granted.update(ch.grants)
        abs_path, _text, bom, raw = texts.get(ch.path, (str(Path(ch.path).absolute()), "", False, None))
        digest: str | None = fingerprint(raw) if raw is not None and not ch.create else None
        used = {arg.split("|", 1)[1] for e in ch.edits for kind, arg in tokens(e.old) if kind == "value"}
        rewrites.append(RewriteFile(id=next_id(), path=_rel(root, Path(abs_path)), display=ch.path,
                                    before_digest=digest, key_id=kid if digest else "", bom=bom,
                                    edits=with_gaps(ch.edits), entries=tuple(ch.entries), summary=ch.summary,
                                    values=tuple(token_sources[k] for k in sorted(used) if k in token_sources)))
    _drop_values(targets, dropped)
    blocked.extend(guard.name_hits(targets))  # a value inside an entry name: never the case with slugged identifiers
    _drop_values(targets, {b for b in guard.blocked_keys})

    return rewrites, granted


def check_plaintext(plan: Plan, findings: Sequence[Finding], loaded: Sequence[LoadedFile]) -> None:
    """Last line of defence before a plan is written: no known secret value in a value position (edit
    text, revert templates, names, descriptions, diffs, messages). Identifiers that equal a weak value
    (``photoprism``) may appear as identifiers. Raises PlanError naming the file and entry, never the value."""
    leaks = _Guard(findings, loaded).leaks(plan)
    if leaks:
        raise PlanError(f"internal check failed: the plan would contain the plaintext value of {', '.join(leaks[:5])}"
                        + (f" and {len(leaks) - 5} more" if len(leaks) > 5 else "") + "; nothing written",
                        hint="exclude that file for now (config `exclude`) and please report this bug")


def plaintext_values(findings: Sequence[Finding]) -> list[str]:
    """Values of secret findings that are plaintext (not references): what must never be printed."""
    return [f.entry.value.reveal() for f in findings
            if f.is_secret and f.entry.value is not None and not f.entry.resolves_to]


def path_once(path: str, warning: str) -> str:
    """``path: warning`` with the path said once (sources often start their warnings with the file name)."""
    for p in (path, Path(path).name):
        if warning.startswith(f"{p}:"):
            warning = warning[len(p) + 1:].lstrip()
            break
    return f"{path}: {warning}"


def _weak_notes(targets: Mapping[tuple[str, str], _Target], by_key: Mapping[str, Finding]) -> list[str]:
    """A planned weak password (equal to a name of its own definition): a finding in itself, to rotate."""
    out: list[str] = []
    for t in targets.values():
        for vs in t.values:
            f = by_key.get(vs.key)
            if f is not None and "value:equals-identifier" in f.reasons:
                out.append(f"{f.entry.path}:{f.entry.line}: {vs.unit}.{vs.name} is a weak password (equal to a name "
                           "of its own definition): planned; rotate it after the migration")
    return sorted(out)


def _entry_block(kind: str, e: Entry, reason: str, fix: str) -> BlockedItem:
    return BlockedItem(kind=kind, path=e.path, line=e.line, unit=e.unit, name=e.name, reason=reason, fix=fix)


def _check_template(settings: PlanSettings) -> None:
    """A bad --name-template is a usage problem of the whole plan, not of one entry: refuse it up front."""
    for store in ("ssm", "secretsmanager"):
        naming.render_name(template_for(settings, store), prefix=settings.prefix, group="g", unit="u", name="n",
                           store=store, project="p", file="f")


def _assign(cands: Sequence[_Candidate], settings: PlanSettings,
            next_id: Callable[[], str]) -> tuple[dict[tuple[str, str], _Target], list[BlockedItem]]:
    """Targets by (store, name). Entries mapped to a name already holding another value are clashes:
    the base file keeps the name (override files yield), every other one is blocked with a working fix."""
    by_name: dict[tuple[str, str], list[_Candidate]] = defaultdict(list)
    for c in cands:
        by_name[(c.store, c.name)].append(c)
    targets: dict[tuple[str, str], _Target] = {}
    clashes: list[BlockedItem] = []
    for key in sorted(by_name, key=lambda k: by_name[k][0].order):
        group = sorted(by_name[key], key=lambda c: (is_override(c.entry.path), c.order))
        owner = group[0]
        t = targets[key] = _Target(next_id(), owner.store, owner.name, owner.tier, [], owner.value, owner.group)
        taken: dict[str | None, _Candidate] = {}
        for c in group:
            first = taken.get(c.json_key) if c.json_key is not None else owner if c is not owner else None
            if first is not None and first.value != c.value:
                clashes.append(_clash(c, first, settings))
                continue
            taken.setdefault(c.json_key, c)
            t.values.append(c.vs)
    return targets, clashes


def _clash(c: _Candidate, first: _Candidate, settings: PlanSettings) -> BlockedItem:
    e, o = c.entry, first.entry
    where = "key " + (c.json_key or "") + " of " if c.json_key else ""
    reason = (f"name clash: {where}{c.name} already holds {o.path} {o.unit}.{o.name} (another value)"
              + (f"; this file overrides {Path(o.path).name}" if is_override(e.path) and c.project == first.project
                 else ""))
    tmpl = template_for(settings, c.store)
    suggestion = None
    for cand in (tmpl if "{project}" in tmpl else tmpl.replace("{group}", "{project}"), naming.with_file(tmpl)):
        if cand != tmpl and _names_differ(cand, c, first, settings):
            suggestion = cand
            break
    fix = (f"use --name-template '{suggestion}'" if suggestion
           else "rename one of the two variables, or exclude one file (the two values would share one entry)")
    return _entry_block(BLOCK_CLASH, e, reason, fix)


def _names_differ(template: str, a: _Candidate, b: _Candidate, settings: PlanSettings) -> bool:
    def name(c: _Candidate) -> str:
        return naming.render_name(template, prefix=settings.prefix, group=c.group, unit=c.entry.unit,
                                  name=c.entry.name, store=c.store, project=c.project, file=c.file_field)

    return name(a) != name(b) or (a.json_key is not None and a.json_key != b.json_key)


def _drop_values(targets: dict[tuple[str, str], _Target], keys: set[str]) -> None:
    """Forget the values of blocked entries; a target left with none is not created."""
    if not keys:
        return
    for k, t in list(targets.items()):
        t.values = [v for v in t.values if v.key not in keys]
        if not t.values:
            del targets[k]


def _rewrite_file(lf: LoadedFile, moves: list[Move], src: Source, options: RewriteOptions, guard: _Guard,
                  blocked: list[BlockedItem]) -> tuple[list[FileChange], list[Move]] | None:
    """The changes of one file and its moves that survived the guard; None when the whole file is blocked
    (its entries stay as they are). Diffs are rendered from the edits, so the guard checks the edits."""
    for _attempt in range(4):
        try:
            changes: list[FileChange] = src.rewrite(lf, moves, options)
        except MigrateError as err:
            kind = BLOCK_ROLE if "execution" in str(err).lower() and "role" in str(err).lower() else BLOCK_REWRITE
            blocked.append(BlockedItem(kind=kind, path=lf.path, reason=str(err),
                                       fix=getattr(err, "hint", None) or "migrate these entries by hand"))
            return None
        roleless = _roleless(lf, moves, changes, options.execution_role)
        if roleless:  # nothing could read these values at deploy time: they stay as they are
            blocked += [_entry_block(BLOCK_ROLE, m.entry, why, "pass --execution-role ARN, or name the task "
                                     "execution role in the definition") for m, why in roleless]
            moves = [m for m in moves if all(m is not r for r, _ in roleless)]
            if not moves:
                return None
            continue
        hits = guard.check(lf, moves, changes)
        if not hits:
            return changes, moves
        bad = [m for m in moves if m.entry.key in hits]
        if not bad or len(bad) == len(moves):
            for m in moves:
                blocked.append(guard.block(m.entry, lf.path))
            return None
        for m in bad:
            blocked.append(guard.block(m.entry, lf.path))
        moves = [m for m in moves if m.entry.key not in hits]
    for m in moves:
        blocked.append(guard.block(m.entry, lf.path))
    return None


def role_problem(lf: LoadedFile, unit: str, fallback: str | None) -> str | None:
    """Why the values of ``unit`` could not be read at deploy time, or None: the task execution role the
    planner would grant. (The one place to judge a role: missing today; other checks belong here.)
    Compose files also run without ECS (``docker compose``, Compose secrets): a missing role is a warning
    there (see ``_policies``), not a block."""
    if lf.kind == "compose":
        return None
    ref = lf.execution_role_ref(unit)
    if ref.arn or ref.kind is RoleKind.SAME_TEMPLATE or (ref.kind is RoleKind.NONE and fallback):
        return None  # (a role of the same template without a grant stays a warning, see ``_policies``)
    if ref.kind is RoleKind.NONE:
        return f"no task execution role known for {unit}: nothing could read the value at deploy time"
    return f"execution role of {unit} is {ref.kind.value} ({ref.expression}: {ref.reason}); the tool cannot grant it"


def _roleless(lf: LoadedFile, moves: Sequence[Move], changes: Sequence[FileChange],
              fallback: str | None) -> list[tuple[Move, str]]:
    """Moves some unit of which has no usable execution role (entries the rewrite grants itself excepted)."""
    granted = {k for ch in changes for k in ch.grants}
    out: list[tuple[Move, str]] = []
    for m in moves:
        if m.entry.key in granted:
            continue
        why = next((w for w in (role_problem(lf, u, fallback) for u in m.entry.units) if w), None)
        if why:
            out.append((m, why))
    return out


class _Guard:
    """The plaintext guard, by value position: a known secret value must not appear in what the plan
    writes (edit text, revert templates, summaries, diffs, entry names). A value that is also an
    identifier of the tree (``MYSQL_PASSWORD: photoprism`` in service ``photoprism``) legitimately
    appears as that identifier: for it only ``NAME: value`` / ``"value": "value"`` shapes count."""

    def __init__(self, findings: Sequence[Finding], loaded: Sequence[LoadedFile]) -> None:
        idents: set[str] = set()
        for lf in loaded:
            idents.update(Path(lf.path).parts)
            idents.update((lf.group, *lf.units))
            for e in lf.entries:
                idents.update((e.unit, e.group, e.name, *e.units, *Path(e.value_path).parts))
        blob = "\n".join(sorted(i for i in idents if i))
        self.keys: dict[str, list[Entry]] = defaultdict(list)
        for f in findings:
            if f.is_secret and f.entry.value is not None and not f.entry.resolves_to:
                v = f.entry.value.reveal()
                if len(v) >= _GUARD_MIN:
                    self.keys[v].append(f.entry)
        self.ident_like = {v for v in self.keys if v in blob}
        self.blocked_keys: set[str] = set()

    def _hit(self, v: str, text: str) -> bool:
        if v not in text:
            return False
        if v not in self.ident_like:
            return True
        names = "|".join(re.escape(e.name) for e in self.keys[v])
        val = re.escape(v)
        shapes = (rf"(?:{names})[\"']?\s*[:=]\s*[\"']?{val}(?![\w.-])",
                  rf"[\"']value[\"']\s*[:=]\s*[\"']{val}[\"']")
        return any(re.search(p, text) for p in shapes)

    def check(self, lf: LoadedFile, moves: Sequence[Move], changes: Sequence[FileChange]) -> set[str]:
        """Keys of the entries whose value shows in this file's output (all of the file's when the value
        belongs to no moved entry)."""
        texts = [t for ch in changes for ed in ch.edits for t in (ed.new, ed.old)]
        texts += [ch.summary for ch in changes]
        out: set[str] = set()
        for v, entries in self.keys.items():
            if any(self._hit(v, t) for t in texts):
                mine = {e.key for e in entries} & {m.entry.key for m in moves}
                out |= mine or {m.entry.key for m in moves}
        return out

    def name_hits(self, targets: Mapping[tuple[str, str], _Target]) -> list[BlockedItem]:
        out: list[BlockedItem] = []
        for t in targets.values():
            for v in self.keys:
                if v not in self.ident_like and v in t.name:
                    for vs in t.values:
                        if vs.key not in self.blocked_keys:
                            self.blocked_keys.add(vs.key)
                            out.append(BlockedItem(kind=BLOCK_GUARD, path=vs.definition_display or vs.display,
                                                   unit=vs.unit, name=vs.name,
                                                   reason="the entry name would contain a secret value",
                                                   fix="change --prefix or --name-template"))
        return out

    def leaks(self, plan: Plan) -> list[str]:
        """``path:line unit.name`` of every entry whose value shows in a value position of ``plan``."""
        texts: list[str] = [*plan.warnings, *render_diffs(plan).values()]
        texts += [f"{b.reason} {b.fix}" for b in plan.blocked] + [str(r.get("reason", "")) for r in plan.refused]
        for a in plan.actions:
            texts.append(a.describe())
            if isinstance(a, RewriteFile):
                texts += [t for ed in a.edits for t in (ed.new, ed.old)] + [a.summary]
        names = [a.name for a in plan.store_actions]
        out: list[str] = []
        for v, entries in self.keys.items():
            if any(self._hit(v, t) for t in texts) or (v not in self.ident_like and any(v in n for n in names)):
                out += [f"{e.path}:{e.line} {e.unit}.{e.name}" for e in entries]
        return sorted(set(out))

    def block(self, e: Entry, path: str) -> BlockedItem:
        self.blocked_keys.add(e.key)
        return _entry_block(BLOCK_GUARD, e, f"the rewrite of {path} would write a secret value in plaintext",
                            "migrate this entry by hand and please report it")


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
    name_of = {t.action_id: t.name for t in targets.values()}
    all_names = {k: {t.name for t in targets.values() if (t.store == "ssm") == (k == "ssm")} for k in ("ssm", "sm")}
    for role in sorted(by_role):
        b = by_role[role]
        scopes = [d for k in ("ssm", "sm")
                  for d in iam_policy.scopes_for({name_of[i] for i in b[k]}, all_names[k], settings.prefix)]
        out.append(PutRolePolicy(id=next_id(), role_arn=role, policy_name=iam_policy.TOOL_POLICY,
                                 ssm_actions=tuple(sorted(b["ssm"])), sm_actions=tuple(sorted(b["sm"])),
                                 existing_arns=tuple(sorted(b["existing"])), kms_keys=kms, scopes=tuple(scopes)))
    return out


def _cost(targets: dict[tuple[str, str], _Target]) -> dict[str, object]:
    sm = sum(1 for t in targets.values() if t.store == "secretsmanager")
    std = sum(1 for t in targets.values() if t.store == "ssm" and t.tier == "Standard")
    adv = sum(1 for t in targets.values() if t.store == "ssm" and t.tier == "Advanced")
    monthly = round(sm * PRICE_SM_SECRET + adv * PRICE_SSM_ADVANCED, 2)
    return {"secrets_manager_secrets": sm, "ssm_standard_parameters": std, "ssm_advanced_parameters": adv,
            "monthly_usd": monthly, "note": "storage only; API calls extra ($0.05 per 10,000). Prices: see README."}

