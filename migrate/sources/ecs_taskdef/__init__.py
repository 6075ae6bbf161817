"""ECS task-definition JSON files.

Recognised by content, in four shapes:

* ``register``: ``register-task-definition --cli-input-json`` input, an object with ``containerDefinitions``;
* ``describe``: ``describe-task-definition`` output, ``{"taskDefinition": {...}, "tags": [...]}``;
* ``containers``: a bare list of container definitions (Terraform ``container_definitions`` file);
* ``list``: a list of task definitions.

Entries come from ``containerDefinitions[].environment[]`` and ``logConfiguration.options``; existing
``secrets`` and ``logConfiguration.secretOptions`` give managed entries. ``rewrite`` moves entries
into ``secrets``/``secretOptions`` with text splices that copy the file's own layout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from migrate.errors import InputError, PlanError, RewriteError
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, SecretValue, ValueKind
from migrate.rewrite import json_spans as js
from migrate.rewrite.edits import TextEdit, is_restorable
from migrate.sources.base import _PROVE, FileChange, LoadedFile, Move, RewriteOptions, SourceBase, SourceText, line_of
from migrate.sources.ecs_taskdef import fast
from migrate.sources.ecs_taskdef.check import _check, register_input
from migrate.sources.ecs_taskdef.edits import _container_edits, _item_name, _role_edit, _target_value, _value_span
from migrate.sources.ecs_taskdef.model import (
    KIND,
    LOC_SECRET_OPTIONS,
    LOC_SECRETS,
    READ_ONLY_KEYS,
    _Container,
    _Parsed,
    _ptr,
    _Target,
    _TaskDef,
    parse_tolerant,
    shape_of,
)

#: a Jinja comment before the document (``{# rendered by ansible ... #}``)
_JINJA_COMMENT = re.compile(r"\A(?:\{#.*?#\}\s*)+", re.S)


class EcsTaskDefSource(SourceBase):
    kind: ClassVar[str] = KIND

    # -- sniff ------------------------------------------------------------------------------------

    def sniff(self, path: Path, text: str) -> bool:
        """Content decides. A file that mentions task-definition keys but is not valid JSON is
        claimed (so that load reports the syntax error) rather than silently skipped."""
        head = _JINJA_COMMENT.sub("", text[:4096].lstrip("\ufeff \t\r\n")).lstrip()
        if not head or head[0] not in "{[":
            return False
        marked = '"containerDefinitions"' in text or '"taskDefinition"' in text
        listy = head[0] == "[" and '"image"' in text and '"name"' in text
        if not (marked or listy):
            return False
        if not _PROVE[0]:
            decided = fast.sniff(text)
            if decided is not None:
                return decided
        try:
            root, _holes = parse_tolerant(text)
        except ValueError:
            return marked or path.suffix.lower() in (".json", ".tpl", ".j2")
        except RecursionError:  # pragma: no cover - parse is iterative
            return False
        return shape_of(root) is not None

    # -- load -------------------------------------------------------------------------------------

    def parse(self, src: SourceText, *, root: Path | None = None) -> LoadedFile:
        text = src.text
        display = src.display
        if not _PROVE[0]:  # scan: classify from the C decoder; the strict path only when it refuses
            lf = fast.load(src, Path(display).name.split(".")[0] or display)
            if lf is not None:
                return lf
        try:
            tree, holes = parse_tolerant(text)
        except js.JsonSyntaxError as e:
            hint = " (template placeholders outside strings?)" if "${" in text or "%{" in text else ""
            raise InputError(display, f"invalid JSON: {e.reason} (column {e.column}){hint}", line=e.line) from None
        shape = shape_of(tree)
        if shape is None:
            raise InputError(display, "not an ECS task definition (no containerDefinitions, "
                                      "taskDefinition or list of containers with name and image)")
        stem = Path(display).name.split(".")[0] or display
        tds: list[_TaskDef] = []
        if shape == "containers":
            assert isinstance(tree, js.JArr)
            tds.append(_TaskDef(None, "", stem, self._containers(src, tree, "")))
        else:
            if shape == "describe":
                assert isinstance(tree, js.JObj)
                items = [(tree.get("taskDefinition"), _ptr("taskDefinition"))]
            elif shape == "register":
                items = [(tree, "")]
            else:
                assert isinstance(tree, js.JArr)
                items = [(n, _ptr(i)) for i, n in enumerate(tree.items)]
            for node, pointer in items:
                assert isinstance(node, js.JObj)
                fam = node.get("family")
                family = fam.value if isinstance(fam, js.JStr) and fam.value else stem
                cdefs = node.get("containerDefinitions")
                assert isinstance(cdefs, js.JArr)
                tds.append(_TaskDef(node, pointer, family,
                                    self._containers(src, cdefs, pointer + "/containerDefinitions")))

        entries: list[Entry] = []
        targets: dict[str, _Target] = {}
        roles: list[tuple[str, str]] = []
        for ti, td in enumerate(tds):
            role = td.node.get("executionRoleArn") if td.node is not None else None
            for ci, c in enumerate(td.containers):
                if isinstance(role, js.JStr) and role.value:
                    roles.append((c.name, role.value))
                for entry, t in self._container_entries(src, td, c, ti, ci, holes):
                    entries.append(entry)
                    if t is not None:
                        targets[entry.pointer] = t
        families = list(dict.fromkeys(td.family for td in tds))
        units = tuple(dict.fromkeys(c.name for td in tds for c in td.containers))
        return LoadedFile(source=src, kind=KIND, entries=tuple(entries), units=units,
                          group=",".join(families),
                          data=_Parsed(tree, shape, tuple(tds), targets, holes),
                          execution_roles=tuple(roles))

    def _containers(self, src: SourceText, arr: js.JArr, pointer: str) -> tuple[_Container, ...]:
        out = []
        for i, c in enumerate(arr.items):
            if not isinstance(c, js.JObj):
                raise InputError(src.display, f"container definition {i} is not an object",
                                 line=line_of(src.text, c.start))
            n = c.get("name")
            name = n.value if isinstance(n, js.JStr) and n.value else f"containerDefinitions[{i}]"
            out.append(_Container(c, _ptr(i) if not pointer else f"{pointer}{_ptr(i)}", name))
        return tuple(out)

    def _container_entries(self, src: SourceText, td: _TaskDef, c: _Container, ti: int,
                           ci: int, holes: frozenset[int] = frozenset()) -> list[tuple[Entry, _Target | None]]:
        text = src.text
        display = src.display
        out: list[tuple[Entry, _Target | None]] = []

        def entry(name: str, node: js.Node | None, at: int, pointer: str, location: str) -> Entry:
            # at: offset used for the line when there is no value literal
            if node is None or isinstance(node, js.JLit) and node.value is None:
                return Entry(path=display, line=line_of(text, at if node is None else node.start),
                             unit=c.name, location=location, name=name, value=None,
                             value_kind=ValueKind.EMPTY, pointer=pointer, source=KIND, group=td.family,
                             note="no value")
            if node.start in holes:
                return Entry(path=display, line=line_of(text, node.start), unit=c.name, location=location,
                             name=name, value=None, value_kind=ValueKind.TEMPLATED, pointer=pointer, source=KIND,
                             group=td.family, note="value is a template placeholder")
            if isinstance(node, js.JStr):
                raw = text[node.body_start:node.body_end]
                return Entry(path=display, line=line_of(text, node.start), unit=c.name, location=location,
                             name=name, value=SecretValue(node.value),
                             value_kind=ValueKind.LITERAL if node.value else ValueKind.EMPTY,
                             pointer=pointer, source=KIND, group=td.family,
                             restorable=is_restorable("json", node.value, raw))
            if isinstance(node, (js.JNum, js.JLit)):
                raw = text[node.start:node.end]
                return Entry(path=display, line=line_of(text, node.start), unit=c.name, location=location,
                             name=name, value=SecretValue(raw), value_kind=ValueKind.LITERAL,
                             pointer=pointer, source=KIND, group=td.family, note="non-string JSON value")
            raise InputError(display, f"{location} value of {name} is not a string",
                             line=line_of(text, node.start))

        env = c.node.get("environment")
        if env is not None and env.start in holes:
            env = None  # the whole list is a placeholder: nothing to read here
        if env is not None and not (isinstance(env, js.JLit) and env.value is None):
            if not isinstance(env, js.JArr):
                raise InputError(display, f"environment of container {c.name} is not a list",
                                 line=line_of(text, env.start))
            for i, item in enumerate(env.items):
                if item.start in holes:
                    continue  # a placeholder list element (``${extra_env}``)
                name = _item_name(src, item, "environment")
                ptr = f"{c.pointer}/environment/{i}/value"
                assert isinstance(item, js.JObj)
                out.append((entry(name, item.get("value"), item.start, ptr, LOC_ENVIRONMENT),
                            _Target(ti, ci, LOC_ENVIRONMENT, i)))
        out.extend((e, None) for e in self._managed(src, td, c, c.node.get("secrets"),
                                                   f"{c.pointer}/secrets", LOC_SECRETS))
        log = c.node.get("logConfiguration")
        if isinstance(log, js.JObj):
            opts = log.get("options")
            if isinstance(opts, js.JObj):
                for i, m in enumerate(opts.members):
                    ptr = f"{c.pointer}/logConfiguration/options{_ptr(m.name)}"
                    out.append((entry(m.name, m.value, m.start, ptr, LOC_LOG_OPTIONS),
                                _Target(ti, ci, LOC_LOG_OPTIONS, i)))
            elif opts is not None and not (isinstance(opts, js.JLit) and opts.value is None):
                raise InputError(display, f"logConfiguration.options of container {c.name} is not an object",
                                 line=line_of(text, opts.start))
            out.extend((e, None) for e in self._managed(
                src, td, c, log.get("secretOptions"), f"{c.pointer}/logConfiguration/secretOptions",
                LOC_SECRET_OPTIONS))
        return out

    def _managed(self, src: SourceText, td: _TaskDef, c: _Container, arr: js.Node | None, pointer: str,
                 location: str) -> list[Entry]:
        if arr is None or isinstance(arr, js.JLit) and arr.value is None:
            return []
        if not isinstance(arr, js.JArr):
            raise InputError(src.display, f"{location} of container {c.name} is not a list",
                             line=line_of(src.text, arr.start))
        out = []
        for i, item in enumerate(arr.items):
            name = _item_name(src, item, location)
            assert isinstance(item, js.JObj)
            vf = item.get("valueFrom")
            out.append(Entry(path=src.display, line=line_of(src.text, (vf or item).start), unit=c.name,
                             location=location, name=name, value=None, value_kind=ValueKind.REFERENCE,
                             pointer=f"{pointer}/{i}/valueFrom", source=KIND, group=td.family, managed=True))
        return out

    # -- rewrite ----------------------------------------------------------------------------------

    def value_spans(self, loaded: LoadedFile) -> dict[str, tuple[str, int, int, str]]:
        """Entry key -> (file, start, end, encoding) of each plaintext value's raw text."""
        parsed = loaded.data
        if not isinstance(parsed, _Parsed):
            return {}
        out: dict[str, tuple[str, int, int, str]] = {}
        for e in loaded.entries:
            t = parsed.targets.get(e.pointer)
            if t is None or e.value_path != loaded.path:
                continue
            node = _target_value(parsed, t)
            if node is not None:
                s, end = _value_span(node)
                out[e.key] = (loaded.path, s, end, "json")
        return out

    def splice(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        if not moves:
            return []
        parsed: _Parsed = loaded.data
        text = loaded.source.text
        # group moves per container
        per: dict[tuple[int, int], list[tuple[Move, _Target]]] = {}
        for mv in moves:
            t = parsed.targets.get(mv.entry.pointer)
            if t is None or mv.entry.value_path != loaded.path:
                raise RewriteError(f"{loaded.path}: entry {mv.entry.pointer} is not a movable value in this file")
            per.setdefault((t.td, t.container), []).append((mv, t))
        edits: list[TextEdit] = []
        expected_ops: list[tuple[str, str, int, str, str]] = []  # (container, location, index, name, value_from)
        summary: list[str] = []
        for (ti, ci), items in sorted(per.items()):
            td = parsed.taskdefs[ti]
            c = td.containers[ci]
            edits += _container_edits(text, c, items, loaded.path)
            for mv, t in items:
                expected_ops.append((c.pointer, t.location, t.index, mv.entry.name, mv.value_from))
                summary.append(f"{c.name}/{mv.entry.name}")
        roles: list[tuple[str, str]] = []  # (task pointer, role) inserted or filled
        for ti in sorted({ti for ti, _ in per}):
            td = parsed.taskdefs[ti]
            if td.node is None:
                continue  # a bare container list: the role lives with the task definition elsewhere
            role = td.node.get("executionRoleArn")
            if isinstance(role, js.JStr) and role.value:
                continue
            if not options.execution_role:
                raise PlanError(f"task definition {td.family} in {loaded.path} has no executionRoleArn, "
                                "which ECS requires for secrets; pass --execution-role ARN")
            edits.append(_role_edit(text, td.node, options.execution_role))
            roles.append((td.pointer, options.execution_role))
        _check(text, edits, parsed, expected_ops, roles, loaded.path)
        return [FileChange(path=loaded.path, edits=tuple(sorted(edits, key=lambda e: (e.start, e.end))),
                           entries=tuple(mv.entry.key for mv in moves),
                           summary=f"{loaded.group}: " + ", ".join(summary) + " -> secrets")]


SOURCE = EcsTaskDefSource()


__all__ = ["KIND", "LOC_SECRETS", "LOC_SECRET_OPTIONS", "READ_ONLY_KEYS", "EcsTaskDefSource", "SOURCE", "register_input", "shape_of"]
