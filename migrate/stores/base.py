"""The store contract: Parameter Store and Secrets Manager behind one small interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from migrate.model import SecretValue

TAG_MANAGED_BY = "managed-by"
TAG_MANAGED_BY_VALUE = "secrets-migrate"
TAG_PLAN_ID = "secrets-migrate:plan-id"


@dataclass(frozen=True)
class StoredEntry:
    name: str
    arn: str
    tags: dict[str, str]
    version: str = ""
    pending_deletion: bool = False  #: Secrets Manager: scheduled for deletion

    def created_by(self, plan_id: str) -> bool:
        return self.tags.get(TAG_PLAN_ID) == plan_id and self.tags.get(TAG_MANAGED_BY) == TAG_MANAGED_BY_VALUE


class SecretStore(Protocol):
    kind: str  #: "ssm" | "secretsmanager"

    def lookup(self, name: str) -> StoredEntry | None:
        """The entry named ``name``, or None. Never reads the value."""
        ...

    def read(self, name_or_arn: str) -> SecretValue | None:
        """The current value (decrypted), or None when it does not exist."""
        ...

    def create(self, name: str, value: SecretValue, *, tags: dict[str, str], kms_key: str | None,
               tier: str | None, token: str) -> StoredEntry:
        """Create a new entry; never overwrites. ``token`` makes the call idempotent where AWS allows.
        Raises StoreError (with the AWS error code, never the value) on failure."""
        ...

    def delete(self, name: str) -> bool:
        """Delete immediately (no recovery window). True if something was deleted."""
        ...
