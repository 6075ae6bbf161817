"""LibCST codemods for AWS CDK (Python) apps: move ``environment=`` entries to ``secrets=``.

Sites (calls that hold an env dict or log options):
  * ``<x>.add_container("id", environment={...})``
  * ``ecs.ContainerDefinition(scope, "id", environment={...})``
  * ``ecs_patterns.*TaskImageOptions(environment={...})`` (container name ``container_name=`` or "web")
  * ``ecs.LogDrivers.<driver>(options={...})`` / ``ecs.*LogDriver(options={...})`` -> ``secret_options=``

Data flow the codemod also rewrites (the scanner decides when it is safe):
  * ``c.add_environment("NAME", "literal")`` -> ``c.add_secret("NAME", <secret>)``
  * ``env = {...}`` assigned once and passed once as ``environment=env``: the key leaves the dict
    literal and joins that call's ``secrets=``

Sites are identified by visit order inside (class, function) scopes, so the scanner and the
codemod agree on ids without sharing node identities (codemods copy the tree).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.codemod.visitors import AddImportsVisitor

from migrate.errors import RewriteError

ENV_KW = "environment"
SECRETS_KW = "secrets"
OPTIONS_KW = "options"
SECRET_OPTIONS_KW = "secret_options"
_LOG_DRIVER_FNS = {"firelens", "aws_logs", "splunk", "fluentd", "gelf", "journald", "json_file", "syslog",
                   "generic", "none"}
_SECRET_OPTION_DRIVERS = {"firelens", "FireLensLogDriver", "GenericLogDriver", "generic"}
DEFAULT_ALIASES = {"aws_ecs": "ecs", "aws_ssm": "ssm", "aws_secretsmanager": "secretsmanager"}


@dataclass(frozen=True)
class Site:
    """One call that carries an env dict or log options."""

    pointer: str  #: "/<Class>/<func>/<kind>:<unit>" (+ "#n" when repeated)
    kind: str  #: "add_container" | "ContainerDefinition" | "TaskImageOptions" | "log:<driver>"
    unit: str
    src_kw: str  #: environment | options
    dst_kw: str  #: secrets | secret_options
    scope_name: str | None  #: first parameter of the enclosing function (usually ``self``)


def _func_name(func: cst.BaseExpression) -> tuple[str, str]:
    """(attribute or name, the dotted value it hangs off) of a call target."""
    if isinstance(func, cst.Attribute):
        return func.attr.value, _dotted(func.value)
    if isinstance(func, cst.Name):
        return func.value, ""
    return "", ""


def _dotted(e: cst.BaseExpression) -> str:
    if isinstance(e, cst.Name):
        return e.value
    if isinstance(e, cst.Attribute):
        return _dotted(e.value) + "." + e.attr.value
    return ""


def _kw(call: cst.Call, name: str) -> cst.Arg | None:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a
    return None


def _str_arg(a: cst.Arg | None) -> str | None:
    if a is not None and isinstance(a.value, cst.SimpleString):
        v = a.value.evaluated_value
        return v if isinstance(v, str) else None
    return None


def classify_call(call: cst.Call, enclosing: Site | None) -> tuple[str, str, str, str] | None:
    """(kind, unit, src_kw, dst_kw) when ``call`` is a site, else None."""
    name, base = _func_name(call.func)
    pos = [a for a in call.args if a.keyword is None]
    if name in ("add_container", "add_firelens_log_router") and _kw(call, ENV_KW) is not None:
        unit = _str_arg(pos[0] if pos else None) or _str_arg(_kw(call, "id")) or "container"
        return name, unit, ENV_KW, SECRETS_KW
    if name == "ContainerDefinition" and _kw(call, ENV_KW) is not None:
        unit = _str_arg(pos[1] if len(pos) > 1 else None) or _str_arg(_kw(call, "id")) or "container"
        return "ContainerDefinition", unit, ENV_KW, SECRETS_KW
    if name.endswith("TaskImageOptions") and _kw(call, ENV_KW) is not None:
        return "TaskImageOptions", _str_arg(_kw(call, "container_name")) or "web", ENV_KW, SECRETS_KW
    is_log = (name in _LOG_DRIVER_FNS and base.endswith("LogDrivers")) or name.endswith("LogDriver")
    if is_log and _kw(call, OPTIONS_KW) is not None:
        return f"log:{name}", enclosing.unit if enclosing else "logging", OPTIONS_KW, SECRET_OPTIONS_KW
    return None


class SiteTracker:
    """Mixin: scope and call-site bookkeeping shared by the scanner and the codemod."""

    def _init_tracker(self) -> None:
        self._scopes: list[str] = []
        self._params: list[str | None] = []
        self._calls: list[Site | None] = []
        self._env_calls: list[str | None] = []  #: add_environment pointer of each open call
        self._seen: dict[str, int] = {}

    def _prefix(self) -> str:
        return "/" + "/".join(self._scopes) if self._scopes else ""

    def _numbered(self, base: str) -> str:
        n = self._seen.get(base, 0) + 1
        self._seen[base] = n
        return base if n == 1 else f"{base}#{n}"

    def _var_site(self, node: cst.Assign) -> str | None:
        """Pointer of ``name = {...}`` (one Name target, a dict literal), in visit order."""
        if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name) \
                or not isinstance(node.value, cst.Dict):
            return None
        return self._numbered(f"{self._prefix()}/var:{node.targets[0].target.value}")

    def _add_env_site(self, call: cst.Call) -> str | None:
        """Pointer of ``<name>.add_environment("NAME", value)`` (two positional arguments)."""
        f = call.func
        if not isinstance(f, cst.Attribute) or f.attr.value != "add_environment" or not isinstance(f.value, cst.Name):
            return None
        if len(call.args) != 2 or any(a.keyword is not None or a.star for a in call.args):
            return None
        name = _str_arg(call.args[0])
        if name is None:
            return None
        return self._numbered(f"{self._prefix()}/add_environment:{f.value.value}:{name}")

    def _push_class(self, node: cst.ClassDef) -> None:
        self._scopes.append(node.name.value)

    def _push_func(self, node: cst.FunctionDef) -> None:
        self._scopes.append(node.name.value)
        ps = node.params.params
        self._params.append(ps[0].name.value if ps else None)

    def _pop_scope(self, is_func: bool) -> None:
        self._scopes.pop()
        if is_func:
            self._params.pop()

    def _enter_call(self, call: cst.Call) -> Site | None:
        self._env_calls.append(self._add_env_site(call))
        enclosing = next((s for s in reversed(self._calls) if s is not None and not s.kind.startswith("log:")), None)
        c = classify_call(call, enclosing)
        site = None
        if c is not None:
            kind, unit, src_kw, dst_kw = c
            prefix = (enclosing.pointer + "/logging") if (kind.startswith("log:") and enclosing) else self._prefix()
            base = f"{prefix}/{kind}:{unit}" if not kind.startswith("log:") or not enclosing else f"{prefix}:{kind[4:]}"
            site = Site(self._numbered(base), kind, unit, src_kw, dst_kw, self._params[-1] if self._params else None)
        self._calls.append(site)
        return site

    def _leave_call(self) -> Site | None:
        self._env_calls.pop()
        return self._calls.pop()


# --- comment-preserving dict split (see shared/reference/probe.md §3.2) ------------------------------


@dataclass
class Item:
    leading: Sequence[cst.EmptyLine]  #: own-line comments above the element
    element: cst.DictElement  #: comma stripped
    trailing: cst.TrailingWhitespace | None  #: inline comment after the element


@dataclass
class Exploded:
    items: list[Item]
    elem_last_line: cst.SimpleWhitespace
    indent: bool
    close_leading: Sequence[cst.EmptyLine]
    close_last: cst.SimpleWhitespace
    multiline: bool


def explode(d: cst.Dict) -> Exploded:
    els = [e for e in d.elements if isinstance(e, cst.DictElement)]
    if len(els) != len(d.elements):
        raise RewriteError("dict with ** unpacking")
    open_ws = d.lbrace.whitespace_after
    items: list[Item] = []
    if not isinstance(open_ws, cst.ParenthesizedWhitespace):
        items = [Item((), e.with_changes(comma=cst.MaybeSentinel.DEFAULT), None) for e in els]
        return Exploded(items, cst.SimpleWhitespace(""), True, (), cst.SimpleWhitespace(""), False)
    prev_after: cst.ParenthesizedWhitespace | None = open_ws
    for i, e in enumerate(els):
        after = e.comma.whitespace_after if isinstance(e.comma, cst.Comma) else None
        if not isinstance(after, cst.ParenthesizedWhitespace):
            after = None
        if after is None and i == len(els) - 1 and isinstance(d.rbrace.whitespace_before, cst.ParenthesizedWhitespace):
            after = d.rbrace.whitespace_before
        items.append(Item(prev_after.empty_lines if prev_after else (),
                          e.with_changes(comma=cst.MaybeSentinel.DEFAULT),
                          after.first_line if after else None))
        prev_after = after
    return Exploded(items, open_ws.last_line, open_ws.indent,
                    prev_after.empty_lines if prev_after else (),
                    prev_after.last_line if prev_after else cst.SimpleWhitespace(""), True)


def implode(template: cst.Dict, x: Exploded, items: list[Item]) -> cst.Dict:
    if not items:
        return template.with_changes(elements=[], lbrace=cst.LeftCurlyBrace(), rbrace=cst.RightCurlyBrace())
    if not x.multiline:
        els = [it.element.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
               if i < len(items) - 1 else it.element for i, it in enumerate(items)]
        return template.with_changes(elements=els)
    new = [it.element.with_changes(comma=cst.Comma(whitespace_after=cst.ParenthesizedWhitespace(
        first_line=it.trailing or cst.TrailingWhitespace(),
        empty_lines=x.close_leading if i == len(items) - 1 else items[i + 1].leading,
        indent=x.indent, last_line=x.close_last if i == len(items) - 1 else x.elem_last_line)))
        for i, it in enumerate(items)]
    return template.with_changes(
        elements=new, rbrace=cst.RightCurlyBrace(whitespace_before=cst.SimpleWhitespace("")),
        lbrace=cst.LeftCurlyBrace(whitespace_after=cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(), empty_lines=items[0].leading, indent=x.indent,
            last_line=x.elem_last_line)))


def key_of(e: cst.DictElement) -> str | None:
    if isinstance(e.key, cst.SimpleString):
        v = e.key.evaluated_value
        return v if isinstance(v, str) else None
    return None


# --- the codemod ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretSpec:
    """How one moved entry is referenced: ``build(ecs, ssm, sm, scope) -> expression source``."""

    name: str
    construct_id: str
    build: Callable[[dict[str, str], str], str]
    modules: tuple[str, ...]  #: aws_cdk submodules the expression needs (aws_ssm / aws_secretsmanager)
    from_var: str | None = None  #: the ``name = {...}`` (var site pointer) that holds it, passed as environment=name


@dataclass
class CodemodResult:
    moved: list[tuple[str, str]] = field(default_factory=list)  #: (site pointer, name)


class MoveToSecretsCommand(SiteTracker, VisitorBasedCodemodCommand):
    DESCRIPTION = "Move literal environment=/options= entries of ECS containers to secrets=/secret_options=."

    def __init__(self, context: CodemodContext, moves: dict[str, list[SecretSpec]]) -> None:
        super().__init__(context)
        self._init_tracker()
        self.moves = moves  #: site pointer -> entries to move there
        self.result = CodemodResult()
        self.aliases: dict[str, str] = {}
        self._imports_added: set[str] = set()
        self.var_moves: dict[str, set[str]] = {}  #: var site pointer -> names that leave its dict
        for specs in moves.values():
            for s in specs:
                if s.from_var is not None:
                    self.var_moves.setdefault(s.from_var, set()).add(s.name)
        self._assigns: list[str | None] = []
        #: (var site, name) -> (item cut out of the dict, that dict's element indentation)
        self._taken: dict[tuple[str, str], tuple[Item, str]] = {}

    # imports: discover existing aliases
    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.module is not None and _dotted(node.module) == "aws_cdk" and not isinstance(node.names, cst.ImportStar):
            for a in node.names:
                name = _dotted(a.name)
                alias = a.asname.name.value if a.asname and isinstance(a.asname.name, cst.Name) else name
                self.aliases.setdefault(name, alias)

    def visit_Import(self, node: cst.Import) -> None:
        for a in node.names:
            full = _dotted(a.name)
            if full.startswith("aws_cdk.") and a.asname and isinstance(a.asname.name, cst.Name):
                self.aliases.setdefault(full.split(".", 1)[1], a.asname.name.value)

    def _alias(self, module: str) -> str:
        if module in self.aliases:
            return self.aliases[module]
        alias = DEFAULT_ALIASES[module]
        if module not in self._imports_added:
            AddImportsVisitor.add_needed_import(self.context, "aws_cdk", module, asname=alias)
            self._imports_added.add(module)
        return alias

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._push_class(node)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self._pop_scope(False)
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._push_func(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self._pop_scope(True)
        return updated_node

    def visit_Assign(self, node: cst.Assign) -> None:
        self._assigns.append(self._var_site(node))

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        ptr = self._assigns.pop()
        if ptr is None or ptr not in self.var_moves:
            return updated_node
        d = updated_node.value
        assert isinstance(d, cst.Dict)  # _var_site only names dict literals
        names = self.var_moves[ptr]
        x = explode(d)
        keep: list[Item] = []
        for it in x.items:
            k = key_of(it.element)
            if k is not None and k in names and (ptr, k) not in self._taken:
                self._taken[(ptr, k)] = (it, x.elem_last_line.value)
            else:
                keep.append(it)
        if len(x.items) - len(keep) != len(names):
            raise RewriteError(f"{ptr}: some entries to move were not found")
        return updated_node.with_changes(value=implode(d, x, keep))

    def visit_Call(self, node: cst.Call) -> None:
        self._enter_call(node)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        env_ptr = self._env_calls[-1]
        site = self._leave_call()
        if site is None and env_ptr is not None and env_ptr in self.moves:
            return self._to_add_secret(updated_node, env_ptr, self.moves[env_ptr])
        if site is None or site.pointer not in self.moves:
            return updated_node
        specs = self.moves[site.pointer]
        if site.kind.startswith("log:") and site.kind[4:] not in _SECRET_OPTION_DRIVERS:
            raise RewriteError(f"{site.pointer}: log driver {site.kind[4:]} has no secret_options")
        if site.scope_name is None:
            raise RewriteError(f"{site.pointer}: not inside a method; no construct scope for the secret")
        ali = {m: self._alias(m) for m in {"aws_ecs", *[mod for s in specs for mod in s.modules]}}
        if any(s.from_var is not None for s in specs):
            return self._from_var(updated_node, site, specs, ali)
        return self._split(updated_node, site, specs, ali)

    def _to_add_secret(self, call: cst.Call, ptr: str, specs: list[SecretSpec]) -> cst.Call:
        """``c.add_environment("NAME", "v")`` -> ``c.add_secret("NAME", <secret>)`` (only the value and
        the method name change: the arguments keep their whitespace and comments)."""
        scope = self._params[-1] if self._params else None
        if scope is None:
            raise RewriteError(f"{ptr}: not inside a method; no construct scope for the secret")
        if len(specs) != 1 or not isinstance(call.func, cst.Attribute):
            raise RewriteError(f"{ptr}: one add_environment call moves one entry")
        ali = {m: self._alias(m) for m in {"aws_ecs", *specs[0].modules}}
        args = list(call.args)
        args[1] = args[1].with_changes(value=cst.parse_expression(specs[0].build(ali, scope)))
        self.result.moved.append((ptr, specs[0].name))
        return call.with_changes(func=call.func.with_changes(attr=cst.Name("add_secret")), args=args)

    def _from_var(self, call: cst.Call, site: Site, specs: list[SecretSpec], ali: dict[str, str]) -> cst.Call:
        """The entries cut out of ``name = {...}`` (``leave_Assign``, earlier in the same scope)
        join this call's ``secrets=``: a dict literal there is extended, none is created."""
        src = _kw(call, site.src_kw)
        if src is None or not isinstance(src.value, cst.Name) or any(s.from_var is None for s in specs):
            raise RewriteError(f"{site.pointer}: {site.src_kw}= is not the dict variable")
        args = list(call.args)
        i_src = next(i for i, a in enumerate(args) if a is src)
        dst = _kw(call, site.dst_kw)
        before = args[i_src - 1].comma if i_src > 0 else cst.MaybeSentinel.DEFAULT
        ws = before.whitespace_after if isinstance(before, cst.Comma) else call.whitespace_before_args
        if dst is not None and isinstance(dst.value, cst.Dict):
            indent = explode(dst.value).elem_last_line
        elif isinstance(ws, cst.ParenthesizedWhitespace):  # one argument per line: the dict opens on it
            indent = cst.SimpleWhitespace(ws.last_line.value + "    ")
        else:
            indent = cst.SimpleWhitespace("")
        moved: list[Item] = []
        for s in specs:
            assert s.from_var is not None
            taken = self._taken.get((s.from_var, s.name))
            if taken is None:
                raise RewriteError(f"{site.pointer}: {s.name} was not found in the dict it is built in")
            it, old_indent = taken
            # own-line comments that lined up with the element keep lining up with it
            leading = [e.with_changes(whitespace=indent) if e.whitespace.value == old_indent else e for e in it.leading]
            expr = cst.parse_expression(s.build(ali, site.scope_name or "self"))
            moved.append(Item(leading, it.element.with_changes(value=expr), it.trailing))
            self.result.moved.append((site.pointer, s.name))
        if dst is not None:
            return call.with_changes(args=self._extend_dst(args, call, site, specs, moved))
        if isinstance(ws, cst.ParenthesizedWhitespace):
            layout = Exploded(moved, indent, ws.indent, (), ws.last_line, True)
        else:
            layout = Exploded(moved, indent, True, (), cst.SimpleWhitespace(""), False)
        new_arg = cst.Arg(keyword=cst.Name(site.dst_kw), value=implode(cst.Dict([]), layout, moved), equal=src.equal)
        after = src.comma.whitespace_after if isinstance(src.comma, cst.Comma) else None
        if isinstance(ws, cst.ParenthesizedWhitespace) and isinstance(src.comma, cst.Comma) \
                and isinstance(after, cst.ParenthesizedWhitespace):
            # one argument per line: the source keeps its comma and inline comment, the new
            # argument gets its own line and hands on what followed the source
            args[i_src] = src.with_changes(comma=src.comma.with_changes(whitespace_after=cst.ParenthesizedWhitespace(
                first_line=after.first_line, empty_lines=(), indent=ws.indent, last_line=ws.last_line)))
            args.insert(i_src + 1, new_arg.with_changes(comma=cst.Comma(whitespace_after=after.with_changes(
                first_line=cst.TrailingWhitespace()))))
            return call.with_changes(args=args)
        return call.with_changes(args=self._insert_after(args, i_src, new_arg))

    def _extend_dst(self, args: list[cst.Arg], call: cst.Call, site: Site, specs: list[SecretSpec],
                    moved: list[Item]) -> list[cst.Arg]:
        dst = _kw(call, site.dst_kw)
        assert dst is not None
        if not isinstance(dst.value, cst.Dict):
            raise RewriteError(f"{site.pointer}: {site.dst_kw}= is not a dict literal")
        names = {key_of(e) for e in dst.value.elements if isinstance(e, cst.DictElement)}
        if names & {s.name for s in specs}:
            raise RewriteError(f"{site.pointer}: a moved name is already in {site.dst_kw}=")
        dx = explode(dst.value)
        i_dst = next(i for i, a in enumerate(args) if a is dst)
        args[i_dst] = dst.with_changes(value=implode(dst.value, dx, dx.items + moved))
        return args

    @staticmethod
    def _insert_after(args: list[cst.Arg], i_src: int, new_arg: cst.Arg) -> list[cst.Arg]:
        """``new_arg`` right after ``args[i_src]``: it takes the source's comma (what follows it); the
        source takes the separator used between the previous arguments, so the new one lines up."""
        src = args[i_src]
        prev_comma = args[i_src - 1].comma if i_src > 0 else cst.MaybeSentinel.DEFAULT
        sep = prev_comma if isinstance(prev_comma, cst.Comma) else (
            src.comma if isinstance(src.comma, cst.Comma) and i_src < len(args) - 1
            else cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        args[i_src] = src.with_changes(comma=sep, whitespace_after_arg=cst.SimpleWhitespace(""))
        args.insert(i_src + 1, new_arg.with_changes(comma=src.comma, whitespace_after_arg=src.whitespace_after_arg))
        return args

    def _split(self, call: cst.Call, site: Site, specs: list[SecretSpec], ali: dict[str, str]) -> cst.Call:
        src = _kw(call, site.src_kw)
        if src is None or not isinstance(src.value, cst.Dict):
            raise RewriteError(f"{site.pointer}: {site.src_kw}= is not a dict literal")
        by_name = {s.name: s for s in specs}
        x = explode(src.value)
        keep: list[Item] = []
        moved: list[Item] = []
        for it in x.items:
            k = key_of(it.element)
            if k in by_name:
                assert k is not None
                expr = cst.parse_expression(by_name[k].build(ali, site.scope_name or "self"))
                moved.append(Item(it.leading, it.element.with_changes(value=expr), it.trailing))
                self.result.moved.append((site.pointer, k))
            else:
                keep.append(it)
        if len(moved) != len(specs):
            raise RewriteError(f"{site.pointer}: some entries to move were not found")
        dst = _kw(call, site.dst_kw)
        args = list(call.args)
        i_src = next(i for i, a in enumerate(args) if a is src)
        if dst is not None:
            args = self._extend_dst(args, call, site, specs, moved)
            if keep:
                args[i_src] = src.with_changes(value=implode(src.value, x, keep))
            else:
                args = self._drop_arg(args, i_src)
            return call.with_changes(args=args)
        new_dict = implode(src.value, x, moved)
        if keep:
            new_arg = src.with_changes(keyword=cst.Name(site.dst_kw), value=new_dict)
            args[i_src] = src.with_changes(value=implode(src.value, x, keep))
            args = self._insert_after(args, i_src, new_arg)
        else:
            args[i_src] = src.with_changes(keyword=cst.Name(site.dst_kw), value=new_dict)
        return call.with_changes(args=args)

    @staticmethod
    def _drop_arg(args: list[cst.Arg], i: int) -> list[cst.Arg]:
        out = args[:i] + args[i + 1:]
        if i == len(args) - 1 and out:  # removed the last one: previous takes its comma
            out[-1] = out[-1].with_changes(comma=args[i].comma)
        return out


_CAMEL_RE = re.compile(r"[^A-Za-z0-9]+")


def camel(*parts: str) -> str:
    out = ""
    for p in parts:
        for w in _CAMEL_RE.split(p):
            if w:
                out += w[:1].upper() + (w[1:].lower() if w.isupper() else w[1:])
    return out or "Secret"


def run_codemod(module: cst.Module, moves: dict[str, list[SecretSpec]]) -> tuple[cst.Module, CodemodResult]:
    cmd = MoveToSecretsCommand(CodemodContext(), moves)
    out = cmd.transform_module(module)
    return out, cmd.result
