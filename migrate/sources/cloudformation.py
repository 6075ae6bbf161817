"""CloudFormation templates (YAML with short-form tags, and JSON): ECS task definitions.

Locating uses ruamel.yaml's *composer* (node tree with exact character marks, tags kept as
written), for both YAML and JSON (JSON is first checked strictly by ``json_spans``). Rewrites are
text splices: moved ``Environment`` items are cut out (with the comment lines above them) and
re-inserted under ``Secrets`` with ``Value`` renamed to ``ValueFrom``; log ``Options`` move to
``SecretOptions``. Nothing is ever dumped.

Value kinds:
  * plain or quoted string -> LITERAL; ``!Sub`` without ``${...}`` -> LITERAL
  * ``!Ref Param`` whose ``Default`` is a literal -> LITERAL, located at the Default
  * ``!Ref`` to a parameter without Default -> INTERPOLATED; to a resource/pseudo parameter -> REFERENCE
  * ``!Sub`` with variables, ``Fn::Join``, other intrinsics -> TEMPLATED
  * ``{{resolve:secretsmanager:ID...}}`` -> REFERENCE with ``resolves_to`` = ID (plaintext at deploy time)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrate.errors import InputError, RewriteError
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, SecretValue, ValueKind
from migrate.rewrite import json_spans
from migrate.rewrite import pointer as jp
from migrate.rewrite import text as tx
from migrate.rewrite.edits import PREVIEW_ARN, TextEdit, apply_edits, is_restorable, old_template
from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions, SourceBase, SourceText, line_of

KIND = "cloudformation"
_TASKDEF = "AWS::ECS::TaskDefinition"
_ROLE = "AWS::IAM::Role"
_SNIFF_RE = re.compile(r"AWSTemplateFormatVersion|AWS::ECS::TaskDefinition")
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
            if isinstance(env, SequenceNode):
                for ei, item in enumerate(env.value):
                    name = _str(_get(item, "Name"))
                    val = _get(item, "Value")
                    if name is None or val is None:
                        continue
                    occ = _Occ(lid, ci, c, unit, LOC_ENVIRONMENT, name, item, val, ei)
                    _add(text, t, display, occ, f"{base}/Environment/{ei}/Value")
            opts = _get(_get(c, "LogConfiguration"), "Options")
            if isinstance(opts, MappingNode):
                for oi, (ok, ov) in enumerate(opts.value):
                    name = _str(ok)
                    if name is None:
                        continue
                    occ = _Occ(lid, ci, c, unit, LOC_LOG_OPTIONS, name, ok, ov, oi)
                    _add(text, t, display, occ, f"{base}/LogConfiguration/Options/{jp.escape(name)}")
    return t


def _add(text: str, t: _Template, display: str, occ: _Occ, pointer: str) -> None:
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
    t.entries[key] = Entry(
        path=display, line=line_of(text, int(value_node.start_mark.index)), unit=occ.unit,
        location=occ.location, name=occ.name, value=value, value_kind=kind, pointer=pointer,
        source=KIND, group=occ.taskdef, note=note, restorable=restorable, resolves_to=resolves_to)
    t.occ[key] = [occ]
    if param:
        t.param_of[key] = param


def _fields(e: Entry) -> dict[str, Any]:
    return {f: getattr(e, f) for f in e.__dataclass_fields__}


# --- text helpers ------------------------------------------------------------------------------------










def _comment_lines_above(text: str, pos: int) -> int:
    """Start of the run of own-line comments directly above the line containing ``pos``."""
    start = tx.line_start(text, pos)
    while start > 0:
        prev = tx.line_start(text, start - 1)
        if text[prev:start].strip().startswith("#"):
            start = prev
        else:
            break
    return start


def _block_item_region(text: str, item: Node) -> tuple[int, int]:
    """Lines of a block sequence item: own-line comments above, the ``- `` line, to its last line."""
    s = int(item.start_mark.index)
    ls = tx.line_start(text, s)
    if not text[ls:s].strip().startswith("-"):
        raise RewriteError("sequence item layout not recognised")
    return _comment_lines_above(text, s), tx.line_end(text, _content_end(item))


def _block_pair_region(text: str, k: Node, v: Node) -> tuple[int, int]:
    s = int(k.start_mark.index)
    ls = tx.line_start(text, s)
    if text[ls:s].strip() not in ("", "-"):
        raise RewriteError("mapping layout not recognised")
    if text[ls:s].strip() == "-":
        raise RewriteError("cannot delete the first key of a sequence item")
    return ls, tx.line_end(text, _content_end(v))


def _reindent(block: str, delta: int) -> str:
    if delta == 0:
        return block
    out = []
    for line in block.splitlines(keepends=True):
        if not line.strip():
            out.append(line)
        elif delta > 0:
            out.append(" " * delta + line)
        else:
            lead = len(line) - len(line.lstrip(" "))
            out.append(line[min(lead, -delta):])
    return "".join(out)


def _flow_runs(items: Sequence[tuple[int, int]], drop: set[int], open_end: int, close_start: int) -> list[tuple[int, int]]:
    """Deletion spans that remove items ``drop`` from a flow collection with separators kept right."""
    n = len(items)
    out: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if i not in drop:
            i += 1
            continue
        j = i
        while j + 1 < n and (j + 1) in drop:
            j += 1
        if i > 0:
            out.append((items[i - 1][1], items[j][1]))
        elif j < n - 1:
            out.append((items[i][0], items[j + 1][0]))
        else:
            out.append((open_end, close_start))
        i = j + 1
    return out


# --- emitting new YAML/JSON text -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Sub:
    s: str


def _y_scalar(v: object) -> str:
    if isinstance(v, _Sub):
        return "!Sub " + json.dumps(v.s, ensure_ascii=False)
    s = str(v)
    if _PLAIN_SAFE_RE.match(s) and s.lower() not in ("yes", "no", "true", "false", "on", "off", "null", "y", "n"):
        return s
    return json.dumps(s, ensure_ascii=False)


def _y_block(v: object, col: int, nl: str) -> list[str]:
    """Lines (without newline) of ``v`` as block YAML starting at column ``col`` (for mapping/seq)."""
    pad = " " * col
    lines: list[str] = []
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)):
                lines.append(f"{pad}{k}:")
                lines += _y_block(x, col + 2, nl)
            else:
                lines.append(f"{pad}{k}: {_y_scalar(x)}")
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)):
                sub = _y_block(x, col + 2, nl)
                sub[0] = pad + "- " + sub[0][col + 2:]
                lines += sub
            else:
                lines.append(f"{pad}- {_y_scalar(x)}")
    return lines


def _j_obj(v: object) -> object:
    if isinstance(v, _Sub):
        return {"Fn::Sub": v.s}
    if isinstance(v, dict):
        return {k: _j_obj(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_j_obj(x) for x in v]
    return v


def _flow(v: object, json_mode: bool, indent: str | None = None, nl: str = "\n") -> str:
    """Flow text: JSON for JSON files; YAML flow (short tags allowed) for YAML files."""
    if json_mode:
        s = json.dumps(_j_obj(v), ensure_ascii=False, indent=2 if indent is not None else None)
        if indent is not None:
            s = s.replace("\n", nl + indent)
        return s
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_flow(x, False)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_flow(x, False) for x in v) + "]"
    return _y_scalar(v)


# --- rewrite -------------------------------------------------------------------------------------------


@dataclass
class _Splices:
    text: str
    items: list[tuple[int, int, str, int]] = field(default_factory=list)

    def add(self, start: int, end: int, new: str) -> None:
        self.items.append((start, end, new, len(self.items)))

    def merged(self) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        for s, e, new, _ in sorted(self.items, key=lambda x: (x[0], x[1], x[3])):
            if out and s < out[-1][1]:
                raise RewriteError("overlapping changes in one template")
            if out and s == out[-1][1]:
                ps, pe, pn = out[-1]
                out[-1] = (ps, e, pn + new)
            else:
                out.append((s, e, new))
        return self._at_unterminated_end(out)

    def _at_unterminated_end(self, out: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """Blocks are inserted as whole lines after ``_line_end``; when the file's last line has no
        newline, that point is the middle of the last line: start the block on a new line instead,
        and keep the file without a final newline."""
        text, nl = self.text, tx.eol(self.text)
        if not out or not text or text.endswith("\n"):
            return out
        s, e, new = out[-1]
        if e != len(text) or not new.endswith(nl):
            return out
        if s == e:
            out[-1] = (s, e, nl + new[: -len(nl)])
        elif s == tx.line_start(text, s):
            out[-1] = (s, e, new[: -len(nl)])
        return out


def _value_expr(mv: Move, json_mode: bool) -> tuple[object, object]:
    """(ValueFrom value, IAM resource) for a move."""
    vf = mv.value_from
    if mv.store == "ssm" and mv.store_name:
        sub = _Sub(_SSM_SUB + mv.store_name.lstrip("/"))
        return sub, sub
    value: object = _Sub(vf) if "${" in vf else vf
    if ":ssm:" in vf:
        return value, value
    arn = vf
    if mv.json_key is not None and arn.endswith(f":{mv.json_key}::"):
        arn = arn[: -len(f":{mv.json_key}::")]
    parts = _arn_fields(arn)
    if len(parts) > 7:
        arn = ":".join(parts[:7])
    if "\ue000" not in arn and not _SM_SUFFIX_RE.search(arn):
        arn += "-??????"
    return value, (_Sub(arn) if "${" in arn else arn)


def _arn_fields(arn: str) -> list[str]:
    """Split an ARN on ``:`` except inside ``${...}`` substitutions."""
    out, cur, depth = [], "", 0
    for ch in arn:
        if ch == ":" and depth == 0:
            out.append(cur)
            cur = ""
            continue
        if ch == "{" and cur.endswith("$"):
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        cur += ch
    out.append(cur)
    return out


def _rewrite_template(src: SourceText, t: _Template, moves: Sequence[Move], options: RewriteOptions) -> FileChange:
    text = src.text
    nl = tx.eol(text)
    sp = _Splices(text)
    by_container, param_drop = _group_moves(src, t, moves)
    grants: dict[str, list[tuple[Move, object]]] = {}
    summary: list[str] = []
    for (lid, _ci), pairs in sorted(by_container.items()):
        c = pairs[0][0].container
        env_moves = [(o, mv) for o, mv in pairs if o.location == LOC_ENVIRONMENT]
        log_moves = [(o, mv) for o, mv in pairs if o.location == LOC_LOG_OPTIONS]
        if env_moves:
            _move_env(text, t, sp, c, env_moves, nl)
        if log_moves:
            _move_log(text, t, sp, c, log_moves, nl)
        for o, mv in pairs:
            grants.setdefault(lid, []).append((mv, _value_expr(mv, t.json_mode)[1]))
            where = "secretOptions" if o.location == LOC_LOG_OPTIONS else "secrets"
            summary.append(f"{o.unit}: {o.name} {o.location} -> {where}")
    granted: list[str] = []
    resources = _get(t.root, "Resources")
    for lid, gl in grants.items():
        props = _get(_get(resources, lid), "Properties")
        assert isinstance(props, MappingNode)
        role = _exec_role(t.root, props)
        if role is None and _get(props, "ExecutionRoleArn") is None:
            if not options.execution_role:
                raise RewriteError(f"task definition {lid} has no ExecutionRoleArn; pass --execution-role")
            _add_pair(text, sp, props, None, "ExecutionRoleArn", options.execution_role, t.json_mode, nl)
        if role is not None:
            _grant(text, t, sp, role, lid, gl, nl)
            granted += [mv.entry.key for mv, _ in gl]
    for p in dict.fromkeys(param_drop):
        _drop_param(sp, t, p)
        summary.append(f"removed parameter {p} (its Default held the value)")
    edits = []
    for s, end, new in sp.merged():
        vals = [(vs, ve, k, enc) for k, (vs, ve, enc) in t.values.items()
                if any(mv.entry.key == k for mv in moves) and s <= vs and ve <= end]
        edits.append(TextEdit(s, end, new, old_template(text, s, end, vals)))
    _verify(src, t, edits, moves)
    return FileChange(path=src.display, edits=tuple(edits), entries=tuple(dict.fromkeys(m.entry.key for m in moves)),
                      summary="; ".join(summary), grants=tuple(dict.fromkeys(granted)))


def _group_moves(src: SourceText, t: _Template, moves: Sequence[Move]
                 ) -> tuple[dict[tuple[str, int], list[tuple[_Occ, Move]]], list[str]]:
    """Moves by (task definition, container index), and the parameters whose Default they empty.
    Raises RewriteError for entries that cannot move and parameters used elsewhere."""
    by_container: dict[tuple[str, int], list[tuple[_Occ, Move]]] = {}
    param_drop: list[str] = []
    for mv in moves:
        key = mv.entry.key
        if key not in t.occ:
            raise RewriteError(f"entry {mv.entry.pointer} not found in {src.display}")
        e = t.entries[key]
        if e.value_kind not in (ValueKind.LITERAL, ValueKind.REFERENCE, ValueKind.EMPTY):
            raise RewriteError(f"{e.unit}/{e.name} is {e.value_kind.value}; it cannot be moved")
        if e.value_kind is ValueKind.LITERAL and not e.restorable:
            raise RewriteError(f"{e.unit}/{e.name} cannot be restored byte-identically; refusing to move it")
        for o in t.occ[key]:
            by_container.setdefault((o.taskdef, o.cindex), []).append((o, mv))
        if key in t.param_of:
            param_drop.append(t.param_of[key])
    for p in param_drop:  # parameters: only removable when nothing else uses them
        if _param_uses(t.root, p) > sum(len(v) for k, v in t.occ.items() if t.param_of.get(k) == p):
            raise RewriteError(f"parameter {p} is used elsewhere in the template; move it by hand")
    return by_container, param_drop


def _drop_param(sp: _Splices, t: _Template, p: str) -> None:
    params = _get(t.root, "Parameters")
    assert isinstance(params, MappingNode)
    if len(params.value) == 1:
        pr = _pair(t.root, "Parameters")
        assert pr is not None
        _delete_pairs(sp.text, sp, t.root, {pr[0]})
    else:
        pr = _pair(params, p)
        assert pr is not None
        _delete_pairs(sp.text, sp, params, {pr[0]})


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


def _move_env(text: str, t: _Template, sp: _Splices, c: MappingNode, moves: list[tuple[_Occ, Move]], nl: str) -> None:
    env_pair = _pair(c, "Environment")
    assert env_pair is not None
    _, env_key, env = env_pair
    assert isinstance(env, SequenceNode)
    drop = {o.index for o, _ in moves}
    names_in_secrets = {_str(_get(s, "Name")) for s in getattr(_get(c, "Secrets"), "value", [])}
    for o, _ in moves:
        if o.name in names_in_secrets:
            raise RewriteError(f"{o.unit}: {o.name} is already in Secrets")
    # each moved item, transformed: Value -> ValueFrom, value -> reference
    def transformed(o: _Occ, mv: Move, s: int, e: int) -> str:
        vp = _pair(o.item, "Value")  # type: ignore[arg-type]
        assert vp is not None
        _, vk, vv = vp
        expr, _ = _value_expr(mv, t.json_mode)
        vtext = _flow(expr, t.json_mode)
        kb = _body(text, vk, t.json_mode)
        parts = [(kb.start, kb.end, "ValueFrom"), (int(vv.start_mark.index), _content_end(vv), vtext)]
        out, pos = [], s
        for a, b, new in parts:
            out += [text[pos:a], new]
            pos = b
        out.append(text[pos:e])
        return "".join(out)

    secrets = _pair(c, "Secrets")
    all_moved = len(drop) == len(env.value)
    if all_moved and secrets is None:
        # rename Environment -> Secrets in place, transform each item where it stands
        kb = _body(text, env_key, t.json_mode)
        sp.add(kb.start, kb.end, "Secrets")
        for o, mv in moves:
            s, e = int(o.item.start_mark.index), _content_end(o.item)
            sp.add(s, e, transformed(o, mv, s, e))
        return
    if _is_flow(env):
        spans = [(int(i.start_mark.index), _content_end(i)) for i in env.value]
        new_items = [transformed(o, mv, *spans[o.index]) for o, mv in moves]
        item_col = None
    else:
        regions = [_block_item_region(text, i) for i in env.value]
        new_items = [transformed(o, mv, *regions[o.index]) for o, mv in moves]
        item_col = tx.column(text, int(env.value[0].start_mark.index)) - 2
    # remove from Environment
    if all_moved:
        ep = _pair(c, "Environment")
        assert ep is not None
        _delete_pairs(text, sp, c, {ep[0]})
    elif _is_flow(env):
        spans = [(int(i.start_mark.index), _content_end(i)) for i in env.value]
        for a, b in _flow_runs(spans, drop, int(env.start_mark.index) + 1, int(env.end_mark.index) - 1):
            sp.add(a, b, "")
    else:
        for idx in sorted(drop):
            a, b = _block_item_region(text, env.value[idx])
            sp.add(a, b, "")
    # add to Secrets
    if secrets is not None:
        _append_items(text, sp, secrets[2], new_items, item_col, t.json_mode, nl)
    else:
        _add_pair_items(sp, c, env_key, env, "Secrets", new_items, item_col, t.json_mode, nl)


def _move_log(text: str, t: _Template, sp: _Splices, c: MappingNode, moves: list[tuple[_Occ, Move]], nl: str) -> None:
    lc = _get(c, "LogConfiguration")
    assert isinstance(lc, MappingNode)
    op = _pair(lc, "Options")
    assert op is not None
    _, okey, opts = op
    assert isinstance(opts, MappingNode)
    drop = {o.index for o, _ in moves}
    if drop == set(range(len(opts.value))):
        _delete_pairs(text, sp, lc, {op[0]})
    else:
        _delete_pairs(text, sp, opts, drop)
    items = [{"Name": o.name, "ValueFrom": _value_expr(mv, t.json_mode)[0]} for o, mv in moves]
    existing = _pair(lc, "SecretOptions")
    if existing is not None:
        _append_objs(text, sp, existing[2], items, t.json_mode, nl)
    else:
        _add_pair(text, sp, lc, op[0] if op[0] < len(lc.value) else None, "SecretOptions", items, t.json_mode, nl)


def _delete_pairs(text: str, sp: _Splices, m: MappingNode, drop: set[int]) -> None:
    if _is_flow(m):
        spans = [(int(k.start_mark.index), _content_end(v)) for k, v in m.value]
        for a, b in _flow_runs(spans, drop, int(m.start_mark.index) + 1, int(m.end_mark.index) - 1):
            sp.add(a, b, "")
        return
    for i in sorted(drop):
        k, v = m.value[i]
        a, b = _block_pair_region(text, k, v)
        sp.add(a, b, "")


def _append_items(text: str, sp: _Splices, seq: Node, items: list[str], item_col: int | None, json_mode: bool,
                  nl: str) -> None:
    """Append pre-rendered item texts (block regions or flow items) to an existing sequence."""
    if not isinstance(seq, SequenceNode):
        raise RewriteError("Secrets is not a list")
    if _is_flow(seq) or item_col is None:
        if item_col is not None:  # block regions into a flow list: strip to bare items
            raise RewriteError("cannot merge block-style items into a flow-style list")
        if not _is_flow(seq) and seq.value:  # flow items (from a flow Environment) into a block list
            last = seq.value[-1]
            col = tx.column(text, int(last.start_mark.index)) - 2
            pos = tx.line_end(text, _content_end(last))
            sp.add(pos, pos, "".join(" " * col + "- " + i + nl for i in items))
            return
        _append_flow(text, sp, seq, items)
        return
    if not seq.value:
        raise RewriteError("empty block list")
    last = seq.value[-1]
    col = tx.column(text, int(last.start_mark.index)) - 2
    sp.add(tx.line_end(text, _content_end(last)), tx.line_end(text, _content_end(last)),
           "".join(_reindent(i, col - item_col) for i in items))


def _append_flow(text: str, sp: _Splices, seq: SequenceNode, items: list[str]) -> None:
    vals = seq.value
    if not vals:
        sp.add(int(seq.start_mark.index) + 1, int(seq.start_mark.index) + 1, ", ".join(items))
        return
    if len(vals) >= 2:
        sep = text[_content_end(vals[-2]):int(vals[-1].start_mark.index)]
    else:
        sep = text[int(seq.start_mark.index) + 1:int(vals[0].start_mark.index)]
        sep = "," + sep if sep.strip() == "" and "\n" in sep else ", "
    end = _content_end(vals[-1])
    sp.add(end, end, "".join(sep + i for i in items))


def _append_objs(text: str, sp: _Splices, seq: Node, objs: list[Any], json_mode: bool, nl: str) -> None:
    if not isinstance(seq, SequenceNode):
        raise RewriteError("SecretOptions is not a list")
    if _is_flow(seq) or not seq.value:
        indent = None
        if seq.value:
            st = int(seq.value[-1].start_mark.index)
            lead = text[tx.line_start(text, st):st]
            indent = lead if lead.strip() == "" else None
        _append_flow(text, sp, seq, [_flow(o, json_mode, indent, nl) for o in objs])
        return
    last = seq.value[-1]
    col = tx.column(text, int(last.start_mark.index)) - 2
    lines = _y_block(objs, col, nl)
    pos = tx.line_end(text, _content_end(last))
    sp.add(pos, pos, "".join(ln + nl for ln in lines))


def _add_pair_items(sp: _Splices, m: MappingNode, after_key: Node, after_val: Node, key: str,
                    items: list[str], item_col: int | None, json_mode: bool, nl: str) -> None:
    """Insert ``key: [items]`` after the pair (after_key, after_val), items pre-rendered."""
    text = sp.text
    if _is_flow(m) or _is_flow(after_val):
        flow = isinstance(after_val, SequenceNode) and _is_flow(after_val)
        if not flow:
            raise RewriteError("unsupported layout")
        vals = after_val.value
        open_ws = text[int(after_val.start_mark.index) + 1:int(vals[0].start_mark.index)] if vals else ""
        close_ws = text[_content_end(vals[-1]):int(after_val.end_mark.index) - 1] if vals else ""
        sep = text[_content_end(vals[0]):int(vals[1].start_mark.index)] if len(vals) > 1 else ("," + open_ws if "\n" in open_ws else ", ")
        arr = "[" + open_ws + sep.join(items) + close_ws + "]"
        qk = _quoted_key(text, after_key, key, json_mode)
        if _is_flow(m):
            end = _content_end(after_val)
            sp.add(end, end, _pair_sep(text, m, after_key) + qk + ": " + arr)
        else:
            pos = tx.line_end(text, _content_end(after_val))
            sp.add(pos, pos, " " * tx.column(text, int(after_key.start_mark.index)) + qk + ": " + arr + nl)
        return
    assert item_col is not None
    pos = tx.line_end(text, _content_end(after_val))
    kcol = tx.column(text, int(after_key.start_mark.index))
    sp.add(pos, pos, " " * kcol + _quoted_key(text, after_key, key, json_mode) + ":" + nl + "".join(items))


def _quoted_key(text: str, like: Node, key: str, json_mode: bool) -> str:
    if json_mode:
        return json.dumps(key)
    q = getattr(like, "style", None)
    return f"{q}{key}{q}" if q in ('"', "'") else key


def _pair_sep(text: str, m: MappingNode, near: Node) -> str:
    """Separator text between two pairs of a flow mapping (e.g. ``,\\n    ``)."""
    if len(m.value) >= 2:
        k1, v0 = m.value[1][0], m.value[0][1]
        return text[_content_end(v0):int(k1.start_mark.index)]
    return ", "


def _add_pair(text: str, sp: _Splices, m: MappingNode, after_index: int | None, key: str, value: object,
              json_mode: bool, nl: str) -> None:
    """Insert a new ``key: value`` (value is a python structure) after pair ``after_index`` (or last)."""
    i = len(m.value) - 1 if after_index is None else after_index
    ak, av = m.value[i]
    if _is_flow(m):
        sep = _pair_sep(text, m, ak)
        indent = sep.split("\n")[-1] if "\n" in sep else None
        end = _content_end(av)
        sp.add(end, end, sep + _quoted_key(text, ak, key, json_mode) + ": " + _flow(value, json_mode, indent, nl))
        return
    kcol = tx.column(text, int(ak.start_mark.index))
    pos = tx.line_end(text, _content_end(av))
    if isinstance(value, (dict, list)):
        body = nl.join(_y_block(value, kcol + 2, nl)) + nl
        sp.add(pos, pos, " " * kcol + f"{key}:" + nl + body)
    else:
        sp.add(pos, pos, " " * kcol + f"{key}: {_y_scalar(value)}" + nl)


def _exec_role(root: MappingNode, props: MappingNode) -> MappingNode | None:
    v = _get(props, "ExecutionRoleArn")
    if v is None:
        return None
    name: str | None = None
    if isinstance(v, ScalarNode) and _tag(v) == "!GetAtt":
        name = str(v.value).split(".")[0]
    elif isinstance(v, ScalarNode) and _tag(v) == "!Ref":
        name = str(v.value)
    elif isinstance(v, SequenceNode) and _tag(v) == "!GetAtt" and v.value:
        name = _str(v.value[0])
    elif isinstance(v, MappingNode) and len(v.value) == 1:
        fn, arg = _str(v.value[0][0]), v.value[0][1]
        if fn == "Ref":
            name = _str(arg)
        elif fn == "Fn::GetAtt":
            dotted = _str(arg)
            name = dotted.split(".")[0] if dotted else (
                _str(arg.value[0]) if isinstance(arg, SequenceNode) and arg.value else None)
    if not name:
        return None
    res = _get(_get(root, "Resources"), name)
    if isinstance(res, MappingNode) and _str(_get(res, "Type")) == _ROLE:
        return res
    return None


def _grant(text: str, t: _Template, sp: _Splices, role: MappingNode, lid: str, gl: list[tuple[Move, object]],
           nl: str) -> None:
    ssm = [r for mv, r in gl if mv.store == "ssm" or ":ssm:" in mv.value_from]
    sm = [r for mv, r in gl if not (mv.store == "ssm" or ":ssm:" in mv.value_from)]
    stmts: list[dict[str, object]] = []
    if ssm:
        stmts.append({"Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": _uniq(ssm)})
    if sm:
        stmts.append({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": _uniq(sm)})
    existing = {_str(_get(p, "PolicyName")) for p in getattr(_get(_get(role, "Properties"), "Policies"), "value", [])}
    pname, n = f"secrets-migrate-{lid}", 2
    while pname in existing:
        pname, n = f"secrets-migrate-{lid}-{n}", n + 1
    policy = {"PolicyName": pname, "PolicyDocument": {"Version": "2012-10-17", "Statement": stmts}}
    props = _get(role, "Properties")
    if not isinstance(props, MappingNode) or not props.value:
        raise RewriteError("execution role has no Properties mapping")
    pols = _pair(props, "Policies")
    if pols is None:
        _add_pair(text, sp, props, None, "Policies", [policy], t.json_mode, nl)
    else:
        _append_objs(text, sp, pols[2], [policy], t.json_mode, nl)


def _uniq(xs: list[object]) -> list[object]:
    out: list[object] = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


def _verify(src: SourceText, before: _Template, edits: list[TextEdit], moves: Sequence[Move]) -> None:
    """Re-parse the result and check that each moved item left Environment/Options for Secrets."""
    new = apply_edits(src.text, edits, ref=lambda _a: PREVIEW_ARN)
    try:
        after = _build(new, src.display)
    except InputError:
        raise RewriteError(f"{src.display}: the rewritten template does not parse") from None
    resources = _get(after.root, "Resources")
    for mv in moves:
        for o in before.occ[mv.entry.key]:
            props = _get(_get(resources, o.taskdef), "Properties")
            cds = _get(props, "ContainerDefinitions")
            c = cds.value[o.cindex] if isinstance(cds, SequenceNode) and len(cds.value) > o.cindex else None
            if o.location == LOC_ENVIRONMENT:
                gone = o.name not in [_str(_get(i, "Name")) for i in getattr(_get(c, "Environment"), "value", [])]
                there = [_str(_get(i, "Name")) for i in getattr(_get(c, "Secrets"), "value", [])].count(o.name) == 1
            else:
                lc = _get(c, "LogConfiguration")
                gone = _get(_get(lc, "Options"), o.name) is None
                there = [_str(_get(i, "Name")) for i in getattr(_get(lc, "SecretOptions"), "value", [])].count(o.name) == 1
            if not (gone and there):
                raise RewriteError(f"{src.display}: rewrite of {o.unit}/{o.name} did not re-parse as intended")


# --- the Source ----------------------------------------------------------------------------------------


class CloudFormationSource(SourceBase):
    kind: ClassVar[str] = KIND

    def sniff(self, path: Path, text: str) -> bool:
        if path.suffix.lower() not in (".yaml", ".yml", ".json", ".template", ".cfn", ""):
            return False
        if "AWSTemplateFormatVersion" in text:
            return True
        return "Resources" in text and _TASKDEF in text

    def parse(self, src: SourceText, *, root: Path | None = None) -> LoadedFile:
        t = _build(src.text, src.display)
        units = tuple(dict.fromkeys(o.unit for occs in t.occ.values() for o in occs))
        return LoadedFile(source=src, kind=KIND, entries=tuple(t.entries.values()), units=units,
                          group=Path(src.display).stem, data=t)

    def splice(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        if not moves:
            return []
        t = loaded.data if isinstance(loaded.data, _Template) else _build(loaded.source.text, loaded.path)
        change = _rewrite_template(loaded.source, t, moves, options)
        return [change] if change.edits else []


SOURCE = CloudFormationSource()


def iter_entries(src: SourceText) -> Iterator[Entry]:
    """Convenience for tests and tools: the entries of one template."""
    yield from SOURCE.load(src).entries
