"""Re-load the rewritten files and check every move landed where intended."""

from __future__ import annotations

from collections.abc import Sequence

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrate.errors import InputError, RewriteError
from migrate.rewrite import yaml_spans as ys
from migrate.rewrite.edits import PREVIEW_ARN, apply_edits, render
from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions, SourceText
from migrate.sources.compose.ecs_params import _ecs_secret_options, _ecs_secrets
from migrate.sources.compose.model import (
    LOC_COMPOSE_LOGGING,
    EnvLoc,
    _beside,
    _Model,
    _want,
    _want_logging,
    _winners,
)
from migrate.sources.compose.parse import _analyze

# --- verification --------------------------------------------------------------------------------


def _verify(loaded: LoadedFile, model: _Model, moves: Sequence[Move], options: RewriteOptions,
            changes: list[FileChange]) -> None:
    def ref(_aid: str) -> str:
        return PREVIEW_ARN

    new_texts: dict[str, str] = {}
    for ch in changes:
        base = "" if ch.create else (loaded.source.text if ch.path == loaded.path else _orig(model, ch.path))
        new_texts[ch.path] = apply_edits(base, ch.edits, ref=ref)

    def read_env(d: str, _where: EnvLoc) -> SourceText | None:
        st = model.env_texts.get(d)
        if st is None:
            return None
        if d in new_texts:
            return SourceText(path=st.path, display=d, text=new_texts[d], bom=st.bom, sha256="")
        return st

    ctext = new_texts.get(loaded.path, loaded.source.text)
    try:
        new = _analyze(ctext, loaded.source.path, loaded.path, read_env, model.tree)
    except InputError as e:
        raise RewriteError(f"{loaded.path}: the rewritten file does not load ({e.reason})") from None
    for m in moves:
        for u in m.entry.units:
            if m.entry.name in new.effective.get(u, set()):
                raise RewriteError(f"{loaded.path}: {m.entry.name} is still set for service {u} after the rewrite "
                                   "(defined in another place too; move that as well)")
    if options.compose_target == "ecs-params":
        _verify_ecs_params(loaded, model, moves, new_texts)
    else:
        _verify_compose_secrets(loaded.path, new, moves)
    left = {(e.unit, e.name) for p in new.places.values() for e in [p.entry] if e.location == LOC_COMPOSE_LOGGING}
    for m in moves:
        if m.entry.location == LOC_COMPOSE_LOGGING and any((u, m.entry.name) in left for u in m.entry.units):
            raise RewriteError(f"{loaded.path}: logging option {m.entry.name} is still there after the rewrite")


def _verify_ecs_params(loaded: LoadedFile, model: _Model, moves: Sequence[Move], new_texts: dict[str, str]) -> None:
    """ecs-params.yml has every moved entry under secrets / logging.secret_options as intended."""
    def ref(_aid: str) -> str:
        return PREVIEW_ARN

    ep_display = _beside(loaded.path, model.ep_name)
    ep_text = new_texts.get(ep_display, model.ecs_params.text if model.ecs_params else "")
    try:
        root = ys.load_nodes(ep_text, ep_display)
    except InputError as e:
        raise RewriteError(f"{ep_display}: the rewritten file does not load ({e.reason})") from None
    for svc, items in _want(moves).items():
        got = _ecs_secrets(root, svc)
        for name, vf in items:
            if got.get(name) != render(vf, ref=ref):
                raise RewriteError(f"{ep_display}: secret {name} for service {svc} not written as intended")
    for svc, items in _want_logging(moves).items():
        got = _ecs_secret_options(root, svc)
        for name, vf in items:
            if got.get(name) != render(vf, ref=ref):
                raise RewriteError(f"{ep_display}: secret option {name} for service {svc} not written as intended")


def _external_secrets(root: MappingNode) -> dict[str, str]:
    """Top-level ``secrets:`` that are ``external: true``: key -> name."""
    top = ys.get(root, "secrets")
    out: dict[str, str] = {}
    if top is not None and isinstance(top[1], MappingNode):
        for k, v in top[1].value:
            nm = ys.get(v, "name")
            ext = ys.get(v, "external")
            if nm and ext and str(ext[1].value) == "true":
                out[str(k.value)] = str(nm[1].value)
    return out


def _listed_secrets(service: Node | None) -> set[str]:
    """The secret keys a service lists (short and long syntax)."""
    sec = ys.effective_items(service).get("secrets") if isinstance(service, MappingNode) else None
    listed: set[str] = set()
    if sec is not None and isinstance(sec[1], SequenceNode):
        for it in sec[1].value:
            if isinstance(it, ScalarNode):
                listed.add(str(it.value))
            else:
                src = ys.get(it, "source")
                if src:
                    listed.add(str(src[1].value))
    return listed


def _verify_compose_secrets(path: str, new: _Model, moves: Sequence[Move]) -> None:
    top_names = _external_secrets(new.root)
    for (u, _name), m in _winners(moves).items():
        want = render(m.value_from, ref=lambda _aid: PREVIEW_ARN)
        if want not in top_names.values():
            raise RewriteError(f"{path}: top-level secret for {m.entry.name} not written as intended")
        if u and not any(top_names.get(s) == want for s in _listed_secrets(new.services.get(u))):
            raise RewriteError(f"{path}: service {u} does not list the secret for {m.entry.name}")


def _orig(model: _Model, path: str) -> str:
    if path in model.env_texts:
        return model.env_texts[path].text
    if model.ecs_params is not None and model.ecs_params.display == path:
        return model.ecs_params.text
    raise RewriteError(f"unknown file {path}")
