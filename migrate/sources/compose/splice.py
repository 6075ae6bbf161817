"""Compose rewrite: remove the moved entries, then write them to the chosen target."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ruamel.yaml.nodes import MappingNode, SequenceNode

from migrate.errors import RewriteError
from migrate.rewrite import text as tx
from migrate.rewrite import yaml_spans as ys
from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions
from migrate.sources.compose.ecs_params import _ecs_params_change
from migrate.sources.compose.edits import _after_block, _after_colon, _Edits, _insert_lines, _line_removal, _remove_yaml
from migrate.sources.compose.model import LOC_COMPOSE_LOGGING, _Model, _Place, _winners
from migrate.sources.compose.verify import _verify


def rewrite(loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
    model: _Model = loaded.data
    if not isinstance(model, _Model):
        raise RewriteError(f"{loaded.path}: not loaded by the compose source")
    if options.compose_target not in ("ecs-params", "compose-secrets"):
        raise RewriteError(f"unknown compose target {options.compose_target!r}")
    if not moves:
        return []
    if model.v1 and options.compose_target == "compose-secrets":
        raise RewriteError(f"{loaded.path}: a version 1 compose file has no secrets; use the ecs-params target")
    logging = sorted({mv.entry.name for mv in moves if mv.entry.location == LOC_COMPOSE_LOGGING})
    if logging and options.compose_target != "ecs-params":
        raise RewriteError(f"{loaded.path}: logging options ({', '.join(logging)}) move only to ecs-params "
                           "logging.secret_options; use the ecs-params target")
    display = loaded.path
    text = loaded.source.text
    eol = tx.eol(text)
    compose = _Edits(text)
    env_edits: dict[str, _Edits] = {}
    yaml_places: list[_Place] = []
    for mv in moves:
        p = model.places.get(mv.entry.key)
        if p is None:
            raise RewriteError(f"{display}: entry {mv.entry.name} is not in this file")
        if not p.entry.restorable:
            raise RewriteError(f"{display}: {p.entry.name} cannot be restored byte-for-byte; refusing to move it")
        if p.dotenv is not None:
            st = model.env_texts[p.file]
            ed = env_edits.setdefault(p.file, _Edits(st.text))
            ed.removals.append(_line_removal(st.text, p.dotenv.start, p.dotenv.end))
        else:
            yaml_places.append(p)
    try:
        _remove_yaml(compose, model, yaml_places)
        extra: FileChange | None = None
        if options.compose_target == "ecs-params":
            extra = _ecs_params_change(model, display, moves, eol)
        else:
            _compose_secrets(compose, model, moves, eol)
    except ValueError as e:
        raise RewriteError(f"{display}: cannot locate the text to edit ({e})") from None

    changes: list[FileChange] = []
    summary = ", ".join(sorted({f"{u}: {m.entry.name}" for m in moves for u in m.entry.units}))
    c_edits = compose.build()
    if c_edits:
        keys = tuple(m.entry.key for m in moves if model.places[m.entry.key].dotenv is None)
        changes.append(FileChange(display, c_edits, entries=keys, summary=f"{summary} environment -> secrets"))
    for f, ed in env_edits.items():
        keys = tuple(m.entry.key for m in moves if model.places[m.entry.key].file == f)
        changes.append(FileChange(f, ed.build(), entries=keys, summary=f"remove {len(keys)} entries"))
    if extra is not None:
        changes.append(extra)
    _verify(loaded, model, moves, options, changes)
    return changes


# --- compose secrets -----------------------------------------------------------------------------


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_.-]", "_", name.lower()) or "secret"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}_{n}"
    taken.add(slug)
    return slug


def _compose_secrets(ed: _Edits, model: _Model, moves: Sequence[Move], eol: str) -> None:
    text = ed.text
    root = model.root
    top = ys.get(root, "secrets")
    taken: set[str] = set()
    if top is not None and isinstance(top[1], MappingNode):
        taken = {str(k.value) for k, _v in top[1].value}
    svc_map = ys.get(root, "services")
    assert svc_map is not None
    svcs = svc_map[1]
    step = ys.child_indent(text, svcs, 2) if isinstance(svcs, MappingNode) and not svcs.flow_style else 2
    defs: list[str] = []
    per_service: dict[str, list[str]] = {}
    winners = _winners(moves)
    for m in moves:
        users = [u for u in m.entry.units if winners[(u, m.entry.name)] is m]
        if not users:
            continue
        slug = _slug(m.entry.name, taken)
        defs.append(f'{slug}: {{external: true, name: "{m.value_from}"}}')
        for u in users:
            per_service.setdefault(u, []).append(slug)
    # service secrets
    for svc, new in per_service.items():
        sv = model.services.get(svc)
        sk = model.service_keys[svc]
        if not isinstance(sv, MappingNode) or sv.start_mark.index < sk.end_mark.index:
            raise RewriteError(f"service {svc} is not a mapping written in place")
        sec = ys.get(sv, "secrets")
        flow = ", ".join(new)
        if sv.flow_style:
            if sec is not None:
                raise RewriteError(f"service {svc}: cannot extend secrets in a flow mapping")
            ed.inserts.setdefault(_flow_last_end(text, sv), []).append(f", secrets: [{flow}]")
            continue
        if sec is None:
            col = ys.child_indent(text, sv, 0)
            _insert_lines(ed, _after_block(text, sv), [" " * col + f"secrets: [{flow}]"], eol)
        elif ys.is_null(sec[1]):
            ed.inserts.setdefault(_after_colon(text, sec[0]), []).append(f" [{flow}]")
        elif isinstance(sec[1], SequenceNode) and sec[1].flow_style:
            seq = sec[1]
            pos = int(seq.end_mark.index) - 1 if not seq.value else int(seq.value[-1].end_mark.index)
            ed.inserts.setdefault(pos, []).append((", " if seq.value else "") + flow)
        elif isinstance(sec[1], SequenceNode) and sec[1].value:
            seq = sec[1]
            dcol = tx.column(text, ys.seq_item_dash(text, seq, 0))
            _insert_lines(ed, _after_block(text, seq), [" " * dcol + f"- {s}" for s in new], eol)
        else:
            raise RewriteError(f"service {svc}: secrets is not a list")
    # top-level secrets
    if top is None:
        _insert_lines(ed, len(text) if text.endswith("\n") or not text else len(text),
                      ["secrets:"] + [" " * step + d for d in defs], eol)
    elif ys.is_null(top[1]):
        _insert_lines(ed, _after_colon(text, top[0]), [" " * step + d for d in defs], eol)
    elif isinstance(top[1], MappingNode) and not top[1].flow_style and top[1].value:
        col = ys.child_indent(text, top[1], step)
        _insert_lines(ed, _after_block(text, top[1]), [" " * col + d for d in defs], eol)
    elif isinstance(top[1], MappingNode) and top[1].flow_style:
        pos = int(top[1].end_mark.index) - 1 if not top[1].value else _flow_last_end(text, top[1])
        ed.inserts.setdefault(pos, []).append((", " if top[1].value else "") + ", ".join(defs))
    else:
        raise RewriteError("top-level secrets is not a mapping")


def _flow_last_end(text: str, m: MappingNode) -> int:
    k, v = m.value[-1]
    return ys.value_end(text, k, v, ys.colon_after(text, k) + 1)
