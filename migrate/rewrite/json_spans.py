"""A strict JSON parser (RFC 8259) that keeps character spans into the original text.

Rewrites locate what to change with this tree and then splice text (see ``edits.py``); the tree is
never dumped back. Offsets are character offsets into the ``str`` that was parsed.

Beyond RFC 8259 the parser refuses duplicate object keys (ECS and every JSON consumer we feed
keep the last one, which would silently hide a value) and nesting deeper than ``max_depth``.
Error messages give a line and column and never quote the input.

Node classes use ``__slots__`` instead of frozen dataclasses: construction speed dominates the
parse time and frozen dataclasses pay an ``object.__setattr__`` per field. Treat them as read-only.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from json.decoder import scanstring as _scanstring  # type: ignore[attr-defined]  # untyped in typeshed

from migrate.rewrite.pointer import escape as pointer_escape
from migrate.rewrite.text import eol, leading_ws, line_indent

__all__ = [
    "JsonSyntaxError",
    "JStr",
    "JNum",
    "JLit",
    "JArr",
    "JObj",
    "JMember",
    "Node",
    "parse",
    "parse_cached",
    "to_python",
    "line_col",
    "newline_style",
    "leading_ws",
    "line_indent",
    "indent_unit",
    "Style",
    "style_of",
    "pointer_escape",
    "json_body",
]

DEFAULT_MAX_DEPTH = 200


class JsonSyntaxError(ValueError):
    """Invalid JSON. ``line``/``column`` are 1-based; the message never quotes the input."""

    def __init__(self, message: str, line: int, column: int, offset: int) -> None:
        super().__init__(f"{message} at line {line} column {column}")
        self.reason = message
        self.line = line
        self.column = column
        self.offset = offset


class JStr:
    """A string literal. ``start``/``end`` cover the quotes; the body is ``start+1 .. end-1``."""

    __slots__ = ("start", "end", "value")
    kind = "string"

    def __init__(self, start: int, end: int, value: str) -> None:
        self.start = start
        self.end = end
        self.value = value

    @property
    def body_start(self) -> int:
        return self.start + 1

    @property
    def body_end(self) -> int:
        return self.end - 1

    def __repr__(self) -> str:  # never show the value
        return f"JStr({self.start}, {self.end})"


class JNum:
    """A number. Keeps its token text: converting a 5,000-digit integer would raise (Python caps
    int() at 4,300 digits), so ``value`` converts on demand and never raises."""

    __slots__ = ("start", "end", "text")
    kind = "number"

    def __init__(self, start: int, end: int, text: str) -> None:
        self.start = start
        self.end = end
        self.text = text

    @property
    def value(self) -> int | float:
        """The number; a float (possibly ``inf``) for decimals, exponents and huge integers."""
        t = self.text
        if "." not in t and "e" not in t and "E" not in t and len(t) <= 4000:
            return int(t)
        return float(t)

    def __repr__(self) -> str:
        return f"JNum({self.start}, {self.end})"


class JLit:
    """``true``, ``false`` or ``null``."""

    __slots__ = ("start", "end", "value")
    kind = "literal"

    def __init__(self, start: int, end: int, value: bool | None) -> None:
        self.start = start
        self.end = end
        self.value = value

    def __repr__(self) -> str:
        return f"JLit({self.start}, {self.end})"


class JArr:
    """An array. ``start`` is the ``[`` and ``end`` is just past the ``]``."""

    __slots__ = ("start", "end", "items")
    kind = "array"

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = -1
        self.items: list[Node] = []

    def __repr__(self) -> str:
        return f"JArr({self.start}, {self.end}, {len(self.items)} items)"


class JMember:
    """One ``"key": value`` member. Its span runs from the key's opening quote to the value's end."""

    __slots__ = ("key", "value")

    def __init__(self, key: JStr, value: Node) -> None:
        self.key = key
        self.value = value

    @property
    def name(self) -> str:
        return self.key.value

    @property
    def start(self) -> int:
        return self.key.start

    @property
    def end(self) -> int:
        return self.value.end

    def __repr__(self) -> str:
        return f"JMember({self.start}, {self.end})"


class JObj:
    """An object. ``members`` keep file order; keys are unique (the parser refuses duplicates)."""

    __slots__ = ("start", "end", "members")
    kind = "object"

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = -1
        self.members: list[JMember] = []

    def member(self, name: str) -> JMember | None:
        for m in self.members:
            if m.key.value == name:
                return m
        return None

    def get(self, name: str) -> Node | None:
        m = self.member(name)
        return None if m is None else m.value

    def index(self, name: str) -> int:
        for i, m in enumerate(self.members):
            if m.key.value == name:
                return i
        return -1

    def __repr__(self) -> str:
        return f"JObj({self.start}, {self.end}, {len(self.members)} members)"


Node = JStr | JNum | JLit | JArr | JObj

# One token per match, leading whitespace included. Groups (``lastindex``): 1 string, 2 string
# followed by ":" (an object key), 3 ",", 4 "}", 5 "]", 6 "{", 7 "[", 8 number, 9 keyword. The
# string body is the "unrolled loop" form, which the re engine runs fastest.
_TOKEN = re.compile(
    r'[ \t\n\r]*(?:'
    r'("[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*")(?:[ \t\n\r]*(:))?'
    r'|(,)|(\})|(\])|(\{)|(\[)'
    r'|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)'
    r'|(true|false|null)'
    r')'
)
_WS = re.compile(r"[ \t\n\r]*")
_KEYWORDS: dict[str, bool | None] = {"true": True, "false": False, "null": None}

# parser states; a value may come when state <= _VALUE_OR_CLOSE, a key when it is a _KEY* state
_VALUE = 0  # after ":" or "," in an array, or at the start
_VALUE_OR_CLOSE = 1  # after "["
_KEY = 2  # after "," in an object
_KEY_OR_CLOSE = 3  # after "{"
_AFTER = 4  # after a value: "," or a closing bracket


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _error(text: str, offset: int, message: str) -> JsonSyntaxError:
    line, col = line_col(text, offset)
    return JsonSyntaxError(message, line, col, offset)


_BAD_START = {
    "'": "single-quoted string (JSON needs double quotes)",
    "/": "comment (JSON has no comments)",
    "\ufeff": "byte order mark inside the document",
    **dict.fromkeys("-0123456789", "invalid number"),
}


def _describe_bad(text: str, pos: int) -> tuple[int, str]:
    """Offset and message for a position where no token matched (never quotes the input)."""
    pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
    if pos >= len(text):
        return pos, "unexpected end of input"
    c = text[pos]
    if c == '"':
        return _describe_bad_string(text, pos)
    return pos, _BAD_START.get(c, "unexpected character")


def _describe_bad_string(text: str, pos: int) -> tuple[int, str]:
    """What broke the string starting at ``pos``."""
    i = pos + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            break
        if ch == "\\":
            if i + 1 < n and text[i + 1] in '"\\/bfnrt':
                i += 2
                continue
            return i, "invalid \\u escape in string" if text[i + 1:i + 2] == "u" else "invalid escape in string"
        if ord(ch) < 0x20:
            return i, "control character in string (must be escaped)"
        i += 1
    return pos, "unterminated string"


def parse(text: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Node:  # noqa: C901, PLR0912, PLR0915
    """Parse one JSON document. Raises :class:`JsonSyntaxError` (a ValueError) on anything invalid."""
    # A hand-inlined state machine: this loop is the hot path (see the module docstring), which is
    # why it stays one function over the complexity limits (noqa above).
    match = _TOKEN.match
    scanstring = _scanstring
    keywords = _KEYWORDS
    n = len(text)
    pos = 0
    state = _VALUE
    cur: JObj | JArr | None = None  # the open container
    keys: set[str] | None = None  # keys seen in ``cur`` when it is an object
    key: JStr | None = None  # pending key in ``cur``
    stack: list[tuple[JObj | JArr | None, set[str] | None, JStr | None]] = []
    value: Node
    while True:
        m = match(text, pos)
        if m is None:
            off, msg = _describe_bad(text, pos)
            if off >= n and cur is None and state == _VALUE:
                msg = "empty document"
            raise _error(text, off, msg)
        g = m.lastindex or 0
        pos = m.end()
        if g == 1:  # string value
            if state > _VALUE_OR_CLOSE:
                raise _error(text, m.start(1), "expected ',' or a closing bracket" if state == _AFTER
                             else "expected ':' after key")
            s = m.start(1)
            if text.find("\\", s, pos) < 0:
                value = JStr(s, pos, text[s + 1:pos - 1])
            else:
                value = JStr(s, pos, scanstring(text, s + 1, True)[0])
        elif g == 2:  # key and colon
            if state not in (_KEY, _KEY_OR_CLOSE):
                raise _error(text, m.start(2), "unexpected colon")
            s = m.start(1)
            e = m.end(1)
            if text.find("\\", s, e) < 0:
                key = JStr(s, e, text[s + 1:e - 1])
            else:
                key = JStr(s, e, scanstring(text, s + 1, True)[0])
            if key.value in keys:  # type: ignore[operator]
                raise _error(text, s, "duplicate key in object")
            keys.add(key.value)  # type: ignore[union-attr]
            state = _VALUE
            continue
        elif g == 3:  # comma
            if state != _AFTER:
                raise _error(text, pos - 1, "unexpected comma")
            state = _VALUE if keys is None else _KEY
            continue
        elif g in (4, 5):  # closing bracket
            if cur is None:
                raise _error(text, pos - 1, "unexpected closing bracket")
            if g == 4:
                if keys is None:
                    raise _error(text, pos - 1, "unexpected '}'")
                if state not in (_AFTER, _KEY_OR_CLOSE):
                    raise _error(text, pos - 1, "trailing comma in object" if state == _KEY
                                 else "expected a value")
            else:
                if keys is not None:
                    raise _error(text, pos - 1, "unexpected ']'")
                if state not in (_AFTER, _VALUE_OR_CLOSE):
                    raise _error(text, pos - 1, "trailing comma in array")
            cur.end = pos
            value = cur
            cur, keys, key = stack.pop()
        elif g in (6, 7):  # opening bracket
            if state > _VALUE_OR_CLOSE:
                raise _error(text, pos - 1, "expected ',' or a closing bracket" if state == _AFTER
                             else "expected a double-quoted key")
            if len(stack) >= max_depth:
                raise _error(text, pos - 1, f"nesting deeper than {max_depth} levels")
            stack.append((cur, keys, key))
            if g == 6:
                cur = JObj(pos - 1)
                keys = set()
                state = _KEY_OR_CLOSE
            else:
                cur = JArr(pos - 1)
                keys = None
                state = _VALUE_OR_CLOSE
            key = None
            continue
        else:  # number or keyword
            if state > _VALUE_OR_CLOSE:
                raise _error(text, m.start(g), "expected ',' or a closing bracket" if state == _AFTER
                             else "expected a double-quoted key")
            if g == 8:
                lit = m.group(8)
                value = JNum(pos - len(lit), pos, lit)
            else:
                lit = m.group(9)
                value = JLit(pos - len(lit), pos, keywords[lit])
        # a complete value: attach it to the open container, or finish
        if cur is None:
            end = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if end != n:
                raise _error(text, end, "trailing data after the JSON document")
            return value
        if keys is not None:
            cur.members.append(JMember(key, value))  # type: ignore[union-attr,arg-type]
        else:
            cur.items.append(value)  # type: ignore[union-attr]
        state = _AFTER


@functools.lru_cache(maxsize=4)
def parse_cached(text: str) -> Node:
    """``parse`` with a tiny cache, so that sniffing and loading one file parse it once.

    Callers must not mutate the returned tree.
    """
    return parse(text)


def to_python(node: Node) -> object:
    """Plain Python value of a node (dicts keep member order)."""
    if isinstance(node, JObj):
        return {m.key.value: to_python(m.value) for m in node.members}
    if isinstance(node, JArr):
        return [to_python(i) for i in node.items]
    return node.value


def json_body(value: str) -> str:
    """The body (no quotes) of the JSON string literal for ``value``, non-ASCII kept as-is."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


# --- layout helpers: make inserted text look like its neighbours ----------------------------------


def newline_style(text: str) -> str:
    """The file's line ending (see :func:`migrate.rewrite.text.eol`)."""
    return eol(text)


def indent_unit(text: str, node: Node | None = None) -> str:
    """The indentation step used around ``node`` (or the whole file): e.g. ``"  "``, ``"    "``, ``"\\t"``.

    Measured as the difference between a container's line indent and its first child's indent;
    falls back to the smallest indentation found in the file, then to two spaces.
    """
    if isinstance(node, (JObj, JArr)):
        children = [m.key for m in node.members] if isinstance(node, JObj) else node.items
        if children:
            outer = line_indent(text, node.start)
            ws = leading_ws(text, children[0].start)
            if "\n" in ws:
                inner = ws.rsplit("\n", 1)[1]
                if inner.startswith(outer) and len(inner) > len(outer):
                    return inner[len(outer):]
    best: str | None = None
    for m in re.finditer(r"\n([ \t]+)\S", text):
        ind = m.group(1)
        if best is None or len(ind) < len(best):
            best = ind
    return best if best else "  "


@dataclass(frozen=True)
class Style:
    newline: str  #: "\n" or "\r\n"
    unit: str  #: one indentation step
    compact: bool  #: the node is written on a single line
    indent: str  #: indentation of the line where the node starts


def style_of(text: str, node: Node) -> Style:
    """Newline style, indentation unit and compactness around ``node``."""
    compact = "\n" not in text[node.start:node.end]
    return Style(newline=newline_style(text), unit=indent_unit(text, node), compact=compact,
                 indent=line_indent(text, node.start))
