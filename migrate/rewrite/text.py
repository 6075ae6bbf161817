"""Plain-text helpers shared by every format: lines, the one end-of-line rule, indentation.

Offsets are character offsets in a decoded file text. A "line" runs from just after a ``\\n`` to
just after the next ``\\n`` (so a CRLF line includes its ``\\r``); the last line may have no ending.
"""

from __future__ import annotations

__all__ = ["column", "eol", "leading_ws", "line_end", "line_indent", "line_start"]


def line_start(text: str, pos: int) -> int:
    """Offset of the first character of the line holding ``pos``."""
    return text.rfind("\n", 0, pos) + 1


def line_end(text: str, pos: int) -> int:
    """Offset just past the line ending of the line holding ``pos`` (or ``len(text)``)."""
    i = text.find("\n", pos)
    return len(text) if i < 0 else i + 1


def column(text: str, pos: int) -> int:
    """0-based column of ``pos`` in characters."""
    return pos - line_start(text, pos)


def _ending_at(text: str, nl: int) -> str:
    return "\r\n" if nl > 0 and text[nl - 1] == "\r" else "\n"


def eol(text: str, pos: int | None = None) -> str:
    """The line ending to write: the one rule for every format.

    The ending of the line holding ``pos`` when that line has one; otherwise (no ``pos``, or the
    last line of the file has no ending) the ending of the file's first line; ``"\\n"`` for a
    file with no line break at all. A file with one consistent style therefore always gets that
    style, and a mixed file gets the style of the line being edited.
    """
    if pos is not None:
        i = text.find("\n", pos)
        if i >= 0:
            return _ending_at(text, i)
    i = text.find("\n")
    return _ending_at(text, i) if i >= 0 else "\n"


def leading_ws(text: str, pos: int) -> str:
    """The whitespace (possibly with line breaks) immediately before ``pos``."""
    i = pos
    while i > 0 and text[i - 1] in " \t\r\n":
        i -= 1
    return text[i:pos]


def line_indent(text: str, pos: int) -> str:
    """The indentation (spaces/tabs) at the start of the line holding ``pos``."""
    ls = line_start(text, pos)
    i = ls
    while i < len(text) and text[i] in " \t":
        i += 1
    return text[ls:i]
