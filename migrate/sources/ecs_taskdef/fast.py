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


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _Refused("duplicate key")
    return d


def _constant(_name: str) -> Any:
    raise _Refused("not JSON")


#: the last document decoded (sniff, then load, read the same text): (text, tree)
_LAST: list[tuple[str, Any]] = [("", None)]


def loads(text: str) -> Any:
    """The decoded document when the strict parser would accept it too, else None (let it decide).
    Depth is checked by :class:`_Counter`. Callers must not mutate the result."""
    last = _LAST[0]
    if text is last[0]:
        return last[1]
    tree = None
    if text and text[0] != "\ufeff":
        try:
            tree = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
        except (ValueError, RecursionError):
            tree = None
    _LAST[0] = (text, tree)
    return tree


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
            self.first[id(v)] = at
            n = 0
            for x in v:
                n += self.walk(x, at + n, depth + 1) if type(x) in (dict, list) else (type(x) is str)
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


def load(src: SourceText, stem: str) -> LoadedFile | None:  # noqa: C901, PLR0911, PLR0912, PLR0915 - one pass mirroring the strict loader
    """Entries of a task-definition file, identical to the strict loader's, or None (take the strict path)."""
    text = src.text
    tree = loads(text)
    if tree is None:
        return None
    shape = _shape(tree)
    if shape is None:
        return None
    counter = _Counter()
    try:
        total = counter.walk(tree, 0, 0)
    except (_Refused, RecursionError):
        return None
    spans = [m.span() for m in _STRING.finditer(text)]
    if len(spans) != total:
        return None
    if shape == "containers":
        tds: list[tuple[dict[str, Any] | None, str, list[Any]]] = [(None, "", tree)]
    elif shape == "describe":
        tds = [(tree["taskDefinition"], _ptr("taskDefinition"), tree["taskDefinition"]["containerDefinitions"])]
    elif shape == "register":
        tds = [(tree, "", tree["containerDefinitions"])]
    else:
        tds = [(n, _ptr(i), n["containerDefinitions"]) for i, n in enumerate(tree)]
    display = src.display
    # (ordinal of the string holding the line, Entry fields) in document order
    pending: list[tuple[int, dict[str, Any]]] = []
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
                if type(item) is not dict or type(item.get("name")) is not str or type(item.get("value")) is not str:
                    return None
                pending.append((counter.member(item, "value"), {
                    "unit": cname, "location": LOC_ENVIRONMENT, "name": item["name"], "value": item["value"],
                    "pointer": f"{cptr}/environment/{j}/value", "group": family}))
            if not _managed(counter, c.get("secrets"), cname, f"{cptr}/secrets", LOC_SECRETS, family, pending):
                return None
            log = c.get("logConfiguration")
            if type(log) is dict:
                opts = log.get("options")
                if type(opts) is dict:
                    for k, v in opts.items():
                        if type(v) is not str:
                            return None
                        pending.append((counter.member(opts, k), {
                            "unit": cname, "location": LOC_LOG_OPTIONS, "name": k, "value": v,
                            "pointer": f"{cptr}/logConfiguration/options{_ptr(k)}", "group": family}))
                elif opts is not None:
                    return None
                if not _managed(counter, log.get("secretOptions"), cname,
                                f"{cptr}/logConfiguration/secretOptions", LOC_SECRET_OPTIONS, family, pending):
                    return None
    entries: list[Entry] = []
    line, at = 1, 0
    for ordinal, f in pending:  # lines counted once, forwards (ordinals only grow within a container)
        start, end = spans[ordinal]
        if start >= at:
            line += text.count("\n", at, start)
        else:
            line = text.count("\n", 0, start) + 1
        at = start
        value = f.pop("value", None)
        if value is None:
            entries.append(Entry(path=display, line=line, value=None, value_kind=ValueKind.REFERENCE, source=KIND,
                                 managed=True, **f))
            continue
        raw = text[start + 1:end - 1]
        entries.append(Entry(path=display, line=line, value=SecretValue(value),
                             value_kind=ValueKind.LITERAL if value else ValueKind.EMPTY, source=KIND,
                             restorable="\\" not in raw or is_restorable("json", value, raw), **f))
    return LoadedFile(source=src, kind=KIND, entries=tuple(entries), units=tuple(dict.fromkeys(units)),
                      group=",".join(dict.fromkeys(families)), data=None, execution_roles=tuple(roles))


def _managed(counter: _Counter, arr: Any, unit: str, pointer: str, location: str, family: str,
             pending: list[tuple[int, dict[str, Any]]]) -> bool:
    if not _plain(arr):
        return False
    for i, item in enumerate(arr or ()):
        if type(item) is not dict or type(item.get("name")) is not str or type(item.get("valueFrom")) is not str:
            return False
        pending.append((counter.member(item, "valueFrom"), {
            "unit": unit, "location": location, "name": item["name"], "pointer": f"{pointer}/{i}/valueFrom",
            "group": family}))
    return True
