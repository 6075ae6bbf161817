"""The plan: settings, inputs with their keyed fingerprints, ordered actions. Serialized as versioned JSON.

A plan file is portable and holds nothing derived from a value:

* every file path is relative to the plan ``root``, itself written relative to the plan file's
  directory; paths are refused on load unless they stay below the root (no absolute path, no ``..``);
* input fingerprints are keyed (``migrate.plan.fingerprint``), never a plain hash;
* edits are addressed by gaps and templates, never by offsets (``migrate.rewrite.edits``);
* there is no stored display text: ``show``/``report`` render from the actions ``apply`` executes.

``digest()`` is a sha256 over a canonical JSON of the executable content; ``apply --digest`` refuses a
plan whose digest differs from the reviewed one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from migrate import __version__
from migrate.errors import PlanError
from migrate.plan.actions import (
    Action,
    CreateSecret,
    EcsAction,
    PutParameter,
    PutRolePolicy,
    RegisterRevision,
    RewriteFile,
    StoreAction,
    UpdateService,
    WaitHealthy,
    action_from_record,
)
from migrate.plan.choices import ComposeTarget, E, Group, Mode, StoreKind, parse

PLAN_FORMAT = "secrets-migrate/plan"
PLAN_VERSION = 2
#: the parts of a plan file that decide what apply does (the digest covers exactly these)
EXECUTABLE_KEYS = ("format", "version", "id", "root", "settings", "inputs", "actions")


@dataclass(frozen=True)
class PlanSettings:
    store: StoreKind = StoreKind.AUTO
    group: Group = Group.PER_VAR
    prefix: str = ""
    name_template: str | None = None
    kms_key: str | None = None
    execution_role: str | None = None
    compose_target: ComposeTarget = ComposeTarget.ECS_PARAMS
    share_identical: bool = False
    region: str | None = None
    profile: str | None = None

    def __post_init__(self) -> None:
        # plain strings (typer, playbooks, plan files) become the enum members; anything else is refused
        try:
            object.__setattr__(self, "store", parse(StoreKind, self.store, "--store"))
            object.__setattr__(self, "group", parse(Group, self.group, "--group"))
            object.__setattr__(self, "compose_target", parse(ComposeTarget, self.compose_target, "--compose-target"))
        except ValueError as e:
            raise PlanError(str(e)) from None
        if self.group == Group.PER_UNIT and self.store == StoreKind.SSM:
            raise PlanError("--group per-unit needs Secrets Manager (JSON keys); use --store secretsmanager or auto")

    @classmethod
    def from_options(cls, *, store: str = StoreKind.AUTO, group: str = Group.PER_VAR,
                     compose_target: str = ComposeTarget.ECS_PARAMS, **rest: Any) -> PlanSettings:
        """From command-line strings: each choice is checked against its StrEnum (PlanError naming the choices)."""
        def one(choice: type[E], value: str, flag: str) -> E:
            try:
                return parse(choice, value, flag)
            except ValueError as e:
                raise PlanError(str(e)) from None

        return cls(store=one(StoreKind, store, "--store"), group=one(Group, group, "--group"),
                   compose_target=one(ComposeTarget, compose_target, "--compose-target"), **rest)


def check_relpath(path: str, *, what: str = "path") -> str:
    """``path`` unless it could leave the plan root: absolute, with ``..``, a backslash or empty."""
    pp = PurePosixPath(path)
    if (not path or pp.is_absolute() or "\\" in path or ".." in pp.parts or path.startswith("~")
            or str(pp) != path or path == "."):
        raise PlanError(f"plan {what} {path!r} is not a plain relative path below the plan root",
                        hint="plan files are not edited by hand: re-run `secrets-migrate plan`")
    return path


@dataclass(frozen=True)
class InputFile:
    path: str  #: relative to the plan root
    display: str
    digest: str  #: keyed fingerprint (HMAC-SHA256 under this machine's key), never a plain hash
    kind: str
    key_id: str = ""  #: names the key that made ``digest``


@dataclass(frozen=True)
class BlockedItem:
    """Something the plan leaves as it is, and why: a file (``unit``/``name`` empty) or one entry.
    ``kind``: parse-error, name-clash, execution-role, plaintext-guard, rewrite, store-limit. Never a value."""

    kind: str
    path: str  #: display path of the definition
    reason: str
    fix: str = ""
    line: int = 0
    unit: str = ""
    name: str = ""

    def label(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where} {self.unit}.{self.name}" if self.name else where


@dataclass(frozen=True)
class ServiceProof:
    """Live plans: what ``plan --live`` proved about one service's new revision (issue 15 §4). ``state``:
    will start, would fail, could not check; ``reason``: ECS's words or the missing permission. Names and
    reasons only, never a value. Review information, like warnings: outside the digest (apply proves again)."""

    key: str  #: cluster/service
    state: str
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.state}: {self.reason}" if self.reason else self.state


@dataclass(frozen=True)
class Plan:
    id: str
    created: str
    settings: PlanSettings
    inputs: tuple[InputFile, ...]
    actions: tuple[Action, ...]
    tool_version: str = __version__
    #: absolute directory the relative paths hang from (in memory only; the file stores it relative to itself)
    root: str = field(default="", compare=False)
    warnings: tuple[str, ...] = ()
    refused: tuple[dict[str, Any], ...] = ()  #: secrets found but not migrated, with the reason
    cost: dict[str, Any] = field(default_factory=dict)
    deploy_order: tuple[str, ...] = ()
    blocked: tuple[BlockedItem, ...] = ()  #: left as they are (parse error, clash, guard...), with reason and fix
    proofs: tuple[ServiceProof, ...] = ()  #: live plans: per service, will its new tasks start (not digested)

    def reverse_order(self) -> tuple[Action, ...]:
        return tuple(reversed(self.actions))

    def irreversible(self) -> list[Action]:
        return [a for a in self.actions if not a.reversible]

    def by_id(self) -> dict[str, Action]:
        return {a.id: a for a in self.actions}

    @property
    def store_actions(self) -> list[StoreAction]:
        return [a for a in self.actions if isinstance(a, (PutParameter, CreateSecret))]

    @property
    def ecs_actions(self) -> list[EcsAction]:
        return [a for a in self.actions if isinstance(a, (RegisterRevision, UpdateService, WaitHealthy))]

    @property
    def mode(self) -> Mode:
        """LIVE when the plan changes running ECS services (applied in waves), FILE otherwise."""
        return Mode.LIVE if self.ecs_actions else Mode.FILE

    @property
    def rewrites(self) -> list[RewriteFile]:
        return [a for a in self.actions if isinstance(a, RewriteFile)]

    @property
    def policies(self) -> list[PutRolePolicy]:
        return [a for a in self.actions if isinstance(a, PutRolePolicy)]

    def counts(self) -> dict[str, int]:
        out = {"+": 0, "~": 0, "-": 0}
        for a in self.actions:
            out[a.category.value] += 1
        return out

    def root_path(self) -> Path:
        if not self.root:
            raise PlanError("this plan has no root directory (it names no files)")
        return Path(self.root)

    def to_doc(self, *, base: Path | None = None) -> dict[str, Any]:
        """The plan file document. ``base``: the directory the plan file is in (default: the current one)."""
        root = ""
        if self.root:
            root = Path(os.path.relpath(self.root, os.path.abspath(base or Path.cwd()))).as_posix()
        doc: dict[str, Any] = {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "id": self.id,
            "tool_version": self.tool_version,
            "created": self.created,
            "root": root,
            "settings": asdict(self.settings),
            "inputs": [asdict(i) for i in self.inputs],
            "summary": self.counts(),
            "cost": self.cost,
            "deploy_order": list(self.deploy_order),
            "actions": [a.to_record() for a in self.actions],
            "warnings": list(self.warnings),
            "refused": list(self.refused),
        }
        if self.blocked:  # written only when there are some
            doc["blocked"] = [asdict(b) for b in self.blocked]
        if self.proofs:  # live plans made with proofs only (the digest does not cover them: EXECUTABLE_KEYS)
            doc["proofs"] = [asdict(p) for p in self.proofs]
        return doc

    def to_json(self, *, base: Path | None = None) -> str:
        return json.dumps(self.to_doc(base=base), indent=2, ensure_ascii=False) + "\n"

    def digest(self, *, base: Path | None = None) -> str:
        """sha256 of the canonical JSON of what apply executes (root relative to ``base``)."""
        return digest_of(self.to_doc(base=base))

    @classmethod
    def from_json(cls, text: str, *, where: str = "plan", base: Path | None = None) -> Plan:
        """A plan file's plan. ``base``: the plan file's directory (its ``root`` is relative to it)."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise PlanError(f"{where}: not a plan file (invalid JSON at line {e.lineno})") from None
        if not isinstance(doc, dict) or doc.get("format") != PLAN_FORMAT:
            raise PlanError(f"{where}: not a secrets-migrate plan file")
        v = doc.get("version")
        if isinstance(v, int) and 0 < v < PLAN_VERSION:
            raise PlanError(f"{where}: plan format {v} is no longer supported: re-run plan",
                            hint="format 1 stored absolute paths, plain file hashes and edit offsets; "
                                 "re-run `secrets-migrate plan` with this version of the tool")
        if v != PLAN_VERSION:
            raise PlanError(f"{where}: plan format version {v} is not supported by this tool (expects {PLAN_VERSION})",
                            hint="re-run `secrets-migrate plan` with this version of the tool")
        try:
            root_rel = str(doc.get("root", ""))
            root = ""
            if root_rel:
                if PurePosixPath(root_rel).is_absolute() or "\\" in root_rel:
                    raise PlanError(f"{where}: plan root {root_rel!r} must be relative to the plan file")
                root = os.path.normpath(os.path.join(os.path.abspath(base or Path.cwd()), root_rel))
            plan = cls(
                id=str(doc["id"]),
                created=str(doc.get("created", "")),
                tool_version=str(doc.get("tool_version", "")),
                settings=PlanSettings(**doc.get("settings", {})),
                inputs=tuple(InputFile(**i) for i in doc.get("inputs", [])),
                actions=tuple(action_from_record(a) for a in doc.get("actions", [])),
                warnings=tuple(doc.get("warnings", [])),
                refused=tuple(doc.get("refused", [])),
                cost=dict(doc.get("cost", {})),
                deploy_order=tuple(doc.get("deploy_order", [])),
                root=root,
                blocked=tuple(BlockedItem(**b) for b in doc.get("blocked", [])),
                proofs=tuple(ServiceProof(**x) for x in doc.get("proofs", [])),
            )
        except (KeyError, TypeError) as e:
            raise PlanError(f"{where}: malformed plan file ({type(e).__name__}: {e})") from None
        plan.check_paths()
        return plan

    def check_paths(self) -> None:
        """Refuse a plan whose file paths could leave its root (a hand-edited plan)."""
        if self.mode is Mode.LIVE:
            return
        for i in self.inputs:
            check_relpath(i.path, what="input path")
        for r in self.rewrites:
            check_relpath(r.path, what="file path")
            for v in r.values:
                check_relpath(v.definition, what="definition path")
        for sa in self.store_actions:
            for v in sa.values:
                check_relpath(v.definition, what="definition path")
        if (self.inputs or self.rewrites) and not self.root:
            raise PlanError("plan names files but has no root directory")


def digest_of(doc: dict[str, Any]) -> str:
    """sha256 over the canonical JSON (sorted keys, no spaces, ASCII) of the executable keys of ``doc``."""
    body = {k: doc.get(k) for k in EXECUTABLE_KEYS}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canon.encode("ascii")).hexdigest()
