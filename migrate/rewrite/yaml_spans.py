"""Locate spans in YAML text for format-preserving splices.

We use ruamel.yaml only as a *locator*: ``load_nodes`` composes the node graph (no construction,
so unknown tags never run code and aliases are not expanded), checks it, and every helper here turns
node marks into character offsets of the original text. Nothing is ever dumped.

Aliases: the composer returns the anchored node itself wherever ``*name`` appears. Anchors always
come before their aliases in the text, so a child whose start lies before its parent key ends is an
alias reference, not a physical child (``is_alias_ref``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrate.errors import InputError
from migrate.rewrite.text import column, eol, line_start

_CORE = "tag:yaml.org,2002:"
STANDARD_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge", "timestamp"))
MERGE_TAG = _CORE + "merge"
NULL_TAG = _CORE + "null"

#: cap on the size of the document with every alias expanded (billion-laughs guard)
MAX_EXPANDED_NODES = 200_000


def tag_of(node: Node) -> str:
    t = node.tag
    return str(getattr(t, "value", t))


def _safe_problem(e: YAMLError) -> str:
    # ruamel problems sometimes quote the input ("found undefined alias 'x'"): keep only quote-free ones
    problem = str(getattr(e, "problem", "") or "")
    if problem and not re.search(r"['\"`]", problem) and len(problem) < 80:
        return f"invalid YAML: {problem}"
    return f"invalid YAML ({type(e).__name__})"


def load_nodes(text: str, display: str, *, allowed_tags: frozenset[str] = STANDARD_TAGS,
               max_expanded: int = MAX_EXPANDED_NODES) -> Node | None:
    """Compose ``text`` into a node graph and check it. Raises InputError, never quoting input.

    Rejects: syntax errors, several documents, tags outside ``allowed_tags``, duplicate mapping
    keys, recursive aliases and documents whose alias expansion exceeds ``max_expanded`` nodes.
    Returns None for an empty document.
    """
    try:
        root: Node | None = YAML(typ="rt").compose(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(display, _safe_problem(e), line=line) from None
    except Exception as e:  # ruamel raises plain errors for some malformed input
        raise InputError(display, f"invalid YAML ({type(e).__name__})") from None
    if root is None:
        return None
    _check_graph(root, display, allowed_tags, max_expanded)
    return root


def _check_graph(root: Node, display: str, allowed: frozenset[str], cap: int) -> None:
    sizes: dict[int, int] = {}
    on_stack: set[int] = set()

    def size(n: Node) -> int:
        nid = id(n)
        if nid in sizes:
            return sizes[nid]
        if nid in on_stack:
            raise InputError(display, "recursive alias", line=n.start_mark.line + 1)
        tag = tag_of(n)
        if tag not in allowed:
            raise InputError(display, "unsupported YAML tag", line=n.start_mark.line + 1)
        on_stack.add(nid)
        total = 1
        if isinstance(n, MappingNode):
            seen: set[tuple[str, str]] = set()
            for k, v in n.value:
                if isinstance(k, ScalarNode) and tag_of(k) != MERGE_TAG:
                    ident = (tag_of(k), k.value)
                    if ident in seen:
                        raise InputError(display, "duplicate mapping key", line=k.start_mark.line + 1)
                    seen.add(ident)
                total += size(k) + size(v)
                if total > cap:
                    break
        elif isinstance(n, SequenceNode):
            for v in n.value:
                total += size(v)
                if total > cap:
                    break
        on_stack.discard(nid)
        if total > cap:
            raise InputError(display, f"alias expansion exceeds {cap} nodes (possible alias bomb)",
                             line=n.start_mark.line + 1)
        sizes[nid] = total
        return total

    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20_000))
    try:
        size(root)
    except RecursionError:
        raise InputError(display, "YAML nesting too deep") from None
    finally:
        sys.setrecursionlimit(old)


# --- node helpers ---------------------------------------------------------------------------------


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and tag_of(node) == NULL_TAG


def is_empty_null(node: Node) -> bool:
    """A value left empty (``KEY:``): its marks point at the next token, not at the key."""
    return is_null(node) and node.value == ""


def is_alias_ref(after: int, node: Node) -> bool:
    """True when ``node`` appears at a position ``>= after`` only through an alias."""
    return bool(node.start_mark.index < after)


def map_items(node: MappingNode) -> Iterator[tuple[Node, Node]]:
    yield from node.value


def get(node: Node | None, key: str) -> tuple[Node, Node] | None:
    """(key node, value node) of an own (non-merged) scalar key of a mapping."""
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and tag_of(k) != MERGE_TAG and k.value == key:
            return k, v
    return None


def merge_sources(node: MappingNode) -> list[MappingNode]:
    """Mappings merged into ``node`` by ``<<``, in precedence order (first wins)."""
    out: list[MappingNode] = []
    for k, v in node.value:
        if isinstance(k, ScalarNode) and tag_of(k) == MERGE_TAG:
            if isinstance(v, MappingNode):
                out.append(v)
            elif isinstance(v, SequenceNode):
                out.extend(x for x in v.value if isinstance(x, MappingNode))
    return out


def effective_items(node: MappingNode, _depth: int = 0) -> dict[str, tuple[Node, Node, MappingNode]]:
    """Scalar key -> (key node, value node, mapping that physically holds it), merges applied."""
    out: dict[str, tuple[Node, Node, MappingNode]] = {}
    if _depth > 64:
        return out
    for src in merge_sources(node):
        for k, item in effective_items(src, _depth + 1).items():
            out.setdefault(k, item)
    for k, v in node.value:
        if isinstance(k, ScalarNode) and tag_of(k) != MERGE_TAG:
            out[k.value] = (k, v, node)
    return out


# --- text helpers ---------------------------------------------------------------------------------


def newline_of(text: str) -> str:
    """The file's line ending (see :func:`migrate.rewrite.text.eol`)."""
    return eol(text)


def content_end(text: str, pos: int) -> int:
    """End of the meaningful text on the line from ``pos``: before a ``#`` comment and blanks."""
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    seg = text[pos:end]
    m = re.search(r"(^|[ \t])#", seg)
    if m:
        seg = seg[: m.start()]
    seg = seg.rstrip(" \t\r")
    return pos + len(seg)


def rest_is_blank_or_comment(text: str, pos: int) -> bool:
    return content_end(text, pos) == pos


def colon_after(text: str, key: Node) -> int:
    """Offset of the ``:`` that follows a mapping key."""
    i = key.end_mark.index
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text) or text[i] != ":":
        raise ValueError("no colon after key")
    return int(i)


def alias_end(text: str, pos: int) -> int:
    """End of the ``*alias`` token at or after ``pos`` (skipping blanks)."""
    m = re.compile(r"[ \t]*\*[^\s,\[\]{}]+").match(text, pos)
    if not m:
        raise ValueError("no alias token")
    return m.end()


def value_end(text: str, key: Node | None, value: Node, after: int) -> int:
    """Physical end offset of ``value`` written at or after ``after`` (alias tokens included)."""
    if is_empty_null(value):
        return after
    if is_alias_ref(after, value):
        return alias_end(text, after)
    if isinstance(value, MappingNode) and value.value and not value.flow_style:
        k, v = value.value[-1]
        return value_end(text, k, v, colon_after(text, k) + 1)
    if isinstance(value, SequenceNode) and value.value and not value.flow_style:
        last = value.value[-1]
        return value_end(text, None, last, seq_item_dash(text, value, len(value.value) - 1) + 1)
    return int(value.end_mark.index)


def seq_item_dash(text: str, seq: SequenceNode, i: int) -> int:
    """Offset of the ``-`` of physical block sequence item ``i``. Raises ValueError otherwise."""
    item = seq.value[i]
    pos = int(item.start_mark.index)
    if pos < seq.start_mark.index or (i > 0 and pos < seq.value[i - 1].start_mark.index):
        raise ValueError("sequence item is an alias")
    if is_empty_null(item):
        raise ValueError("empty sequence item")
    j = text.rfind("-", 0, pos)
    if j < 0 or not _only_props(text[j + 1:pos]) or text[line_start(text, j):j].strip(" \t-") != "":
        raise ValueError("sequence item dash not found")
    return j


def _only_props(seg: str) -> bool:
    return re.fullmatch(r"[ \t]*(?:[&!][^\s]*[ \t]*)*", seg) is not None


def scalar_body(text: str, node: ScalarNode) -> tuple[int, int, str | None]:
    """(start, end, quote) of a flow scalar's body: inside the quotes for quoted scalars.

    ``quote`` is None for plain, ``'"'`` or ``"'"``; block scalars (``|``, ``>``) give ``"|"``.
    The scalar must be written where its marks say (not an alias reference).
    """
    s, e = int(node.start_mark.index), int(node.end_mark.index)
    style = node.style
    if style in ('"', "'"):
        # the mark may start at properties (&anchor / !tag): find the opening quote
        q = text.index(style, s, e)
        return q + 1, e - 1, style
    if style in ("|", ">"):
        return s, e, "|"
    # plain scalar: skip properties before the text
    m = re.compile(r"(?:[&!][^\s]*[ \t]+)*").match(text, s)
    return (m.end() if m else s), e, None


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*\Z")
_YAML_WORDS = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"])


def yaml_str(s: str) -> str:
    """``s`` as a YAML scalar: plain when unambiguous, else double-quoted (JSON-compatible)."""
    import json

    if _PLAIN_KEY.match(s) and s.lower() not in _YAML_WORDS:
        return s
    return json.dumps(s, ensure_ascii=False)


def child_indent(text: str, node: MappingNode, default: int) -> int:
    """Column of a block mapping's keys, or ``default`` when unknown."""
    for k, _v in node.value:
        if not is_alias_ref(node.start_mark.index, k):
            return column(text, k.start_mark.index)
    return default


def find_key_line(text: str, key: Node) -> tuple[int, int]:
    """(line start, key start) of a block mapping key that starts its line."""
    ks = int(key.start_mark.index)
    ls = line_start(text, ks)
    if text[ls:ks].strip(" \t") != "":
        raise ValueError("key does not start its line")
    return ls, ks
