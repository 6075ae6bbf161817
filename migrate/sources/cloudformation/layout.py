"""Text layout for inserted YAML/JSON: regions of items and pairs, re-indenting, rendering values, splices."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from ruamel.yaml.nodes import Node

from migrate.errors import RewriteError
from migrate.rewrite import text as tx
from migrate.sources.cloudformation.nodes import _PLAIN_SAFE_RE, _content_end

# --- text helpers ------------------------------------------------------------------------------------










def _comment_lines_above(text: str, pos: int) -> int:
    """Start of the run of own-line comments directly above the line containing ``pos``."""
    start = tx.line_start(text, pos)
    while start > 0:
        prev = tx.line_start(text, start - 1)
        if text[prev:start].strip().startswith("#"):
            start = prev
        else:
            break
    return start


def _block_item_region(text: str, item: Node) -> tuple[int, int]:
    """Lines of a block sequence item: own-line comments above, the ``- `` line, to its last line."""
    s = int(item.start_mark.index)
    ls = tx.line_start(text, s)
    if not text[ls:s].strip().startswith("-"):
        raise RewriteError("sequence item layout not recognised")
    return _comment_lines_above(text, s), tx.line_end(text, _content_end(item))


def _block_pair_region(text: str, k: Node, v: Node) -> tuple[int, int]:
    s = int(k.start_mark.index)
    ls = tx.line_start(text, s)
    if text[ls:s].strip() not in ("", "-"):
        raise RewriteError("mapping layout not recognised")
    if text[ls:s].strip() == "-":
        raise RewriteError("cannot delete the first key of a sequence item")
    return ls, tx.line_end(text, _content_end(v))


def _reindent(block: str, delta: int) -> str:
    if delta == 0:
        return block
    out = []
    for line in block.splitlines(keepends=True):
        if not line.strip():
            out.append(line)
        elif delta > 0:
            out.append(" " * delta + line)
        else:
            lead = len(line) - len(line.lstrip(" "))
            out.append(line[min(lead, -delta):])
    return "".join(out)


def _flow_runs(items: Sequence[tuple[int, int]], drop: set[int], open_end: int, close_start: int) -> list[tuple[int, int]]:
    """Deletion spans that remove items ``drop`` from a flow collection with separators kept right."""
    n = len(items)
    out: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if i not in drop:
            i += 1
            continue
        j = i
        while j + 1 < n and (j + 1) in drop:
            j += 1
        if i > 0:
            out.append((items[i - 1][1], items[j][1]))
        elif j < n - 1:
            out.append((items[i][0], items[j + 1][0]))
        else:
            out.append((open_end, close_start))
        i = j + 1
    return out


# --- emitting new YAML/JSON text -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Sub:
    s: str


def _y_scalar(v: object) -> str:
    if isinstance(v, _Sub):
        return "!Sub " + json.dumps(v.s, ensure_ascii=False)
    s = str(v)
    if _PLAIN_SAFE_RE.match(s) and s.lower() not in ("yes", "no", "true", "false", "on", "off", "null", "y", "n"):
        return s
    return json.dumps(s, ensure_ascii=False)


def _y_block(v: object, col: int, nl: str) -> list[str]:
    """Lines (without newline) of ``v`` as block YAML starting at column ``col`` (for mapping/seq)."""
    pad = " " * col
    lines: list[str] = []
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)):
                lines.append(f"{pad}{k}:")
                lines += _y_block(x, col + 2, nl)
            else:
                lines.append(f"{pad}{k}: {_y_scalar(x)}")
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)):
                sub = _y_block(x, col + 2, nl)
                sub[0] = pad + "- " + sub[0][col + 2:]
                lines += sub
            else:
                lines.append(f"{pad}- {_y_scalar(x)}")
    return lines


def _j_obj(v: object) -> object:
    if isinstance(v, _Sub):
        return {"Fn::Sub": v.s}
    if isinstance(v, dict):
        return {k: _j_obj(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_j_obj(x) for x in v]
    return v


def _flow(v: object, json_mode: bool, indent: str | None = None, nl: str = "\n") -> str:
    """Flow text: JSON for JSON files; YAML flow (short tags allowed) for YAML files."""
    if json_mode:
        s = json.dumps(_j_obj(v), ensure_ascii=False, indent=2 if indent is not None else None)
        if indent is not None:
            s = s.replace("\n", nl + indent)
        return s
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_flow(x, False)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_flow(x, False) for x in v) + "]"
    return _y_scalar(v)


# --- rewrite -------------------------------------------------------------------------------------------


@dataclass
class _Splices:
    text: str
    items: list[tuple[int, int, str, int]] = field(default_factory=list)

    def add(self, start: int, end: int, new: str) -> None:
        self.items.append((start, end, new, len(self.items)))

    def merged(self) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        for s, e, new, _ in sorted(self.items, key=lambda x: (x[0], x[1], x[3])):
            if out and s < out[-1][1]:
                raise RewriteError("overlapping changes in one template")
            if out and s == out[-1][1]:
                ps, pe, pn = out[-1]
                out[-1] = (ps, e, pn + new)
            else:
                out.append((s, e, new))
        return self._at_unterminated_end(out)

    def _at_unterminated_end(self, out: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """Blocks are inserted as whole lines after ``_line_end``; when the file's last line has no
        newline, that point is the middle of the last line: start the block on a new line instead,
        and keep the file without a final newline."""
        text, nl = self.text, tx.eol(self.text)
        if not out or not text or text.endswith("\n"):
            return out
        s, e, new = out[-1]
        if e != len(text) or not new.endswith(nl):
            return out
        if s == e:
            out[-1] = (s, e, nl + new[: -len(nl)])
        elif s == tx.line_start(text, s):
            out[-1] = (s, e, new[: -len(nl)])
        return out
