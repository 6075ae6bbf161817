"""Locate spans in Terraform files: HCL through python-hcl2's Lark tree, JSON (and JSON templates
with ``${...}`` placeholders) through the JSON span parser of ``json_spans`` (on a copy where each
placeholder is replaced by JSON of the same length). ``alignment_fixes`` (``terraform fmt``'s
alignment of ``=`` signs) lives in ``hcl_fmt`` and is re-exported here.

Everything here is pure and works on character offsets of the decoded text. Nothing here
formats values into messages: errors carry a line number and a fixed reason only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError

from migrate.rewrite import json_spans as js
from migrate.rewrite.hcl_fmt import alignment_fixes as alignment_fixes


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
