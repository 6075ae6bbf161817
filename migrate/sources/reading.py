"""Reading definition files: regular files only, exact UTF-8 text (BOM remembered), a size cap.
Errors are InputError and never quote the content."""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from migrate.errors import InputError
from migrate.rewrite.edits import has_tokens

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
    """Read a file as UTF-8 text (BOM allowed, kept on write). Raises InputError, never quoting content.

    Regular files only: the file is opened with O_NONBLOCK and O_NOFOLLOW and checked with fstat
    before anything is read, so a FIFO, socket or device is refused at once instead of hanging,
    and a symbolic link is not followed.
    """
    display = display if display is not None else str(path)
    return decode_source(_read_regular(path, display, max_bytes), path, display)


def decode_source(raw: bytes, path: Path, display: str) -> SourceText:
    """``raw`` as a source text: exact UTF-8, BOM remembered, no NUL, no reserved token."""
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


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def _read_regular(path: Path, display: str, max_bytes: int) -> bytes:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputError(display, "is a symbolic link; not followed") from None
        raise InputError(display, f"cannot read file ({e.strerror or type(e).__name__})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = _kind(st.st_mode)
            raise InputError(display, f"not a regular file ({what})" if what.startswith("a ") else what)
        if st.st_size > max_bytes:
            raise InputError(display, f"file is {st.st_size} bytes, over the {max_bytes}-byte cap "
                                      "(raise it with --max-file-size)")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:  # grew while being read
                raise InputError(display, f"file is over the {max_bytes}-byte cap (raise it with --max-file-size)")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise InputError(display, f"cannot read file ({e.strerror or type(e).__name__})") from None
    finally:
        os.close(fd)


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1
