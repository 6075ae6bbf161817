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

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from migrate.errors import InputError, PlanError, RewriteError
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, SecretValue, ValueKind
from migrate.rewrite import json_spans as js
from migrate.rewrite import pointer as jp
from migrate.rewrite import text as tx
from migrate.rewrite.edits import PREVIEW_ARN, TextEdit, apply_edits, is_restorable, old_template, render
from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions, SourceBase, SourceText, line_of

KIND = "ecs-taskdef"
LOC_SECRETS = "secrets"
LOC_SECRET_OPTIONS = "logConfiguration.secretOptions"

#: keys of describe-task-definition output that RegisterTaskDefinition does not accept
READ_ONLY_KEYS = ("taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
                  "registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt")

#: ARN used to render reference tokens when checking a rewrite (never written anywhere)


@dataclass(frozen=True)
class _Container:
    node: js.JObj
    pointer: str  #: JSON pointer of the container object
    name: str


@dataclass(frozen=True)
class _TaskDef:
    node: js.JObj | None  #: None for a bare container list
    pointer: str
    family: str
    containers: tuple[_Container, ...]


@dataclass(frozen=True)
class _Target:
    """Where an entry's value sits: container, location and index (environment item or option member)."""

    td: int
    container: int
    location: str
    index: int


@dataclass(frozen=True)
class _Parsed:
    root: js.Node = field(repr=False)
    shape: str
    taskdefs: tuple[_TaskDef, ...]
    targets: dict[str, _Target] = field(repr=False)  #: entry pointer -> target


# --- shape detection ------------------------------------------------------------------------------


def _has(node: js.Node | None, name: str, kind: type) -> bool:
    return isinstance(node, js.JObj) and isinstance(node.get(name), kind)


def shape_of(root: js.Node) -> str | None:
    """``register`` / ``describe`` / ``containers`` / ``list``, or None when ``root`` is none of them."""
    if isinstance(root, js.JObj):
        if _has(root.get("taskDefinition"), "containerDefinitions", js.JArr):
            return "describe"
        if _has(root, "containerDefinitions", js.JArr):
            return "register"
        return None
    if isinstance(root, js.JArr) and root.items:
        if all(_has(i, "containerDefinitions", js.JArr) for i in root.items):
            return "list"
        if all(_has(i, "name", js.JStr) and _has(i, "image", js.JStr) for i in root.items):
            return "containers"
    return None


def _ptr(*parts: object) -> str:
    return jp.join(parts)


class EcsTaskDefSource(SourceBase):
    kind: ClassVar[str] = KIND

    # -- sniff ------------------------------------------------------------------------------------

    def sniff(self, path: Path, text: str) -> bool:
        """Content decides. A file that mentions task-definition keys but is not valid JSON is
        claimed (so that load reports the syntax error) rather than silently skipped."""
        head = text[:4096].lstrip("\ufeff \t\r\n")
        if not head or head[0] not in "{[":
            return False
        marked = '"containerDefinitions"' in text or '"taskDefinition"' in text
        listy = head[0] == "[" and '"image"' in text and '"name"' in text
        if not (marked or listy):
            return False
        try:
            root = js.parse_cached(text)
        except ValueError:
            return marked or path.suffix.lower() in (".json", ".tpl")
        except RecursionError:  # pragma: no cover - parse is iterative
            return False
        return shape_of(root) is not None

    # -- load -------------------------------------------------------------------------------------

    def parse(self, src: SourceText, *, root: Path | None = None) -> LoadedFile:
        text = src.text
        display = src.display
        try:
            tree = js.parse_cached(text)
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
                for entry, t in self._container_entries(src, td, c, ti, ci):
                    entries.append(entry)
                    if t is not None:
                        targets[entry.pointer] = t
        families = list(dict.fromkeys(td.family for td in tds))
        units = tuple(dict.fromkeys(c.name for td in tds for c in td.containers))
        return LoadedFile(source=src, kind=KIND, entries=tuple(entries), units=units,
                          group=",".join(families),
                          data=_Parsed(tree, shape, tuple(tds), targets),
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
                           ci: int) -> list[tuple[Entry, _Target | None]]:
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
        if env is not None and not (isinstance(env, js.JLit) and env.value is None):
            if not isinstance(env, js.JArr):
                raise InputError(display, f"environment of container {c.name} is not a list",
                                 line=line_of(text, env.start))
            for i, item in enumerate(env.items):
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


# --- rewrite helpers -------------------------------------------------------------------------------


def _item_name(src: SourceText, item: js.Node, location: str) -> str:
    if not isinstance(item, js.JObj):
        raise InputError(src.display, f"{location} item is not an object", line=line_of(src.text, item.start))
    n = item.get("name")
    if not isinstance(n, js.JStr):
        raise InputError(src.display, f"{location} item has no string name", line=line_of(src.text, item.start))
    return n.value


def _value_span(node: js.Node) -> tuple[int, int]:
    """Span of the value's raw text as the 'json' encoder writes it (string body, or whole literal)."""
    if isinstance(node, js.JStr):
        return node.body_start, node.body_end
    return node.start, node.end


def _deletions(spans: Sequence[tuple[int, int]], remove: set[int], open_end: int,
               close_start: int) -> list[tuple[int, int]]:
    """Text ranges to delete so that removing items ``remove`` leaves a valid, natural-looking list.

    A run of removed items followed by a kept item is deleted up to that item's start (taking the
    commas with it); a run reaching the end is deleted from the previous kept item's end. Removing
    everything empties the brackets.
    """
    if len(remove) == len(spans):
        return [(open_end, close_start)]
    out = []
    i = 0
    n = len(spans)
    while i < n:
        if i not in remove:
            i += 1
            continue
        j = i
        while j + 1 < n and j + 1 in remove:
            j += 1
        if j + 1 < n:
            out.append((spans[i][0], spans[j + 1][0]))
        else:
            out.append((spans[i - 1][1], spans[j][1]))
        i = j + 1
    return out


def _q(body: str) -> str:
    return '"' + body + '"'


def _container_edits(text: str, c: _Container, items: list[tuple[Move, _Target]], path: str) -> list[TextEdit]:
    edits: list[TextEdit] = []
    env_moves = sorted([(t.index, mv) for mv, t in items if t.location == LOC_ENVIRONMENT], key=lambda x: x[0])
    opt_moves = sorted([(t.index, mv) for mv, t in items if t.location == LOC_LOG_OPTIONS], key=lambda x: x[0])
    if env_moves:
        env_m = c.node.member("environment")
        assert env_m is not None and isinstance(env_m.value, js.JArr)
        env = env_m.value
        secrets_m = c.node.member("secrets")
        existing = _names(secrets_m.value if secrets_m else None)
        new_items: list[str] = []
        values: list[tuple[int, int, str, str]] = []
        for idx, mv in env_moves:
            item = env.items[idx]
            assert isinstance(item, js.JObj)
            vm = item.member("value")
            if vm is None or (isinstance(vm.value, js.JLit) and vm.value.value is None):
                raise RewriteError(f"{path}: {c.name} environment {mv.entry.name} has no value to move")
            if mv.entry.name in existing:
                raise RewriteError(f"{path}: {c.name} already has {mv.entry.name} in secrets")
            existing.add(mv.entry.name)
            vs, ve = _value_span(vm.value)
            values.append((vs, ve, mv.entry.key, "json"))
            # the new secrets item copies the environment item's own layout
            new_items.append(text[item.start:vm.key.start] + '"valueFrom"' + text[vm.key.end:vm.value.start]
                             + _q(js.json_body(mv.value_from)) + text[vm.value.end:item.end])
        spans = [(i.start, i.end) for i in env.items]
        for s, e in _deletions(spans, {i for i, _ in env_moves}, env.start + 1, env.end - 1):
            edits.append(TextEdit(s, e, "", old_template(text, s, e, [v for v in values if s <= v[0] < e])))
        open_ws = text[env.start + 1:env.items[0].start]
        close_ws = text[env.items[-1].end:env.end - 1]
        sep = text[env.items[0].end:env.items[1].start] if len(env.items) > 1 else "," + open_ws
        edits += _add_to_list(text, c.node, secrets_m, "secrets", env_m, new_items,
                              lambda: "[" + open_ws + sep.join(new_items) + close_ws + "]")
    if opt_moves:
        log = c.node.get("logConfiguration")
        assert isinstance(log, js.JObj)
        opts_m = log.member("options")
        assert opts_m is not None and isinstance(opts_m.value, js.JObj)
        opts = opts_m.value
        so_m = log.member("secretOptions")
        existing = _names(so_m.value if so_m else None)
        colon = text[opts_m.key.end:opts_m.value.start]
        new_items = []
        values = []
        for idx, mv in opt_moves:
            m = opts.members[idx]
            if isinstance(m.value, js.JLit) and m.value.value is None:
                raise RewriteError(f"{path}: {c.name} log option {mv.entry.name} has no value to move")
            if mv.entry.name in existing:
                raise RewriteError(f"{path}: {c.name} already has {mv.entry.name} in secretOptions")
            existing.add(mv.entry.name)
            vs, ve = _value_span(m.value)
            values.append((vs, ve, mv.entry.key, "json"))
            new_items.append('{"name"' + colon + text[m.key.start:m.key.end] + ', "valueFrom"' + colon
                             + _q(js.json_body(mv.value_from)) + "}")
        spans = [(m.start, m.end) for m in opts.members]
        for s, e in _deletions(spans, {i for i, _ in opt_moves}, opts.start + 1, opts.end - 1):
            edits.append(TextEdit(s, e, "", old_template(text, s, e, [v for v in values if s <= v[0] < e])))
        member_ws = tx.leading_ws(text, opts_m.key.start)

        def fresh() -> str:
            if "\n" in member_ws:
                nl = tx.eol(text)
                ind = member_ws.rsplit("\n", 1)[1]
                inner = ind + js.indent_unit(text, log)
                return "[" + nl + inner + ("," + nl + inner).join(new_items) + nl + ind + "]"
            return "[" + ", ".join(new_items) + "]"

        edits += _add_to_list(text, log, so_m, "secretOptions", opts_m, new_items, fresh)
    return edits


def _names(arr: js.Node | None) -> set[str]:
    out: set[str] = set()
    if isinstance(arr, js.JArr):
        for i in arr.items:
            n = i.get("name") if isinstance(i, js.JObj) else None
            if isinstance(n, js.JStr):
                out.add(n.value)
    return out


def _add_to_list(text: str, parent: js.JObj, list_m: js.JMember | None, key: str, anchor: js.JMember,
                 new_items: list[str], fresh: Callable[[], str]) -> list[TextEdit]:
    """Edits that append ``new_items`` to ``parent[key]``, creating the member after ``anchor``."""
    if list_m is None or isinstance(list_m.value, js.JLit) and list_m.value.value is None:
        if list_m is not None:  # "secrets": null -> replace the null
            v = list_m.value
            return [TextEdit(v.start, v.end, fresh(), text[v.start:v.end])]
        colon = text[anchor.key.end:anchor.value.start]
        new = _member_sep(text, parent, anchor) + _q(key) + colon + fresh()
        return [TextEdit(anchor.end, anchor.end, new, "")]
    arr = list_m.value
    if not isinstance(arr, js.JArr):
        raise RewriteError(f"{key} is not a list")
    if not arr.items:
        inner = fresh()[1:-1]
        return [TextEdit(arr.start + 1, arr.end - 1, inner, text[arr.start + 1:arr.end - 1])]
    if len(arr.items) > 1:
        sep = text[arr.items[-2].end:arr.items[-1].start]
    else:
        sep = "," + text[arr.start + 1:arr.items[0].start]
    return [TextEdit(arr.items[-1].end, arr.items[-1].end, "".join(sep + i for i in new_items), "")]


def _role_edit(text: str, td: js.JObj, role: str) -> TextEdit:
    lit = _q(js.json_body(role))
    cur = td.member("executionRoleArn")
    if cur is not None:  # null or "": fill it in
        v = cur.value
        return TextEdit(v.start, v.end, lit, text[v.start:v.end])
    anchor = td.member("taskRoleArn") or td.member("family")
    if anchor is not None:
        colon = text[anchor.key.end:anchor.value.start]
        return TextEdit(anchor.end, anchor.end, _member_sep(text, td, anchor) + '"executionRoleArn"' + colon + lit, "")
    first = td.members[0]
    colon = text[first.key.end:first.value.start]
    return TextEdit(first.start, first.start, '"executionRoleArn"' + colon + lit + _member_sep(text, td, first), "")


def _member_sep(text: str, obj: js.JObj, member: js.JMember) -> str:
    """The "," and whitespace that separate members of ``obj``, as written next to ``member``."""
    i = obj.members.index(member)
    if i > 0:
        return text[obj.members[i - 1].end:member.start]
    if len(obj.members) > 1:
        return text[member.end:obj.members[1].start]
    ws = tx.leading_ws(text, member.key.start)
    return "," + (ws if ws else " ")


# --- post-check ------------------------------------------------------------------------------------


def _resolve(obj: object, pointer: str) -> object:
    if not pointer:
        return obj
    for tok in pointer[1:].split("/"):
        tok = tok.replace("~1", "/").replace("~0", "~")
        obj = obj[int(tok)] if isinstance(obj, list) else obj[tok]  # type: ignore[index]
    return obj


def _check(text: str, edits: list[TextEdit], parsed: _Parsed,
           ops: list[tuple[str, str, int, str, str]], roles: list[tuple[str, str]], path: str) -> None:
    """Render with a preview ARN, re-parse, and compare with the intended structure."""
    bad = RewriteError(f"{path}: the rewritten task definition does not have the intended structure")
    try:
        new_text = apply_edits(text, edits, ref=lambda _aid: PREVIEW_ARN)
        got = js.to_python(js.parse(new_text))
    except js.JsonSyntaxError:
        raise bad from None
    expected = copy.deepcopy(js.to_python(parsed.root))
    removed_env: dict[str, set[int]] = {}
    removed_opt: dict[str, set[str]] = {}
    for cptr, loc, index, name, vf in sorted(ops, key=lambda o: (o[0], o[1], o[2])):
        c = _resolve(expected, cptr)
        assert isinstance(c, dict)
        ref = {"name": name, "valueFrom": render(vf, ref=lambda _aid: PREVIEW_ARN)}
        if loc == LOC_ENVIRONMENT:
            removed_env.setdefault(cptr, set()).add(index)
            if c.get("secrets") is None:
                c["secrets"] = []
            c["secrets"].append(ref)
        else:
            removed_opt.setdefault(cptr, set()).add(name)
            log = c["logConfiguration"]
            if log.get("secretOptions") is None:
                log["secretOptions"] = []
            log["secretOptions"].append(ref)
    for cptr, indexes in removed_env.items():
        c = _resolve(expected, cptr)
        c["environment"] = [i for n, i in enumerate(c["environment"]) if n not in indexes]  # type: ignore[index]
    for cptr, names in removed_opt.items():
        opts = _resolve(expected, cptr)["logConfiguration"]  # type: ignore[index]
        opts["options"] = {k: v for k, v in opts["options"].items() if k not in names}
    for tptr, role in roles:
        _resolve(expected, tptr)["executionRoleArn"] = role  # type: ignore[index]
    if got != expected:
        raise bad
    # ECS rules: unique names in secrets, and no name both in environment and secrets
    for cptr in set(removed_env) | set(removed_opt):
        c = _resolve(got, cptr)
        assert isinstance(c, dict)
        secret_names = [s["name"] for s in c.get("secrets") or []]
        env_names = {e.get("name") for e in c.get("environment") or []}
        opt_names = [s["name"] for s in (c.get("logConfiguration") or {}).get("secretOptions") or []]
        if len(set(secret_names)) != len(secret_names) or len(set(opt_names)) != len(opt_names):
            raise RewriteError(f"{path}: duplicate names in secrets after the rewrite")
        if env_names & set(secret_names):
            raise RewriteError(f"{path}: a name is in both environment and secrets after the rewrite")


def register_input(task_definition: dict, tags: list | None = None) -> dict:  # type: ignore[type-arg]
    """RegisterTaskDefinition input from a describe-task-definition ``taskDefinition`` (read-only
    keys and null values dropped). Used by tests and by callers that register live revisions."""
    out = {k: v for k, v in task_definition.items() if k not in READ_ONLY_KEYS and v is not None}
    if tags:
        out["tags"] = tags
    return out


SOURCE = EcsTaskDefSource()
