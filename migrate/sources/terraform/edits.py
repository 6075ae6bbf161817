"""Splice builders for HCL and JSON container definitions, keeping ``terraform fmt`` alignment."""

from __future__ import annotations

import re

from migrate.errors import RewriteError
from migrate.model import LOC_ENVIRONMENT
from migrate.rewrite import hcl_spans as hs
from migrate.rewrite import text as tx
from migrate.rewrite.edits import TextEdit, apply_edits, ref_token
from migrate.sources.terraform.model import _Place, _Use

# --- edit builders -------------------------------------------------------------------------------








_REST_RE = re.compile(r"[ \t]*,?[ \t]*(?:(?:#|//)[^\n]*)?\r?(?:\n|$)")


def _owns_lines(text: str, start: int, end: int, syntax: str) -> bool:
    if text[tx.line_start(text, start):start].strip():
        return False
    m = _REST_RE.match(text, end)
    if not m:
        return False
    return syntax == "hcl" or "#" not in m.group(0) and "//" not in m.group(0)


def _line_removal(text: str, span: tuple[int, int], key: str, place: _Place) -> TextEdit:
    s, e = span
    if not _owns_lines(text, s, e, "hcl"):
        raise RewriteError(f"{place.file}: var {place.var} shares its line with other settings")
    ls, le = tx.line_start(text, s), tx.line_end(text, e)
    return TextEdit(ls, le, "", text[ls:le])


def _add_null_default(text: str, block: tuple[int, int]) -> TextEdit:
    """Insert ``default = null`` as the first line of a variable block (its own alignment group)."""
    s, e = block
    brace = text.find("{", s, e)
    close = text.rfind("}", s, e)
    inner = text[brace + 1:close]
    nl = tx.eol(text, brace)
    if "\n" not in inner:  # variable "x" {} on one line
        new = "{" + nl + "  default = null" + nl + "}"
        return TextEdit(brace, close + 1, new, text[brace:close + 1])
    at = tx.line_end(text, brace)
    indent = re.match(r"[ \t]*", text[at:]).group(0) or "  "  # type: ignore[union-attr]
    return TextEdit(at, at, indent + "default = null" + nl + nl, "")


def _spans(holder: hs.Node) -> list[tuple[int, int]]:
    if holder.kind == hs.ARRAY:
        return [(n.start, n.end) for n in holder.items]
    return [(m.key_start, m.value.end) for m in holder.members]


def _remove_items(text: str, holder: hs.Node, idxs: list[int], syntax: str) -> list[TextEdit]:
    """Edits removing items ``idxs`` of an array/object, keeping the separators valid."""
    spans = _spans(holder)
    n = len(spans)
    drop = set(idxs)
    out: list[tuple[int, int]] = []
    if all(_owns_lines(text, *spans[i], syntax) for i in drop):
        for i in sorted(drop):
            out.append((tx.line_start(text, spans[i][0]), tx.line_end(text, spans[i][1])))
        kept = [i for i in range(n) if i not in drop]
        if syntax == "json" and kept and max(drop) > kept[-1]:
            # the last kept item must lose its comma
            j = spans[kept[-1]][1]
            while text[j] in " \t":
                j += 1
            if text[j] == ",":
                out.append((j, j + 1))
    else:
        i = 0
        while i < n:
            if i not in drop:
                i += 1
                continue
            j = i
            while j + 1 < n and j + 1 in drop:
                j += 1
            if j + 1 < n:
                out.append((spans[i][0], spans[j + 1][0]))
            elif i > 0:
                out.append((spans[i - 1][1], spans[j][1]))
            else:
                out.append((spans[i][0], spans[j][1]))
            i = j + 1
    merged: list[tuple[int, int]] = []
    for s, e in sorted(out):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return [TextEdit(s, e, "", text[s:e]) for s, e in merged]


def _indent_of(text: str, pos: int) -> str:
    ls = tx.line_start(text, pos)
    return re.match(r"[ \t]*", text[ls:]).group(0)  # type: ignore[union-attr]


def _quote(v: str, syntax: str) -> str:
    import json
    body = json.dumps(v, ensure_ascii=False)[1:-1]
    if syntax == "hcl":
        body = body.replace("${", "$${").replace("%{", "%%{")
    return '"' + body + '"'


def _secret_element(text: str, use: _Use, value_from: str, syntax: str) -> str:
    vf = '"' + value_from + '"'
    if use.location == LOC_ENVIRONMENT and use.list_node.kind == hs.ARRAY:
        el = use.list_node.items[use.index]
        vm = el.get("value")
        assert vm is not None
        parts = [(vm.key_start, vm.key_end, '"valueFrom"' if text[vm.key_start] == '"' else "valueFrom"),
                 (vm.value.start, vm.value.end, vf)]
        out, pos = [], el.start
        for s, e, new in parts:
            out.append(text[pos:s])
            out.append(new)
            pos = e
        out.append(text[pos:el.end])
        return "".join(out)
    if syntax == "hcl":
        return "{ name = " + _quote(use.name, "hcl") + ", valueFrom = " + vf + " }"
    return '{ "name": ' + _quote(use.name, "json") + ', "valueFrom": ' + vf + " }"


def _add_secrets(text: str, container: hs.Node, location: str, items: list[tuple[_Use, str]],
                 syntax: str) -> TextEdit:
    if location == LOC_ENVIRONMENT:
        parent = container
        anchor_key, list_key = "environment", "secrets"
    else:
        log = container.get("logConfiguration")
        assert log is not None
        parent = log.value
        anchor_key, list_key = "options", "secretOptions"
    anchor = parent.get(anchor_key)
    assert anchor is not None
    src_list = anchor.value
    first = src_list.items[0] if src_list.kind == hs.ARRAY and src_list.items else None
    first_start = first.start if first else (src_list.members[0].key_start if src_list.members else src_list.end)
    multiline = "\n" in text[src_list.start:first_start]
    nl = tx.eol(text, src_list.start)
    key_indent = _indent_of(text, anchor.key_start)
    item_indent = _indent_of(text, first_start) if multiline else ""
    elems = [_secret_element(text, u, vf, syntax) for u, vf in items]
    existing = parent.get(list_key)
    if existing is not None and existing.value.kind == hs.ARRAY:
        arr = existing.value
        if arr.items:
            sep_ws = text[arr.start + 1:arr.items[0].start]
            sep = (nl + _indent_of(text, arr.items[0].start)) if "\n" in sep_ws else " "
            at = arr.items[-1].end
            return TextEdit(at, at, "".join("," + sep + e for e in elems), "")
        return TextEdit(arr.start + 1, arr.end - 1, ", ".join(elems), text[arr.start + 1:arr.end - 1])
    if existing is not None:
        raise RewriteError(f"{list_key} of container is not a list")
    if multiline:
        body = "[" + nl + ("," + nl).join(item_indent + e for e in elems) + nl + key_indent + "]"
    else:
        body = "[" + ", ".join(elems) + "]"
    if syntax == "json":
        new = "," + (nl + key_indent if _multiline_parent(text, parent) else " ") + f'"{list_key}": ' + body
        return TextEdit(anchor.value.end, anchor.value.end, new, "")
    qkey = f'"{list_key}"' if text[anchor.key_start] == '"' else list_key
    if _multiline_parent(text, parent):
        m = _REST_RE.match(text, anchor.value.end)
        if m and "\n" in m.group(0):
            at = m.end() - len(nl)
            return TextEdit(at, at, nl + key_indent + qkey + " = " + body, "")
        return TextEdit(anchor.value.end, anchor.value.end, nl + key_indent + qkey + " = " + body, "")
    return TextEdit(anchor.value.end, anchor.value.end, ", " + qkey + " = " + body, "")


def _multiline_parent(text: str, parent: hs.Node) -> bool:
    first = parent.members[0].key_start if parent.members else parent.end
    return "\n" in text[parent.start:first]


def _with_alignment(text: str, edits: list[TextEdit]) -> list[TextEdit]:
    """Add the whitespace changes that keep ``terraform fmt`` alignment around the edits."""
    keep = lambda aid: ref_token(aid)  # noqa: E731 - keep reference tokens in place
    edits = sorted(edits, key=lambda e: (e.start, e.end))
    # positions of each edit in the edited text
    placed: list[tuple[TextEdit, int, int]] = []
    shift = 0
    for e in edits:
        s = e.start + shift
        placed.append((e, s, s + len(e.new)))
        shift += len(e.new) - (e.end - e.start)
    new_text = apply_edits(text, edits, ref=keep)
    dirty = [(max(0, s - 2), t) for _, s, t in placed]  # a removed line joins its neighbours
    fixes = hs.alignment_fixes(new_text, dirty)
    if not fixes:
        return edits
    new_edits = {id(e): e.new for e, _, _ in placed}
    extra: list[TextEdit] = []
    for fs, fe, want in fixes:
        host = next(((e, s) for e, s, t in placed if s <= fs and fe <= t and t > s), None)
        if host is not None:
            e, s = host
            cur = new_edits[id(e)]
            # fixes are applied back to front inside one edit below; record offsets relative
            new_edits[id(e)] = cur  # placeholder to keep mapping
            extra.append(TextEdit(fs - s, fe - s, want, f"@{id(e)}"))
            continue
        # map an offset of new_text back to the original text
        before = [(e, s, t) for e, s, t in placed if t <= fs]
        if any(s < fe and fs < t for _, s, t in placed):
            raise RewriteError("alignment fix overlaps an edit")
        off = sum(len(e.new) - (e.end - e.start) for e, _, _ in before)
        extra.append(TextEdit(fs - off, fe - off, want, text[fs - off:fe - off]))
    out: list[TextEdit] = []
    inner = [x for x in extra if x.old.startswith("@")]
    for e, _, _ in placed:
        mine = sorted((x for x in inner if x.old == f"@{id(e)}"), key=lambda x: -x.start)
        new = e.new
        for x in mine:
            new = new[:x.start] + x.new + new[x.end:]
        out.append(TextEdit(e.start, e.end, new, e.old))
    out.extend(x for x in extra if not x.old.startswith("@"))
    return sorted(out, key=lambda e: (e.start, e.end))


def _replace_emptied(text: str, container: hs.Node, location: str, items: list[tuple[_Use, str]],
                     syntax: str) -> list[TextEdit]:
    """The edits when a move empties ``environment`` (log ``options``) whole: the key goes with its
    list. Without a ``secrets`` (``secretOptions``) list yet, ``environment = [...]`` becomes
    ``secrets = [...]`` in place (one span, so no separator changes); with one, the emptied member
    is removed (its line, or up to the next member, keeping the separators valid) and the secrets
    are appended to the existing list."""
    if location == LOC_ENVIRONMENT:
        parent, anchor_key, list_key = container, "environment", "secrets"
    else:
        log = container.get("logConfiguration")
        assert log is not None
        parent, anchor_key, list_key = log.value, "options", "secretOptions"
    anchor = parent.get(anchor_key)
    assert anchor is not None
    if parent.get(list_key) is not None:
        idx = next(i for i, m in enumerate(parent.members) if m.key_start == anchor.key_start)
        return [*_remove_items(text, parent, [idx], syntax), _add_secrets(text, container, location, items, syntax)]
    src_list = anchor.value
    first = src_list.items[0] if src_list.kind == hs.ARRAY and src_list.items else None
    first_start = first.start if first else (src_list.members[0].key_start if src_list.members else src_list.end)
    multiline = "\n" in text[src_list.start:first_start]
    nl = tx.eol(text, src_list.start)
    elems = [_secret_element(text, u, vf, syntax) for u, vf in items]
    if multiline:
        item_indent, key_indent = _indent_of(text, first_start), _indent_of(text, anchor.key_start)
        body = "[" + nl + ("," + nl).join(item_indent + e for e in elems) + nl + key_indent + "]"
    else:
        body = "[" + ", ".join(elems) + "]"
    raw_key = text[anchor.key_start:anchor.key_end]
    qkey = f'"{list_key}"' if raw_key.startswith('"') else list_key
    between = text[anchor.key_end:src_list.start]  # " = " / ": " as written
    return [TextEdit(anchor.key_start, src_list.end, qkey + between + body, text[anchor.key_start:src_list.end])]
