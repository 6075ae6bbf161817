"""The plan: settings, inputs with their hashes, ordered actions. Serialized as versioned JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
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
PLAN_VERSION = 1


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


@dataclass(frozen=True)
class InputFile:
    path: str  #: absolute
    display: str
    sha256: str
    kind: str


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
class Plan:
    id: str
    created: str
    settings: PlanSettings
    inputs: tuple[InputFile, ...]
    actions: tuple[Action, ...]
    tool_version: str = __version__
    diffs: dict[str, str] = field(default_factory=dict)  #: display path -> redacted unified diff
    warnings: tuple[str, ...] = ()
    refused: tuple[dict[str, Any], ...] = ()  #: secrets found but not migrated, with the reason
    cost: dict[str, Any] = field(default_factory=dict)
    deploy_order: tuple[str, ...] = ()
    blocked: tuple[BlockedItem, ...] = ()  #: left as they are (parse error, clash, guard...), with reason and fix

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

    def to_json(self) -> str:
        doc = {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "id": self.id,
            "tool_version": self.tool_version,
            "created": self.created,
            "settings": asdict(self.settings),
            "inputs": [asdict(i) for i in self.inputs],
            "summary": self.counts(),
            "cost": self.cost,
            "deploy_order": list(self.deploy_order),
            "actions": [a.to_record() for a in self.actions],
            "diffs": self.diffs,
            "warnings": list(self.warnings),
            "refused": list(self.refused),
        }
        if self.blocked:  # written only when there are some: older plan files round-trip byte-identical
            doc["blocked"] = [asdict(b) for b in self.blocked]
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: str = "plan") -> Plan:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise PlanError(f"{where}: not a plan file (invalid JSON at line {e.lineno})") from None
        if not isinstance(doc, dict) or doc.get("format") != PLAN_FORMAT:
            raise PlanError(f"{where}: not a secrets-migrate plan file")
        v = doc.get("version")
        if v != PLAN_VERSION:
            raise PlanError(f"{where}: plan format version {v} is not supported by this tool (expects {PLAN_VERSION})",
                            hint="re-run `secrets-migrate plan` with this version of the tool")
        try:
            return cls(
                id=str(doc["id"]),
                created=str(doc.get("created", "")),
                tool_version=str(doc.get("tool_version", "")),
                settings=PlanSettings(**doc.get("settings", {})),
                inputs=tuple(InputFile(**i) for i in doc.get("inputs", [])),
                actions=tuple(action_from_record(a) for a in doc.get("actions", [])),
                diffs=dict(doc.get("diffs", {})),
                warnings=tuple(doc.get("warnings", [])),
                refused=tuple(doc.get("refused", [])),
                cost=dict(doc.get("cost", {})),
                deploy_order=tuple(doc.get("deploy_order", [])),
                blocked=tuple(BlockedItem(**b) for b in doc.get("blocked", [])),
            )
        except (KeyError, TypeError) as e:
            raise PlanError(f"{where}: malformed plan file ({type(e).__name__}: {e})") from None
