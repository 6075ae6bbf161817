"""The ``ecs-params.yml`` target: secrets per service under ``task_definition.services``."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from migrate.errors import RewriteError
from migrate.rewrite import text as tx
from migrate.rewrite import yaml_spans as ys
from migrate.rewrite.edits import TextEdit
from migrate.sources.base import FileChange, Move, SharedArtifact, SourceText
from migrate.sources.compose.edits import _after_block, _after_colon, _Edits, _insert_lines
from migrate.sources.compose.model import OVERRIDES, _beside, _Model, _secret_lines, _want, _want_logging


def _ecs_params_change(model: _Model, display: str, moves: Sequence[Move], compose_eol: str) -> FileChange:
    """This compose file's contribution to its project's ``ecs-params`` file (merged with the
    other compose files of the project by ``merge_shared``)."""
    want = _want(moves)
    logs = _want_logging(moves)
    part = EcsParamsPart(display=_beside(display, model.ep_name), existing=model.ecs_params,
                         want=tuple((svc, tuple(items)) for svc, items in want.items()),
                         logs=tuple((svc, tuple(items)) for svc, items in logs.items()), eol=compose_eol,
                         origin=display, override=_is_override(display))
    return part.merge([part])


def _is_override(display: str) -> bool:
    return posixpath.basename(display).lower() in OVERRIDES


_Items = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  #: service -> (name, value_from)


@dataclass(frozen=True)
class EcsParamsPart:
    """One compose file's secrets for its project's ``ecs-params`` file (a ``SharedArtifact``)."""

    display: str  #: the ecs-params file
    existing: SourceText | None = field(repr=False)  #: as read at load time (None: to be created)
    want: _Items  #: environment secrets
    eol: str
    origin: str  #: the compose file this part comes from
    override: bool = False  #: from an override file: its references win over its base file's
    logs: _Items = ()  #: logging secret options

    def merge(self, parts: Sequence[SharedArtifact]) -> FileChange:
        mine = [p for p in parts if isinstance(p, EcsParamsPart)]
        if len(mine) != len(parts) or any(p.display != self.display for p in mine):
            raise RewriteError(f"{self.display}: contributions of different kinds cannot be merged")
        mine.sort(key=lambda p: p.override)  # base files first: an override replaces what they set
        want = self._union(mine, lambda p: p.want)
        logs = self._union(mine, lambda p: p.logs)
        for svc in logs:
            want.setdefault(svc, [])
        change = _params_change(self.display, self.existing, want, logs, self.eol)
        return replace(change, artifact=self)

    def _union(self, mine: list[EcsParamsPart], items: Callable[[EcsParamsPart], _Items]) -> dict[str, list[tuple[str, str]]]:
        chosen: dict[str, dict[str, tuple[str, EcsParamsPart]]] = {}
        for p in mine:
            for svc, pairs in items(p):
                per = chosen.setdefault(svc, {})
                for name, vf in pairs:
                    prev = per.get(name)
                    if prev is not None and prev[0] != vf and not (p.override and not prev[1].override):
                        raise RewriteError(f"{self.display}: service {svc} gets {name} from both {prev[1].origin} "
                                           f"and {p.origin}", hint="give the projects distinct names (top-level name:)")
                    per[name] = (vf, p)
        return {svc: [(n, vf) for n, (vf, _p) in per.items()] for svc, per in chosen.items()}


def _params_change(display: str, ep: SourceText | None, want: dict[str, list[tuple[str, str]]],
                   logs: dict[str, list[tuple[str, str]]], compose_eol: str) -> FileChange:
    n = sum(map(len, want.values())) + sum(map(len, logs.values()))
    name = posixpath.basename(display)
    step = 2
    if ep is None:
        lines = ["version: 1", "task_definition:", "  services:"]
        for svc, items in want.items():
            lines.extend(_new_service(svc, items, 4, 2, logs.get(svc, [])))
        content = "".join(line + compose_eol for line in lines)
        return FileChange(display, (TextEdit(0, 0, content, ""),), create=True,
                          summary=f"create {name} with {n} secrets")
    text = ep.text
    eol = tx.eol(text) if "\n" in text else compose_eol
    ed = _Edits(text)
    root = ys.load_nodes(text, ep.display)
    if root is None:
        _insert_lines(ed, len(text), _new_td(want, 0, step, logs), eol)
    elif not isinstance(root, MappingNode) or root.flow_style:
        raise RewriteError(f"{ep.display}: top level is not a block mapping")
    else:
        td = ys.get(root, "task_definition")
        if td is None:
            _insert_lines(ed, _after_block(text, root), _new_td(want, 0, step, logs), eol)
        else:
            _ensure_td(ed, td, want, step, eol, ep.display, logs)
    return FileChange(ep.display, ed.build(), summary=f"add {n} secrets to {name}")


_Logs = dict[str, list[tuple[str, str]]]


def _new_td(want: dict[str, list[tuple[str, str]]], col: int, step: int, logs: _Logs | None = None) -> list[str]:
    return [" " * col + "task_definition:"] + _new_services(want, col + step, step, logs)


def _new_services(want: dict[str, list[tuple[str, str]]], col: int, step: int,
                  logs: _Logs | None = None) -> list[str]:
    lines = [" " * col + "services:"]
    for svc, items in want.items():
        lines.extend(_new_service(svc, items, col + step, step, (logs or {}).get(svc, [])))
    return lines


def _new_service(svc: str, items: list[tuple[str, str]], col: int, step: int,
                 log_items: Sequence[tuple[str, str]] = ()) -> list[str]:
    lines = [" " * col + f"{ys.yaml_str(svc)}:"]
    if items:
        lines += [" " * (col + step) + "secrets:"] + _secret_lines(items, col + 2 * step)
    if log_items:
        lines += _new_logging(list(log_items), col + step, step)
    return lines


def _new_logging(items: list[tuple[str, str]], col: int, step: int) -> list[str]:
    """``logging: {secret_options: [...]}`` of one service (ecs-cli ecs-params v1)."""
    return [" " * col + "logging:", " " * (col + step) + "secret_options:"] + _secret_lines(items, col + 2 * step)


def _ensure_logging(ed: _Edits, sm: MappingNode, items: list[tuple[str, str]], col3: int, step: int, eol: str,
                    display: str, svc: str) -> None:
    """Add ``logging.secret_options`` items to an existing service block of ecs-params."""
    text = ed.text
    lg = ys.get(sm, "logging")
    if lg is None:
        _insert_lines(ed, _after_block(text, sm), _new_logging(items, col3, step), eol)
        return
    lgm = _block_map(lg[1], f"logging of service {svc}", display)
    if lgm is None:
        _insert_lines(ed, _after_colon(text, lg[0]), _new_logging(items, col3, step)[1:], eol)
        return
    col4 = ys.child_indent(text, lgm, col3 + step)
    so = ys.get(lgm, "secret_options")
    if so is None:
        _insert_lines(ed, _after_block(text, lgm), [" " * col4 + "secret_options:"] + _secret_lines(items, col4 + step),
                      eol)
        return
    if ys.is_null(so[1]):
        _insert_lines(ed, _after_colon(text, so[0]), _secret_lines(items, col4 + step), eol)
        return
    seq = so[1]
    if not isinstance(seq, SequenceNode) or seq.flow_style or not seq.value:
        raise RewriteError(f"{display}: logging.secret_options of service {svc} is not a block list")
    present = {str(nm[1].value) for it in seq.value for nm in [ys.get(it, "name")] if nm is not None}
    for name, _vf in items:
        if name in present:
            raise RewriteError(f"{display}: secret option {name} is already listed for service {svc}")
    dcol = tx.column(text, ys.seq_item_dash(text, seq, 0))
    lines = []
    for name, vf in items:
        lines.append(" " * dcol + f'- value_from: "{vf}"')
        lines.append(" " * (dcol + 2) + f"name: {ys.yaml_str(name)}")
    _insert_lines(ed, _after_block(text, seq), lines, eol)


def _block_map(node: Node, what: str, display: str) -> MappingNode | None:
    if ys.is_null(node):
        return None
    if not isinstance(node, MappingNode) or node.flow_style:
        raise RewriteError(f"{display}: {what} is not a block mapping")
    return node


def _ensure_td(ed: _Edits, td: tuple[Node, Node], want: dict[str, list[tuple[str, str]]], step: int,
               eol: str, display: str, logs: _Logs | None = None) -> None:
    logs = logs or {}
    text = ed.text
    tk, tv = td
    col0 = tx.column(text, tk.start_mark.index)
    tdm = _block_map(tv, "task_definition", display)
    if tdm is None:
        _insert_lines(ed, _after_colon(text, tk), _new_services(want, col0 + step, step, logs), eol)
        return
    col1 = ys.child_indent(text, tdm, col0 + step)
    step = max(col1 - col0, 1)
    sv = ys.get(tdm, "services")
    if sv is None:
        _insert_lines(ed, _after_block(text, tdm), _new_services(want, col1, step, logs), eol)
        return
    svm = _block_map(sv[1], "task_definition.services", display)
    if svm is None:
        lines = [line for svc, items in want.items()
                 for line in _new_service(svc, items, col1 + step, step, logs.get(svc, []))]
        _insert_lines(ed, _after_colon(text, sv[0]), lines, eol)
        return
    col2 = ys.child_indent(text, svm, col1 + step)
    for svc, items in want.items():
        s = ys.get(svm, svc)
        if s is None:
            _insert_lines(ed, _after_block(text, svm), _new_service(svc, items, col2, step, logs.get(svc, [])), eol)
            continue
        sm = _block_map(s[1], f"service {svc}", display)
        if sm is None:
            _insert_lines(ed, _after_colon(text, s[0]), _new_service(svc, items, col2, step, logs.get(svc, []))[1:],
                          eol)
            continue
        col3 = ys.child_indent(text, sm, col2 + step)
        if logs.get(svc):
            _ensure_logging(ed, sm, logs[svc], col3, step, eol, display, svc)
        if not items:
            continue
        _extend_secrets(ed, sm, svc, items, col3, step, eol, display)


def _extend_secrets(ed: _Edits, sm: MappingNode, svc: str, items: list[tuple[str, str]], col3: int, step: int,
                    eol: str, display: str) -> None:
    """Add ``secrets`` items to an existing service block of ecs-params."""
    text = ed.text
    sec = ys.get(sm, "secrets")
    if sec is None:
        _insert_lines(ed, _after_block(text, sm), [" " * col3 + "secrets:"] + _secret_lines(items, col3 + step), eol)
        return
    seq = sec[1]
    if ys.is_null(seq):
        _insert_lines(ed, _after_colon(text, sec[0]), _secret_lines(items, col3 + step), eol)
        return
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
        return
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


def _ecs_secret_options(root: Node | None, svc: str) -> dict[str, str]:
    """name -> value_from of ``task_definition.services.<svc>.logging.secret_options``."""
    out: dict[str, str] = {}
    td = ys.get(root, "task_definition")
    s = ys.get(td[1], "services") if td else None
    sv = ys.get(s[1], svc) if s else None
    lg = ys.get(sv[1], "logging") if sv else None
    so = ys.get(lg[1], "secret_options") if lg else None
    if so is not None and isinstance(so[1], SequenceNode):
        for it in so[1].value:
            n, v = ys.get(it, "name"), ys.get(it, "value_from")
            if n and v:
                out[str(n[1].value)] = str(v[1].value)
    return out


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
