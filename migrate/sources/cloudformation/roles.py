"""The execution role each CloudFormation task definition names, resolved as far as the template
allows (``ExecutionRoleRef``)."""

from __future__ import annotations

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrate.sources.base import ExecutionRoleRef, RoleKind
from migrate.sources.cloudformation.nodes import _ROLE, _get, _str, _tag


def _intrinsic(v: Node) -> tuple[str, Node] | None:
    """(function, argument) of a short-form tag (``!GetAtt x``) or a one-key ``Fn::``/``Ref`` map."""
    tag = _tag(v)
    if tag.startswith("!"):
        fn = tag[1:]
        return ("Ref" if fn == "Ref" else f"Fn::{fn}"), v
    if isinstance(v, MappingNode) and len(v.value) == 1:
        k = _str(v.value[0][0])
        if k == "Ref" or (k or "").startswith("Fn::"):
            return str(k), v.value[0][1]
    return None


def _scalar(n: Node) -> str | None:
    return str(n.value) if isinstance(n, ScalarNode) else None


def _getatt_target(arg: Node) -> tuple[str, str] | None:
    if isinstance(arg, ScalarNode):
        name, _, attr = str(arg.value).partition(".")
        return name, attr
    if isinstance(arg, SequenceNode) and len(arg.value) == 2:
        a, b = arg.value
        if isinstance(a, ScalarNode) and isinstance(b, ScalarNode):
            return str(a.value), str(b.value)
    return None


def role_ref(root: MappingNode, display: str, props: Node | None) -> ExecutionRoleRef:
    """How the task definition with Properties ``props`` names its execution role."""
    v = _get(props, "ExecutionRoleArn")
    if v is None:
        return ExecutionRoleRef(kind=RoleKind.NONE, reason="the task definition has no ExecutionRoleArn")
    lit = _str(v)
    if lit is not None:
        return _literal(lit, "literal")
    fn = _intrinsic(v)
    if fn is None:
        return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression="expression", reason="not an intrinsic function")
    name, arg = fn
    if name in ("Fn::GetAtt", "Ref"):
        return _target_ref(root, display, name, arg)
    if name == "Fn::ImportValue":
        return ExecutionRoleRef(kind=RoleKind.IMPORTED, expression=f"!ImportValue {_scalar(arg) or '(expression)'}",
                                reason="the role is exported by another stack")
    if name == "Fn::Sub":
        tmpl = _scalar(arg)
        if tmpl is not None and "${" not in tmpl:
            return _literal(tmpl, "!Sub")
        return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression=f"!Sub {tmpl}" if tmpl else "!Sub",
                                reason="the ARN is substituted at deploy time")
    return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression=name, reason="an intrinsic function")


def _literal(arn: str, expr: str) -> ExecutionRoleRef:
    if arn.startswith("arn:"):
        return ExecutionRoleRef(kind=RoleKind.LITERAL_ARN, arn=arn, expression=expr)
    return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression=expr, reason="not an ARN")


def _target_ref(root: MappingNode, display: str, name: str, arg: Node) -> ExecutionRoleRef:
    """``!GetAtt X.Arn`` / ``!Ref X``: a role resource of the template, or a parameter's Default."""
    if name == "Ref":
        target = _scalar(arg) or ""
    else:
        got = _getatt_target(arg)
        target = got[0] if got and got[1] == "Arn" else ""
    expr = f"!GetAtt {target}.Arn" if name == "Fn::GetAtt" else f"!Ref {target}"
    if not target:
        return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression=name, reason="not a role's Arn")
    res = _get(_get(root, "Resources"), target)
    if isinstance(res, MappingNode) and _str(_get(res, "Type")) == _ROLE:
        return ExecutionRoleRef(kind=RoleKind.SAME_TEMPLATE, file=display, logical_id=target, expression=expr,
                                grants_in_source=True)
    param = _get(_get(root, "Parameters"), target) if name == "Ref" else None
    if param is not None:
        d = _str(_get(param, "Default"))
        if d:
            return _literal(d, expr)
        return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression=expr,
                                reason=f"parameter {target} is given at deploy time")
    return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression=expr,
                            reason=f"{target} is not an AWS::IAM::Role of this template")
