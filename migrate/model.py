"""Core value types shared by every stage of the pipeline.

Plaintext lives only inside :class:`SecretValue`. Nothing else in this module holds a value, and
``SecretValue`` refuses to show itself through ``repr``, ``str``, ``format`` or pickling.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class SecretValue:
    """A plaintext value held in memory. ``reveal()`` is the only way to read it."""

    __slots__ = ("_v",)
    _v: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_v", value)

    def reveal(self) -> str:
        return self._v

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("SecretValue is immutable")

    def __repr__(self) -> str:
        return "SecretValue(***)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._v == self._v

    def __hash__(self) -> int:
        return hash(("SecretValue", self._v))

    def __bool__(self) -> bool:
        return bool(self._v)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("SecretValue cannot be pickled")


class ValueKind(str, enum.Enum):  # noqa: UP042 - str() of a member is output API; StrEnum changes it
    LITERAL = "literal"  # a plaintext value written in the file
    EMPTY = "empty"  # empty or missing value
    REFERENCE = "reference"  # ARN, SSM name, secret reference: not plaintext here
    INTERPOLATED = "interpolated"  # ${VAR} with no default: the value comes from elsewhere at render time
    TEMPLATED = "templated"  # {{ x }}, <changeme>, $VAR, Terraform expressions...


class Verdict(str, enum.Enum):  # noqa: UP042 - str() of a member is output API; StrEnum changes it
    SECRET = "secret"
    NOT_SECRET = "not-secret"


class Confidence(str, enum.Enum):  # noqa: UP042 - str() of a member is output API; StrEnum changes it
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# Where an entry sits. The JSON contract uses these strings.
LOC_ENVIRONMENT = "environment"
LOC_LOG_OPTIONS = "logConfiguration.options"
LOC_COMPOSE_ENV = "compose.environment"
LOC_ENV_FILE = "env_file"


@dataclass(frozen=True)
class Entry:
    """One (name, value) pair found in a source file.

    ``key`` is stable across runs and identifies the entry at apply time (the value is re-read
    from the source then). It is built from the path and a structural pointer, never the value.
    """

    path: str  #: the definition file, as given on the command line (display form)
    line: int  #: 1-based line of the value in ``value_path``
    unit: str  #: container name, compose service, ... (first user when shared)
    location: str  #: one of the LOC_* strings (sources may add their own)
    name: str  #: variable or option name
    value: SecretValue | None = field(repr=False, compare=False)
    value_kind: ValueKind = ValueKind.LITERAL
    pointer: str = ""  #: structural locator inside ``value_path`` (JSON pointer style)
    source: str = ""  #: source kind that produced it (ecs-taskdef, compose, env-file, ...)
    value_path: str = ""  #: file that holds the plaintext (env_file, tfvars...); defaults to path
    units: tuple[str, ...] = ()  #: every unit that uses the value (anchors, shared env files)
    group: str = ""  #: app grouping: task-definition family, compose project, stack...
    managed: bool = False  #: already a secrets/secretOptions reference
    note: str = ""  #: free text about why the value kind was chosen (never the value)
    restorable: bool = True  #: the original text can be rebuilt byte-identically from the value
    #: for values that are dynamic references resolved into plaintext at deploy time
    #: (CloudFormation ``{{resolve:secretsmanager:ID...}}``): the existing secret id or ARN
    resolves_to: str = ""
    #: why the source cannot move this entry although its value is plaintext (e.g. a CloudFormation
    #: parameter that other resources use too); the finding is then not migratable, with this reason
    blocked: str = ""

    def __post_init__(self) -> None:
        if not self.value_path:
            object.__setattr__(self, "value_path", self.path)
        if not self.units:
            object.__setattr__(self, "units", (self.unit,))

    @property
    def key(self) -> str:
        return f"{self.value_path}#{self.pointer}"


@dataclass(frozen=True)
class Finding:
    entry: Entry
    verdict: Verdict
    confidence: Confidence
    reasons: tuple[str, ...]
    migratable: bool
    why_not: str = ""  #: reason the entry cannot be migrated from this file

    @property
    def is_secret(self) -> bool:
        return self.verdict is Verdict.SECRET


class FileStatus(str, enum.Enum):  # noqa: UP042 - str() of a member is output API; StrEnum changes it
    SCANNED = "scanned"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass(frozen=True)
class FileReport:
    path: str
    kind: str  #: source kind, or "unknown"
    status: FileStatus
    reason: str = ""
    line: int | None = None
