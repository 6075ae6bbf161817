"""Read a Terraform module (``.tf``, ``.tfvars``, templates) into places and uses."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lark import Token, Tree

from migrate.errors import InputError
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, SecretValue, ValueKind
from migrate.rewrite import hcl_spans as hs
from migrate.rewrite import pointer as jp
from migrate.rewrite import text as tx
from migrate.rewrite.edits import is_restorable
from migrate.sources.base import ExecutionRoleRef, RoleKind, SourceText, line_of
from migrate.sources.terraform.model import KIND, STATE_WARNING, _Analysis, _Ctx, _Place, _Use


def _syntax_error(display: str, e: hs.SpanError, what: str) -> InputError:
    return InputError(display, f"{what}: {e.reason}", line=e.line)


def _module_files(src: SourceText) -> list[tuple[Path, str]]:
    """(path, display) of the other *.tf and *.tfvars files of the module, sorted."""
    d = src.path.parent
    ddisp = os.path.dirname(src.display)
    out = []
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return []
    for n in names:
        p = d / n
        if p == src.path or not p.is_file():
            continue
        if n.endswith(".tf") or n.endswith(".tfvars"):
            out.append((p, os.path.join(ddisp, n) if ddisp else n))
    return out


def _tfvars_rank(name: str) -> tuple[int, str]:
    """Terraform's precedence: terraform.tfvars < *.auto.tfvars (lexical) < other -var-files."""
    if name == "terraform.tfvars":
        return (0, name)
    if name.endswith(".auto.tfvars"):
        return (1, name)
    return (2, name)


class _Analyzer:
    """Builds entries from a module's texts. Pure given ``texts`` and ``read`` (for referenced files)."""

    def __init__(self, main: str, texts: dict[str, str], read: Callable[[str], str | None]) -> None:
        self.main = main
        self.texts = dict(texts)
        self.read = read
        self.a = _Analysis(self.texts)
        self.trees: dict[str, Tree[Token]] = {}
        self.vars: dict[str, list[tuple[str, hs.Node, tuple[int, int]]]] = {}  # name -> settings, low->high
        self.iam_roles: dict[str, str] = {}  # aws_iam_role name -> display of the file declaring it

    def hcl(self, display: str) -> Tree[Token]:
        if display not in self.trees:
            try:
                self.trees[display] = hs.parse_hcl(self.texts[display])
            except hs.SpanError as e:
                raise _syntax_error(display, e, "invalid HCL") from None
        return self.trees[display]

    def _iam_roles(self, tf_files: list[str]) -> None:
        """The module's ``aws_iam_role`` resources (where a same-module role is declared)."""
        for d in tf_files:
            for it in hs.body_items(hs.root_body(self.hcl(d))):
                if isinstance(it, hs.HclBlock) and it.type == "resource" and it.labels[:1] == ["aws_iam_role"] \
                        and len(it.labels) > 1:
                    self.iam_roles.setdefault(it.labels[1], d)

    def _parses(self, display: str) -> bool:
        try:
            self.hcl(display)
        except InputError:
            return False
        return True

    def run(self) -> _Analysis:
        a = self.a
        self.hcl(self.main)  # the file itself must parse: its error is its own
        broken = [d for d in self.texts if d != self.main and d.endswith((".tf", ".tfvars")) and not self._parses(d)]
        for d in broken:  # a broken sibling is reported under its own name by the walk; not read here
            del self.texts[d]
            a.warnings.append(f"{os.path.basename(d)} of this module does not parse; its variables are not followed")
        tf_files = [d for d in self.texts if d.endswith(".tf")]
        tfvars = sorted((d for d in self.texts if d.endswith(".tfvars")), key=lambda d: _tfvars_rank(os.path.basename(d)))
        for d in tf_files:
            for it in hs.body_items(hs.root_body(self.hcl(d))):
                if isinstance(it, hs.HclBlock) and it.type == "variable" and it.labels:
                    name = it.labels[0]
                    a.var_files[name] = d
                    a.var_blocks[name] = (it.start, it.end)
                    a.var_defaults[name] = None
                    for sub in hs.body_items(it.body):
                        if isinstance(sub, hs.HclAttr) and sub.name == "default":
                            node = hs.hcl_node(sub.expr, self.texts[d])
                            a.var_defaults[name] = node
                            self.vars.setdefault(name, []).append((d, node, (sub.start, sub.end)))
                        elif isinstance(sub, hs.HclBlock) and sub.type == "validation":
                            a.var_refuse[name] = "the variable has a validation block"
                        elif isinstance(sub, hs.HclAttr) and sub.name == "nullable":
                            a.var_refuse[name] = "the variable sets nullable"
        for d in tfvars:
            for it in hs.body_items(hs.root_body(self.hcl(d))):
                if isinstance(it, hs.HclAttr):
                    node = hs.hcl_node(it.expr, self.texts[d])
                    self.vars.setdefault(it.name, []).append((d, node, (it.start, it.end)))
        self._iam_roles(tf_files)
        for it in hs.body_items(hs.root_body(self.hcl(self.main))):
            if isinstance(it, hs.HclBlock) and it.type == "resource" and it.labels[:1] == ["aws_ecs_task_definition"]:
                self.resource(it)
            elif isinstance(it, hs.HclBlock) and it.type == "module" and it.labels:
                self.module(it)
        if a.entries:
            a.warnings.append(STATE_WARNING)
        return a

    # -- resources ------------------------------------------------------------------------------

    # -- module calls -----------------------------------------------------------------------------

    def module(self, blk: hs.HclBlock) -> None:
        """A module call: ``container_definitions = jsonencode([...])`` is read (and rewritten) as for
        a resource; environment lists/maps and log options passed as arguments (community
        container-definition modules, local modules) are reported, not rewritten (the reason names
        the module)."""
        text = self.texts[self.main]
        mname = blk.labels[0]
        res = f"module.{mname}"
        attrs = {it.name: it for it in hs.body_items(blk.body) if isinstance(it, hs.HclAttr)}
        source = ""
        if "source" in attrs:
            sn = hs.hcl_node(attrs["source"].expr, text)
            source = sn.value if sn.kind == hs.STRING and sn.value else ""
        if "container_definitions" in attrs:
            self.resource(blk, res=res, family=mname)
        unit = mname
        for key in ("container_name", "name"):
            if key in attrs:
                un = hs.hcl_node(attrs[key].expr, text)
                if un.kind == hs.STRING and un.value:
                    unit = un.value
                    break
        why = _module_refusal(source, self.main, self.texts)
        box = _module_box(blk, attrs, text) if not why.startswith(_NO_SECRETS) and _takes_secrets(
            source, self.main) else None
        before = len(self.a.entries)
        for arg in MODULE_ENV_ARGS:
            if arg in attrs:
                self._module_env(attrs[arg], arg, res, mname, unit, box)
        if "log_configuration" in attrs:
            log = hs.hcl_node(attrs["log_configuration"].expr, text)
            opts = log.get("options") if log.kind == hs.OBJECT else None
            if opts and opts.value.kind == hs.OBJECT:
                ctx = _Ctx(res=res, family=mname, file=self.main, syntax="hcl", json_ptr=False, tpl_map=None)
                for i, m in enumerate(opts.value.members):
                    use = _Use(self.main, "hcl", res, 0, log, unit, LOC_LOG_OPTIONS, m.key, opts.value, i, m.value)
                    self.use(use, f"/{res}/log_configuration/options/{jp.escape(m.key)}", ctx)
        for i in range(before, len(self.a.entries)):
            e = self.a.entries[i]
            if box is not None and e.location == LOC_ENVIRONMENT:
                continue  # moved into the module's secrets argument
            if e.value_kind is ValueKind.LITERAL and e.restorable:
                reason = why if e.location == LOC_ENVIRONMENT else (
                    f'not migratable: log options passed to module "{source or "?"}" are not rewritten, move them '
                    "to its log_configuration secretOptions by hand")
                self.a.entries[i] = replace(e, restorable=False, note="; ".join(x for x in (e.note, reason) if x))
        if len(self.a.entries) > before:
            self.a.groups.append(mname)

    def _module_env(self, attr: hs.HclAttr, arg: str, res: str, mname: str, unit: str,
                    box: hs.Node | None) -> None:
        """Entries of an environment list (``[{name, value}]``) or map (``{NAME = value}``) argument.
        With ``box`` (the module call as a container: it takes ``secrets``) they can be moved."""
        text = self.texts[self.main]
        member = box.get(arg) if box is not None else None
        node = member.value if member is not None else hs.hcl_node(attr.expr, text)
        ctx = _Ctx(res=res, family=mname, file=self.main, syntax="hcl", json_ptr=False, tpl_map=None)
        if node.kind == hs.ARRAY and node.items and all(el.kind == hs.OBJECT for el in node.items):
            self.a.units.append(unit)
            for i, el in enumerate(node.items):
                n, v = el.get("name"), el.get("value")
                if not n or n.value.kind != hs.STRING or n.value.value is None or v is None:
                    continue
                use = _Use(self.main, "hcl", res, 0, box or node, unit, LOC_ENVIRONMENT, n.value.value, node, i,
                           v.value, module_arg=box is not None)
                self.use(use, f"/{res}/{arg}/{jp.escape(use.name)}", ctx)
        elif node.kind == hs.OBJECT and node.members and all(
                m.value.kind in (hs.STRING, hs.EXPR, hs.TEMPLATE) for m in node.members):
            self.a.units.append(unit)
            for i, m in enumerate(node.members):
                use = _Use(self.main, "hcl", res, 0, box or node, unit, LOC_ENVIRONMENT, m.key, node, i, m.value,
                           module_arg=box is not None)
                self.use(use, f"/{res}/{arg}/{jp.escape(m.key)}", ctx)

    def resource(self, blk: hs.HclBlock, *, res: str = "", family: str = "") -> None:
        text = self.texts[self.main]
        rname = blk.labels[1] if len(blk.labels) > 1 else "?"
        res = res or f"aws_ecs_task_definition.{rname}"
        family = family or rname
        cdefs: hs.HclAttr | None = None
        role_attr: hs.HclAttr | None = None
        items = hs.body_items(blk.body)
        family_attr: hs.HclAttr | None = None
        for it in items:
            if isinstance(it, hs.HclAttr) and it.name == "family":
                family_attr = it
                n = hs.hcl_node(it.expr, text)
                if n.kind == hs.STRING and n.value:
                    family = n.value
            elif isinstance(it, hs.HclAttr) and it.name == "container_definitions":
                cdefs = it
            elif isinstance(it, hs.HclAttr) and it.name == "execution_role_arn":
                role_attr = it
        self.a.groups.append(family)
        if cdefs is None:
            return
        if role_attr is None:
            self.a.warnings.append(f"{res} has no execution_role_arn: ECS needs one to read secrets")
            after = family_attr.end if family_attr is not None else text.index("{", blk.start)
            first = items[0].start if items else after
            indent = text[tx.line_start(text, first):first] if items else "  "
            self.a.role_missing[res] = (tx.line_end(text, after), indent if not indent.strip() else "  ")
        ref = self.role_ref(res, role_attr)
        if ref.kind is RoleKind.SAME_TEMPLATE:
            self.a.role_same_module[res] = ref
        first_unit = len(self.a.units)
        self._containers_of(blk, res, family, cdefs, text)
        self.a.role_refs.extend((u, ref) for u in dict.fromkeys(self.a.units[first_unit:]))

    def role_ref(self, res: str, attr: hs.HclAttr | None) -> ExecutionRoleRef:
        """How ``res`` names its execution role, followed as far as this module allows."""
        if attr is None:
            return ExecutionRoleRef(kind=RoleKind.NONE, reason=f"{res} has no execution_role_arn")
        text = self.texts[self.main]
        node = hs.hcl_node(attr.expr, text)
        expr = text[node.start:node.end].strip()
        if node.kind == hs.STRING and node.value:
            if node.value.startswith("arn:"):
                return ExecutionRoleRef(kind=RoleKind.LITERAL_ARN, arn=node.value, expression="literal")
            return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression="literal", reason="not an ARN")
        m = re.fullmatch(r"aws_iam_role\.([A-Za-z_][A-Za-z0-9_-]*)\.arn", expr)
        if m:
            f = self.iam_roles.get(m.group(1))
            if f is None:
                return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression=expr,
                                        reason=f"aws_iam_role.{m.group(1)} is not declared in this module")
            return ExecutionRoleRef(kind=RoleKind.SAME_TEMPLATE, file=f, logical_id=f"aws_iam_role.{m.group(1)}",
                                    expression=expr, grants_in_source=True)
        m = re.fullmatch(r"var\.([A-Za-z_][A-Za-z0-9_-]*)", expr)
        if m:
            return self._var_role(m.group(1), expr)
        m = re.fullmatch(r"module\.([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_-]*)", expr)
        if m:
            return ExecutionRoleRef(kind=RoleKind.IMPORTED, expression=expr,
                                    reason=f"output {m.group(2)} of module {m.group(1)}: the role is defined there")
        return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression=expr, reason="a Terraform expression")

    def _var_role(self, name: str, expr: str) -> ExecutionRoleRef:
        """``var.x``: its effective value (the last tfvars setting, else the default)."""
        settings = self.vars.get(name, [])
        tv = [st for st in settings if st[0].endswith(".tfvars")]
        eff = tv[-1] if tv else (settings[0] if settings else None)
        if eff is not None and eff[1].kind == hs.STRING and (eff[1].value or "").startswith("arn:"):
            return ExecutionRoleRef(kind=RoleKind.LITERAL_ARN, arn=eff[1].value, expression=expr)
        return ExecutionRoleRef(kind=RoleKind.UNRESOLVABLE, expression=expr,
                                reason=f"{expr} has no literal ARN in this module (default or tfvars)")

    def _containers_of(self, blk: hs.HclBlock, res: str, family: str, cdefs: hs.HclAttr, text: str) -> None:
        ctx = _Ctx(res=res, family=family, file=self.main, syntax="hcl", json_ptr=False, tpl_map=None)
        expr = cdefs.expr
        call = hs.function_call(expr)
        body = hs.heredoc_body(expr, text)
        if call and call[0] == "jsonencode" and len(call[1]) == 1:
            self.containers(hs.hcl_node(call[1][0], text), ctx)
        elif body is not None:
            try:
                node = hs.parse_json(text, body[0], body[1], templated=True)
            except hs.SpanError as e:
                raise _syntax_error(self.main, e, "invalid JSON in container_definitions heredoc") from None
            ctx.syntax = "json"
            self.containers(node, ctx)
        elif call and call[0] in ("file", "templatefile") and call[1]:
            path_node = hs.hcl_node(call[1][0], text)
            rel = _module_path(path_node)
            if rel is None:
                self.a.warnings.append(f"{res}: the {call[0]}() path is an expression; not followed")
                return
            disp = os.path.normpath(os.path.join(os.path.dirname(self.main), rel))
            if disp not in self.texts:
                got = self.read(disp)
                if got is None:
                    raise InputError(self.main, f"{res}: cannot read the file {call[0]}() names",
                                     line=line_of(text, path_node.start))
                self.texts[disp] = got
            templated = call[0] == "templatefile"
            try:
                node = hs.parse_json(self.texts[disp], templated=templated)
            except hs.SpanError as e:
                raise _syntax_error(disp, e, "invalid container definitions JSON") from None
            tpl_map = None
            if templated:
                tpl_map = hs.hcl_node(call[1][1], text) if len(call[1]) > 1 else hs.Node(hs.OBJECT, 0, 0)
                if tpl_map.kind != hs.OBJECT:
                    self.a.warnings.append(f"{res}: the templatefile() variables are an expression; not followed")
                    tpl_map = None
            self.containers(node, _Ctx(res=res, family=family, file=disp, syntax="json", json_ptr=True,
                                       tpl_map=tpl_map, templated=templated))
        else:
            self.a.warnings.append(f"{res}: container_definitions is an expression; not followed")

    def containers(self, arr: hs.Node, ctx: _Ctx) -> None:
        if arr.kind != hs.ARRAY:
            self.a.warnings.append(f"{ctx.res}: container_definitions is not a list; not followed")
            return
        for ci, c in enumerate(arr.items):
            if c.kind != hs.OBJECT:
                continue
            nm = c.get("name")
            unit = nm.value.value if nm and nm.value.kind == hs.STRING and nm.value.value else f"container[{ci}]"
            self.a.units.append(unit)
            env = c.get("environment")
            if env and env.value.kind == hs.ARRAY:
                for i, el in enumerate(env.value.items):
                    if el.kind != hs.OBJECT:
                        continue
                    n = el.get("name")
                    v = el.get("value")
                    if not n or n.value.kind != hs.STRING or n.value.value is None or v is None:
                        continue
                    use = _Use(ctx.file, ctx.syntax, ctx.res, ci, c, unit, LOC_ENVIRONMENT, n.value.value,
                               env.value, i, v.value, map_node=ctx.tpl_map)
                    if ctx.json_ptr:
                        ptr = f"/{ci}/environment/{i}/value"
                    else:
                        ptr = f"/{ctx.res}/container_definitions/{ci}/environment/{jp.escape(use.name)}"
                    self.use(use, ptr, ctx)
            log = c.get("logConfiguration")
            opts = log.value.get("options") if log and log.value.kind == hs.OBJECT else None
            if opts and opts.value.kind == hs.OBJECT:
                for i, m in enumerate(opts.value.members):
                    use = _Use(ctx.file, ctx.syntax, ctx.res, ci, c, unit, LOC_LOG_OPTIONS, m.key,
                               opts.value, i, m.value, map_node=ctx.tpl_map)
                    if ctx.json_ptr:
                        ptr = f"/{ci}/logConfiguration/options/{jp.escape(m.key)}"
                    else:
                        ptr = f"/{ctx.res}/container_definitions/{ci}/logConfiguration/options/{jp.escape(m.key)}"
                    self.use(use, ptr, ctx)

    # -- values ---------------------------------------------------------------------------------

    def use(self, use: _Use, ptr: str, ctx: _Ctx) -> None:
        a = self.a
        a.all_uses.append(use)
        v = use.value
        text = self.texts[use.file]
        enc = "hcl" if use.syntax == "hcl" else "json"
        if v.kind == hs.STRING:
            self.add(use, _Place(use.file, v, enc, ptr, "inline"), ctx)
            return
        expr = v.expr
        if ctx.templated and v.kind == hs.TEMPLATE and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", expr):
            use.via_tplvar = expr
            el = ctx.tpl_map.get(expr) if ctx.tpl_map else None
            if el is None:
                self.other(use, ptr, ValueKind.INTERPOLATED, f"template variable {expr} is not set in this module")
                return
            mv = el.value
            if mv.kind == hs.STRING:
                place = _Place(self.main, mv, "hcl", f"/{ctx.res}/templatefile/{jp.escape(expr)}", "tplmap",
                               owner=(el.key_start, mv.end), holder=ctx.tpl_map)
                self.add(use, place, ctx)
                return
            expr = mv.expr
            v = mv
        if v.kind in (hs.EXPR, hs.TEMPLATE) and not ctx.templated or use.via_tplvar:
            m = re.fullmatch(r"var\.([A-Za-z_][A-Za-z0-9_-]*)", expr.strip())
            if m:
                self.var(use, m.group(1), ptr, ctx)
                return
        if v.kind == hs.EXPR and expr.strip() == "null":
            self.other(use, ptr, ValueKind.EMPTY, "null")
            return
        if ctx.templated and not use.via_tplvar and v.kind in (hs.TEMPLATE, hs.EXPR) and "${" in text[v.start:v.end]:
            self.other(use, ptr, ValueKind.TEMPLATED, "template expression")
            return
        gen = _GENERATED.search(text[v.start:v.end])
        # a template's text goes to the engine (a URL whose password is ${...} is a credential)
        shown = text[v.start + 1:v.end - 1] if v.kind == hs.TEMPLATE and text[v.start:v.start + 1] == '"' else None
        if gen is not None:
            self.other(use, ptr, ValueKind.TEMPLATED,
                       f"not migratable: value from {gen.group(0)} (generated by Terraform, kept in its state), "
                       "pass the secret's ARN instead", shown)
            return
        self.other(use, ptr, ValueKind.TEMPLATED, "Terraform expression; not followed", shown)

    def var(self, use: _Use, name: str, ptr: str, ctx: _Ctx) -> None:
        use.via_var = name
        settings = self.vars.get(name, [])
        if not settings:
            self.other(use, ptr, ValueKind.INTERPOLATED, f"var.{name} has no value in this module")
            return
        # effective value: the highest-precedence tfvars setting, else the default
        tv = [s for s in settings if s[0].endswith(".tfvars")]
        eff = tv[-1] if tv else settings[0]
        d, node, span = eff
        if node.kind != hs.STRING:
            kind = ValueKind.EMPTY if node.kind == hs.EXPR and node.expr.strip() == "null" else ValueKind.TEMPLATED
            self.other(use, ptr, kind, f"var.{name} is not a string literal")
            return
        if d.endswith(".tfvars"):
            place = _Place(d, node, "hcl", f"/tfvars/{jp.escape(name)}", "tfvars", var=name, owner=span,
                           variable=self.a.var_files.get(name, ""))
        else:
            place = _Place(d, node, "hcl", f"/variable.{jp.escape(name)}/default", "default", var=name,
                           variable=d)
        others = [s for s in settings if s is not eff and s[1].kind == hs.STRING and s[1].value]
        key = self.add(use, place, ctx)
        if others:
            self.a.ambiguous[key] = (f"var.{name} also has plaintext in "
                                     + ", ".join(sorted({os.path.basename(s[0]) for s in others})))

    def add(self, use: _Use, place: _Place, ctx: _Ctx) -> str:
        a = self.a
        key = f"{place.file}#{place.pointer}"
        if key in a.places:
            a.uses[key].append(use)
            old = next(e for e in a.entries if e.key == key)
            i = a.entries.index(old)
            units = tuple(dict.fromkeys(old.units + (use.unit,)))
            a.entries[i] = _replace_units(old, units)
            return key
        text = self.texts[place.file]
        node = place.node
        value = node.value
        restorable = value is not None and is_restorable(place.encoding, value, node.raw)
        if place.file != use.file and place.encoding == "json" and ctx.templated:
            restorable = restorable and "${" not in (value or "")
        kind = ValueKind.LITERAL if value else ValueKind.EMPTY
        note = {"inline": "", "default": f"default of var.{place.var}", "tfvars": f"var.{place.var} in tfvars",
                "tplmap": "templatefile() variable"}[place.kind]
        e = Entry(path=self.main, line=line_of(text, node.start), unit=use.unit, location=use.location,
                  name=use.name, value=SecretValue(value) if value is not None else None, value_kind=kind,
                  pointer=place.pointer, source=KIND, value_path=place.file, group=ctx.family,
                  note=note if restorable else (note + "; escapes cannot be restored").lstrip("; "),
                  restorable=restorable)
        a.entries.append(e)
        a.places[key] = place
        a.uses[key] = [use]
        return key

    def other(self, use: _Use, ptr: str, kind: ValueKind, note: str, value: str | None = None) -> None:
        text = self.texts[use.file]
        self.a.entries.append(Entry(path=self.main, line=line_of(text, use.value.start), unit=use.unit,
                                    location=use.location, name=use.name,
                                    value=SecretValue(value) if value is not None else None, value_kind=kind,
                                    pointer=ptr, source=KIND, value_path=use.file, note=note))


#: resource attributes whose value Terraform generates or holds as a secret
_GENERATED = re.compile(r"\b(random_password\.[A-Za-z0-9_-]+\.result|aws_db_instance\.[A-Za-z0-9_-]+\.password|"
                        r"random_string\.[A-Za-z0-9_-]+\.result|aws_iam_access_key\.[A-Za-z0-9_-]+\.secret)\b")

#: module arguments that carry a container's environment (a list of {name, value} or a NAME = value map)
MODULE_ENV_ARGS = ("environment", "map_environment", "env", "environment_variables", "env_vars",
                   "container_environment")
_SECRETS_VAR = re.compile(r'variable\s+"secrets"')


_NO_SECRETS = "not migratable: module"
#: registry modules whose interface takes ``secrets = [{name, valueFrom}]`` beside ``environment``
_SECRETS_MODULES = re.compile(r"(^|/)ecs-container-definition(/|$)")
_SECRETS_OBJ_VAR = re.compile(r'variable\s+"secrets"\s*\{[^}]*valueFrom', re.S)


def _takes_secrets(source: str, main: str) -> bool:
    """The module's interface takes ``secrets`` as a list of ``{name, valueFrom}``: a community
    container-definition module, or a local module whose ``variable "secrets"`` says so."""
    if _SECRETS_MODULES.search(source.split("?")[0]):
        return True
    if source.startswith(("./", "../")):
        d = Path(os.path.dirname(main) or ".") / source
        try:
            return any(_SECRETS_OBJ_VAR.search(p.read_text(encoding="utf-8", errors="replace"))
                       for p in sorted(d.glob("*.tf")))
        except OSError:
            return False
    return False


def _module_box(blk: hs.HclBlock, attrs: dict[str, hs.HclAttr], text: str) -> hs.Node:
    """The module call seen as a container object (its arguments as members), so that environment
    items move into a ``secrets`` argument like they move into a container's ``secrets``."""
    members = [hs.Member(name, a.start, a.start + len(name), hs.hcl_node(a.expr, text)) for name, a in attrs.items()]
    if "environment" not in attrs:  # the anchor the secrets argument is written after
        for alt in MODULE_ENV_ARGS:
            if alt in attrs:
                a = attrs[alt]
                members.append(hs.Member("environment", a.start, a.start + len(alt),
                                         next(m.value for m in members if m.key == alt)))
                break
    return hs.Node(hs.OBJECT, blk.start, blk.end, members=members)


def _module_refusal(source: str, main: str, texts: dict[str, str]) -> str:
    """Why entries passed to module ``source`` as arguments are not rewritten (names the module)."""
    if source.startswith(("./", "../")):
        d = Path(os.path.dirname(main) or ".") / source
        takes = False
        try:
            for p in sorted(d.glob("*.tf")):
                takes = takes or bool(_SECRETS_VAR.search(p.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            pass
        if not takes:
            return f'not migratable: module "{source}" takes no secrets input (add one to the module first)'
    return (f'not migratable: passed to module "{source or "?"}" as an argument, move it to the module\'s '
            "secrets input by hand")


def _replace_units(e: Entry, units: tuple[str, ...]) -> Entry:
    from dataclasses import replace
    return replace(e, units=units)


def _module_path(node: hs.Node) -> str | None:
    """The relative path of ``"${path.module}/x.json"`` or ``"x.json"``; None for other expressions."""
    if node.kind == hs.STRING and node.value:
        return node.value
    if node.kind == hs.TEMPLATE:
        m = re.fullmatch(r"\$\{\s*path\.module\s*\}/(.+)", node.raw)
        if m and "${" not in m.group(1):
            return hs.decode_hcl(m.group(1))
    return None


def _looks_like_container_template(text: str) -> bool:
    """A container list template (a whole task definition, ``{"containerDefinitions": ...}``, is
    the ecs-taskdef source's: ``templatefile()`` of a whole definition is not a container list)."""
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head == "{" and '"containerDefinitions"' in text:
        return False
    return head in "[{" and bool(head) and '"image"' in text and '"name"' in text \
        and ('"environment"' in text or '"logConfiguration"' in text or '"secrets"' in text)
