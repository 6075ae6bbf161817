"""File rewrites: splice edits into one file (or create it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict

from migrate.plan.actions.base import Action, Category, ValueSource
from migrate.rewrite.edits import TextEdit, edit_records


@dataclass(frozen=True, kw_only=True)
class RewriteFile(Action):
    """Splice edits into one file (or create it); revert rebuilds the original bytes."""

    kind: ClassVar[str] = "file.rewrite"
    category: ClassVar[Category] = Category.REWRITE
    path: str  #: relative to the plan root, confined to it (no absolute path, no ``..``)
    display: str
    before_digest: str | None  #: keyed fingerprint (``migrate.plan.fingerprint``); None when the file is created
    bom: bool = False
    edits: tuple[TextEdit, ...] = ()  #: serialized by gap, never by offset (``edit_records``)
    entries: tuple[str, ...] = ()  #: keys of the entries whose plaintext leaves this file
    summary: str = ""
    key_id: str = ""  #: which machine's fingerprint key made ``before_digest``
    values: tuple[ValueSource, ...] = ()  #: where each value token of ``edits`` is re-read at apply

    @property
    def creates(self) -> bool:
        return self.before_digest is None

    def describe(self) -> str:
        what = "Create" if self.creates else "Rewrite"
        extra = f": {self.summary}" if self.summary else ""
        return f"{what} {self.display}{extra}"

    def to_record(self) -> dict[str, Any]:
        d = super().to_record()
        d["edits"] = edit_records(self.edits)
        return d


class RewriteReceipt(TypedDict):
    after_sha256: str  #: the file as written; rollback and verify compare against it
