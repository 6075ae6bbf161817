"""Files that hold environment-like content in no shape a source recognises (issue 14 class 9).

Called by the walk for a candidate no source claims. A file is an *unrecognised definition* when it
holds, under an environment key, an env-like shape: a list of ``{name, value}`` maps (``environment``,
``Environment``, ``env``; also inside ``container_definitions``/``containerDefinitions``), a map of
``NAME: scalar`` under ``environment``/``Environment`` (upper-case names only), or an HCL ``env { }``
block of ``NAME = "value"`` lines (Nomad). A scalar (``environment: production``) or a CI ``env:`` map
is not. Such a file is reported as an error (it counts in the exit code unless excluded) and its
entries are reported, never migratable (no source can rewrite it).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrate.errors import InputError
from migrate.model import LOC_ENVIRONMENT, Entry, SecretValue, ValueKind
from migrate.rewrite import pointer as jp
from migrate.rewrite import yaml_spans as ys
from migrate.sources.base import LoadedFile, SourceText, line_of

KIND = "unrecognised"
#: keys whose value may be an environment
LIST_KEYS = frozenset({"environment", "Environment", "env"})
MAP_KEYS = frozenset({"environment", "Environment"})
_UPPER = re.compile(r"[A-Z_][A-Z0-9_]*\Z")
_TEMPLATE = re.compile(r"\{\{|\$\{|\{%")
_ANY_KEY = re.compile(r"\b(environment|Environment|env|container_definitions|containerDefinitions)\b")
_HCL_ENV = re.compile(r"^([ \t]*)env[ \t]*\{[ \t]*\r?\n(.*?)^\1\}", re.M | re.S)
_HCL_ITEM = re.compile(r'^[ \t]*"?([A-Za-z_][A-Za-z0-9_]*)"?[ \t]*=[ \t]*"((?:[^"\\\r\n]|\\.)*)"[ \t]*$', re.M)
_HCL_TASK = re.compile(r'^[ \t]*(?:task|group|job)[ \t]+"([^"]+)"', re.M)
REFUSED = "not migratable: unrecognised definition ({what}), migrate it by hand"


@dataclass(frozen=True)
class _Item:
    unit: str
    name: str
    value: str
    offset: int
    pointer: str


def reason(what: str) -> str:
    return (f"unrecognised definition: environment-like content ({what}) in no shape secrets-migrate reads; "
            "migrate it by hand or exclude the file")


def read(src: SourceText) -> LoadedFile | None:
    """Entries of an unrecognised definition, or None when the file holds nothing env-like."""
    text = src.text
    if not _ANY_KEY.search(text):
        return None
    name = src.path.name.lower()
    items: list[_Item] = []
    what = ""
    if name.endswith((".hcl", ".nomad", ".tf")):
        items, what = _hcl_items(text), "HCL env block"
    elif name.endswith((".yaml", ".yml", ".json", ".j2", ".tpl", ".template")):
        try:
            root = ys.load_nodes(text, src.display, allowed_tags=_ANY_TAG)
        except (InputError, RecursionError, ValueError):
            return None
        if root is None:
            return None
        items = _yaml_items(root, _default_unit(src.display), "")
        what = _describe(root, name)
    if not items:
        return None
    note = REFUSED.format(what=what)
    entries = []
    for it in items:
        templated = bool(_TEMPLATE.search(it.value))
        entries.append(Entry(
            path=src.display, line=line_of(text, it.offset), unit=it.unit, location=LOC_ENVIRONMENT, name=it.name,
            value=None if templated else SecretValue(it.value),
            value_kind=ValueKind.TEMPLATED if templated else ValueKind.LITERAL if it.value else ValueKind.EMPTY,
            pointer=it.pointer, source=KIND, note=note, restorable=False))
    return LoadedFile(source=src, kind=KIND, entries=tuple(entries), units=tuple(dict.fromkeys(e.unit for e in entries)),
                      warnings=(reason(what),))


class _AnyTags(frozenset[str]):
    def __contains__(self, item: object) -> bool:
        return True


_ANY_TAG: frozenset[str] = _AnyTags()


def _default_unit(display: str) -> str:
    parent = posixpath.basename(posixpath.dirname(display))
    return parent or posixpath.basename(display).split(".")[0]


def _describe(root: Node, name: str) -> str:
    if isinstance(root, MappingNode):
        keys = {str(k.value) for k, _v in root.value if isinstance(k, ScalarNode)}
        if {"apiVersion", "kind"} <= keys:
            return "Kubernetes manifest"
        if "container_definitions" in keys:
            return "Ansible variables"
        if name.startswith("values"):
            return "Helm values"
    return "YAML/JSON"


def _unit_of(m: MappingNode, default: str) -> str:
    n = ys.get(m, "name") or ys.get(m, "Name")
    if n is not None and isinstance(n[1], ScalarNode) and str(n[1].value) and not _TEMPLATE.search(str(n[1].value)):
        return str(n[1].value)
    img = ys.get(m, "image")
    if img is not None:
        v = img[1]
        if isinstance(v, MappingNode):
            r = ys.get(v, "repository")
            v = r[1] if r is not None else v
        if isinstance(v, ScalarNode) and str(v.value) and not _TEMPLATE.search(str(v.value)):
            return posixpath.basename(str(v.value)).split(":")[0].split("@")[0] or default
    return default


def _scalar(n: Node) -> str | None:
    return str(n.value) if isinstance(n, ScalarNode) and not ys.is_null(n) else None


def _env_list(seq: SequenceNode, unit: str, ptr: str) -> list[_Item]:
    out = []
    for i, it in enumerate(seq.value):
        if not isinstance(it, MappingNode):
            return []
        n, v = ys.get(it, "name") or ys.get(it, "Name"), ys.get(it, "value") or ys.get(it, "Value")
        if n is None or _scalar(n[1]) is None:
            return []
        if v is None:
            continue  # valueFrom / secretKeyRef: not plaintext here
        val = _scalar(v[1])
        if val is None:
            continue
        out.append(_Item(unit, str(_scalar(n[1])), val, int(v[1].start_mark.index), f"{ptr}/{i}/value"))
    return out


def _env_map(m: MappingNode, unit: str, ptr: str) -> list[_Item]:
    out = []
    for k, v in m.value:
        key = _scalar(k)
        val = _scalar(v)
        if key is None or not _UPPER.match(key) or val is None:
            return []
        out.append(_Item(unit, key, val, int(v.start_mark.index), f"{ptr}/{jp.escape(key)}"))
    return out


def _yaml_items(node: Node, unit: str, ptr: str, depth: int = 0) -> list[_Item]:
    if depth > 64:
        return []
    out: list[_Item] = []
    if isinstance(node, MappingNode):
        here = _unit_of(node, unit)
        for k, v in node.value:
            key = _scalar(k)
            if key is None:
                continue
            p = f"{ptr}/{jp.escape(key)}"
            if key in LIST_KEYS and isinstance(v, SequenceNode) and v.value:
                found = _env_list(v, here, p)
                if found:
                    out.extend(found)
                    continue
            if key in MAP_KEYS and isinstance(v, MappingNode) and v.value:
                found = _env_map(v, here, p)
                if found:
                    out.extend(found)
                    continue
            out.extend(_yaml_items(v, here, p, depth + 1))
    elif isinstance(node, SequenceNode):
        for i, v in enumerate(node.value):
            out.extend(_yaml_items(v, unit, f"{ptr}/{i}", depth + 1))
    return out


def _hcl_items(text: str) -> list[_Item]:
    out = []
    for m in _HCL_ENV.finditer(text):
        tasks = list(_HCL_TASK.finditer(text, 0, m.start()))
        unit = tasks[-1].group(1) if tasks else "task"
        for it in _HCL_ITEM.finditer(m.group(2)):
            off = m.start(2) + it.start(2)
            out.append(_Item(unit, it.group(1), it.group(2), off, f"/{jp.escape(unit)}/env/{jp.escape(it.group(1))}"))
    return out
