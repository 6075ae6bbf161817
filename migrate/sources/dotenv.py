"""``.env`` files as Docker Compose reads them (``env_file:``), located for splicing.

Supported syntax (compose-go ``dotenv``): blank lines, ``# comments``, ``export KEY=VAL``,
``KEY=VAL`` (spaces around ``=`` allowed), unquoted values ending at `` #`` (an inline comment)
with trailing blanks trimmed, ``'single'`` quoted (literal, may span lines), ``"double"`` quoted
(escapes ``\\n \\r \\t \\\\ \\" \\$``, may span lines), and a bare ``KEY`` (value taken from the
shell). Anything else is an :class:`InputError` naming the line, never quoting it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from migrate.errors import InputError

_KEY = re.compile(r"[ \t]*(export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*")
_DQ_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "$"}


@dataclass(frozen=True)
class DotenvEntry:
    name: str
    line: int  #: 1-based line of the key
    start: int  #: offset of the line start
    end: int  #: offset after the line ending of the last line of the entry
    value_start: int  #: raw value span (inside the quotes for quoted values)
    value_end: int
    quote: str | None  #: None (unquoted), "'" or '"'
    value: str | None  #: decoded value; None for a bare ``KEY``

    @property
    def has_value(self) -> bool:
        return self.value is not None


def _decode_double(body: str) -> str | None:
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _DQ_ESCAPES:
                out.append(_DQ_ESCAPES[nxt])
                i += 2
                continue
            out.append(c)  # compose keeps unknown escapes verbatim
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _find_close(text: str, pos: int, quote: str) -> int:
    i = pos
    while True:
        j = text.find(quote, i)
        if j < 0:
            return -1
        if quote == '"':
            k = j - 1
            backslashes = 0
            while k >= pos and text[k] == "\\":
                backslashes += 1
                k -= 1
            if backslashes % 2:
                i = j + 1
                continue
        return j


def parse_dotenv(text: str, display: str) -> list[DotenvEntry]:
    """Every assignment in document order (duplicates included: the caller decides)."""
    out: list[DotenvEntry] = []
    pos = 0
    n = len(text)
    while pos < n:
        eol = text.find("\n", pos)
        line_end = n if eol < 0 else eol + 1
        body_end = n if eol < 0 else eol
        if body_end > pos and text[body_end - 1] == "\r":
            body_end -= 1
        line_no = text.count("\n", 0, pos) + 1
        stripped = text[pos:body_end].strip(" \t")
        if not stripped or stripped.startswith("#"):
            pos = line_end
            continue
        m = _KEY.match(text, pos, body_end)
        if not m:
            raise InputError(display, "not a KEY=VALUE line", line=line_no)
        name = m.group(2)
        i = m.end()
        if i == body_end or text.startswith("#", i) and text[i - 1] in " \t":
            out.append(DotenvEntry(name, line_no, pos, line_end, i, i, None, None))
            pos = line_end
            continue
        if text[i] != "=":
            raise InputError(display, "not a KEY=VALUE line", line=line_no)
        i += 1
        while i < body_end and text[i] in " \t":
            i += 1
        if i < body_end and text[i] in "'\"":
            q = text[i]
            close = _find_close(text, i + 1, q)
            if close < 0:
                raise InputError(display, "unterminated quoted value", line=line_no)
            raw = text[i + 1:close]
            value = raw if q == "'" else _decode_double(raw)
            eol2 = text.find("\n", close)
            end2 = n if eol2 < 0 else eol2 + 1
            tail_end = n if eol2 < 0 else eol2
            tail = text[close + 1:tail_end].rstrip("\r").strip(" \t")
            if tail and not tail.startswith("#"):
                raise InputError(display, "unexpected text after a quoted value", line=line_no)
            out.append(DotenvEntry(name, line_no, pos, end2, i + 1, close, q, value))
            pos = end2
            continue
        seg = text[i:body_end]
        cm = re.search(r"[ \t]#", seg)
        if cm:
            seg = seg[: cm.start()]
        seg = seg.rstrip(" \t")
        out.append(DotenvEntry(name, line_no, pos, line_end, i, i + len(seg), None, seg))
        pos = line_end
    return out
