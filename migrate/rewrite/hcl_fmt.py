"""``terraform fmt``'s alignment of ``=`` signs in consecutive attribute lines, so that edits keep
a file ``fmt``-clean. Pure; works on character offsets of the decoded text."""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- terraform fmt: alignment of "=" in consecutive attribute lines --------------------------------


@dataclass
class _Line:
    start: int
    end: int  #: end of the logical line (before its newline)
    eq: int = -1  #: offset of the aligned "=" (or -1 when the line is not an assignment)
    lead_end: int = -1  #: end of the key (offset of the first whitespace before "=")


_OPEN = "([{"
_CLOSE = ")]}"
_HEREDOC_RE = re.compile(r"<<-?([A-Za-z][A-Za-z0-9._-]*)\r?\n")


@dataclass
class _LineState:
    """What the scan of one logical line has seen so far."""

    start: int
    first_eq: int = -1  #: the first "=" on the line
    depth_at_eq: int = 0  #: bracket depth at that "="
    depth: int = 0
    tokens_before_eq: int = 0
    lead_end: int = -1

    def token(self, end: int) -> None:
        if self.first_eq < 0:
            self.tokens_before_eq += 1
            self.lead_end = end

    def line(self, end: int) -> _Line:
        ln = _Line(self.start, end)
        if self.first_eq >= 0 and self.depth == self.depth_at_eq and self.tokens_before_eq > 0:
            ln.eq = self.first_eq
            ln.lead_end = self.lead_end
        return ln


def _skip_blank(text: str, i: int) -> int:
    """Offset past blanks or a comment at ``i`` (``i`` itself when there is none)."""
    n = len(text)
    if text[i] in " \t\r":
        return i + 1
    if text[i] == "#" or text.startswith("//", i):
        j = text.find("\n", i)
        return n if j < 0 else j
    if text.startswith("/*", i):
        j = text.find("*/", i + 2)
        return n if j < 0 else j + 2
    return i


def _heredoc_end(text: str, m: re.Match[str]) -> int:
    close_re = re.compile(r"^[ \t]*" + re.escape(m.group(1)) + r"[ \t]*\r?$", re.M)
    cm = close_re.search(text, m.end())
    i = len(text) if cm is None else cm.end()
    return i - 1 if text.startswith("\r", i - 1) else i


def _is_assign(text: str, i: int) -> bool:
    return not text.startswith(("==", "=>"), i) and (i == 0 or text[i - 1] not in "=!<>")


def _scan_token(text: str, i: int, st: _LineState) -> int:
    """Consume the token at ``i`` (not a blank, comment or newline); return the offset after it."""
    n = len(text)
    c = text[i]
    if c == '"':
        j = i + 1
        while j < n and text[j] != '"' and text[j] != "\n":
            j += 2 if text[j] == "\\" else 1
        st.token(j + 1)
        return j + 1
    m = _HEREDOC_RE.match(text, i) if c == "<" else None
    if m:
        if st.first_eq >= 0:  # hclwrite stops counting brackets at a heredoc
            st.depth = st.depth_at_eq
        return _heredoc_end(text, m)
    if c == "=" and _is_assign(text, i):
        if st.first_eq < 0:
            st.first_eq = i
            st.depth_at_eq = st.depth
        return i + 1
    if c in _OPEN or (c == "$" and text.startswith("${", i)):
        st.depth += 1
        end = i + (2 if c == "$" else 1)
    elif c in _CLOSE:
        st.depth -= 1
        end = i + 1
    else:
        end = i + 1
        while end < n and text[end] not in _WORD_STOP:
            end += 1
    st.token(end)
    return end


_WORD_STOP = frozenset(" \t\r\n=\"#" + _OPEN + _CLOSE)


def _logical_lines(text: str) -> list[_Line]:
    """Lines as hclwrite sees them: a heredoc belongs to the line that opens it; newlines inside
    strings or block comments do not split lines."""
    lines: list[_Line] = []
    i = 0
    n = len(text)
    st = _LineState(0)
    while i < n:
        if text[i] == "\n":
            lines.append(st.line(i - 1 if i > st.start and text[i - 1] == "\r" else i))
            i += 1
            st = _LineState(i)
            continue
        j = _skip_blank(text, i)
        i = j if j != i else _scan_token(text, i, st)
    lines.append(st.line(n))
    return lines


def _columns(s: str) -> int:
    return len(s)


def alignment_fixes(text: str, dirty: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Whitespace fixes ``(start, end, new)`` that give every chain of consecutive assignment
    lines touching a dirty range (offsets, inclusive) the alignment ``terraform fmt`` gives it:
    one space after the longest key."""
    lines = _logical_lines(text)
    fixes: list[tuple[int, int, str]] = []
    i = 0
    dirty_lines = {idx for idx, ln in enumerate(lines) if any(s <= ln.end and ln.start <= e for s, e in dirty)}
    while i < len(lines):
        if lines[i].eq < 0:
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].eq >= 0:
            j += 1
        if any(k in dirty_lines for k in range(i, j)):
            width = max(_columns(text[lines[k].start:lines[k].lead_end]) for k in range(i, j))
            for k in range(i, j):
                ln = lines[k]
                want = " " * (width - _columns(text[ln.start:ln.lead_end]) + 1)
                if text[ln.lead_end:ln.eq] != want:
                    fixes.append((ln.lead_end, ln.eq, want))
        i = j
    return fixes
