"""The scan's fast path for ECS task-definition JSON: the C ``json`` module classifies, a regex locates.

``scan`` reads thousands of task definitions and only reports; the span-keeping parser
(:mod:`migrate.rewrite.json_spans`) is a pure-Python loop over every token and dominated the scan.
Here the document is decoded by the C decoder with the strict parser's rules (duplicate keys,
``NaN``/``Infinity`` and nesting deeper than the strict limit are refused), and a value's line comes
from the position of its string token: in valid JSON every ``"`` outside a string opens one, so
the n-th match of a string regex is the n-th string (key or value) of the tree in document order.

Anything unusual returns None and the caller takes the strict path, which produces the same entries
or the same one-line error (fail closed is unchanged): invalid JSON, templates, a missing or
non-string value, a malformed item. The result carries no span tree (``LoadedFile.data`` is None):
only loads that will never be rewritten use it (``unproven_loads``, i.e. ``scan``).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, SecretValue, ValueKind
from migrate.rewrite.edits import is_restorable
from migrate.rewrite.json_spans import DEFAULT_MAX_DEPTH
from migrate.sources.base import LoadedFile, SourceText
from migrate.sources.ecs_taskdef.model import KIND, LOC_SECRET_OPTIONS, LOC_SECRETS, _ptr

#: one JSON string token (valid JSON: no raw control characters inside)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


class _Refused(ValueError):
    pass


def _constant(_name: str) -> Any:
    raise _Refused("not JSON")


#: the last document decoded (sniff, then load, read the same text): (text, tree, its string counter)
_LAST: list[tuple[str, Any, Any]] = [("", None, None)]


def loads(text: str) -> Any:
    """The decoded document when the strict parser would accept it too, else None (let it decide).
    Callers must not mutate the result."""
    return _decoded(text)[0]


def _decoded(text: str) -> tuple[Any, _Counter | None]:
    last = _LAST[0]
    if text is last[0]:
        return last[1], last[2]
    tree = counter = None
    if text and text[0] != "\ufeff":
        try:
            tree = json.loads(text, parse_constant=_constant)
        except (ValueError, RecursionError):
            tree = None
        counter = _Counter()
        if tree is not None and not _complete(text, tree, counter):
            tree = counter = None
    _LAST[0] = (text, tree, counter)
    return tree, counter


def _complete(text: str, tree: Any, counter: _Counter) -> bool:
    """Every string token of ``text`` is a string of ``tree`` (the C decoder keeps the last of duplicate
    keys and drops the others: the strict parser refuses them), and no container nests deeper than the
    strict parser's limit (the count raises then)."""
    try:
        total = counter.walk(tree, 0, 0)
    except (_Refused, RecursionError):
        return False
    if "\\" not in text:  # no escapes: no string holds a quote, quotes pair up into tokens
        return total * 2 == text.count('"')
    return total == sum(1 for _ in _STRING.finditer(text))


class _Tokens:
    """Where the string tokens of a text are, by ordinal (document order)."""

    __slots__ = ("_ends", "_spans")

    def __init__(self, text: str) -> None:
        if "\\" in text:
            self._spans: list[tuple[int, int]] | None = [m.span() for m in _STRING.finditer(text)]
            self._ends: list[int] = []
        else:  # no escapes: every quote opens or closes a token; ends[q] + q is where quote q is
            self._spans = None
            self._ends = list(accumulate(map(len, text.split('"'))))

    def span(self, ordinal: int) -> tuple[int, int]:
        """(start, end) of a token, quotes included."""
        if self._spans is not None:
            return self._spans[ordinal]
        q = 2 * ordinal
        return self._ends[q] + q, self._ends[q + 1] + q + 2


class _Counter:
    """Document-order ordinal of the first string token of every container, and its string count."""

    __slots__ = ("first", "count")

    def __init__(self) -> None:
        self.first: dict[int, int] = {}
        self.count: dict[int, int] = {}

    def walk(self, v: Any, at: int, depth: int) -> int:
        """Strings in ``v`` (which starts at ordinal ``at``)."""
        t = type(v)
        if t is str:
            return 1
        if t is dict:
            if depth >= DEFAULT_MAX_DEPTH:
                raise _Refused("too deep")
            self.first[id(v)] = at
            n = 0
            for x in v.values():
                n += 1
                n += self.walk(x, at + n, depth + 1) if type(x) in (dict, list) else (type(x) is str)
        elif t is list:
            if depth >= DEFAULT_MAX_DEPTH:
                raise _Refused("too deep")
            first = self.first
            first[id(v)] = at
            n = 0
            for x in v:
                tx = type(x)
                if tx is str:
                    n += 1
                elif tx is dict:
                    # a flat object of strings (an environment item) is counted here, as walk would
                    m = 0
                    for y in x.values():
                        if type(y) is not str:
                            n += self.walk(x, at + n, depth + 1)
                            break
                        m += 2
                    else:
                        if depth + 1 >= DEFAULT_MAX_DEPTH:
                            raise _Refused("too deep")
                        first[id(x)] = at + n
                        self.count[id(x)] = m
                        n += m
                elif tx is list:
                    n += self.walk(x, at + n, depth + 1)
        else:
            return 0
        self.count[id(v)] = n
        return n

    def member(self, obj: dict[str, Any], key: str) -> int:
        """Ordinal of the value string of ``obj[key]`` (which must be a string)."""
        n = self.first[id(obj)]
        count = self.count
        for k, x in obj.items():
            n += 1
            if k == key:
                return n
            t = type(x)
            n += count[id(x)] if t is dict or t is list else (t is str)
        raise KeyError(key)  # pragma: no cover - callers check the key first


def _shape(tree: Any) -> str | None:
    """``shape_of`` on decoded JSON."""
    if type(tree) is dict:
        td = tree.get("taskDefinition")
        if type(td) is dict and type(td.get("containerDefinitions")) is list:
            return "describe"
        if type(tree.get("containerDefinitions")) is list:
            return "register"
        return None
    if type(tree) is list and tree:
        if all(type(i) is dict and type(i.get("containerDefinitions")) is list for i in tree):
            return "list"
        if all(type(i) is dict and type(i.get("name")) is str and type(i.get("image")) is str for i in tree):
            return "containers"
    return None


def sniff(text: str) -> bool | None:
    """True/False when the fast decode decides, None when the strict path must."""
    tree = loads(text)
    if tree is None:
        return None
    return _shape(tree) is not None


def _plain(v: Any) -> bool:
    return v is None or type(v) is list


#: an entry before it is built: (object holding the value, its key, unit, location, name, value or None
#: for a managed entry, container pointer, pointer tail kind, index or key, family)
Item = tuple[dict[str, Any], str, str, str, str, "str | None", str, int, "int | str", str]
_ENV, _OPT, _SECRETS, _SECRET_OPTS = 0, 1, 2, 3


class Light:
    """A task-definition file decoded for a scan: every entry's fields (``items``, document order) without
    building an :class:`Entry`; :meth:`entry` builds the one of an item (line, pointer, restorability),
    as :func:`load` does for all of them."""

    __slots__ = ("src", "items", "units", "families", "roles", "_counter", "_spans", "_at")

    def __init__(self, src: SourceText, counter: _Counter, items: list[Item], units: list[str], families: list[str],
                 roles: list[tuple[str, str]]) -> None:
        self.src = src
        self.items = items
        self.units = units
        self.families = families
        self.roles = roles
        self._counter = counter
        self._spans: _Tokens | None = None
        self._at = (1, 0)  # (line, offset) of the last located string: lines are counted forwards

    def locate(self, item: Item) -> tuple[int, int, int]:
        """(line, start, end) of the string token of ``item``'s value, quotes included (items are located
        in document order most cheaply: lines are counted forwards from the last one)."""
        text = self.src.text
        if self._spans is None:
            self._spans = _Tokens(text)
        start, end = self._spans.span(self._counter.member(item[0], item[1]))
        line, at = self._at
        if start >= at:
            line += text.count("\n", at, start)
        else:
            line = text.count("\n", 0, start) + 1
        self._at = (line, start)
        return line, start, end

    def restorable(self, value: str, start: int, end: int) -> bool:
        """Whether the literal ``value`` of the token at (start, end) can be written back byte-identically."""
        raw = self.src.text[start + 1:end - 1]
        return "\\" not in raw or is_restorable("json", value, raw)

    def entry(self, item: Item, *, keep_value: bool = True) -> Entry:
        """The Entry of ``item``; ``keep_value=False``: without its value (a scan's reported finding)."""
        obj, key, unit, location, name, value, cptr, tail, idx, family = item
        line, start, end = self.locate(item)
        if tail == _ENV:
            pointer = f"{cptr}/environment/{idx}/value"
        elif tail == _OPT:
            pointer = f"{cptr}/logConfiguration/options{_ptr(str(idx))}"
        elif tail == _SECRETS:
            pointer = f"{cptr}/secrets/{idx}/valueFrom"
        else:
            pointer = f"{cptr}/logConfiguration/secretOptions/{idx}/valueFrom"
        display = self.src.display
        if value is None:
            return Entry(path=display, line=line, unit=unit, location=location, name=name, value=None,
                         value_kind=ValueKind.REFERENCE, pointer=pointer, source=KIND, group=family, managed=True)
        return Entry(path=display, line=line, unit=unit, location=location, name=name,
                     value=SecretValue(value) if keep_value else None,
                     value_kind=ValueKind.LITERAL if value else ValueKind.EMPTY, pointer=pointer, source=KIND,
                     group=family, restorable=self.restorable(value, start, end))

    def loaded(self, entries: tuple[Entry, ...] | None = None) -> LoadedFile:
        """The file as :func:`load` gives it (``entries``: all of them, built here when not given)."""
        if entries is None:
            entries = tuple(self.entry(item) for item in self.items)
        return LoadedFile(source=self.src, kind=KIND, entries=entries, units=tuple(dict.fromkeys(self.units)),
                          group=",".join(dict.fromkeys(self.families)), data=None, execution_roles=tuple(self.roles))


def load(src: SourceText, stem: str) -> LoadedFile | None:
    """Entries of a task-definition file, identical to the strict loader's, or None (take the strict path)."""
    light = decode(src, stem)
    return None if light is None else light.loaded()


def decode(src: SourceText, stem: str) -> Light | None:  # noqa: C901, PLR0911, PLR0912 - one pass mirroring the strict loader
    """The file's entries as :class:`Light` items, or None (take the strict path)."""
    tree, counter = _decoded(src.text)
    if tree is None or counter is None:
        return None
    shape = _shape(tree)
    if shape is None:
        return None
    if shape == "containers":
        tds: list[tuple[dict[str, Any] | None, str, list[Any]]] = [(None, "", tree)]
    elif shape == "describe":
        tds = [(tree["taskDefinition"], _ptr("taskDefinition"), tree["taskDefinition"]["containerDefinitions"])]
    elif shape == "register":
        tds = [(tree, "", tree["containerDefinitions"])]
    else:
        tds = [(n, _ptr(i), n["containerDefinitions"]) for i, n in enumerate(tree)]
    items: list[Item] = []
    append = items.append
    families: list[str] = []
    units: list[str] = []
    roles: list[tuple[str, str]] = []
    for node, pointer, cdefs in tds:
        fam = node.get("family") if node is not None else None
        family = fam if type(fam) is str and fam else stem
        families.append(family)
        role = node.get("executionRoleArn") if node is not None else None
        cpointer = pointer + "/containerDefinitions" if node is not None else ""
        for i, c in enumerate(cdefs):
            if type(c) is not dict:
                return None
            n = c.get("name")
            cname = n if type(n) is str and n else f"containerDefinitions[{i}]"
            units.append(cname)
            cptr = f"{cpointer}{_ptr(i)}" if cpointer else _ptr(i)
            if type(role) is str and role:
                roles.append((cname, role))
            env = c.get("environment")
            if not _plain(env):
                return None
            for j, item in enumerate(env or ()):
                if type(item) is not dict:
                    return None
                name = item.get("name")
                value = item.get("value")
                if type(name) is not str or type(value) is not str:
                    return None
                append((item, "value", cname, LOC_ENVIRONMENT, name, value, cptr, _ENV, j, family))
            if not _managed(c.get("secrets"), cname, cptr, _SECRETS, LOC_SECRETS, family, items):
                return None
            log = c.get("logConfiguration")
            if type(log) is dict:
                opts = log.get("options")
                if type(opts) is dict:
                    for k, v in opts.items():
                        if type(v) is not str:
                            return None
                        append((opts, k, cname, LOC_LOG_OPTIONS, k, v, cptr, _OPT, k, family))
                elif opts is not None:
                    return None
                if not _managed(log.get("secretOptions"), cname, cptr, _SECRET_OPTS, LOC_SECRET_OPTIONS, family,
                                items):
                    return None
    return Light(src, counter, items, units, families, roles)


def _managed(arr: Any, unit: str, cptr: str, tail: int, location: str, family: str, items: list[Item]) -> bool:
    if not _plain(arr):
        return False
    for i, item in enumerate(arr or ()):
        if type(item) is not dict or type(item.get("name")) is not str or type(item.get("valueFrom")) is not str:
            return False
        items.append((item, "valueFrom", unit, location, item["name"], None, cptr, tail, i, family))
    return True
