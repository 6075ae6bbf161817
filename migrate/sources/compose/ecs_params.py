"""The ``ecs-params.yml`` target: secrets per service under ``task_definition.services``."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from migrate.errors import RewriteError
from migrate.rewrite import text as tx
from migrate.rewrite import yaml_spans as ys
from migrate.rewrite.edits import TextEdit
from migrate.sources.base import FileChange, Move, SharedArtifact, SourceText
from migrate.sources.compose.edits import _after_block, _after_colon, _Edits, _insert_lines
from migrate.sources.compose.model import OVERRIDES, _beside, _Model, _secret_lines, _want


def _ecs_params_change(model: _Model, display: str, moves: Sequence[Move], compose_eol: str) -> FileChange:
    """This compose file's contribution to its project's ``ecs-params`` file (merged with the
    other compose files of the project by ``merge_shared``)."""
    want = _want(moves)
    part = EcsParamsPart(display=_beside(display, model.ep_name), existing=model.ecs_params,
                         want=tuple((svc, tuple(items)) for svc, items in want.items()), eol=compose_eol,
                         origin=display, override=_is_override(display))
    return part.merge([part])


def _is_override(display: str) -> bool:
    return posixpath.basename(display).lower() in OVERRIDES


@dataclass(frozen=True)
class EcsParamsPart:
    """One compose file's secrets for its project's ``ecs-params`` file (a ``SharedArtifact``)."""

    display: str  #: the ecs-params file
    existing: SourceText | None = field(repr=False)  #: as read at load time (None: to be created)
    want: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  #: service -> (name, value_from)
    eol: str
    origin: str  #: the compose file this part comes from
    override: bool = False  #: from an override file: its references win over its base file's

    def merge(self, parts: Sequence[SharedArtifact]) -> FileChange:
        mine = [p for p in parts if isinstance(p, EcsParamsPart)]
        if len(mine) != len(parts) or any(p.display != self.display for p in mine):
            raise RewriteError(f"{self.display}: contributions of different kinds cannot be merged")
        mine.sort(key=lambda p: p.override)  # base files first: an override replaces what they set
        chosen: dict[str, dict[str, tuple[str, EcsParamsPart]]] = {}
        for p in mine:
            for svc, items in p.want:
                per = chosen.setdefault(svc, {})
                for name, vf in items:
                    prev = per.get(name)
                    if prev is not None and prev[0] != vf and not (p.override and not prev[1].override):
                        raise RewriteError(f"{self.display}: service {svc} gets {name} from both {prev[1].origin} "
                                           f"and {p.origin}", hint="give the projects distinct names (top-level name:)")
                    per[name] = (vf, p)
        want = {svc: [(n, vf) for n, (vf, _p) in per.items()] for svc, per in chosen.items()}
        change = _params_change(self.display, self.existing, want, self.eol)
        return replace(change, artifact=self)


def _params_change(display: str, ep: SourceText | None, want: dict[str, list[tuple[str, str]]],
                   compose_eol: str) -> FileChange:
    step = 2
    count = sum(map(len, want.values()))
    name = posixpath.basename(display)
    if ep is None:
        lines = ["version: 1", "task_definition:", "  services:"]
        for svc, items in want.items():
            lines.append(f"    {ys.yaml_str(svc)}:")
            lines.append("      secrets:")
            lines.extend(_secret_lines(items, 8))
        content = "".join(line + compose_eol for line in lines)
        return FileChange(display, (TextEdit(0, 0, content, ""),), create=True,
                          summary=f"create {name} with {count} secrets")
    text = ep.text
    eol = tx.eol(text) if "\n" in text else compose_eol
    ed = _Edits(text)
    root = ys.load_nodes(text, ep.display)
    if root is None:
        _insert_lines(ed, len(text), _new_td(want, 0, step), eol)
    elif not isinstance(root, MappingNode) or root.flow_style:
        raise RewriteError(f"{ep.display}: top level is not a block mapping")
    else:
        td = ys.get(root, "task_definition")
        if td is None:
            _insert_lines(ed, _after_block(text, root), _new_td(want, 0, step), eol)
        else:
            _ensure_td(ed, td, want, step, eol, ep.display)
    return FileChange(ep.display, ed.build(), summary=f"add {count} secrets to {name}")


def _new_td(want: dict[str, list[tuple[str, str]]], col: int, step: int) -> list[str]:
    return [" " * col + "task_definition:"] + _new_services(want, col + step, step)


def _new_services(want: dict[str, list[tuple[str, str]]], col: int, step: int) -> list[str]:
    lines = [" " * col + "services:"]
    for svc, items in want.items():
        lines.extend(_new_service(svc, items, col + step, step))
    return lines


def _new_service(svc: str, items: list[tuple[str, str]], col: int, step: int) -> list[str]:
    return [" " * col + f"{ys.yaml_str(svc)}:", " " * (col + step) + "secrets:"] + _secret_lines(items, col + 2 * step)


def _block_map(node: Node, what: str, display: str) -> MappingNode | None:
    if ys.is_null(node):
        return None
    if not isinstance(node, MappingNode) or node.flow_style:
        raise RewriteError(f"{display}: {what} is not a block mapping")
    return node


def _ensure_td(ed: _Edits, td: tuple[Node, Node], want: dict[str, list[tuple[str, str]]], step: int,
               eol: str, display: str) -> None:
    text = ed.text
    tk, tv = td
    col0 = tx.column(text, tk.start_mark.index)
    tdm = _block_map(tv, "task_definition", display)
    if tdm is None:
        _insert_lines(ed, _after_colon(text, tk), _new_services(want, col0 + step, step), eol)
        return
    col1 = ys.child_indent(text, tdm, col0 + step)
    step = max(col1 - col0, 1)
    sv = ys.get(tdm, "services")
    if sv is None:
        _insert_lines(ed, _after_block(text, tdm), _new_services(want, col1, step), eol)
        return
    svm = _block_map(sv[1], "task_definition.services", display)
    if svm is None:
        lines = [line for svc, items in want.items() for line in _new_service(svc, items, col1 + step, step)]
        _insert_lines(ed, _after_colon(text, sv[0]), lines, eol)
        return
    col2 = ys.child_indent(text, svm, col1 + step)
    for svc, items in want.items():
        s = ys.get(svm, svc)
        if s is None:
            _insert_lines(ed, _after_block(text, svm), _new_service(svc, items, col2, step), eol)
            continue
        sm = _block_map(s[1], f"service {svc}", display)
        if sm is None:
            _insert_lines(ed, _after_colon(text, s[0]), [" " * (col2 + step) + "secrets:"]
                          + _secret_lines(items, col2 + 2 * step), eol)
            continue
        col3 = ys.child_indent(text, sm, col2 + step)
        sec = ys.get(sm, "secrets")
        if sec is None:
            _insert_lines(ed, _after_block(text, sm), [" " * col3 + "secrets:"] + _secret_lines(items, col3 + step), eol)
            continue
        seq = sec[1]
        if ys.is_null(seq):
            _insert_lines(ed, _after_colon(text, sec[0]), _secret_lines(items, col3 + step), eol)
            continue
        if not isinstance(seq, SequenceNode):
            raise RewriteError(f"{display}: secrets of service {svc} is not a list")
        present = set()
        for it in seq.value:
            nm = ys.get(it, "name")
            if nm is not None:
                present.add(str(nm[1].value))
        for name, _vf in items:
            if name in present:
                raise RewriteError(f"{display}: secret {name} is already listed for service {svc}")
        if seq.flow_style:
            flow = ", ".join(f'{{value_from: "{vf}", name: {ys.yaml_str(n)}}}' for n, vf in items)
            chunk = (", " + flow) if seq.value else flow
            pos = int(seq.value[-1].end_mark.index) if seq.value else int(seq.end_mark.index) - 1
            ed.inserts.setdefault(pos, []).append(chunk)
            continue
        if not seq.value:
            raise RewriteError(f"{display}: cannot locate secrets of service {svc}")
        dash = ys.seq_item_dash(text, seq, 0)
        dcol = tx.column(text, dash)
        first = seq.value[0]
        kcol = tx.column(text, first.start_mark.index) if isinstance(first, MappingNode) else dcol + 2
        lines = []
        for name, vf in items:
            lines.append(" " * dcol + "-" + " " * (kcol - dcol - 1) + f'value_from: "{vf}"')
            lines.append(" " * kcol + f"name: {ys.yaml_str(name)}")
        _insert_lines(ed, _after_block(text, seq), lines, eol)


def _ecs_secrets(root: Node | None, svc: str) -> dict[str, str]:
    out: dict[str, str] = {}
    td = ys.get(root, "task_definition")
    s = ys.get(td[1], "services") if td else None
    sv = ys.get(s[1], svc) if s else None
    sec = ys.get(sv[1], "secrets") if sv else None
    if sec is not None and isinstance(sec[1], SequenceNode):
        for it in sec[1].value:
            n, v = ys.get(it, "name"), ys.get(it, "value_from")
            if n and v:
                out[str(n[1].value)] = str(v[1].value)
    return out
