"""Locate spans in Terraform files: HCL through python-hcl2's Lark tree, JSON (and JSON templates
with ``${...}`` placeholders) through a small span-keeping parser, and ``terraform fmt``'s
alignment of ``=`` signs so that edits keep a file ``fmt``-clean.

Everything here is pure and works on character offsets of the decoded text. Nothing here
formats values into messages: errors carry a line number and a fixed reason only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError

from migrate.rewrite import json_spans as js


class SpanError(Exception):
    """Unparsable input. ``reason`` is fixed text; ``line`` is 1-based when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


# --- a uniform node model for HCL expressions and JSON values ------------------------------------

OBJECT = "object"
ARRAY = "array"
STRING = "string"  #: literal string: ``raw`` is the text between the quotes, ``value`` decoded
TEMPLATE = "template"  #: string with interpolations; ``expr`` holds the sole ``${...}`` if whole
EXPR = "expr"  #: any other expression (``var.x``, calls, numbers, ``null``); ``expr`` is its text


@dataclass
class Member:
    key: str
    key_start: int
    key_end: int
    value: Node


@dataclass
class Node:
    kind: str
    start: int
    end: int
    members: list[Member] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)
    raw: str = field(default="", repr=False)
    value: str | None = field(default=None, repr=False)
    expr: str = ""  #: expression text (never a string literal's content)

    def get(self, key: str) -> Member | None:
        for m in self.members:
            if m.key == key:
                return m
        return None


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# --- HCL -----------------------------------------------------------------------------------------


def parse_hcl(text: str) -> Tree[Token]:
    try:
        return hcl2.parses_to_tree(text)
    except LarkError as e:
        raise SpanError("HCL syntax error", getattr(e, "line", None)) from None
    except Exception:  # the grammar's helpers raise RuntimeError/ValueError on odd heredocs
        raise SpanError("HCL syntax error") from None


def _tok_span(t: Tree[Token] | Token) -> tuple[int, int]:
    if isinstance(t, Token):
        return t.start_pos, t.end_pos  # type: ignore[return-value]
    return t.meta.start_pos, t.meta.end_pos


def _unwrap(t: Tree[Token] | Token) -> Tree[Token] | Token:
    while isinstance(t, Tree) and t.data == "expr_term" and len(t.children) == 1:
        t = t.children[0]
    return t


def _ident(t: Tree[Token] | Token) -> str | None:
    t = _unwrap(t)
    if isinstance(t, Tree) and t.data in ("identifier", "keyword", "literal_value") and t.children:
        return str(t.children[0])
    return None


@dataclass
class HclAttr:
    name: str
    start: int  #: start of the name
    end: int  #: end of the value
    expr: Tree[Token] | Token = field(repr=False)


@dataclass
class HclBlock:
    type: str
    labels: list[str]
    start: int
    end: int
    body: Tree[Token] = field(repr=False)


def body_items(body: Tree[Token]) -> list[HclAttr | HclBlock]:
    out: list[HclAttr | HclBlock] = []
    for ch in body.children:
        if not isinstance(ch, Tree):
            continue
        if ch.data == "attribute":
            name = _ident(ch.children[0]) or ""
            out.append(HclAttr(name, ch.meta.start_pos, ch.meta.end_pos, ch.children[-1]))
        elif ch.data == "block":
            head: list[str] = []
            inner: Tree[Token] | None = None
            for c in ch.children:
                if isinstance(c, Tree) and c.data == "body":
                    inner = c
                elif isinstance(c, Tree) and c.data == "string":
                    head.append(decode_hcl(_string_raw(c)) or "")
                elif isinstance(c, Tree) and _ident(c) is not None:
                    head.append(_ident(c) or "")
            if inner is not None and head:
                out.append(HclBlock(head[0], head[1:], ch.meta.start_pos, ch.meta.end_pos, inner))
    return out


def root_body(tree: Tree[Token]) -> Tree[Token]:
    body = tree.children[0]  # start -> body
    if not isinstance(body, Tree):
        raise SpanError("HCL syntax error")
    return body


def _string_raw(t: Tree[Token]) -> str:
    return "".join(_tok_text(p) for p in t.children[1:-1])


def _tok_text(t: Tree[Token] | Token) -> str:
    if isinstance(t, Token):
        return str(t)
    return "".join(_tok_text(c) for c in t.children)


_HCL_ESC = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def decode_hcl(raw: str) -> str | None:
    """The value of a quoted HCL string without interpolations; None for invalid escapes."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\":
            m = raw[i + 1:i + 2]
            if m in _HCL_ESC:
                out.append(_HCL_ESC[m])
                i += 2
                continue
            width = {"u": 4, "U": 8}.get(m)
            digits = raw[i + 2:i + 2 + width] if width else ""
            if width and len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
                cp = int(digits, 16)
                if cp > 0x10FFFF or 0xD800 <= cp < 0xE000:
                    return None
                out.append(chr(cp))
                i += 2 + width
                continue
            return None
        if raw.startswith("$${", i) or raw.startswith("%%{", i):
            out.append(raw[i + 1:i + 3])
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


def hcl_node(t: Tree[Token] | Token, text: str) -> Node:
    """The node for an HCL expression subtree; offsets index ``text``."""
    t = _unwrap(t)
    start, end = _tok_span(t)
    if isinstance(t, Tree) and t.data == "object":
        node = Node(OBJECT, start, end)
        for el in t.children:
            if isinstance(el, Tree) and el.data == "object_elem":
                key_t = _unwrap(el.children[0].children[0]) if isinstance(el.children[0], Tree) else el.children[0]
                ks, ke = _tok_span(key_t)
                if isinstance(key_t, Tree) and key_t.data == "string":
                    key = decode_hcl(_string_raw(key_t)) or ""
                else:
                    key = text[ks:ke]
                node.members.append(Member(key, ks, ke, hcl_node(el.children[-1], text)))
        return node
    if isinstance(t, Tree) and t.data == "tuple":
        node = Node(ARRAY, start, end)
        node.items = [hcl_node(c, text) for c in t.children
                      if isinstance(c, Tree) and c.data not in ("new_line_or_comment",)]
        return node
    if isinstance(t, Tree) and t.data == "string":
        parts = t.children[1:-1]
        raw = text[start + 1:end - 1]
        plain = all(isinstance(p, Tree) and p.data == "string_part" and isinstance(p.children[0], Token)
                    for p in parts)
        if plain:
            return Node(STRING, start, end, raw=raw, value=decode_hcl(raw))
        sole = ""
        first = parts[0].children[0] if len(parts) == 1 and isinstance(parts[0], Tree) else None
        if isinstance(first, Tree) and first.data == "interpolation":
            interp = first
            es, ee = _tok_span(interp.children[1])
            sole = text[es:ee].strip()
        return Node(TEMPLATE, start, end, raw=raw, expr=sole)
    return Node(EXPR, start, end, expr=text[start:end])


def heredoc_body(t: Tree[Token] | Token, text: str) -> tuple[int, int] | None:
    """(start, end) of a heredoc's body (after the opening line, before the closing marker)."""
    t = _unwrap(t)
    if not (isinstance(t, Tree) and t.data in ("heredoc_template", "heredoc_template_trim")):
        return None
    start, end = _tok_span(t)
    body_start = text.index("\n", start) + 1
    # the closing marker line is the last line of the token (which ends with a newline)
    close = text.rfind("\n", start, end - 1) + 1
    return body_start, max(body_start, close)


def function_call(t: Tree[Token] | Token) -> tuple[str, list[Tree[Token]]] | None:
    t = _unwrap(t)
    if isinstance(t, Tree) and t.data == "function_call":
        name = _ident(t.children[0]) or ""
        args: list[Tree[Token]] = []
        for c in t.children:
            if isinstance(c, Tree) and c.data == "arguments":
                args = [a for a in c.children if isinstance(a, Tree) and a.data != "new_line_or_comment"]
        return name, args
    return None


# --- JSON with ${...} placeholders: the JSON span parser (json_spans) on a masked copy ------------


def _interp_end(body: str, i: int) -> int:
    """Offset just past the ``}`` closing the ``${`` at ``i`` (nested braces and strings skipped)."""
    depth = 0
    j = i + 2
    n = len(body)
    while j < n:
        ch = body[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return j + 1
            depth -= 1
        elif ch == '"':  # a string inside the interpolation
            j += 1
            while j < n and body[j] != '"':
                j += 2 if body[j] == "\\" else 1
        j += 1
    raise SpanError("unterminated ${ in template")


def _mask_template(body: str) -> tuple[str, list[tuple[int, int]]]:
    """``body`` with every ``${...}`` replaced by same-length JSON (a ``0`` padded with blanks
    outside strings, ``x``s inside), and the interpolations' spans. ``$${``/``%%{`` escapes stay;
    ``%{`` directives are refused. Offsets are unchanged, so the JSON parser's spans index ``body``."""
    out: list[str] = []
    interps: list[tuple[int, int]] = []
    pos = 0
    i = 0
    n = len(body)
    in_str = False
    while i < n:
        ch = body[i]
        if in_str and ch == "\\":
            i += 2
            continue
        if ch == '"':
            in_str = not in_str
        elif in_str and ch == "\n":
            in_str = False  # the JSON parser reports the unterminated string
        elif body.startswith(("$${", "%%{"), i) and in_str:
            i += 3
            continue
        elif body.startswith("${", i):
            e = _interp_end(body, i)
            out.append(body[pos:i])
            out.append("x" * (e - i) if in_str else "0" + " " * (e - i - 1))
            interps.append((i, e))
            pos = i = e
            continue
        elif body.startswith("%{", i):
            raise SpanError("template directives are not supported", body.count("\n", 0, i) + 1)
        i += 1
    out.append(body[pos:])
    return "".join(out), interps


def _template_value(value: str) -> str:
    """A templated string's value: ``$${`` and ``%%{`` are the escapes of ``${`` and ``%{``."""
    return value.replace("$${", "${").replace("%%{", "%{")


def parse_json(text: str, start: int = 0, end: int | None = None, *, templated: bool = False) -> Node:
    """The JSON value in ``text[start:end]`` as nodes with offsets into ``text``.

    Parsing is :func:`migrate.rewrite.json_spans.parse` (strict RFC 8259, duplicate keys refused,
    depth-capped). ``templated`` admits ``${...}`` the way Terraform templates and heredocs do: a
    whole-value interpolation becomes an EXPR node, a string holding one a TEMPLATE node.
    """
    end = len(text) if end is None else end
    body = text[start:end]
    interps: list[tuple[int, int]] = []
    try:
        if templated:
            body, interps = _mask_template(body)
        root = js.parse(body)
    except SpanError as e:
        raise SpanError(e.reason, line_of(text, start) + (e.line or 1) - 1) from None
    except js.JsonSyntaxError as e:
        raise SpanError(f"JSON syntax error ({e.reason})", line_of(text, start + e.offset)) from None
    except ValueError:
        raise SpanError("JSON syntax error", line_of(text, start)) from None
    return _Converter(text, start, interps, templated).node(root)


@dataclass
class _Converter:
    text: str = field(repr=False)
    base: int
    interps: list[tuple[int, int]]
    templated: bool

    def _inside(self, s: int, e: int) -> list[tuple[int, int]]:
        return [(a, b) for a, b in self.interps if s <= a and b <= e]

    def node(self, n: js.Node) -> Node:
        s, e = self.base + n.start, self.base + n.end
        if isinstance(n, js.JObj):
            node = Node(OBJECT, s, e)
            for m in n.members:
                ks, ke = self.base + m.key.start, self.base + m.key.end
                if self._inside(m.key.start, m.key.end):
                    raise SpanError("JSON keys must be plain strings", line_of(self.text, ks))
                key = _template_value(m.key.value) if self.templated else m.key.value
                node.members.append(Member(key, ks, ke, self.node(m.value)))
            return node
        if isinstance(n, js.JArr):
            return Node(ARRAY, s, e, items=[self.node(i) for i in n.items])
        if isinstance(n, js.JStr):
            raw = self.text[s + 1:e - 1]
            inner = self._inside(n.start, n.end)
            if inner:
                whole = len(inner) == 1 and inner[0] == (n.start + 1, n.end - 1)
                return Node(TEMPLATE, s, e, raw=raw, expr=self.text[s + 3:e - 2].strip() if whole else "")
            return Node(STRING, s, e, raw=raw, value=_template_value(n.value) if self.templated else n.value)
        for a, b in self.interps:  # a number standing in for a whole-value interpolation
            if a == n.start:
                s, e = self.base + a, self.base + b
                break
        return Node(EXPR, s, e, expr=self.text[s:e])


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
