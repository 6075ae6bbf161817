"""Splice primitives for compose YAML: line removals, insertions, entry removal."""

from __future__ import annotations

from dataclasses import dataclass, field

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from migrate.errors import RewriteError
from migrate.rewrite import text as tx
from migrate.rewrite import yaml_spans as ys
from migrate.rewrite.edits import TextEdit
from migrate.sources.compose.model import _Model, _Place

# --- rewrite -----------------------------------------------------------------------------------


@dataclass
class _Edits:
    text: str = field(repr=False)
    removals: list[tuple[int, int]] = field(default_factory=list)
    inserts: dict[int, list[str]] = field(default_factory=dict)  # pos -> text chunks

    def build(self) -> tuple[TextEdit, ...]:
        spans = sorted(self.removals)
        merged: list[list[int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        edits: list[TextEdit] = []
        for s, e in merged:
            edits.append(TextEdit(s, e, "", self.text[s:e]))  # old: the base rebuilds it with value tokens
        for pos, chunks in self.inserts.items():
            for s, e in merged:
                if s < pos < e:
                    raise RewriteError("an insertion falls inside a removed span")
            edits.append(TextEdit(pos, pos, "".join(chunks), ""))
        return tuple(sorted(edits, key=lambda x: (x.start, x.end)))


def _line_removal(text: str, ls: int, le: int) -> tuple[int, int]:
    """Whole lines [ls, le); at the end of a file with no final newline, take the newline before."""
    if le == len(text) and not text.endswith("\n") and ls > 0:
        return ls - (2 if text[ls - 2:ls] == "\r\n" else 1), le
    return ls, le


def _insert_lines(ed: _Edits, pos: int, lines: list[str], eol: str) -> None:
    text = ed.text
    at_line_start = pos == 0 or text[pos - 1] == "\n"
    if at_line_start:
        chunk = "".join(line + eol for line in lines)
    else:
        chunk = "".join(eol + line for line in lines)
    ed.inserts.setdefault(pos, []).append(chunk)


def _after_block(text: str, mapping: MappingNode | SequenceNode) -> int:
    """Where to insert a new line after the last item of a block mapping/sequence."""
    if isinstance(mapping, MappingNode):
        k, v = mapping.value[-1]
        end = ys.value_end(text, k, v, ys.colon_after(text, k) + 1)
    else:
        seq = mapping
        end = ys.value_end(text, None, seq.value[-1], ys.seq_item_dash(text, seq, len(seq.value) - 1) + 1)
    le = tx.line_end(text, end)
    return le


def _after_colon(text: str, key: Node) -> int:
    return ys.content_end(text, ys.colon_after(text, key) + 1)


def _remove_yaml(ed: _Edits, model: _Model, places: list[_Place]) -> None:
    by_holder: dict[int, list[_Place]] = {}
    for p in places:
        by_holder.setdefault(id(p.holder), []).append(p)
    for plist in by_holder.values():
        holder = plist[0].holder
        assert holder is not None
        if len({p.index for p in plist}) == len(holder.value) and _remove_key(ed, model, holder):
            continue  # emptied: the key went with it
        if getattr(holder, "flow_style", False):
            _remove_flow(ed, holder, {p.index for p in plist})
        else:
            _remove_block(ed, model, holder, plist)


def _remove_key(ed: _Edits, model: _Model, holder: Node) -> bool:
    """Remove an emptied ``environment`` whole, key included (its lines, comments inside them
    too): False (the caller leaves ``{}``/``[]``) when the key does not own its lines, the list
    is anchored (aliases use it), or it is the service's only key (``web:`` alone is no service)."""
    text = ed.text
    pk = model.parent_key.get(id(holder))
    if pk is None or getattr(holder, "anchor", None):
        return False
    svc = next((m for m in model.services.values() if isinstance(m, MappingNode)
                and any(k is pk for k, _v in m.value)), None)
    if svc is None or svc.flow_style or len(svc.value) < 2:
        return False
    try:
        ls, _ks = ys.find_key_line(text, pk)
        end = ys.value_end(text, pk, holder, ys.colon_after(text, pk) + 1)
    except ValueError:
        return False
    if not ys.rest_is_blank_or_comment(text, end):
        return False
    ed.removals.append(_line_removal(text, ls, tx.line_end(text, end)))
    return True


def _remove_flow(ed: _Edits, holder: Node, removed: set[int]) -> None:
    """Remove items ``removed`` of a flow mapping/sequence (``{A: 1, B: 2}`` / ``[A=1, B=2]``)."""
    text = ed.text
    if holder.start_mark.index in (holder.end_mark.index,):
        raise RewriteError("cannot locate a flow collection")
    n = len(holder.value)
    starts, ends = [], []
    for el in holder.value:
        if isinstance(holder, MappingNode):
            k, v = el
            starts.append(int(k.start_mark.index))
            ends.append(ys.value_end(text, k, v, ys.colon_after(text, k) + 1))
        else:
            starts.append(ys.scalar_body(text, el)[0] - (1 if el.style in ('"', "'") else 0))
            ends.append(int(el.end_mark.index))
    if len(removed) == n:
        ed.removals.append((starts[0], ends[-1]))
        return
    for i in sorted(removed):
        if any(j not in removed for j in range(i + 1, n)):
            ed.removals.append((starts[i], starts[i + 1]))
        else:
            ed.removals.append((ends[i - 1], ends[i]))


def _remove_block(ed: _Edits, model: _Model, holder: Node, plist: list[_Place]) -> None:
    """Remove the lines of entries ``plist`` from a block mapping/sequence; ``{}``/``[]`` when emptied."""
    text = ed.text
    for p in plist:
        if isinstance(holder, MappingNode):
            k, v = holder.value[p.index]
            ls, _ks = ys.find_key_line(text, k)
            end = ys.value_end(text, k, v, ys.colon_after(text, k) + 1)
        else:
            assert isinstance(holder, SequenceNode)
            dash = ys.seq_item_dash(text, holder, p.index)
            ls = tx.line_start(text, dash)
            if text[ls:dash].strip(" \t") != "":
                raise RewriteError("list item does not start its line")
            end = int(holder.value[p.index].end_mark.index)
        if not ys.rest_is_blank_or_comment(text, end):
            raise RewriteError("unexpected text after an environment entry")
        ed.removals.append(_line_removal(text, ls, tx.line_end(text, end)))
    if len({p.index for p in plist}) == len(holder.value):
        pk = model.parent_key.get(id(holder))
        if pk is None:
            raise RewriteError("cannot empty an environment that has no key")
        pos = _after_colon(text, pk)
        ed.inserts.setdefault(pos, []).append(" {}" if isinstance(holder, MappingNode) else " []")
