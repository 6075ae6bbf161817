"""Splice builders: delete pairs, append items to lists, add pairs, in block or flow style."""

from __future__ import annotations

import json
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from migrate.errors import RewriteError
from migrate.rewrite import text as tx
from migrate.sources.cloudformation.layout import (
    _block_pair_region,
    _flow,
    _flow_runs,
    _reindent,
    _Splices,
    _y_block,
    _y_scalar,
)
from migrate.sources.cloudformation.nodes import _content_end, _is_flow


def _delete_pairs(text: str, sp: _Splices, m: MappingNode, drop: set[int]) -> None:
    if _is_flow(m):
        spans = [(int(k.start_mark.index), _content_end(v)) for k, v in m.value]
        for a, b in _flow_runs(spans, drop, int(m.start_mark.index) + 1, int(m.end_mark.index) - 1):
            sp.add(a, b, "")
        return
    for i in sorted(drop):
        k, v = m.value[i]
        a, b = _block_pair_region(text, k, v)
        sp.add(a, b, "")


def _append_items(text: str, sp: _Splices, seq: Node, items: list[str], item_col: int | None, json_mode: bool,
                  nl: str) -> None:
    """Append pre-rendered item texts (block regions or flow items) to an existing sequence."""
    if not isinstance(seq, SequenceNode):
        raise RewriteError("Secrets is not a list")
    if _is_flow(seq) or item_col is None:
        if item_col is not None:  # block regions into a flow list: strip to bare items
            raise RewriteError("cannot merge block-style items into a flow-style list")
        if not _is_flow(seq) and seq.value:  # flow items (from a flow Environment) into a block list
            last = seq.value[-1]
            col = tx.column(text, int(last.start_mark.index)) - 2
            pos = tx.line_end(text, _content_end(last))
            sp.add(pos, pos, "".join(" " * col + "- " + i + nl for i in items))
            return
        _append_flow(text, sp, seq, items)
        return
    if not seq.value:
        raise RewriteError("empty block list")
    last = seq.value[-1]
    col = tx.column(text, int(last.start_mark.index)) - 2
    sp.add(tx.line_end(text, _content_end(last)), tx.line_end(text, _content_end(last)),
           "".join(_reindent(i, col - item_col) for i in items))


def _append_flow(text: str, sp: _Splices, seq: SequenceNode, items: list[str]) -> None:
    vals = seq.value
    if not vals:
        sp.add(int(seq.start_mark.index) + 1, int(seq.start_mark.index) + 1, ", ".join(items))
        return
    if len(vals) >= 2:
        sep = text[_content_end(vals[-2]):int(vals[-1].start_mark.index)]
    else:
        sep = text[int(seq.start_mark.index) + 1:int(vals[0].start_mark.index)]
        sep = "," + sep if sep.strip() == "" and "\n" in sep else ", "
    end = _content_end(vals[-1])
    sp.add(end, end, "".join(sep + i for i in items))


def _append_objs(text: str, sp: _Splices, seq: Node, objs: list[Any], json_mode: bool, nl: str) -> None:
    if not isinstance(seq, SequenceNode):
        raise RewriteError("SecretOptions is not a list")
    if _is_flow(seq) or not seq.value:
        indent = None
        if seq.value:
            st = int(seq.value[-1].start_mark.index)
            lead = text[tx.line_start(text, st):st]
            indent = lead if lead.strip() == "" else None
        _append_flow(text, sp, seq, [_flow(o, json_mode, indent, nl) for o in objs])
        return
    last = seq.value[-1]
    col = tx.column(text, int(last.start_mark.index)) - 2
    lines = _y_block(objs, col, nl)
    pos = tx.line_end(text, _content_end(last))
    sp.add(pos, pos, "".join(ln + nl for ln in lines))


def _add_pair_items(sp: _Splices, m: MappingNode, after_key: Node, after_val: Node, key: str,
                    items: list[str], item_col: int | None, json_mode: bool, nl: str) -> None:
    """Insert ``key: [items]`` after the pair (after_key, after_val), items pre-rendered."""
    text = sp.text
    if _is_flow(m) or _is_flow(after_val):
        flow = isinstance(after_val, SequenceNode) and _is_flow(after_val)
        if not flow:
            raise RewriteError("unsupported layout")
        vals = after_val.value
        open_ws = text[int(after_val.start_mark.index) + 1:int(vals[0].start_mark.index)] if vals else ""
        close_ws = text[_content_end(vals[-1]):int(after_val.end_mark.index) - 1] if vals else ""
        sep = text[_content_end(vals[0]):int(vals[1].start_mark.index)] if len(vals) > 1 else ("," + open_ws if "\n" in open_ws else ", ")
        arr = "[" + open_ws + sep.join(items) + close_ws + "]"
        qk = _quoted_key(text, after_key, key, json_mode)
        if _is_flow(m):
            end = _content_end(after_val)
            sp.add(end, end, _pair_sep(text, m, after_key) + qk + ": " + arr)
        else:
            pos = tx.line_end(text, _content_end(after_val))
            sp.add(pos, pos, " " * tx.column(text, int(after_key.start_mark.index)) + qk + ": " + arr + nl)
        return
    assert item_col is not None
    pos = tx.line_end(text, _content_end(after_val))
    kcol = tx.column(text, int(after_key.start_mark.index))
    sp.add(pos, pos, " " * kcol + _quoted_key(text, after_key, key, json_mode) + ":" + nl + "".join(items))


def _quoted_key(text: str, like: Node, key: str, json_mode: bool) -> str:
    if json_mode:
        return json.dumps(key)
    q = getattr(like, "style", None)
    return f"{q}{key}{q}" if q in ('"', "'") else key


def _pair_sep(text: str, m: MappingNode, near: Node) -> str:
    """Separator text between two pairs of a flow mapping (e.g. ``,\\n    ``)."""
    if len(m.value) >= 2:
        k1, v0 = m.value[1][0], m.value[0][1]
        return text[_content_end(v0):int(k1.start_mark.index)]
    return ", "


def _add_pair(text: str, sp: _Splices, m: MappingNode, after_index: int | None, key: str, value: object,
              json_mode: bool, nl: str) -> None:
    """Insert a new ``key: value`` (value is a python structure) after pair ``after_index`` (or last)."""
    i = len(m.value) - 1 if after_index is None else after_index
    ak, av = m.value[i]
    if _is_flow(m):
        sep = _pair_sep(text, m, ak)
        indent = sep.split("\n")[-1] if "\n" in sep else None
        end = _content_end(av)
        sp.add(end, end, sep + _quoted_key(text, ak, key, json_mode) + ": " + _flow(value, json_mode, indent, nl))
        return
    kcol = tx.column(text, int(ak.start_mark.index))
    pos = tx.line_end(text, _content_end(av))
    if isinstance(value, (dict, list)):
        body = nl.join(_y_block(value, kcol + 2, nl)) + nl
        sp.add(pos, pos, " " * kcol + f"{key}:" + nl + body)
    else:
        sp.add(pos, pos, " " * kcol + f"{key}: {_y_scalar(value)}" + nl)


def _uniq(xs: list[object]) -> list[object]:
    out: list[object] = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out
