"""Read task-definition environment and log options of a template into entries."""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, SecretValue, ValueKind
from migrate.rewrite import pointer as jp
from migrate.sources.base import line_of
from migrate.sources.cloudformation.nodes import (
    _DYNREF_RE,
    _SUB_VAR_RE,
    _TASKDEF,
    KIND,
    _body,
    _compose,
    _get,
    _is_json,
    _Occ,
    _str,
    _tag,
    _Template,
)


def _classify(text: str, t: _Template, v: Node) -> tuple[ValueKind, str, str, str]:
    """(kind, note, resolves_to, param) for a value node."""
    if isinstance(v, ScalarNode):
        tag = _tag(v)
        if tag == "!Ref":
            return _classify_ref(t, str(v.value))
        if tag == "!Sub":
            return _classify_sub(str(v.value))
        if tag.startswith("!"):
            return ValueKind.TEMPLATED, f"intrinsic function {tag[1:]}", "", ""
        return _classify_string(str(v.value), "")
    if isinstance(v, MappingNode) and len(v.value) == 1:
        fn = _str(v.value[0][0]) or ""
        arg = v.value[0][1]
        if fn == "Ref" and _str(arg) is not None:
            return _classify_ref(t, str(arg.value))
        if fn == "Fn::Sub" and _str(arg) is not None:
            return _classify_sub(str(arg.value))
        return ValueKind.TEMPLATED, f"intrinsic function {fn}", "", ""
    joined = isinstance(v, SequenceNode) and _tag(v) == "!Join"
    return ValueKind.TEMPLATED, "Fn::Join" if joined else "not a string", "", ""


def _classify_sub(s: str) -> tuple[ValueKind, str, str, str]:
    if _SUB_VAR_RE.search(s) or "${!" in s:
        return ValueKind.TEMPLATED, "Fn::Sub with variables", "", ""
    return _classify_string(s, "Fn::Sub of a literal")


def _classify_string(s: str, note: str) -> tuple[ValueKind, str, str, str]:
    if s == "":
        return ValueKind.EMPTY, note, "", ""
    m = _DYNREF_RE.match(s)
    if m:
        service, rest = m.group(1), m.group(2)
        if service == "secretsmanager":
            parts = rest.split(":SecretString:", 1)
            key = parts[1].split(":")[0] if len(parts) == 2 else ""
            extra = f"; json key {key}" if key else ""
            return (ValueKind.REFERENCE, "CloudFormation dynamic reference resolved into plaintext at deploy time"
                    + extra, parts[0], "")
        if service == "ssm-secure":
            return ValueKind.REFERENCE, "ssm-secure dynamic reference resolved into plaintext at deploy time", \
                rest.split(":")[0], ""
        return ValueKind.REFERENCE, "ssm dynamic reference (String parameter) resolved at deploy time", "", ""
    if "{{resolve:" in s:
        return ValueKind.TEMPLATED, "dynamic reference inside a longer string", "", ""
    return ValueKind.LITERAL, note, "", ""


def _classify_ref(t: _Template, name: str) -> tuple[ValueKind, str, str, str]:
    params = _get(t.root, "Parameters")
    p = _get(params, name)
    if p is None:
        if name.startswith("AWS::"):
            return ValueKind.TEMPLATED, "pseudo parameter", "", ""
        return ValueKind.REFERENCE, "Ref to a resource", "", ""
    d = _get(p, "Default")
    if d is None:
        return ValueKind.INTERPOLATED, "parameter without Default (value given at deploy time)", "", ""
    if _str(d) is None:
        return ValueKind.TEMPLATED, "parameter Default is not a string", "", ""
    kind, note, res, _ = _classify_string(str(d.value), "parameter Default")
    return kind, note or "parameter Default", res, name


def _build(text: str, display: str) -> _Template:
    root = _compose(text, display)
    t = _Template(root=root, json_mode=_is_json(text))
    resources = _get(root, "Resources")
    if not isinstance(resources, MappingNode):
        return t
    for k, res in resources.value:
        if _str(_get(res, "Type")) != _TASKDEF:
            continue
        lid = str(k.value)
        cds = _get(_get(res, "Properties"), "ContainerDefinitions")
        if not isinstance(cds, SequenceNode):
            continue
        for ci, c in enumerate(cds.value):
            if not isinstance(c, MappingNode):
                continue
            unit = _str(_get(c, "Name")) or f"container{ci}"
            base = f"/Resources/{jp.escape(lid)}/Properties/ContainerDefinitions/{ci}"
            env = _get(c, "Environment")
            secrets_why = "" if plain_list(_get(c, "Secrets")) else SECRETS_CONDITIONAL.format(key="Secrets")
            for ei, item, ptr, cond in _env_items(env, f"{base}/Environment", False):
                name = _str(_get(item, "Name"))
                val = _get(item, "Value")
                if name is None or val is None:
                    continue
                occ = _Occ(lid, ci, c, unit, LOC_ENVIRONMENT, name, item, val, ei)
                _add(text, t, display, occ, f"{ptr}/Value", conditional=cond, why_not=secrets_why)
            lc = _get(c, "LogConfiguration")
            opts = _get(lc, "Options")
            options_why = "" if plain_list(_get(lc, "SecretOptions")) else SECRETS_CONDITIONAL.format(key="SecretOptions")
            if isinstance(opts, MappingNode):
                for oi, (ok, ov) in enumerate(opts.value):
                    name = _str(ok)
                    if name is None:
                        continue
                    occ = _Occ(lid, ci, c, unit, LOC_LOG_OPTIONS, name, ok, ov, oi)
                    _add(text, t, display, occ, f"{base}/LogConfiguration/Options/{jp.escape(name)}", why_not=options_why)
    _block_shared_params(t)
    return t


def _block_shared_params(t: _Template) -> None:
    """An entry whose plaintext is a parameter Default that other parts of the template use too
    cannot move (its Default would vanish under them): it is blocked with that reason, and the
    rest of the template still moves."""
    for key, p in t.param_of.items():
        if _param_uses(t.root, p) > len(t.occ[key]):
            e = t.entries[key]
            t.entries[key] = Entry(**{**_fields(e), "blocked": f"parameter {p} is used elsewhere in the template "
                                                               "too; move it by hand"})


#: entries inside a condition are reported, never moved (the splice does not edit Fn::If branches), except
#: an item guarded on its own (``- !If [C, {Name, Value}, !Ref AWS::NoValue]``): that whole item moves to
#: Secrets with its guard (see :func:`_env_items`)
IN_CONDITION = ("not migratable: inside a CloudFormation condition (Fn::If), move it by hand to the "
                "Secrets of the same branch")


def _if_args(n: Node | None) -> list[Node] | None:
    """The three arguments of ``!If [cond, a, b]`` / ``{"Fn::If": [cond, a, b]}``, else None."""
    if isinstance(n, SequenceNode) and _tag(n) == "!If" and len(n.value) == 3:
        return list(n.value)
    if isinstance(n, MappingNode) and len(n.value) == 1 and _str(n.value[0][0]) == "Fn::If":
        arg = n.value[0][1]
        if isinstance(arg, SequenceNode) and len(arg.value) == 3:
            return list(arg.value)
    return None


#: a moved item is appended to the container's Secrets (SecretOptions): only to a plain list, never into the
#: arguments of an ``Fn::If`` (that would make a four-argument If, an invalid template)
SECRETS_CONDITIONAL = ("not migratable: the container's {key} is a CloudFormation condition (Fn::If) or not a "
                       "list; move it by hand to the {key} of the right branch")


def plain_list(n: Node | None) -> bool:
    """Absent, or a list that is not the arguments of ``!If`` (where moved items can be appended)."""
    return n is None or (isinstance(n, SequenceNode) and _if_args(n) is None)


def _is_no_value(n: Node) -> bool:
    """``!Ref AWS::NoValue`` / ``{"Ref": "AWS::NoValue"}``."""
    if isinstance(n, ScalarNode):
        return _tag(n) == "!Ref" and n.value == "AWS::NoValue"
    return isinstance(n, MappingNode) and len(n.value) == 1 and _str(n.value[0][0]) == "Ref" \
        and _str(n.value[0][1]) == "AWS::NoValue"


def guarded_item(item: Node) -> Node | None:
    """The one mapping of an item guarded on its own, ``!If [C, {Name, Value}, !Ref AWS::NoValue]`` (or
    the mirror ``!If [C, !Ref AWS::NoValue, {...}]``) with C a plain condition name; else None. Such an
    item moves whole, guard included: the Secrets item it becomes exists exactly when it did."""
    args = _if_args(item)
    if args is None or _str(args[0]) is None:
        return None
    a, b = args[1], args[2]
    if isinstance(a, MappingNode) and _is_no_value(b):
        return a
    if isinstance(b, MappingNode) and _is_no_value(a):
        return b
    return None


def _env_items(env: Node | None, ptr: str, cond: bool, depth: int = 0,
               in_branch: bool = False) -> list[tuple[int, Node, str, bool]]:
    """(index, item, pointer, inside a condition it cannot move out of) of an Environment list,
    following ``Fn::If`` around the whole list and around single items (both branches). Not "inside
    a condition": an item guarded on its own (:func:`guarded_item`) in a plain list, and a plain item
    of a branch list of ``Environment: !If [C, [...], [...]]`` with C a condition name (it moves to
    Secrets guarded by C)."""
    if depth > 8:
        return []
    args = _if_args(env)
    if args is not None:
        sub = ptr if isinstance(env, SequenceNode) else f"{ptr}/Fn::If"
        split = depth == 0 and _str(args[0]) is not None
        return [x for b in (1, 2) for x in _env_items(args[b], f"{sub}/{b}", cond or not split, depth + 1, True)]
    if not isinstance(env, SequenceNode):
        return []
    out: list[tuple[int, Node, str, bool]] = []
    for ei, item in enumerate(env.value):
        item_args = _if_args(item)
        if item_args is not None:
            sub = f"{ptr}/{ei}" if isinstance(item, SequenceNode) else f"{ptr}/{ei}/Fn::If"
            alone = not cond and not in_branch and guarded_item(item) is not None
            out.extend((ei, it, f"{sub}/{b}", not alone) for b in (1, 2) for it in [item_args[b]]
                       if isinstance(it, MappingNode))
            continue
        out.append((ei, item, f"{ptr}/{ei}", cond))
    return out


def _add(text: str, t: _Template, display: str, occ: _Occ, pointer: str, *, conditional: bool = False,
         why_not: str = "") -> None:
    kind, note, resolves_to, param = _classify(text, t, occ.value)
    value_node: Node = occ.value
    if param:
        value_node = _get(_get(_get(t.root, "Parameters"), param), "Default")  # type: ignore[assignment]
        pointer = f"/Parameters/{jp.escape(param)}/Default"
    elif isinstance(occ.value, MappingNode):  # {"Fn::Sub": "literal"}
        value_node = occ.value.value[0][1]
    key = f"{display}#{pointer}"
    if key in t.entries:  # a parameter shared by several items
        e = t.entries[key]
        if occ.unit not in e.units:
            t.entries[key] = Entry(**{**_fields(e), "units": e.units + (occ.unit,)})
        t.occ[key].append(occ)
        return
    value = None
    restorable = True
    if isinstance(value_node, ScalarNode):
        value = SecretValue(str(value_node.value))
        if kind is ValueKind.LITERAL:
            b = _body(text, value_node, t.json_mode)
            restorable = b.restorable and "${!" not in str(value_node.value)
            t.values[key] = (b.start, b.end, b.encoding)
    for reason in (IN_CONDITION if conditional else "", why_not):
        if reason:
            restorable, note = False, f"{note}; {reason}" if note else reason
    t.entries[key] = Entry(
        path=display, line=line_of(text, int(value_node.start_mark.index)), unit=occ.unit,
        location=occ.location, name=occ.name, value=value, value_kind=kind, pointer=pointer,
        source=KIND, group=occ.taskdef, note=note, restorable=restorable, resolves_to=resolves_to)
    t.occ[key] = [occ]
    if param:
        t.param_of[key] = param


def _fields(e: Entry) -> dict[str, Any]:
    return {f: getattr(e, f) for f in e.__dataclass_fields__}


def _param_uses(root: Node, p: str) -> int:
    n_uses = 0
    stack = [root]
    while stack:
        n = stack.pop()
        if isinstance(n, ScalarNode):
            tag = _tag(n)
            if tag == "!Ref" and n.value == p:
                n_uses += 1
            elif tag in ("!Sub", "tag:yaml.org,2002:str"):
                n_uses += len(re.findall(r"\$\{" + re.escape(p) + r"[}.]", str(n.value)))
        elif isinstance(n, MappingNode):
            for k, v in n.value:
                if _str(k) == "Ref" and _str(v) == p:
                    n_uses += 1
                else:
                    stack.append(v)
        elif isinstance(n, SequenceNode):
            stack.extend(n.value)
    return n_uses
