"""AWS CDK apps in Python: ``environment={...}`` of ECS containers and log-driver ``options={...}``.

Scanning walks the libcst tree (see ``migrate.rewrite.cdk_codemods`` for the recognised calls).
Plain string literals are LITERAL; anything else (variables, ``os.environ``, context lookups,
f-strings, concatenations) is TEMPLATED with the reason in ``note`` and is never rewritten.

Data flow that is rewritten too (literal values only): ``c.add_environment("K", "v")`` on a
container variable assigned once (-> ``c.add_secret``), and a dict literal assigned once to a
local name whose only use is ``environment=name`` of one site in the same scope (the key moves
into that call's ``secrets=``). Any other use of the name (reassigned, ``env["K"] = v``,
``env.update``, ``**env``, a second container, read elsewhere) keeps its items not migratable.

Rewriting runs :class:`MoveToSecretsCommand` and turns the difference between the original and
the transformed code into minimal line-level TextEdits whose ``old`` carries value tokens.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, Scope, ScopeProvider

from migrate.errors import InputError, RewriteError
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, SecretValue, ValueKind
from migrate.rewrite import pointer as jp
from migrate.rewrite.cdk_codemods import (
    ENV_KW,
    SecretSpec,
    SiteTracker,
    camel,
    key_of,
    run_codemod,
)
from migrate.rewrite.edits import PREVIEW_ARN, TextEdit, apply_edits
from migrate.sources.base import (
    ExecutionRoleRef,
    FileChange,
    LoadedFile,
    Move,
    RewriteOptions,
    RoleKind,
    SourceBase,
    SourceText,
)

KIND = "cdk-python"
_SNIFF_IMPORT_RE = re.compile(r"^\s*(from\s+aws_cdk\b|import\s+aws_cdk\b)", re.M)
_SNIFF_ENV_RE = re.compile(r"\b(environment|options)\s*=|\.add_environment\(")
_SM_SUFFIX_RE = re.compile(r"-[A-Za-z0-9]{6}$")


@dataclass
class _Scan:
    module: cst.Module
    entries: dict[str, Entry] = field(default_factory=dict)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  #: entry key -> value body span
    site_of: dict[str, tuple[str, str]] = field(default_factory=dict)  #: entry key -> (site pointer, unit)
    var_of: dict[str, str] = field(default_factory=dict)  #: entry key -> var site of the dict it leaves
    literals: set[str] = field(default_factory=set)  #: every string literal (for unique construct ids)
    warnings: list[str] = field(default_factory=list)


def _offsets(text: str) -> list[int]:
    starts, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _literal_body(s: cst.SimpleString) -> tuple[int, int, bool]:
    """(offset of body within the token, body length, restorable) of a string literal."""
    raw = s.value
    prefix = s.prefix
    q = s.quote
    body = raw[len(prefix) + len(q): len(raw) - len(q)]
    ok = prefix == "" and "\\" not in body and s.evaluated_value == body
    return len(prefix) + len(q), len(body), ok


def _why_not_literal(v: cst.BaseExpression) -> str:
    code = cst.Module([]).code_for_node(v)
    if "os.environ" in code or "getenv" in code:
        return "read from the process environment at synth time"
    if "try_get_context" in code or "get_context" in code:
        return "CDK context lookup"
    if isinstance(v, (cst.FormattedString, cst.ConcatenatedString)):
        return "f-string or concatenation"
    if isinstance(v, cst.Name):
        return "variable"
    return "not a string literal"


_SYNTH = "not migratable: value only known at synth time"
_BUILT = ("not migratable: the environment is built before it reaches the container{where}, move it by hand "
          "into secrets")


_SPREAD = "not migratable: the dict also merges a ** spread (not rewritten), move it by hand into secrets"
_ADD_ENV = "not migratable: add_environment(...) calls are not rewritten, move it by hand into secrets"
_ADD_ENV_TWICE = ("not migratable: add_environment(...) is called more than once for this name, move it by hand "
                  "into secrets")
_NOT_DICT_SECRETS = "not migratable: secrets= of the container is not a dict literal, move it by hand into secrets"
_IN_SECRETS = "not migratable: the name is already in secrets= of the container"


@dataclass(frozen=True)
class _Flow:
    """One environment item that reaches a container through data flow (a dict variable, a
    ``**`` spread, ``dict(BASE, K=v)``, ``env["K"] = v``, ``add_environment``)."""

    name: str
    value: cst.BaseExpression
    pointer: str  #: where it is written (shared by every container that gets it)
    how: str  #: for the note: "env dict", "**BASE_ENV at line 12", ...


def _synth_source(v: cst.BaseExpression) -> str:
    code = cst.Module([]).code_for_node(v)
    if "getenv" in code:
        return "os.getenv"
    if "os.environ" in code:
        return "os.environ"
    if "context" in code:
        return "CDK context"
    if ".get(" in code or "[" in code:
        return "config lookup"
    return _why_not_literal(v)


def _env_default(v: cst.BaseExpression) -> cst.SimpleString | None:
    """The literal default of ``os.getenv("X", "default")`` / ``os.environ.get("X", "default")``."""
    if isinstance(v, cst.Call) and _call_name(v) in ("getenv", "get") and len(v.args) >= 2:
        d = v.args[1].value
        if isinstance(d, cst.SimpleString) and isinstance(d.evaluated_value, str):
            return d
    return None


def _call_name(c: cst.Call) -> str:
    f = c.func
    return f.attr.value if isinstance(f, cst.Attribute) else f.value if isinstance(f, cst.Name) else ""


def _lit(e: cst.BaseExpression) -> str | None:
    if isinstance(e, cst.SimpleString) and isinstance(e.evaluated_value, str):
        return e.evaluated_value
    return None


class _Scanner(SiteTracker, cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider, ScopeProvider)

    def __init__(self, text: str, display: str, scan: _Scan) -> None:
        super().__init__()
        self._init_tracker()
        self.text, self.display, self.scan = text, display, scan
        self.starts = _offsets(text)
        self.group = ""
        self.dicts: dict[str, list[_Flow]] = {}  #: variable -> environment items it holds
        self.containers: dict[str, str] = {}  #: variable -> container id (``c = task.add_container("x", ...)``)
        #: variable -> (var site pointer, its one use ``environment=name`` when that is its only use)
        self.var_sites: dict[str, tuple[str, cst.Name | None]] = {}
        self.loops: list[tuple[tuple[str, str], list[tuple[cst.BaseExpression, cst.BaseExpression]]]] = []

    def _off(self, node: cst.CSTNode) -> tuple[int, int, int]:
        r = self.get_metadata(PositionProvider, node)
        return self.starts[r.start.line - 1] + r.start.column, self.starts[r.end.line - 1] + r.end.column, r.start.line

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._push_class(node)
        self.group = self.group or node.name.value

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._pop_scope(False)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._push_func(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._pop_scope(True)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        v = node.evaluated_value
        if isinstance(v, str):
            self.scan.literals.add(v)

    def leave_Call(self, original_node: cst.Call) -> None:
        self._leave_call()

    # -- data flow: dicts built before the call, add_environment ----------------------------------

    def _scope_of(self, node: cst.CSTNode) -> Scope | None:
        try:
            return self.get_metadata(ScopeProvider, node)
        except KeyError:
            return None

    def _assigned_once(self, name: cst.Name) -> bool:
        """``name`` is bound exactly once in the scope it is used in, by a plain assignment there."""
        scope = self._scope_of(name)
        if scope is None:
            return False
        found = list(scope.assignments[name.value])
        return len(found) == 1 and found[0].scope is scope

    def _only_use(self, target: cst.Name, d: cst.Dict) -> cst.Name | None:
        """The one reference to ``target = {...}`` when it is bound once, never spread nor changed
        (every read counts: ``env["K"] = v``, ``env.update``, ``**env`` all read the name) and read
        in the same scope; None otherwise."""
        if any(not isinstance(el, cst.DictElement) or key_of(el) is None for el in d.elements):
            return None
        scope = self._scope_of(target)
        if scope is None or not self._assigned_once(target):
            return None
        refs = [r.node for a in scope.assignments[target.value] for r in a.references]
        if len(refs) != 1 or not isinstance(refs[0], cst.Name) or self._scope_of(refs[0]) is not scope:
            return None
        return refs[0]

    def _scope_ptr(self) -> str:
        return "/" + "/".join(self._scopes) if self._scopes else ""

    def _flows_of(self, e: cst.BaseExpression, var: str) -> list[_Flow] | None:
        """Environment items of a dict expression (None when it is not one we can follow)."""
        if isinstance(e, cst.Name):
            return list(self.dicts[e.value]) if e.value in self.dicts else None
        if isinstance(e, cst.Dict):
            out: list[_Flow] = []
            for el in e.elements:
                if isinstance(el, cst.StarredDictElement):
                    out.extend(self._spread(el.value))
                elif isinstance(el, cst.DictElement):
                    name = key_of(el)
                    if name is not None:
                        out.append(_Flow(name, el.value, f"{self._scope_ptr()}/var:{var}/{jp.escape(name)}",
                                         f"dict {var}"))
            return out
        if isinstance(e, cst.Call) and isinstance(e.func, cst.Name) and e.func.value == "dict":
            out = []
            for a in e.args:
                if a.keyword is None:
                    out.extend(self._spread(a.value))
                else:
                    out.append(_Flow(a.keyword.value, a.value,
                                     f"{self._scope_ptr()}/var:{var}/{jp.escape(a.keyword.value)}", "dict(...)"))
            return out
        return None

    def _spread(self, e: cst.BaseExpression) -> list[_Flow]:
        if isinstance(e, cst.Name) and e.value in self.dicts:
            line = self._off(e)[2]
            return [replace(f, how=f"**{e.value} at {self.display}:{line}") for f in self.dicts[e.value]]
        self.scan.warnings.append(f"{self.display}:{self._off(e)[2]}: ** of something that is not a dict "
                                  "variable; its entries are not reported")
        return []

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        t = node.targets[0].target
        v = node.value
        var_site = self._var_site(node)
        if var_site is not None and isinstance(t, cst.Name) and isinstance(v, cst.Dict):
            self.var_sites[t.value] = (var_site, self._only_use(t, v))
        elif isinstance(t, cst.Name):
            self.var_sites.pop(t.value, None)
        if isinstance(t, cst.Name):
            if isinstance(v, cst.Call) and _call_name(v) == "add_container":
                pos = [a for a in v.args if a.keyword is None]
                unit = (_lit(pos[0].value) if pos else None) or "container"
                self.containers[t.value] = unit
                return
            flows = self._flows_of(v, t.value) if isinstance(v, (cst.Dict, cst.Call)) else None
            if flows is not None:
                self.dicts[t.value] = flows
            return
        if isinstance(t, cst.Subscript) and isinstance(t.value, cst.Name) and t.value.value in self.dicts \
                and len(t.slice) == 1 and isinstance(t.slice[0].slice, cst.Index):
            key = _lit(t.slice[0].slice.value)
            if key is not None:
                var = t.value.value
                self.dicts[var] = [f for f in self.dicts[var] if f.name != key]
                self.dicts[var].append(_Flow(key, v, f"{self._scope_ptr()}/var:{var}/{jp.escape(key)}",
                                             f"{var}[...] assignment"))

    def visit_For(self, node: cst.For) -> None:
        t, it = node.target, node.iter
        names = [e.value.value for e in t.elements if isinstance(e.value, cst.Name)] if isinstance(t, cst.Tuple) else []
        rows: list[tuple[cst.BaseExpression, cst.BaseExpression]] = []
        if len(names) == 2 and isinstance(it, (cst.Tuple, cst.List)):
            for el in it.elements:
                if isinstance(el.value, (cst.Tuple, cst.List)) and len(el.value.elements) == 2:
                    rows.append((el.value.elements[0].value, el.value.elements[1].value))
        self.loops.append(((names[0], names[1]) if len(names) == 2 else ("", ""), rows))

    def leave_For(self, original_node: cst.For) -> None:
        self.loops.pop()

    def _add_environment(self, node: cst.Call, ptr: str | None) -> None:
        """``ptr``: the call's pointer when it has the shape the codemod rewrites (a literal name)."""
        f = node.func
        if not isinstance(f, cst.Attribute) or not isinstance(f.value, cst.Name):
            return
        unit = self.containers.get(f.value.value)
        pos = [a.value for a in node.args if a.keyword is None]
        if unit is None or len(pos) != 2:
            return
        pairs: list[tuple[cst.BaseExpression, cst.BaseExpression]] = [(pos[0], pos[1])]
        if isinstance(pos[0], cst.Name) and self.loops:
            (kn, vn), rows = self.loops[-1]
            if pos[0].value == kn:
                pairs = [(k, v) if isinstance(pos[1], cst.Name) and pos[1].value == vn else (k, pos[1])
                         for k, v in rows]
        # rewritten in place when the container variable is bound once here and there is a construct scope
        movable = ptr is not None and self._assigned_once(f.value) and bool(self._params and self._params[-1])
        for k, v in pairs:
            name = _lit(k)
            if name is None:
                self.scan.warnings.append(f"{self.display}:{self._off(node)[2]}: add_environment with a name "
                                          "that is not a literal; not reported")
                continue
            flow = _Flow(name, v, f"{self._scope_ptr()}/add_environment:{unit}/{jp.escape(name)}", "add_environment")
            self._flow_entry(flow, unit, "", move_to=ptr if movable else None)  # ptr: a literal name, no loop

    def _flow_entry(self, flow: _Flow, unit: str, site_ptr: str, *, move_to: str | None = None,
                    var_site: str | None = None, refuse: str = "") -> None:
        """An entry for an item that reaches ``unit`` through data flow: reported where it is
        written (once; later users join ``units``). Not rewritten (with the reason) unless
        ``move_to`` names where the codemod moves it (a literal value; ``var_site``: the dict
        literal it leaves) and there is no ``refuse`` reason."""
        key = f"{self.display}#{flow.pointer}"
        old = self.scan.entries.get(key)
        if old is not None:
            if flow.how == "add_environment" and old.restorable:  # a second call sets the same name
                self.scan.entries[key] = replace(old, restorable=False, note=_ADD_ENV_TWICE)
                self.scan.spans.pop(key, None)
            if unit not in old.units:
                self.scan.entries[key] = replace(self.scan.entries[key], units=(*old.units, unit))
            return
        v = flow.value
        line = self._off(v)[2]
        value: SecretValue | None = None
        kind = ValueKind.TEMPLATED
        lit = _lit(v)
        default = _env_default(v)
        restorable = False
        if lit is not None:
            value, kind = SecretValue(lit), ValueKind.LITERAL if lit else ValueKind.EMPTY
            note = refuse or (_ADD_ENV if flow.how == "add_environment" else _BUILT.format(where=f" ({flow.how})"))
            if move_to is not None and not refuse and isinstance(v, cst.SimpleString):
                boff, blen, restorable = _literal_body(v)
                note = "" if restorable else "string literal with escapes or a prefix"
                if restorable and kind is ValueKind.LITERAL:
                    start = self._off(v)[0]
                    self.scan.spans[key] = (start + boff, start + boff + blen)
        elif default is not None and isinstance(default.evaluated_value, str):
            value, kind = SecretValue(default.evaluated_value), ValueKind.LITERAL
            note = f"{_SYNTH} ({_synth_source(v)}); the default written here is used when it is unset"
        else:
            note = f"{_SYNTH} ({_synth_source(v)})"
        self.scan.entries[key] = Entry(
            path=self.display, line=line, unit=unit, location=LOC_ENVIRONMENT, name=flow.name, value=value,
            value_kind=kind, pointer=flow.pointer, source=KIND, group=self.group, note=note, restorable=restorable)
        if restorable and move_to is not None:
            self.scan.site_of[key] = (move_to, unit)
            if var_site is not None:
                self.scan.var_of[key] = var_site
        elif site_ptr:
            self.scan.site_of[key] = (site_ptr, unit)

    def visit_Call(self, node: cst.Call) -> None:
        site = self._enter_call(node)
        if _call_name(node) == "add_environment":
            self._add_environment(node, self._env_calls[-1])
        if site is None:
            return
        arg = next(a for a in node.args if a.keyword is not None and a.keyword.value == site.src_kw)
        if site.src_kw == ENV_KW and not isinstance(arg.value, cst.Dict):
            flows = self._flows_of(arg.value, "environment")
            if flows is not None:
                var = arg.value.value if isinstance(arg.value, cst.Name) else ""
                var_site, use = self.var_sites.get(var, ("", None))
                movable = use is arg.value and site.scope_name is not None
                refuse = self._secrets_refusal(node, site.dst_kw) if movable else ""
                for fl in flows:
                    ok = movable and fl.how == f"dict {var}"
                    taken = refuse or (_IN_SECRETS if ok and fl.name in self._dst_names(node, site.dst_kw) else "")
                    self._flow_entry(fl, site.unit, site.pointer, move_to=site.pointer if ok else None,
                                     var_site=var_site if ok else None, refuse=taken if ok else "")
                return
        if not isinstance(arg.value, cst.Dict):
            self.scan.warnings.append(f"{self.display}:{self._off(arg.value)[2]}: {site.pointer}: {site.src_kw}= is not a dict "
                                      f"literal ({_why_not_literal(arg.value)}); left alone")
            return
        location = LOC_ENVIRONMENT if site.src_kw == ENV_KW else LOC_LOG_OPTIONS
        spread = any(isinstance(el, cst.StarredDictElement) for el in arg.value.elements)
        for el in arg.value.elements:
            if not isinstance(el, cst.DictElement):
                if site.src_kw == ENV_KW and isinstance(el, cst.StarredDictElement):
                    for fl in self._spread(el.value):
                        self._flow_entry(fl, site.unit, site.pointer)
                    continue
                self.scan.warnings.append(f"{self.display}:{self._off(el)[2]}: {site.pointer}: ** unpacking in "
                                          f"{site.src_kw}= left alone (the values it spreads are not scanned)")
                continue
            name = key_of(el)
            if name is None:
                self.scan.warnings.append(f"{self.display}:{self._off(el)[2]}: {site.pointer}: non-literal key in "
                                          f"{site.src_kw}= left alone")
                continue
            pointer = f"{site.pointer}/{site.src_kw}/{jp.escape(name)}"
            start, end, line = self._off(el.value)
            value: SecretValue | None = None
            restorable, note = True, ""
            if isinstance(el.value, cst.SimpleString) and isinstance(el.value.evaluated_value, str):
                ev = el.value.evaluated_value
                kind = ValueKind.LITERAL if ev else ValueKind.EMPTY
                value = SecretValue(ev)
                boff, blen, restorable = _literal_body(el.value)
                if kind is ValueKind.LITERAL:
                    self.scan.spans[f"{self.display}#{pointer}"] = (start + boff, start + boff + blen)
                if not restorable:
                    note = "string literal with escapes or a prefix"
            else:
                kind, note = ValueKind.TEMPLATED, _why_not_literal(el.value)
            key = f"{self.display}#{pointer}"
            if spread and kind is ValueKind.LITERAL:
                restorable, note = False, _SPREAD
            self.scan.entries[key] = Entry(
                path=self.display, line=line, unit=site.unit, location=location, name=name, value=value,
                value_kind=kind, pointer=pointer, source=KIND, group=self.group, note=note,
                restorable=restorable)
            self.scan.site_of[key] = (site.pointer, site.unit)


    @staticmethod
    def _secrets_refusal(call: cst.Call, dst_kw: str) -> str:
        dst = next((a for a in call.args if a.keyword is not None and a.keyword.value == dst_kw), None)
        if dst is not None and (not isinstance(dst.value, cst.Dict)
                                or any(not isinstance(el, cst.DictElement) for el in dst.value.elements)):
            return _NOT_DICT_SECRETS
        return ""

    @staticmethod
    def _dst_names(call: cst.Call, dst_kw: str) -> set[str]:
        dst = next((a for a in call.args if a.keyword is not None and a.keyword.value == dst_kw), None)
        if dst is None or not isinstance(dst.value, cst.Dict):
            return set()
        return {n for el in dst.value.elements if isinstance(el, cst.DictElement) and (n := key_of(el)) is not None}


def _scan(text: str, display: str) -> _Scan:
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as e:
        raise InputError(display, "invalid Python syntax", line=e.raw_line) from None
    except (ValueError, RecursionError) as e:
        raise InputError(display, f"cannot parse Python ({type(e).__name__})") from None
    scan = _Scan(module)
    MetadataWrapper(module, unsafe_skip_copy=True).visit(_Scanner(text, display, scan))
    _refuse_repeated(scan)
    return scan


_REPEATED = "not migratable: the container gets this name from more than one place, move it by hand into secrets"


def _refuse_repeated(scan: _Scan) -> None:
    """When a container gets one name both through data flow (a dict variable, add_environment)
    and from another place, none of them is moved: the other one would still set it in plaintext."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for key, e in scan.entries.items():
        for u in e.units:
            groups.setdefault((u, e.location, e.name), []).append(key)
    for keys in groups.values():
        flow = any("/var:" in scan.entries[k].pointer or "/add_environment:" in scan.entries[k].pointer for k in keys)
        if len(keys) < 2 or not flow:
            continue
        for key in keys:
            e = scan.entries[key]
            if e.restorable:
                scan.entries[key] = replace(e, restorable=False, note=_REPEATED)
                scan.spans.pop(key, None)


# --- rewrite ------------------------------------------------------------------------------------------


def _spec(mv: Move, site_unit: str, used: set[str]) -> SecretSpec:
    name = mv.entry.name
    kind = "Param" if mv.store == "ssm" or ":ssm:" in mv.value_from else "Secret"
    base = camel(site_unit, name) + kind
    cid, n = base, 2
    while cid in used:
        cid, n = f"{base}{n}", n + 1
    used.add(cid)
    if kind == "Param":
        pname = mv.store_name
        if not pname:
            m = re.search(r":parameter(/.*)$", mv.value_from)
            pname = m.group(1) if m else mv.value_from
        lit = _py_str(pname)

        def build_ssm(a: dict[str, str], scope: str) -> str:
            return (f"{a['aws_ecs']}.Secret.from_ssm_parameter({a['aws_ssm']}.StringParameter."
                    f"from_secure_string_parameter_attributes({scope}, {_py_str(cid)}, parameter_name={lit}))")
        return SecretSpec(name, cid, build_ssm, ("aws_ssm",))
    arn, field_ = mv.value_from, mv.json_key
    if field_ is not None and arn.endswith(f":{field_}::"):
        arn = arn[: -len(f":{field_}::")]
    parts = arn.split(":")
    if len(parts) > 7:  # literal ARN with :key:stage:version
        field_ = field_ or (parts[7] or None)
        arn = ":".join(parts[:7])
    if "${" in arn:
        m = re.search(r":secret:(.+)$", arn)
        if not m or "${" in m.group(1):
            raise RewriteError(f"{mv.entry.pointer}: cannot express the secret reference in CDK")
        how, target = "from_secret_name_v2", m.group(1)
    elif "\ue000" in arn or _SM_SUFFIX_RE.search(arn):
        how, target = "from_secret_complete_arn", arn
    else:
        how, target = "from_secret_partial_arn", arn
    fld = f", field={_py_str(field_)}" if field_ else ""

    def build_sm(a: dict[str, str], scope: str) -> str:
        return (f"{a['aws_ecs']}.Secret.from_secrets_manager({a['aws_secretsmanager']}.Secret.{how}"
                f"({scope}, {_py_str(cid)}, {_py_str(target)}){fld})")
    return SecretSpec(name, cid, build_sm, ("aws_secretsmanager",))


def _py_str(s: str) -> str:
    if '"' in s or "\\" in s or "\n" in s:
        raise RewriteError("unsupported character in a secret name or ARN")
    return f'"{s}"'


def _line_edits(old: str, new: str) -> list[tuple[int, int, str]]:
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    off = _offsets(old)
    out: list[tuple[int, int, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            out.append((off[i1], off[i2], "".join(b[j1:j2])))
    return out


def _rewrite(src: SourceText, scan: _Scan, moves: Sequence[Move]) -> FileChange:
    by_site: dict[str, list[SecretSpec]] = {}
    used = set(scan.literals)
    summary = []
    for mv in moves:
        key = mv.entry.key
        if key not in scan.entries:
            raise RewriteError(f"entry {mv.entry.pointer} not found in {src.display}")
        e = scan.entries[key]
        if e.value_kind not in (ValueKind.LITERAL, ValueKind.EMPTY):
            raise RewriteError(f"{e.unit}/{e.name} is {e.value_kind.value} ({e.note}); it cannot be moved")
        if not e.restorable:
            raise RewriteError(f"{e.unit}/{e.name} cannot be restored byte-identically; refusing to move it")
        site, unit = scan.site_of[key]
        by_site.setdefault(site, []).append(replace(_spec(mv, unit, used), from_var=scan.var_of.get(key)))
        where = "secret_options" if e.location == LOC_LOG_OPTIONS else "secrets"
        summary.append(f"{e.unit}: {e.name} {e.location} -> {where}")
    new_module, result = run_codemod(scan.module, by_site)
    if len(result.moved) != len(moves):
        raise RewriteError(f"{src.display}: not every entry could be located for the rewrite")
    new_code = new_module.code
    raw = _line_edits(src.text, new_code)
    moved_keys = {m.entry.key for m in moves}
    edits = [TextEdit(s, end, new, src.text[s:end]) for s, end, new in raw]  # old: rebuilt by the base
    covered = {k for s, end, _ in raw for k, (vs, ve) in scan.spans.items()
               if k in moved_keys and s <= vs and ve <= end}
    if covered != {k for k in moved_keys if k in scan.spans}:
        raise RewriteError(f"{src.display}: a moved value is still in the rewritten code")
    _verify(src, scan, edits, moves)
    keys = tuple(dict.fromkeys(m.entry.key for m in moves))
    # ecs.Secret.from_* grants the task definition's execution role read access itself (CDK adds
    # secret.grantRead(executionRole)): no extra inline policy for these entries
    return FileChange(path=src.display, edits=tuple(edits), entries=keys, summary="; ".join(summary), grants=keys)


def _verify(src: SourceText, scan: _Scan, edits: list[TextEdit], moves: Sequence[Move]) -> None:
    new = apply_edits(src.text, edits, ref=lambda _a: PREVIEW_ARN)
    try:
        after = _scan(new, src.display)
    except InputError:
        raise RewriteError(f"{src.display}: the rewritten code does not parse") from None
    left = {(e.pointer.rsplit("/", 1)[0], e.name) for e in after.entries.values()}
    for mv in moves:
        site = mv.entry.pointer.rsplit("/", 1)[0]
        if (site, mv.entry.name) in left:
            raise RewriteError(f"{src.display}: {mv.entry.name} is still in {mv.entry.location}")


class CdkPythonSource(SourceBase):
    kind: ClassVar[str] = KIND

    def sniff(self, path: Path, text: str) -> bool:
        return path.suffix == ".py" and bool(_SNIFF_IMPORT_RE.search(text)) and bool(_SNIFF_ENV_RE.search(text))

    def parse(self, src: SourceText, *, root: Path | None = None) -> LoadedFile:
        scan = _scan(src.text, src.display)
        units = tuple(dict.fromkeys(e.unit for e in scan.entries.values()))
        group = next((e.group for e in scan.entries.values() if e.group), Path(src.display).stem)
        # the role is the task definition's execution role, which ecs.Secret.from_* grants itself
        ref = ExecutionRoleRef(kind=RoleKind.SAME_TEMPLATE, file=src.display, logical_id="task definition execution role",
                               expression="CDK construct", grants_in_source=True)
        return LoadedFile(source=src, kind=KIND, entries=tuple(scan.entries.values()), units=units, group=group,
                          data=scan, warnings=tuple(scan.warnings), role_refs=tuple((u, ref) for u in units))

    def value_spans(self, loaded: LoadedFile) -> dict[str, tuple[str, int, int, str]]:
        """Entry key -> (file, start, end, encoding) of each plaintext value's raw text."""
        scan = loaded.data
        if not isinstance(scan, _Scan):
            return {}
        return {key: (loaded.path, s, e, "python") for key, (s, e) in scan.spans.items()}

    def splice(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        if not moves:
            return []
        scan = loaded.data if isinstance(loaded.data, _Scan) else _scan(loaded.source.text, loaded.path)
        change = _rewrite(loaded.source, scan, moves)
        return [change] if change.edits else []


SOURCE = CdkPythonSource()
