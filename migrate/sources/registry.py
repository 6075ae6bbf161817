"""The explicit list of source formats, and content-based format detection.

``SOURCES`` maps a kind to a stateless source object. Formats written in separate modules are
imported with a guard so that a module that is missing (not written yet, or an optional dependency
absent) only removes that format instead of breaking every command.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from migrate.sources.base import Source
from migrate.sources.ecs_taskdef import EcsTaskDefSource

SOURCES: dict[str, Source] = {
    "ecs-taskdef": EcsTaskDefSource(),
}

# Other formats: kind -> (module, class). Add new formats here.
_OPTIONAL: dict[str, tuple[str, str]] = {
    "compose": ("migrate.sources.compose", "ComposeSource"),
    "terraform": ("migrate.sources.terraform", "TerraformSource"),
    "cloudformation": ("migrate.sources.cloudformation", "CloudFormationSource"),
    "cdk-python": ("migrate.sources.cdk_python", "CdkPythonSource"),
}

#: kinds that could not be imported, with the one-line reason (shown by ``--debug``/doctor output)
UNAVAILABLE: dict[str, str] = {}


def _load_optional() -> None:
    for kind, (module, cls) in _OPTIONAL.items():
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            UNAVAILABLE[kind] = f"{type(e).__name__}: {e}"
            continue
        obj = getattr(mod, cls, None)
        if obj is None:
            UNAVAILABLE[kind] = f"{module} has no {cls}"
            continue
        SOURCES[kind] = obj()


_load_optional()

#: which formats to try first for an extension (a hint only: content decides)
_HINTS: dict[str, tuple[str, ...]] = {
    ".json": ("ecs-taskdef", "cloudformation", "terraform"),
    ".tpl": ("terraform", "ecs-taskdef"),  # templatefile() inputs: Terraform decides first
    ".yaml": ("compose", "cloudformation"),
    ".yml": ("compose", "cloudformation"),
    ".template": ("cloudformation", "ecs-taskdef"),
    ".tf": ("terraform",),
    ".py": ("cdk-python",),
}

#: reason given for candidate files that no source recognises
NOT_A_DEFINITION = ("not a task definition, compose file, Terraform configuration, "
                    "CloudFormation template or CDK app")


def detect_source(path: Path, text: str) -> Source | None:
    """The source whose ``sniff`` claims ``text``: extension-hinted sources first, then the rest."""
    order = list(_HINTS.get(path.suffix.lower(), ()))
    order += [k for k in SOURCES if k not in order]
    for kind in order:
        src = SOURCES.get(kind)
        if src is None:
            continue
        try:
            claimed = src.sniff(path, text)
        except Exception:  # noqa: BLE001 - sniff must never raise; a broken sniff only loses its format
            claimed = False
        if claimed:
            return src
    return None
