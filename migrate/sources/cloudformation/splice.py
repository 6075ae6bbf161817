"""CloudFormation rewrite: Environment/Options to Secrets/SecretOptions, grants, parameters, checks."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrate.errors import InputError, RewriteError
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, ValueKind
from migrate.rewrite import text as tx
from migrate.rewrite.edits import PREVIEW_ARN, TextEdit, apply_edits
from migrate.sources.base import FileChange, Move, RewriteOptions, SourceText
from migrate.sources.cloudformation.edits import (
    _add_pair,
    _add_pair_items,
    _append_items,
    _append_objs,
    _delete_pairs,
    _uniq,
)
from migrate.sources.cloudformation.layout import (
    _block_item_region,
    _comment_lines_above,
    _flow,
    _flow_runs,
    _Splices,
    _Sub,
)
from migrate.sources.cloudformation.nodes import (
    _ROLE,
    _SM_SUFFIX_RE,
    _SSM_SUB,
    _body,
    _content_end,
    _get,
    _is_flow,
    _Occ,
    _pair,
    _str,
    _tag,
    _Template,
)
from migrate.sources.cloudformation.parse import _build, _env_items, _if_args, _param_uses, plain_list


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
        summary.append(f"removed the Default of parameter {p} (it held the value; the parameter stays declared)")
    edits = []
    for s, end, new in sp.merged():
        edits.append(TextEdit(s, end, new, text[s:end]))  # old: the base rebuilds it with value tokens
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
    """Drop the parameter's Default (the plaintext) and keep its declaration, so deploy pipelines
    that pass the parameter keep working."""
    param = _get(_get(t.root, "Parameters"), p)
    if not isinstance(param, MappingNode):
        raise RewriteError(f"parameter {p} is not a mapping; move it by hand")
    pr = _pair(param, "Default")
    assert pr is not None
    if len(param.value) == 1:
        raise RewriteError(f"parameter {p} has nothing but its Default; move it by hand")
    _delete_pairs(sp.text, sp, param, {pr[0]})


def _move_env(text: str, t: _Template, sp: _Splices, c: MappingNode, moves: list[tuple[_Occ, Move]], nl: str) -> None:
    env_pair = _pair(c, "Environment")
    assert env_pair is not None
    env_index, env_key, env = env_pair
    drop = {o.index for o, _ in moves}
    if not plain_list(_get(c, "Secrets")):
        raise RewriteError(f"{moves[0][0].unit}: Secrets is a condition (Fn::If) or not a list; move by hand")
    names_in_secrets = set(_names(_get(c, "Secrets")))
    for o, _ in moves:
        if o.name in names_in_secrets:
            raise RewriteError(f"{o.unit}: {o.name} is already in Secrets")
    args = _if_args(env)
    if args is not None:
        _move_env_if(text, t, sp, c, (env_index, env_key, env), args, moves, nl)
        return
    assert isinstance(env, SequenceNode)
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


def _move_env_if(text: str, t: _Template, sp: _Splices, c: MappingNode, env_pair: tuple[int, Node, Node],
                 args: list[Node], moves: list[tuple[_Occ, Move]], nl: str) -> None:
    """``Environment: !If [C, [...], [...]]``: each moved item leaves its branch list and becomes a Secrets
    item guarded by the same condition, ``!If [C, {Name, ValueFrom}, !Ref AWS::NoValue]`` (the mirror for
    the second branch): the secret is set exactly when the variable was. Only a plain condition name."""
    cond = _str(args[0])
    if cond is None:
        raise RewriteError(f"{moves[0][0].unit}: the Environment condition is not a condition name; move by hand")
    drops: dict[int, set[int]] = {}
    items: list[str] = []
    for o, mv in moves:
        where = [(b, i) for b in (1, 2) if isinstance(args[b], SequenceNode)
                 for i, it in enumerate(args[b].value) if it is o.item]
        if len(where) != 1:
            raise RewriteError(f"{o.unit}: {o.name} is not an item of a branch of the Environment condition")
        b, i = where[0]
        drops.setdefault(b, set()).add(i)
        guarded: list[object] = [cond, {"Name": o.name, "ValueFrom": _value_expr(mv, t.json_mode)[0]}, _NO_VALUE]
        if b == 2:
            guarded[1], guarded[2] = guarded[2], guarded[1]
        items.append(_flow({"Fn::If": guarded}, True) if t.json_mode else _short_if(guarded))
    for b, drop in drops.items():
        seq = args[b]
        assert isinstance(seq, SequenceNode)
        _drop_branch_items(text, sp, seq, drop)
    secrets = _pair(c, "Secrets")
    if secrets is not None:
        _append_items(text, sp, secrets[2], items, None, t.json_mode, nl)
        return
    env_index, env_key, env = env_pair
    if t.json_mode or _is_flow(c):
        objs = [json.loads(i) for i in items] if t.json_mode else None
        if objs is None:
            raise RewriteError("unsupported layout: a flow-style container with a conditional Environment")
        _add_pair(text, sp, c, env_index, "Secrets", objs, t.json_mode, nl)
        return
    kcol = tx.column(text, int(env_key.start_mark.index))
    pos = tx.line_end(text, _content_end(env))
    sp.add(pos, pos, " " * kcol + "Secrets:" + nl + "".join(" " * (kcol + 2) + "- " + i + nl for i in items))


_NO_VALUE = {"Ref": "AWS::NoValue"}


def _short_if(guarded: list[object]) -> str:
    """``!If [C, {Name: N, ValueFrom: V}, !Ref AWS::NoValue]`` (YAML flow, short tags as templates write them)."""
    return "!If [" + ", ".join("!Ref AWS::NoValue" if g == _NO_VALUE else _flow(g, False) for g in guarded) + "]"


def _drop_branch_items(text: str, sp: _Splices, seq: SequenceNode, drop: set[int]) -> None:
    """Remove items ``drop`` from a branch list of a condition: flow (``[...]``, JSON) or block, where
    the first item may share its line with the condition's own ``- `` (``- - Name: A``)."""
    vals = seq.value
    if _is_flow(seq):
        spans = [(int(i.start_mark.index), _content_end(i)) for i in vals]
        for a, b in _flow_runs(spans, drop, int(seq.start_mark.index) + 1, int(seq.end_mark.index) - 1):
            sp.add(a, b, "")
        return
    keep = [i for i in range(len(vals)) if i not in drop]
    if not keep:  # the branch becomes an empty list
        sp.add(int(seq.start_mark.index), _content_end(seq), "[]")
        return
    first = int(vals[0].start_mark.index)
    inline = text[tx.line_start(text, first):first].strip() != "-"
    for i in sorted(drop):
        if i < keep[0] and inline:
            continue
        a, b = _block_item_region(text, vals[i])
        if text[tx.line_start(text, int(vals[i].start_mark.index)):int(vals[i].start_mark.index)].strip() != "-":
            raise RewriteError("sequence item layout not recognised")
        sp.add(a, b, "")
    if keep[0] > 0 and inline:  # cut the leading run up to the first kept item's text: it takes the line
        k = int(vals[keep[0]].start_mark.index)
        if _comment_lines_above(text, k) != tx.line_start(text, k):
            raise RewriteError("a comment above a kept item of the condition; move by hand")
        sp.add(first, k, "")


def _move_log(text: str, t: _Template, sp: _Splices, c: MappingNode, moves: list[tuple[_Occ, Move]], nl: str) -> None:
    lc = _get(c, "LogConfiguration")
    assert isinstance(lc, MappingNode)
    op = _pair(lc, "Options")
    assert op is not None
    _, okey, opts = op
    assert isinstance(opts, MappingNode)
    drop = {o.index for o, _ in moves}
    if not plain_list(_get(lc, "SecretOptions")):
        raise RewriteError(f"{moves[0][0].unit}: SecretOptions is a condition (Fn::If) or not a list; move by hand")
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


def _verify(src: SourceText, before: _Template, edits: list[TextEdit], moves: Sequence[Move]) -> None:
    """Re-parse the result and check that each moved item left Environment/Options for Secrets: gone
    from its list (from its branch, for ``Environment: !If``), and in Secrets once (twice for a name
    moved out of both branches of one condition: the two guarded items never hold together)."""
    new = apply_edits(src.text, edits, ref=lambda _a: PREVIEW_ARN)
    try:
        after = _build(new, src.display)
    except InputError:
        raise RewriteError(f"{src.display}: the rewritten template does not parse") from None
    resources = _get(after.root, "Resources")
    branches: dict[tuple[str, int, str, str], list[int]] = {}
    for mv in moves:
        for o in before.occ[mv.entry.key]:
            branches.setdefault((o.taskdef, o.cindex, o.location, o.name), []).append(
                _branch(o) if o.location == LOC_ENVIRONMENT else 0)
    for (lid, ci, location, name), bs in branches.items():
        if len(bs) > 1 and sorted(bs) != [1, 2]:
            raise RewriteError(f"{src.display}: {name} is moved twice in one container")
        cds = _get(_get(_get(resources, lid), "Properties"), "ContainerDefinitions")
        c = cds.value[ci] if isinstance(cds, SequenceNode) and len(cds.value) > ci else None
        if location == LOC_ENVIRONMENT:
            env = _get(c, "Environment")
            args = _if_args(env)
            gone = all(name not in _names(args[b] if b and args is not None else env) for b in bs)
            there = _names(_get(c, "Secrets")).count(name) == len(bs)
        else:
            lc = _get(c, "LogConfiguration")
            gone = _get(_get(lc, "Options"), name) is None
            there = [_str(_get(i, "Name")) for i in getattr(_get(lc, "SecretOptions"), "value", [])].count(name) == 1
        if not (gone and there):
            raise RewriteError(f"{src.display}: rewrite of {name} did not re-parse as intended")


def _branch(o: _Occ) -> int:
    """1 or 2: the branch of ``Environment: !If [C, [...], [...]]`` holding the item; 0 for any other item."""
    args = _if_args(_get(o.container, "Environment"))
    if args is None:
        return 0
    for b in (1, 2):
        if isinstance(args[b], SequenceNode) and any(it is o.item for it in args[b].value):
            return b
    return 0


def _names(seq: Node | None) -> list[str | None]:
    """Names of an Environment/Secrets list's items, those under ``Fn::If`` included (both branches)."""
    return [_str(_get(i, "Name")) for _ei, i, _p, _c in _env_items(seq, "", False)]
