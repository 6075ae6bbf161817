"""ECS task definition shapes: the parsed model, shape detection, pointers."""

from __future__ import annotations

from dataclasses import dataclass, field

from migrate.rewrite import json_spans as js
from migrate.rewrite import pointer as jp
from migrate.rewrite.json_template import mask

KIND = "ecs-taskdef"
LOC_SECRETS = "secrets"
LOC_SECRET_OPTIONS = "logConfiguration.secretOptions"


#: keys of describe-task-definition output that RegisterTaskDefinition does not accept
READ_ONLY_KEYS = ("taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
                  "registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt")


#: ARN used to render reference tokens when checking a rewrite (never written anywhere)


@dataclass(frozen=True)
class _Container:
    node: js.JObj
    pointer: str  #: JSON pointer of the container object
    name: str


@dataclass(frozen=True)
class _TaskDef:
    node: js.JObj | None  #: None for a bare container list
    pointer: str
    family: str
    containers: tuple[_Container, ...]


@dataclass(frozen=True)
class _Target:
    """Where an entry's value sits: container, location and index (environment item or option member)."""

    td: int
    container: int
    location: str
    index: int


@dataclass(frozen=True)
class _Parsed:
    root: js.Node = field(repr=False)
    shape: str
    taskdefs: tuple[_TaskDef, ...]
    targets: dict[str, _Target] = field(repr=False)  #: entry pointer -> target
    #: start offsets of template placeholders standing for values (a masked template; see json_template)
    holes: frozenset[int] = frozenset()


def parse_tolerant(text: str) -> tuple[js.Node, frozenset[int]]:
    """The JSON tree of ``text``; a template with placeholders outside strings is read with them
    masked (same offsets). Raises the strict parser's JsonSyntaxError when even the masked text is
    not JSON."""
    try:
        return js.parse_cached(text), frozenset()
    except js.JsonSyntaxError as strict:
        masked, holes = mask(text)
        if masked == text:
            raise
        try:
            return js.parse(masked), holes
        except js.JsonSyntaxError:
            raise strict from None


# --- shape detection ------------------------------------------------------------------------------


def _has(node: js.Node | None, name: str, kind: type) -> bool:
    return isinstance(node, js.JObj) and isinstance(node.get(name), kind)


def shape_of(root: js.Node) -> str | None:
    """``register`` / ``describe`` / ``containers`` / ``list``, or None when ``root`` is none of them."""
    if isinstance(root, js.JObj):
        if _has(root.get("taskDefinition"), "containerDefinitions", js.JArr):
            return "describe"
        if _has(root, "containerDefinitions", js.JArr):
            return "register"
        return None
    if isinstance(root, js.JArr) and root.items:
        if all(_has(i, "containerDefinitions", js.JArr) for i in root.items):
            return "list"
        if all(_has(i, "name", js.JStr) and _has(i, "image", js.JStr) for i in root.items):
            return "containers"
    return None


def _ptr(*parts: object) -> str:
    return jp.join(parts)
