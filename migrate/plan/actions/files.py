"""File rewrites: splice edits into one file (or create it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict

from migrate.plan.actions.base import Action, Category
from migrate.rewrite.edits import TextEdit


@dataclass(frozen=True, kw_only=True)
class RewriteFile(Action):
    """Splice edits into one file (or create it); revert rebuilds the original bytes."""

    kind: ClassVar[str] = "file.rewrite"
    category: ClassVar[Category] = Category.REWRITE
    path: str  #: absolute
    display: str
    before_sha256: str | None  #: None when the file is created
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


class RewriteReceipt(TypedDict):
    after_sha256: str  #: the file as written; rollback and verify compare against it
