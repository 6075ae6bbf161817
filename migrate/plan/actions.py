"""Plan actions: inert, serializable data. Execution lives in migrate.apply.executor.

Every action declares ``kind`` (the serialized discriminator: never renamed), a ``Category`` symbol,
whether it is reversible, and a one-line ``describe()``. None of them holds a value: store actions
point at the source entries by key and the value is re-read from the file at apply time.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from migrate.errors import PlanError
from migrate.rewrite.edits import TextEdit


class Category(str, enum.Enum):
    CREATE = "+"
    REWRITE = "~"
    DELETE = "-"


@dataclass(frozen=True)
class ValueSource:
    """Where a store entry's value is read from at apply time."""

    key: str  #: Entry.key
    definition: str  #: absolute path of the definition file the source loads
    source: str  #: source kind (registry key)
    json_key: str | None = None  #: key inside a grouped Secrets Manager JSON secret
    name: str = ""  #: variable name, for humans
    unit: str = ""
    display: str = ""  #: display path of the file holding the value
    definition_display: str = ""  #: display path the definition was loaded under (entry keys use it)


@dataclass(frozen=True)
class Action:
    kind: ClassVar[str] = ""
    category: ClassVar[Category] = Category.CREATE
    reversible: ClassVar[bool] = True
    id: str

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_record(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind
        return d


@dataclass(frozen=True)
class PutParameter(Action):
    """Create an SSM SecureString parameter holding one value."""

    kind: ClassVar[str] = "ssm.put-parameter"
    category: ClassVar[Category] = Category.CREATE
    name: str = ""
    tier: str = "Standard"
    kms_key: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    values: tuple[ValueSource, ...] = ()

    def describe(self) -> str:
        kms = f", KMS {self.kms_key}" if self.kms_key else ""
        return f"Create SSM SecureString parameter {self.name} ({self.tier}{kms}) for {_who(self.values)}"


@dataclass(frozen=True)
class CreateSecret(Action):
    """Create a Secrets Manager secret: one value, or a JSON object of several (``json_key`` set)."""

    kind: ClassVar[str] = "secretsmanager.create-secret"
    category: ClassVar[Category] = Category.CREATE
    name: str = ""
    kms_key: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    values: tuple[ValueSource, ...] = ()

    @property
    def is_json(self) -> bool:
        return any(v.json_key for v in self.values)

    def describe(self) -> str:
        kms = f" (KMS {self.kms_key})" if self.kms_key else ""
        shape = f"JSON secret with {len(self.values)} keys" if self.is_json else "secret"
        return f"Create Secrets Manager {shape} {self.name}{kms} for {_who(self.values)}"


@dataclass(frozen=True)
class PutRolePolicy(Action):
    """Attach an inline least-privilege read policy to a task execution role."""

    kind: ClassVar[str] = "iam.put-role-policy"
    category: ClassVar[Category] = Category.CREATE
    role_arn: str = ""
    policy_name: str = ""
    ssm_actions: tuple[str, ...] = ()  #: store action ids whose parameter ARN is granted
    sm_actions: tuple[str, ...] = ()  #: store action ids whose secret is granted (NAME-??????)
    existing_arns: tuple[str, ...] = ()  #: existing secrets referenced as-is (CloudFormation resolve)
    kms_keys: tuple[str, ...] = ()

    def describe(self) -> str:
        n = len(self.ssm_actions) + len(self.sm_actions) + len(self.existing_arns)
        return f"Grant {self.role_arn.rsplit('/', 1)[-1]} read access to {n} entr{'y' if n == 1 else 'ies'} (inline policy {self.policy_name})"


@dataclass(frozen=True)
class RewriteFile(Action):
    """Splice edits into one file (or create it); revert rebuilds the original bytes."""

    kind: ClassVar[str] = "file.rewrite"
    category: ClassVar[Category] = Category.REWRITE
    path: str = ""  #: absolute
    display: str = ""
    before_sha256: str | None = None  #: None when the file is created
    bom: bool = False
    edits: tuple[TextEdit, ...] = ()
    entries: tuple[str, ...] = ()  #: keys of the entries whose plaintext leaves this file
    summary: str = ""

    @property
    def creates(self) -> bool:
        return self.before_sha256 is None

    def describe(self) -> str:
        what = "Create" if self.creates else "Rewrite"
        extra = f": {self.summary}" if self.summary else ""
        return f"{what} {self.display}{extra}"

    def to_record(self) -> dict[str, Any]:
        d = super().to_record()
        d["edits"] = [e.to_record() for e in self.edits]
        return d


ACTION_TYPES: dict[str, type[Action]] = {
    cls.kind: cls for cls in (PutParameter, CreateSecret, PutRolePolicy, RewriteFile)
}


def register_action(cls: type[Action]) -> type[Action]:
    """Decorator for action kinds defined elsewhere (live ECS)."""
    ACTION_TYPES[cls.kind] = cls
    return cls


def action_from_record(r: dict[str, Any]) -> Action:
    r = dict(r)
    kind = r.pop("kind", None)
    cls = ACTION_TYPES.get(str(kind))
    if cls is None:
        raise PlanError(f"unknown action kind {kind!r} in plan file")
    if "values" in r:
        r["values"] = tuple(ValueSource(**v) for v in r["values"])
    if "edits" in r:
        r["edits"] = tuple(TextEdit.from_record(e) for e in r["edits"])
    for k, v in list(r.items()):
        if isinstance(v, list):
            r[k] = tuple(v)
    try:
        return cls(**r)
    except TypeError as e:
        raise PlanError(f"malformed {kind} action in plan file ({e})") from None


def _who(values: tuple[ValueSource, ...]) -> str:
    names = sorted({f"{v.unit}.{v.name}" if v.unit else v.name for v in values})
    if len(names) > 3:
        return ", ".join(names[:3]) + f" (+{len(names) - 3})"
    return ", ".join(names)
