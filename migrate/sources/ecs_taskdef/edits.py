"""Splice builders for task-definition JSON: delete environment items, add secrets, add the role."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from migrate.errors import InputError, RewriteError
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS
from migrate.rewrite import json_spans as js
from migrate.rewrite import text as tx
from migrate.rewrite.edits import TextEdit
from migrate.sources.base import Move, SourceText, line_of
from migrate.sources.ecs_taskdef.model import _Container, _Parsed, _Target

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
        for idx, mv in env_moves:
            item = env.items[idx]
            assert isinstance(item, js.JObj)
            vm = item.member("value")
            if vm is None or (isinstance(vm.value, js.JLit) and vm.value.value is None):
                raise RewriteError(f"{path}: {c.name} environment {mv.entry.name} has no value to move")
            if mv.entry.name in existing:
                raise RewriteError(f"{path}: {c.name} already has {mv.entry.name} in secrets")
            existing.add(mv.entry.name)
            # the new secrets item copies the environment item's own layout
            new_items.append(text[item.start:vm.key.start] + '"valueFrom"' + text[vm.key.end:vm.value.start]
                             + _q(js.json_body(mv.value_from)) + text[vm.value.end:item.end])
        open_ws = text[env.start + 1:env.items[0].start]
        close_ws = text[env.items[-1].end:env.end - 1]
        sep = text[env.items[0].end:env.items[1].start] if len(env.items) > 1 else "," + open_ws
        emptied = _emptied(text, c.node, env_m, secrets_m, "secrets", len(env_moves) == len(env.items),
                           lambda: "[" + open_ws + sep.join(new_items) + close_ws + "]")
        if emptied is not None:
            edits += emptied
        else:
            spans = [(i.start, i.end) for i in env.items]
            for s, e in _deletions(spans, {i for i, _ in env_moves}, env.start + 1, env.end - 1):
                edits.append(TextEdit(s, e, "", text[s:e]))  # old: the base rebuilds it with value tokens
        if emptied is None or secrets_m is not None:
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
        for idx, mv in opt_moves:
            m = opts.members[idx]
            if isinstance(m.value, js.JLit) and m.value.value is None:
                raise RewriteError(f"{path}: {c.name} log option {mv.entry.name} has no value to move")
            if mv.entry.name in existing:
                raise RewriteError(f"{path}: {c.name} already has {mv.entry.name} in secretOptions")
            existing.add(mv.entry.name)
            new_items.append('{"name"' + colon + text[m.key.start:m.key.end] + ', "valueFrom"' + colon
                             + _q(js.json_body(mv.value_from)) + "}")
        member_ws = tx.leading_ws(text, opts_m.key.start)

        def fresh() -> str:
            if "\n" in member_ws:
                nl = tx.eol(text)
                ind = member_ws.rsplit("\n", 1)[1]
                inner = ind + js.indent_unit(text, log)
                return "[" + nl + inner + ("," + nl + inner).join(new_items) + nl + ind + "]"
            return "[" + ", ".join(new_items) + "]"

        emptied = _emptied(text, log, opts_m, so_m, "secretOptions", len(opt_moves) == len(opts.members), fresh)
        if emptied is not None:
            edits += emptied
        else:
            spans = [(m.start, m.end) for m in opts.members]
            for s, e in _deletions(spans, {i for i, _ in opt_moves}, opts.start + 1, opts.end - 1):
                edits.append(TextEdit(s, e, "", text[s:e]))  # old: the base rebuilds it with value tokens
        if emptied is None or so_m is not None:
            edits += _add_to_list(text, log, so_m, "secretOptions", opts_m, new_items, fresh)
    return edits


def _emptied(text: str, parent: js.JObj, src_m: js.JMember, dst_m: js.JMember | None, key: str, whole: bool,
             fresh: Callable[[], str]) -> list[TextEdit] | None:
    """A list/map the move empties goes whole, key included (issue 13): renamed in place to
    ``key`` with the new items when ``key`` is absent or null, else removed with its separator
    (the items are then appended to the existing list). None when something stays in it."""
    if not whole:
        return None
    if dst_m is None:
        colon = text[src_m.key.end:src_m.value.start]
        s, e = src_m.start, src_m.end
        return [TextEdit(s, e, _q(key) + colon + fresh(), text[s:e])]
    i = parent.members.index(src_m)
    if i > 0:
        s, e = parent.members[i - 1].end, src_m.end
    elif len(parent.members) > 1:
        s, e = src_m.start, parent.members[1].start
    else:
        return None
    return [TextEdit(s, e, "", text[s:e])]


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


def _target_value(parsed: _Parsed, t: _Target) -> js.Node | None:
    """The value node a target points at (None when it has no value)."""
    c = parsed.taskdefs[t.td].containers[t.container]
    if t.location == LOC_ENVIRONMENT:
        env = c.node.get("environment")
        item = env.items[t.index] if isinstance(env, js.JArr) and t.index < len(env.items) else None
        vm = item.member("value") if isinstance(item, js.JObj) else None
        value = vm.value if vm is not None else None
    else:
        log = c.node.get("logConfiguration")
        opts = log.get("options") if isinstance(log, js.JObj) else None
        value = opts.members[t.index].value if isinstance(opts, js.JObj) and t.index < len(opts.members) else None
    if value is None or (isinstance(value, js.JLit) and value.value is None):
        return None
    return value
