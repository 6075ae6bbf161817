"""CloudFormation templates as located YAML/JSON nodes: composing, lookups, value bodies, the model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrate.errors import InputError
from migrate.model import Entry
from migrate.rewrite import json_spans
from migrate.rewrite.edits import is_restorable

KIND = "cloudformation"
_TASKDEF = "AWS::ECS::TaskDefinition"
_ROLE = "AWS::IAM::Role"
_SUB_VAR_RE = re.compile(r"\$\{(?!!)([^}]*)\}")
_DYNREF_RE = re.compile(r"^\{\{resolve:(secretsmanager|ssm-secure|ssm):([^}]*)\}\}$")
_SM_SUFFIX_RE = re.compile(r"-[A-Za-z0-9]{6}$")
_PLAIN_SAFE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_SSM_SUB = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/"


# --- parsing --------------------------------------------------------------------------------------


def _is_json(text: str) -> bool:
    return text.lstrip().startswith("{")


def _compose(text: str, display: str) -> MappingNode:
    if _is_json(text):
        try:
            json_spans.parse(text)
        except json_spans.JsonSyntaxError as e:
            raise InputError(display, "invalid JSON", line=e.line) from None
    try:
        node = YAML(typ="rt").compose(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise InputError(display, f"invalid YAML ({type(e).__name__})",
                         line=(mark.line + 1) if mark is not None else None) from None
    except (YAMLError, ValueError, TypeError) as e:
        raise InputError(display, f"invalid YAML ({type(e).__name__})") from None
    if not isinstance(node, MappingNode):
        raise InputError(display, "not a CloudFormation template (top level is not a mapping)")
    _check_duplicates(node, display)
    return node


def _check_duplicates(node: Node, display: str) -> None:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, MappingNode):
            seen: set[str] = set()
            for k, v in n.value:
                if isinstance(k, ScalarNode):
                    if k.value in seen and k.value != "<<":
                        raise InputError(display, "duplicate mapping key", line=k.start_mark.line + 1)
                    seen.add(k.value)
                stack.append(v)
        elif isinstance(n, SequenceNode):
            stack.extend(n.value)


def _tag(n: Node) -> str:
    t = n.tag if isinstance(n.tag, str) else getattr(n.tag, "value", str(n.tag))
    return t or ""


def _is_custom_tag(n: Node) -> bool:
    return _tag(n).startswith("!")


def _get(m: Node | None, key: str) -> Node | None:
    if not isinstance(m, MappingNode):
        return None
    for k, v in m.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def _pair(m: MappingNode, key: str) -> tuple[int, ScalarNode, Node] | None:
    for i, (k, v) in enumerate(m.value):
        if isinstance(k, ScalarNode) and k.value == key:
            return i, k, v
    return None


def _str(n: Node | None) -> str | None:
    if isinstance(n, ScalarNode) and not _is_custom_tag(n):
        return str(n.value)
    return None


def _content_end(n: Node) -> int:
    """End offset of the last character that belongs to ``n`` (block collections' end marks run on)."""
    if isinstance(n, ScalarNode) or getattr(n, "flow_style", False):
        return int(n.end_mark.index)
    ends = [int(n.start_mark.index)]
    if isinstance(n, MappingNode):
        for k, v in n.value:
            ends += [_content_end(k), _content_end(v)]
    elif isinstance(n, SequenceNode):
        ends += [_content_end(v) for v in n.value]
    return max(ends)


def _is_flow(n: Node) -> bool:
    return bool(getattr(n, "flow_style", False))


@dataclass(frozen=True)
class _Body:
    start: int
    end: int
    encoding: str
    restorable: bool


def _body(text: str, n: ScalarNode, json_mode: bool) -> _Body:
    """The span of a scalar's characters without tag and quotes, and how they encode the value."""
    s, e = int(n.start_mark.index), int(n.end_mark.index)
    if _is_custom_tag(n):
        t = _tag(n)
        if text.startswith(t, s):
            s += len(t)
        while s < e and text[s] in " \t":
            s += 1
    style = n.style
    if style in ('"', "'") and e - s >= 2:
        s, e = s + 1, e - 1
        enc = "json" if json_mode else ("yaml-double" if style == '"' else "yaml-single")
    elif style in ("|", ">"):
        return _Body(s, e, "raw", False)
    else:
        enc = "raw"
    raw = text[s:e]
    return _Body(s, e, enc, is_restorable(enc, str(n.value), raw))


# --- the model of one template ---------------------------------------------------------------------


@dataclass
class _Occ:
    """One Environment item or log option that holds an entry's value."""

    taskdef: str
    cindex: int
    container: MappingNode
    unit: str
    location: str
    name: str
    item: Node  # env item mapping, or the option's key node
    value: Node
    index: int  # index in the Environment sequence / Options mapping


@dataclass
class _Template:
    root: MappingNode
    json_mode: bool
    entries: dict[str, Entry] = field(default_factory=dict)
    occ: dict[str, list[_Occ]] = field(default_factory=dict)  # entry key -> occurrences
    values: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # key -> value body span
    param_of: dict[str, str] = field(default_factory=dict)  # entry key -> parameter name
