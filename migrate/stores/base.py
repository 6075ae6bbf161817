"""The store contract: Parameter Store and Secrets Manager behind one small interface."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from migrate.errors import StoreError
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
    #: the run tokens the entry carries (SSM: in its description; Secrets Manager: its version ids and description);
    #: None when they could not be read (``marks_error`` says which permission was missing)
    marks: frozenset[str] | None = None
    marks_error: str = ""

    def created_by(self, plan_id: str) -> bool:
        """The tags say a run of ``plan_id`` made it. A second signal only, never proof of ownership."""
        return self.tags.get(TAG_PLAN_ID) == plan_id and self.tags.get(TAG_MANAGED_BY) == TAG_MANAGED_BY_VALUE

    def holds(self, token: str) -> bool:
        """Proof of ownership: the entry carries the unique run token of the intent that created it.

        Raises StoreError naming the missing permission when the marks could not be read."""
        if self.marks is None:
            raise StoreError(f"cannot prove who created {self.name}: {self.marks_error or 'its description is unreadable'}",
                             hint="grant that permission, then run the command again (nothing was deleted)")
        return bool(token) and token in self.marks


_TOKEN = re.compile(r"run token ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def description_for(token: str) -> str:
    """The description of an entry created under run token ``token`` (a random UUID; never a value)."""
    return f"Created by secrets-migrate (run token {token})" if token else "Created by secrets-migrate"


def marks_of(description: str | None) -> set[str]:
    return set(_TOKEN.findall(description or ""))


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
