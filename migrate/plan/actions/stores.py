"""Store entries: an SSM SecureString parameter or a Secrets Manager secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, NotRequired, TypedDict

from migrate.plan.actions.base import Action, Category, ValueSource


@dataclass(frozen=True, kw_only=True)
class PutParameter(Action):
    """Create an SSM SecureString parameter holding one value."""

    kind: ClassVar[str] = "ssm.put-parameter"
    category: ClassVar[Category] = Category.CREATE
    name: str
    tier: str = "Standard"
    kms_key: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    values: tuple[ValueSource, ...]

    def describe(self) -> str:
        kms = f", KMS {self.kms_key}" if self.kms_key else ""
        return f"Create SSM SecureString parameter {self.name} ({self.tier}{kms}) for {_who(self.values)}"


@dataclass(frozen=True, kw_only=True)
class CreateSecret(Action):
    """Create a Secrets Manager secret: one value, or a JSON object of several (``json_key`` set)."""

    kind: ClassVar[str] = "secretsmanager.create-secret"
    category: ClassVar[Category] = Category.CREATE
    name: str
    kms_key: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    values: tuple[ValueSource, ...]

    @property
    def is_json(self) -> bool:
        return any(v.json_key for v in self.values)

    def describe(self) -> str:
        kms = f" (KMS {self.kms_key})" if self.kms_key else ""
        shape = f"JSON secret with {len(self.values)} keys" if self.is_json else "secret"
        return f"Create Secrets Manager {shape} {self.name}{kms} for {_who(self.values)}"


StoreAction = PutParameter | CreateSecret


class StoreReceipt(TypedDict):
    """Journaled when a store action is applied (the journal's record field names)."""

    arn: str
    created: bool  #: False: an existing entry with the same value was adopted (rollback leaves it)
    name: str
    adopted: NotRequired[bool]
    version: NotRequired[str]


def _who(values: tuple[ValueSource, ...]) -> str:
    names = sorted({f"{v.unit}.{v.name}" if v.unit else v.name for v in values})
    if len(names) > 3:
        return ", ".join(names[:3]) + f" (+{len(names) - 3})"
    return ", ".join(names)
