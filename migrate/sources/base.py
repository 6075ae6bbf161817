"""The contract every source format implements (the file reader lives in ``reading`` and is
re-exported here).

A source turns a file into :class:`Entry` values (``load``) and, given the entries to move and the
reference each one gets, returns the text edits that perform the move (``rewrite``). Both are pure
functions of the file text: no AWS, no disk writes. Sources raise :class:`migrate.errors.InputError`
for anything they cannot parse; error messages never quote the input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol

from migrate.errors import MigrateError, RewriteError
from migrate.model import Entry, ValueKind
from migrate.rewrite.edits import (
    PREVIEW_ARN,
    TextEdit,
    apply_edits,
    check_edits,
    encode,
    old_template,
    ref_token,
    render,
    revert_edits,
    tokens,
)
from migrate.sources.reading import DEFAULT_MAX_BYTES as DEFAULT_MAX_BYTES
from migrate.sources.reading import SourceText as SourceText
from migrate.sources.reading import line_of as line_of
from migrate.sources.reading import read_source as read_source
from migrate.sources.reading import sha256_bytes as sha256_bytes


class RoleKind(StrEnum):
    """How a definition names its task execution role."""

    LITERAL_ARN = "literal-arn"  #: an ARN (written, or followed to a tfvars/default literal)
    SAME_TEMPLATE = "same-template"  #: a role resource of the same template / module / CDK app
    IMPORTED = "imported"  #: ``!ImportValue``, a module output: defined elsewhere
    UNRESOLVABLE = "unresolvable"  #: an expression the tool cannot follow
    NONE = "none"  #: no role named: ``--execution-role`` fills it in (or the definition is blocked)


@dataclass(frozen=True)
class ExecutionRoleRef:
    """The execution role one unit's task definition names (never holds a secret value).

    The grant goes to this role: a literal ARN gets an IAM inline policy; a role of the same
    template/module gets the grant written there as IaC by the rewrite (``grants_in_source``),
    so rollback removes it through the normal file revert; an import or an unresolvable
    expression cannot be granted by the tool (the planner blocks or asks for it)."""

    kind: RoleKind
    arn: str | None = None  #: known ARN (LITERAL_ARN; None otherwise)
    file: str | None = None  #: display path of the file defining the role (SAME_TEMPLATE)
    logical_id: str | None = None  #: CFN logical id, ``aws_iam_role.x``, CDK construct variable
    expression: str = ""  #: how the definition names it, e.g. ``!GetAtt Role.Arn``, ``var.x``
    reason: str = ""  #: why it cannot be granted (IMPORTED, UNRESOLVABLE, NONE)
    #: the rewrite writes (CFN/Terraform) or the construct already adds (CDK) the grant
    grants_in_source: bool = False


@dataclass(frozen=True)
class LoadedFile:
    """What a source read from one definition file."""

    source: SourceText = field(repr=False)
    kind: str
    entries: tuple[Entry, ...]
    units: tuple[str, ...] = ()
    #: other files this one pulled values from (env_files, tfvars, templates), as SourceText
    related: tuple[SourceText, ...] = field(default=(), repr=False)
    group: str = ""  #: task-definition family, compose project, stack name
    #: source-private parse state for ``rewrite`` (may hold values: never serialized or printed)
    data: Any = field(default=None, repr=False, compare=False)
    warnings: tuple[str, ...] = ()
    #: (unit, execution role ARN) pairs where the definition names its task execution role
    execution_roles: tuple[tuple[str, str], ...] = ()
    #: the scanned tree the file was loaded under (None: the file's own directory)
    root: Path | None = field(default=None, repr=False, compare=False)
    #: (unit, how its definition names the execution role); ``execution_role_ref`` reads it
    role_refs: tuple[tuple[str, ExecutionRoleRef], ...] = ()
    #: the Compose project of the file (``-p``/top-level ``name:``/folder name; an override file
    #: takes its base file's), "" for formats without projects. Naming templates use it as ``{project}``.
    project: str = ""

    @property
    def path(self) -> str:
        return self.source.display

    def execution_role_ref(self, unit: str) -> ExecutionRoleRef:
        """The execution role ``unit``'s definition names: ``role_refs`` when the format resolved
        it, else a literal ARN from ``execution_roles``, else NONE."""
        for u, ref in self.role_refs:
            if u == unit:
                return ref
        arn = dict(self.execution_roles).get(unit)
        if arn:
            kind = RoleKind.LITERAL_ARN if arn.startswith("arn:") else RoleKind.UNRESOLVABLE
            return ExecutionRoleRef(kind=kind, arn=arn if kind is RoleKind.LITERAL_ARN else None, expression=arn,
                                    reason="" if kind is RoleKind.LITERAL_ARN else "not an ARN")
        return ExecutionRoleRef(kind=RoleKind.NONE, reason="the definition names no execution role")


@dataclass(frozen=True)
class Move:
    """Move ``entry`` out of plaintext; the definition now references ``value_from``.

    ``value_from`` is a template: it normally holds a ``ref_token`` (the ARN is known only after the
    store entry exists), optionally followed by a JSON-key suffix such as ``:DB_PASSWORD::``.
    """

    entry: Entry
    value_from: str
    store: str = "ssm"  #: "ssm" | "secretsmanager" | "existing" (a reference that already exists)
    store_name: str = ""  #: parameter or secret name (plain, known at plan time)
    json_key: str | None = None  #: Secrets Manager JSON key when several values share one secret


@dataclass(frozen=True)
class RewriteOptions:
    compose_target: str = "ecs-params"  #: "ecs-params" | "compose-secrets"
    execution_role: str | None = None  #: ARN added where a task definition has none


@dataclass(frozen=True)
class FileChange:
    """Edits to one file. ``create`` means the file does not exist yet (edits then hold one
    insertion at 0..0 with the whole content and an empty ``old``)."""

    path: str  #: display path
    edits: tuple[TextEdit, ...]
    create: bool = False
    #: entry keys whose plaintext this change removes (for the plan review)
    entries: tuple[str, ...] = ()
    summary: str = ""  #: one line, e.g. "web: DB_PASSWORD environment -> secrets"
    #: entry keys whose read permission this change grants itself (CloudFormation role in the same
    #: template); the planner then writes no IAM policy for them
    grants: tuple[str, ...] = ()
    #: set when the file is shared by several inputs (``ecs-params.yml`` of a compose folder): this
    #: change is one input's contribution and ``merge_shared`` turns all of them into one change
    artifact: SharedArtifact | None = field(default=None, repr=False, compare=False)


class SharedArtifact(Protocol):
    """One input's contribution to a file that several inputs write to."""

    def merge(self, parts: Sequence[SharedArtifact]) -> FileChange:
        """The one change writing every contribution in ``parts`` (this one among them), built
        from the file as read at load time: a create when it did not exist, else a splice."""
        ...


def merge_shared(changes: Sequence[FileChange]) -> list[FileChange]:
    """One change per path: what several inputs write to the same file becomes one action.

    Contributions to a shared artifact are merged by the artifact; splices of one existing file
    (an ``.env`` file two compose files use) are merged when they do not overlap (an identical
    splice, e.g. the same line removed for both users, is kept once). Anything else (two
    different creates, overlapping splices) is a RewriteError naming the file. Order: the first
    change of each path, as given.
    """
    by_path: dict[str, list[FileChange]] = {}
    for ch in changes:
        by_path.setdefault(ch.path, []).append(ch)
    out: list[FileChange] = []
    for path, group in by_path.items():
        if len(group) == 1:
            out.append(group[0])
            continue
        parts = [c.artifact for c in group]
        if all(p is not None for p in parts):
            first = parts[0]
            assert first is not None
            out.append(first.merge([p for p in parts if p is not None]))
            continue
        if any(c.create or c.artifact is not None for c in group):
            raise RewriteError(f"{path}: several inputs write this file in ways that cannot be merged",
                               hint="plan these definitions separately")
        seen: dict[tuple[int, int, str], TextEdit] = {}
        for c in group:
            for ed in c.edits:
                seen.setdefault((ed.start, ed.end, ed.new), ed)
        edits = sorted(seen.values(), key=lambda e: (e.start, e.end))
        for a, b in zip(edits, edits[1:], strict=False):
            if b.start < a.end or (a.start == a.end == b.start == b.end):
                raise RewriteError(f"{path}: several inputs change the same text of this file",
                                   hint="plan these definitions separately")
        out.append(FileChange(path, tuple(edits), entries=tuple(dict.fromkeys(k for c in group for k in c.entries)),
                              summary="; ".join(dict.fromkeys(c.summary for c in group if c.summary)),
                              grants=tuple(dict.fromkeys(k for c in group for k in c.grants))))
    return out


class Source(Protocol):
    """A definition format. Implementations are stateless singletons listed in registry.py."""

    kind: ClassVar[str]

    def sniff(self, path: Path, text: str) -> bool:
        """True when ``text`` is this format. Decides by content (and extension as a hint only).
        Must be cheap and never raise; when in doubt return False (the file is then skipped)."""
        ...

    def load(self, src: SourceText, *, root: Path | None = None) -> LoadedFile:
        """Parse ``src`` into entries. Line numbers point at the value in the file that holds it.
        Raises InputError for unparsable input, never quoting the content."""
        ...

    def rewrite(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        """Pure: the edits that move every entry in ``moves`` to a secrets reference.

        Must keep formatting (comments, order, quotes, indentation, line endings), re-parse the
        result and check it has the intended structure (raising RewriteError otherwise), and
        return no FileChange for files that do not change. Revert data lives in each TextEdit.old.
        """
        ...


# --- the template method: formats locate splices, the base proves they revert ----------------------

#: whether ``load`` runs the revert proof (a trial rewrite). ``scan`` turns it off: it reports and
#: never rewrites, and the trial costs time. ``plan`` keeps it (the default).
_PROVE = [True]


@contextmanager
def unproven_loads() -> Iterator[None]:
    """Loads inside skip the trial rewrite (``scan``); entries keep the restorability their format
    found by itself, and ``plan`` proves the rest (its loads are proven)."""
    old = _PROVE[0]
    _PROVE[0] = False
    try:
        yield
    finally:
        _PROVE[0] = old


#: the reason an entry is refused when its rewrite would not revert (the engine turns a
#: non-restorable entry into "not migratable")
NOT_REVERTIBLE = "its rewrite would not revert byte-for-byte"
#: at most this many one-entry trial rewrites per file when the all-entries trial is refused
MAX_SINGLE_TRIALS = 64


class SourceBase:
    """Base of every format (a template method). Each format implements three hooks:

    * ``parse`` reads a file into entries;
    * ``splice`` locates the edits of a move (what to cut, what to insert, merged per file);
    * ``value_spans`` locates each plaintext value's raw text and encoding.

    The base does the rest, the same way for every format: ``load`` runs a trial rewrite of every
    plaintext literal and marks the entries whose rewrite would not rebuild the original bytes as
    not restorable (the planner then refuses them with a reason and makes no store entry for
    them); ``rewrite`` builds every revert template from the original text (``build_templates``),
    proves that the templates rebuild the original bytes with the in-memory values
    (``revert_failures``; RewriteError naming entries, never a value, when they do not), then
    re-loads the rewritten definition and checks that moved entries left their plaintext place and
    nothing else changed (``_check_entries``).
    """

    kind: ClassVar[str]

    def sniff(self, path: Path, text: str) -> bool:
        raise NotImplementedError

    def parse(self, src: SourceText, *, root: Path | None = None) -> LoadedFile:
        raise NotImplementedError

    def splice(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        """Locate the edits of ``moves`` (their ``old`` is rebuilt by the base from ``value_spans``)."""
        raise NotImplementedError

    def value_spans(self, loaded: LoadedFile) -> dict[str, tuple[str, int, int, str]]:
        """Entry key -> (file, start, end, encoding) of each plaintext value's raw text. With none,
        the templates the format wrote are kept as they are."""
        return {}

    def _spliced(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        """The format's splices with every revert template built here, from the original text: the
        span with each moved value replaced by its value token (``old_template``)."""
        return build_templates(loaded, moves, self.splice(loaded, moves, options), self.value_spans(loaded))

    def load(self, src: SourceText, *, root: Path | None = None) -> LoadedFile:
        loaded = self.parse(src, root=root)
        if root is not None:
            loaded = replace(loaded, root=root)
        return self._refuse_unrevertible(loaded) if _PROVE[0] else loaded

    def prove(self, loaded: LoadedFile) -> LoadedFile:
        """``loaded`` with the entries whose rewrite would not revert marked (what ``load`` does
        unless loads are unproven): for a file loaded by a scan that is then planned."""
        return self._refuse_unrevertible(loaded)

    def rewrite(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        changes = self._spliced(loaded, moves, options)
        failed = revert_failures(loaded, moves, changes)
        if failed and all(mv.store == "existing" for mv in moves if mv.entry.key in failed):
            # repointing an existing reference creates nothing: leaving it as it is loses nothing
            moves = [mv for mv in moves if mv.entry.key not in failed]
            changes = self._spliced(loaded, moves, options) if moves else []
            failed = revert_failures(loaded, moves, changes)
        if failed:
            names = sorted({mv.entry.name for mv in moves if mv.entry.key in failed})
            raise RewriteError(f"{loaded.path}: rewrite refused, {NOT_REVERTIBLE} ({', '.join(names)})",
                               hint="migrate these entries by hand or leave them out of the plan")
        self._check_entries(loaded, moves, changes)
        return changes

    def _check_entries(self, loaded: LoadedFile, moves: Sequence[Move], changes: Sequence[FileChange]) -> None:
        """Re-load the rewritten definition: every moved entry left its plaintext place, and every
        other entry is exactly as it was (name, place, value, kind). Compares values in memory;
        errors name entries only. Skipped when other existing files change too (env files,
        tfvars): the format's own re-load covers those, as this one would read them stale."""
        main = [c for c in changes if c.path == loaded.path]
        if len(main) != 1 or any(c.path != loaded.path and not c.create for c in changes):
            return
        src = loaded.source
        new = apply_edits(src.text, main[0].edits, ref=lambda _a: PREVIEW_ARN)
        try:
            after = self.parse(SourceText(path=src.path, display=src.display, text=new, bom=src.bom, sha256=""),
                               root=loaded.root)
        except MigrateError:
            raise RewriteError(f"{loaded.path}: the rewritten file does not load") from None
        moved = {(m.entry.unit, m.entry.name) for m in moves}
        before = Counter(_signature(e) for e in loaded.entries if (e.unit, e.name) not in moved)
        now = Counter(_signature(e) for e in after.entries if (e.unit, e.name) not in moved)
        if before != now:
            names = sorted({sig[2] for sig in (before - now) + (now - before)})
            raise RewriteError(f"{loaded.path}: the rewrite changed entries it did not move ({', '.join(names)})")
        places = {(m.entry.unit, m.entry.name, m.entry.location, m.entry.value_path) for m in moves}
        left = sorted({e.name for e in after.entries
                       if (e.unit, e.name, e.location, e.value_path) in places and not e.managed})
        if left:
            raise RewriteError(f"{loaded.path}: still in plaintext after the rewrite ({', '.join(left)})")

    def _refuse_unrevertible(self, loaded: LoadedFile) -> LoadedFile:
        cands = [e for e in loaded.entries if _movable(e)]
        if not cands:
            return loaded
        bad = self._trial(loaded, cands)
        if bad is None:  # the format refused moving all at once: try each entry alone
            bad = set()
            for e in cands[:MAX_SINGLE_TRIALS]:
                bad |= self._trial(loaded, [e]) or set()
        if not bad:
            return loaded
        entries = tuple(replace(e, restorable=False, note=_with_note(e.note)) if e.key in bad else e
                        for e in loaded.entries)
        return replace(loaded, entries=entries)

    def _trial(self, loaded: LoadedFile, entries: Sequence[Entry]) -> set[str] | None:
        """Keys of ``entries`` whose trial rewrite does not revert; None when the format refuses."""
        moves = [Move(entry=e, value_from=e.resolves_to, store="existing", store_name=e.resolves_to)
                 if e.resolves_to else Move(entry=e, value_from=ref_token(f"trial{i}"), store_name=f"trial{i}")
                 for i, e in enumerate(entries)]
        try:
            changes = self._spliced(loaded, moves, _TRIAL_OPTIONS)
        except MigrateError:
            return None
        return revert_failures(loaded, moves, changes)


#: a trial only needs the edits' shape: any role ARN stands in for one the user passes at plan time
_TRIAL_OPTIONS = RewriteOptions(execution_role="arn:aws:iam::123456789012:role/secrets-migrate-trial")


def _signature(e: Entry) -> tuple[str, str, str, str, str | None, str, bool]:
    """What must not change for an entry that is not moved (holds the value: memory only)."""
    return (e.unit, e.location, e.name, e.value_path, e.value.reveal() if e.value is not None else None,
            e.value_kind.value, e.managed)


def _movable(e: Entry) -> bool:
    if e.value is None or not e.restorable or e.managed or e.blocked:
        return False
    return e.value_kind is ValueKind.LITERAL or bool(e.resolves_to)


def _with_note(note: str) -> str:
    return f"{note}; {NOT_REVERTIBLE}" if note else NOT_REVERTIBLE


def build_templates(loaded: LoadedFile, moves: Sequence[Move], changes: Sequence[FileChange],
                    spans: dict[str, tuple[str, int, int, str]]) -> list[FileChange]:
    """``changes`` with each edit's ``old`` rebuilt from the original text and the moved values'
    spans. An edit that cuts through a moved value (covers part of it) is refused: its template
    would keep part of the plaintext."""
    if not spans:
        return list(changes)
    texts = {s.display: s.text for s in (loaded.source, *loaded.related)}
    out: list[FileChange] = []
    for ch in changes:
        text = texts.get(ch.path)
        if ch.create or text is None:
            out.append(ch)
            continue
        vals = [(s, e, key, enc) for key, (f, s, e, enc) in ((mv.entry.key, spans[mv.entry.key])
                for mv in moves if mv.entry.key in spans) if f == ch.path]
        edits: list[TextEdit] = []
        for ed in ch.edits:
            inside = [v for v in vals if ed.start <= v[0] and v[1] <= ed.end]
            if any(v[0] < ed.end and ed.start < v[1] and v not in inside for v in vals):
                raise RewriteError(f"{ch.path}: an edit cuts through a moved value")
            edits.append(replace(ed, old=old_template(text, ed.start, ed.end, inside)))
        out.append(replace(ch, edits=tuple(edits)))
    return out


def revert_failures(loaded: LoadedFile, moves: Sequence[Move], changes: Sequence[FileChange]) -> set[str]:
    """Entry keys of ``moves`` whose rewrite would not revert byte-for-byte (empty: proven).

    For every changed file, rebuilds the original bytes from the revert templates (``TextEdit.old``)
    with the in-memory values, exactly as rollback will, and compares them with the bytes read
    from disk (sha256 of the raw file, BOM included). A span that does not rebuild blames the
    entries whose value tokens it holds (every moved entry of that file when it holds none). A
    moved plaintext entry whose value no template restores is blamed too. Never raises; never
    puts a value anywhere.
    """
    texts = {s.display: s for s in (loaded.source, *loaded.related)}
    values = {mv.entry.key: mv.entry.value.reveal() for mv in moves if mv.entry.value is not None}
    by_file: dict[str, set[str]] = {}
    for mv in moves:
        by_file.setdefault(mv.entry.value_path, set()).add(mv.entry.key)
    all_keys = {mv.entry.key for mv in moves}
    failed: set[str] = set()
    restored: set[str] = set()

    def value(key: str, enc: str) -> str:
        return encode(enc, values[key])

    for ch in changes:
        keys = by_file.get(ch.path, set()) | set(ch.entries) or all_keys
        if ch.create:
            continue  # revert deletes the file it created
        src = texts.get(ch.path)
        if src is None:
            failed |= keys & all_keys
            continue
        text = src.text
        try:
            edits = check_edits(ch.edits, len(text))
        except RewriteError:
            failed |= keys & all_keys
            continue
        span_ok = True
        for e in edits:
            held = {arg.partition("|")[2] for kind, arg in tokens(e.old) if kind == "value"}
            try:
                ok = render(e.old, value=value) == text[e.start:e.end]
            except (KeyError, RewriteError, ValueError):
                ok = False
            if ok:
                restored |= held
            else:
                span_ok = False
                failed |= (held & all_keys) or (keys & all_keys)
        if not span_ok:
            continue
        try:
            new = apply_edits(text, edits, ref=lambda _a: PREVIEW_ARN)
            back = revert_edits(new, edits, ref=lambda _a: PREVIEW_ARN, value=value)
            ok = sha256_bytes(src.encode(back)) == src.sha256
        except (KeyError, RewriteError, ValueError):
            ok = False
        if not ok:
            failed |= keys & all_keys
    for mv in moves:  # a plaintext value that no template restores would be lost on rollback
        if mv.store != "existing" and mv.entry.value is not None and mv.entry.key not in restored:
            failed.add(mv.entry.key)
    return failed
