"""The contract every source format implements, and the shared file reader.

A source turns a file into :class:`Entry` values (``load``) and, given the entries to move and the
reference each one gets, returns the text edits that perform the move (``rewrite``). Both are pure
functions of the file text: no AWS, no disk writes. Sources raise :class:`migrate.errors.InputError`
for anything they cannot parse; error messages never quote the input.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from migrate.errors import InputError
from migrate.model import Entry
from migrate.rewrite.edits import TextEdit, has_tokens

DEFAULT_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class SourceText:
    """A file's text, decoded exactly: BOM remembered, line endings untouched."""

    path: Path
    display: str
    text: str = field(repr=False)
    bom: bool
    sha256: str  #: of the raw bytes on disk

    def encode(self, text: str) -> bytes:
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_source(path: Path, display: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> SourceText:
    """Read a file as UTF-8 text (BOM allowed, kept on write). Raises InputError, never quoting content."""
    display = display if display is not None else str(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(display, f"cannot read file ({e.strerror or type(e).__name__})") from None
    if size > max_bytes:
        raise InputError(display, f"file is {size} bytes, over the {max_bytes}-byte cap (raise it with --max-file-size)")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(display, f"cannot read file ({e.strerror or type(e).__name__})") from None
    if b"\x00" in raw:
        raise InputError(display, "binary file (contains NUL bytes)")
    bom = raw.startswith(codecs.BOM_UTF8)
    body = raw[3:] if bom else raw
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        line = body[: e.start].count(b"\n") + 1
        raise InputError(display, f"invalid UTF-8 at byte {e.start + (3 if bom else 0)}", line=line) from None
    if has_tokens(text):
        raise InputError(display, "file contains Unicode private-use characters U+E000/U+E001, which the tool reserves")
    return SourceText(path=path, display=display, text=text, bom=bom, sha256=sha256_bytes(raw))


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


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

    @property
    def path(self) -> str:
        return self.source.display


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
