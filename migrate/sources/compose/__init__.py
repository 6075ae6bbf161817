"""Docker Compose files (and the ``.env`` files they name in ``env_file:``).

Read: every ``environment`` entry (map or ``KEY=VAL`` list, block or flow) and every entry of the
``env_file`` files a service uses. A value written once and shared through a YAML anchor, a merge
key ``<<: *x`` or an ``x-`` extension block is reported once, where it is written, with ``units``
= every service that effectively uses it. Interpolation: ``${VAR}``/``$VAR`` is INTERPOLATED (no
value here); ``${VAR:-default}``/``${VAR-default}`` is the LITERAL default (its span is the
default text only); ``$$`` is an escaped dollar (such values are not restorable); anything mixed
is TEMPLATED. A map key with no value (``KEY:``) takes its value from the shell: INTERPOLATED.

Rewrite: the moved entry's line (or flow element plus one comma, or ``.env`` line) is spliced
out. When ``environment`` loses its last item it is removed whole, key included (rollback puts
it back byte for byte); it stays as ``{}``/``[]`` only when it is anchored or its service's only key.
Then, by ``RewriteOptions.compose_target``:

* ``"ecs-params"`` (default): the project's ecs-params file beside the compose file (ecs-cli v1
  format; ``ecs-params.yml`` for the folder's default project, ``ecs-params.<project>.yml`` for
  another project of the same folder; every compose file of a project contributes to one merged
  action, see ``base.merge_shared``) gets
  ``task_definition.services.<svc>.secrets: [{value_from, name}]`` for every unit of the entry.
  An existing file is extended by splicing; a name already listed for a service is an error.
* ``"compose-secrets"``: top-level ``secrets:`` gets ``<slug>: {external: true, name: <ref>}`` and
  each unit service gets ``secrets: [<slug>]``. NOTE: Compose secrets are mounted as *files* under
  ``/run/secrets/<slug>``, not environment variables: the application must read the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions, SourceBase, SourceText, read_source
from migrate.sources.compose.model import COMPOSE_TAGS, ECS_PARAMS, KIND, _beside, _Model, classify, ecs_params_name
from migrate.sources.compose.parse import _analyze, _read_env
from migrate.sources.compose.splice import rewrite

_SNIFF_SERVICES = re.compile(r"^services[ \t]*:", re.M)
_SNIFF_CFN = re.compile(r"^(AWSTemplateFormatVersion|Resources)[ \t]*:", re.M)


#: a top-level key whose block holds ``image:`` or ``build:`` one indentation down (format v1)
_SNIFF_V1 = re.compile(r"^[A-Za-z0-9_.-]+[ \t]*:[ \t]*\r?\n(?:[ \t]+\S.*\r?\n|[ \t]*#.*\r?\n|[ \t]*\r?\n)*?"
                       r"[ \t]+(?:image|build)[ \t]*:", re.M)
_V1_NAMES = re.compile(r"(docker-compose|compose|fig)([.-][\w.-]*)?\.ya?ml\Z", re.I)


def _sniff_v1(path: Path, text: str) -> bool:
    """Compose file format v1: a compose-like name and services at the top level (parse decides)."""
    if not _V1_NAMES.match(path.name) or not _SNIFF_V1.search(text):
        return False
    try:
        from ruamel.yaml.nodes import MappingNode

        from migrate.rewrite import yaml_spans as ys
        from migrate.sources.compose.parse import is_v1

        root = ys.load_nodes(text, path.name, allowed_tags=COMPOSE_TAGS)
    except Exception:  # noqa: BLE001 - sniff never raises
        return False
    return isinstance(root, MappingNode) and is_v1(root)


def fragment_reason(path: Path, text: str) -> str:
    """Why a compose-named file no source claims is skipped: a fragment (top-level services with no
    ``image``/``build``, e.g. a v1 override file) cannot be placed without its base file ("" when
    the file is not such a fragment)."""
    if not _V1_NAMES.match(path.name):
        return ""
    try:
        from ruamel.yaml.nodes import MappingNode

        from migrate.rewrite import yaml_spans as ys

        root = ys.load_nodes(text, path.name, allowed_tags=COMPOSE_TAGS)
    except Exception:  # noqa: BLE001 - a reason only: the walk's generic one stays
        return ""
    if not isinstance(root, MappingNode) or ys.get(root, "services") is not None or not root.value:
        return ""
    if not all(isinstance(v, MappingNode) for _k, v in root.value):
        return ""
    return ("compose fragment: top-level services without image or build (an override file?) cannot be "
            "placed on their own; scan it together with its base compose file")


# --- the source --------------------------------------------------------------------------------


class ComposeSource(SourceBase):
    kind: ClassVar[str] = KIND

    def sniff(self, path: Path, text: str) -> bool:
        try:
            if path.suffix.lower() not in (".yml", ".yaml"):
                return False
            if path.name.lower().startswith("ecs-params"):
                return False
            if _SNIFF_CFN.search(text):
                return False
            if _SNIFF_SERVICES.search(text):
                return True
            return _sniff_v1(path, text)
        except Exception:
            return False

    def parse(self, src: SourceText, *, root: Path | None = None) -> LoadedFile:
        model = _analyze(src.text, src.path, src.display, _read_env, root)
        model.ep_name = ecs_params_name(model.project, src.path)
        ep_path = src.path.parent / model.ep_name
        if ep_path.exists():
            model.ecs_params = read_source(ep_path, _beside(src.display, model.ep_name))
        related = tuple(model.env_texts.values()) + ((model.ecs_params,) if model.ecs_params else ())
        entries = tuple(p.entry for p in model.places.values())
        return LoadedFile(source=src, kind=KIND, entries=entries, units=tuple(model.services),
                          related=related, group=model.project, project=model.project, data=model, warnings=tuple(model.warnings))

    def value_spans(self, loaded: LoadedFile) -> dict[str, tuple[str, int, int, str]]:
        """Entry key -> (file, start, end, encoding) of each plaintext value's raw text."""
        model = loaded.data
        if not isinstance(model, _Model):
            return {}
        return {key: (p.file, p.value_span[0], p.value_span[1], p.encoding) for key, p in model.places.items()
                if p.value_span is not None and p.entry.value is not None}

    def splice(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        return rewrite(loaded, moves, options)


__all__ = ["KIND", "ECS_PARAMS", "COMPOSE_TAGS", "ComposeSource", "classify", "fragment_reason", "rewrite"]
