"""The explicit list of source formats, and content-based format detection.

``SOURCES`` maps a kind to a stateless source object. Formats written in separate modules are
imported with a guard so that a module that is missing (not written yet, or an optional dependency
absent) only removes that format instead of breaking every command.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from migrate.sources.base import Source

# Formats: kind -> (module, class). Add new formats here. Modules are imported on first use, so a
# scan of JSON files never pays for libcst (CDK) and a missing module only removes its format.
_KNOWN: dict[str, tuple[str, str]] = {
    "ecs-taskdef": ("migrate.sources.ecs_taskdef", "EcsTaskDefSource"),
    "compose": ("migrate.sources.compose", "ComposeSource"),
    "terraform": ("migrate.sources.terraform", "TerraformSource"),
    "cloudformation": ("migrate.sources.cloudformation", "CloudFormationSource"),
    "cdk-python": ("migrate.sources.cdk_python", "CdkPythonSource"),
}

#: kinds that could not be imported, with the one-line reason
UNAVAILABLE: dict[str, str] = {}


class _Sources(dict):  # type: ignore[type-arg]
    """``SOURCES``: a dict that imports a format's module the first time the format is asked for."""

    def __missing__(self, kind: str) -> Source:
        if kind not in _KNOWN or kind in UNAVAILABLE:
            raise KeyError(kind)
        module, cls = _KNOWN[kind]
        try:
            obj = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as e:
            UNAVAILABLE[kind] = f"{type(e).__name__}: {e}"
            raise KeyError(kind) from None
        self[kind] = src = obj()
        return src  # type: ignore[no-any-return]

    def get(self, kind: str, default: Source | None = None) -> Source | None:  # type: ignore[override]
        try:
            src: Source = self[kind]
        except KeyError:
            return default
        return src

    def __contains__(self, kind: object) -> bool:
        return isinstance(kind, str) and self.get(kind) is not None

    def _all(self) -> None:
        for kind in _KNOWN:
            self.get(kind)

    def __iter__(self):  # type: ignore[no-untyped-def]
        self._all()
        return iter([k for k in _KNOWN if dict.__contains__(self, k)])

    def keys(self):  # type: ignore[no-untyped-def]
        return list(iter(self))

    def items(self):  # type: ignore[no-untyped-def]
        return [(k, self[k]) for k in self]

    def values(self):  # type: ignore[no-untyped-def]
        return [self[k] for k in self]

    def __len__(self) -> int:
        self._all()
        return dict.__len__(self)


SOURCES: dict[str, Source] = _Sources()


#: which formats to try first for an extension (a hint only: content decides)
_HINTS: dict[str, tuple[str, ...]] = {
    ".json": ("ecs-taskdef", "cloudformation", "terraform"),
    ".tpl": ("terraform", "ecs-taskdef"),  # templatefile() inputs: Terraform decides first
    ".j2": ("ecs-taskdef",),  # Jinja2 (Ansible) templates of task definitions
    ".hcl": (),  # Nomad and other HCL: only the unrecognised-definition check
    ".nomad": (),
    ".yaml": ("compose", "cloudformation"),
    ".yml": ("compose", "cloudformation"),
    ".template": ("cloudformation", "ecs-taskdef"),
    ".tf": ("terraform",),
    ".py": ("cdk-python",),
}

#: reason given for candidate files that no source recognises
NOT_A_DEFINITION = ("not a task definition, compose file, Terraform configuration, "
                    "CloudFormation template or CDK app")


#: a cheap marker per kind: a file showing it whose kind could not be imported is an error, not skipped
_MARKERS: dict[str, re.Pattern[str]] = {
    "cdk-python": re.compile(r"^\s*(from|import)\s+aws_cdk\b", re.M),
    "terraform": re.compile(r'resource\s+"aws_ecs_task_definition"|^\s*module\s+"', re.M),
    "compose": re.compile(r"^services[ \t]*:", re.M),
    "cloudformation": re.compile(r"AWSTemplateFormatVersion|AWS::ECS::TaskDefinition"),
    "ecs-taskdef": re.compile(r'"containerDefinitions"|"taskDefinition"'),
}


def unavailable_for(path: Path, text: str) -> str:
    """The error for a file that a format which could not be imported would have read ("" if none)."""
    suffix = path.suffix.lower()
    order = list(_HINTS[suffix]) if suffix in _HINTS else list(_KNOWN)
    for kind in order:
        SOURCES.get(kind)  # imports it (and records a failure)
        if kind in UNAVAILABLE and _MARKERS[kind].search(text):
            return (f"the {kind} reader is unavailable ({UNAVAILABLE[kind]}); the file could not be scanned "
                    "(install the missing dependency)")
    return ""


def detect_source(path: Path, text: str) -> Source | None:
    """The source whose ``sniff`` claims ``text``: extension-hinted sources first, then the rest."""
    suffix = path.suffix.lower()
    order = list(_HINTS[suffix]) if suffix in _HINTS else list(_KNOWN)  # a known extension: its formats only
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
