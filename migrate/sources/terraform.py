"""Terraform: plaintext ``environment`` values and log options of ``aws_ecs_task_definition``.

A module is a directory. Loading the ``.tf`` that holds the resource also reads every other
``*.tf`` and ``*.tfvars`` of that directory and the files ``container_definitions`` points at, so
each value is followed to the place its plaintext is written:

* ``container_definitions = jsonencode([...])`` (HCL objects), a heredoc of JSON,
  ``file("….json")`` or ``templatefile("….json.tpl", {…})``;
* a literal is reported where it is written; ``var.x`` is resolved to its literal in
  ``*.tfvars`` (``terraform.tfvars``, then ``*.auto.tfvars`` in lexical order, then any other
  ``*.tfvars`` as a ``-var-file``) or its ``default``; a ``${x}`` in a template is followed into the
  ``templatefile`` call's map (a literal there, or ``var.x``). Anything else (locals, resource
  attributes, data sources, functions, partial interpolation) is TEMPLATED: not migratable.

Rewrite: the entry leaves ``environment`` (log options: ``options``) and appears in
``secrets = [{ name = "…", valueFrom = "<literal ARN>" }]`` (``secretOptions``). Where the plaintext
lives in a variable, it is removed there too: a ``default = "…"`` becomes ``default = null`` (the
variable stays declared and optional, so callers that still pass it keep working and nothing
becomes a required input); a tfvars line is deleted (and the variable gets ``default = null`` if
it had no default, so it does not become required). A ``templatefile`` map element that fed the
value is removed. If the variable or template variable is used anywhere else, the rewrite refuses.

The ARN is written as a literal (``Move.value_from``). The alternative, not generated, is a data
source the user adds by hand, e.g. ``data "aws_ssm_parameter" "db" { name = "/prod/web/DB" }`` with
``valueFrom = data.aws_ssm_parameter.db.arn`` or ``data "aws_secretsmanager_secret" "db"`` with
``.arn``; a literal keeps the edit local and needs no provider read at plan time.

Edits keep formatting (comments, CRLF, indentation) and ``terraform fmt`` alignment of ``=``.
The Terraform state still holds the old plaintext and old revisions: every load says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from lark import Token, Tree

from migrate.errors import InputError, RewriteError
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, SecretValue, ValueKind
from migrate.rewrite import hcl_spans as hs
from migrate.rewrite import pointer as jp
from migrate.rewrite import text as tx
from migrate.rewrite.edits import PREVIEW_ARN, TextEdit, apply_edits, is_restorable, old_template, ref_token
from migrate.sources.base import (
    FileChange,
    LoadedFile,
    Move,
    RewriteOptions,
    SourceBase,
    SourceText,
    line_of,
    read_source,
)

KIND = "terraform"

STATE_WARNING = ("Terraform state (and every earlier task-definition revision) still holds the old "
                 "plaintext values: rotate the secrets after migrating and protect or purge old state")

_RESOURCE_RE = re.compile(r'resource\s+"aws_ecs_task_definition"')




# --- analysis model ------------------------------------------------------------------------------


@dataclass
class _Place:
    """Where a plaintext literal is written."""

    file: str  #: display path
    node: hs.Node  #: the STRING node (span includes quotes)
    encoding: str  #: "hcl" | "json"
    pointer: str
    kind: str  #: "inline" | "default" | "tfvars" | "tplmap"
    var: str = ""
    owner: tuple[int, int] = (0, 0)  #: tfvars attribute / map element span to delete
    holder: hs.Node | None = None  #: the object that holds ``owner`` (map) or None (tfvars body)
    variable: str = ""  #: display path of the file declaring var (for tfvars: default = null)


@dataclass
class _Use:
    """One environment entry or log option inside a container definition."""

    file: str
    syntax: str  #: "hcl" | "json"
    resource: str
    ci: int
    container: hs.Node
    unit: str
    location: str
    name: str
    list_node: hs.Node  #: environment array / options object
    index: int  #: element index in list_node
    value: hs.Node
    via_var: str = ""  #: the use (or its template map element) references var.<via_var>
    via_tplvar: str = ""  #: ${via_tplvar} in a template
    map_node: hs.Node | None = None  #: the templatefile call's map


@dataclass
class _Analysis:
    texts: dict[str, str]
    entries: list[Entry] = field(default_factory=list)
    places: dict[str, _Place] = field(default_factory=dict)  #: entry key -> place
    uses: dict[str, list[_Use]] = field(default_factory=dict)  #: entry key -> uses
    ambiguous: dict[str, str] = field(default_factory=dict)  #: entry key -> reason
    warnings: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    var_files: dict[str, str] = field(default_factory=dict)  #: var -> display declaring it
    var_defaults: dict[str, hs.Node | None] = field(default_factory=dict)
    var_blocks: dict[str, tuple[int, int]] = field(default_factory=dict)
    var_refuse: dict[str, str] = field(default_factory=dict)
    all_uses: list[_Use] = field(default_factory=list)


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

    def hcl(self, display: str) -> Tree[Token]:
        if display not in self.trees:
            try:
                self.trees[display] = hs.parse_hcl(self.texts[display])
            except hs.SpanError as e:
                raise _syntax_error(display, e, "invalid HCL") from None
        return self.trees[display]

    def run(self) -> _Analysis:
        a = self.a
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
        for it in hs.body_items(hs.root_body(self.hcl(self.main))):
            if isinstance(it, hs.HclBlock) and it.type == "resource" and it.labels[:1] == ["aws_ecs_task_definition"]:
                self.resource(it)
        if a.entries:
            a.warnings.append(STATE_WARNING)
        return a

    # -- resources ------------------------------------------------------------------------------

    def resource(self, blk: hs.HclBlock) -> None:
        text = self.texts[self.main]
        rname = blk.labels[1] if len(blk.labels) > 1 else "?"
        res = f"aws_ecs_task_definition.{rname}"
        family = rname
        cdefs: hs.HclAttr | None = None
        has_role = False
        for it in hs.body_items(blk.body):
            if isinstance(it, hs.HclAttr) and it.name == "family":
                n = hs.hcl_node(it.expr, text)
                if n.kind == hs.STRING and n.value:
                    family = n.value
            elif isinstance(it, hs.HclAttr) and it.name == "container_definitions":
                cdefs = it
            elif isinstance(it, hs.HclAttr) and it.name == "execution_role_arn":
                has_role = True
        self.a.groups.append(family)
        if cdefs is None:
            return
        if not has_role:
            self.a.warnings.append(f"{res} has no execution_role_arn: ECS needs one to read secrets")
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
        self.other(use, ptr, ValueKind.TEMPLATED, "Terraform expression; not followed")

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

    def other(self, use: _Use, ptr: str, kind: ValueKind, note: str) -> None:
        text = self.texts[use.file]
        self.a.entries.append(Entry(path=self.main, line=line_of(text, use.value.start), unit=use.unit,
                                    location=use.location, name=use.name, value=None, value_kind=kind,
                                    pointer=ptr, source=KIND, value_path=use.file, note=note))


@dataclass
class _Ctx:
    res: str
    family: str
    file: str
    syntax: str
    json_ptr: bool
    tpl_map: hs.Node | None
    templated: bool = False


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


# --- the source ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    analysis: _Analysis
    sources: dict[str, SourceText]


def _looks_like_container_template(text: str) -> bool:
    head = text.lstrip("\ufeff \t\r\n")[:1]
    return head in "[{" and bool(head) and '"image"' in text and '"name"' in text \
        and ('"environment"' in text or '"logConfiguration"' in text or '"secrets"' in text)


class TerraformSource(SourceBase):
    kind: ClassVar[str] = KIND

    def sniff(self, path: Path, text: str) -> bool:
        """``.tf`` files declaring an ``aws_ecs_task_definition``; ``.tpl`` container templates."""
        name = path.name.lower()
        if name.endswith(".tf"):
            return bool(_RESOURCE_RE.search(text))
        if name.endswith(".tpl"):
            return _looks_like_container_template(text)
        return False

    def parse(self, src: SourceText, *, root: Path | None = None) -> LoadedFile:
        if src.path.name.lower().endswith(".tpl"):
            return self._load_template(src)
        sources: dict[str, SourceText] = {src.display: src}
        for p, disp in _module_files(src):
            sources[disp] = read_source(p, disp)
        base_dir = src.path.parent
        base_disp = os.path.dirname(src.display)

        def read(disp: str) -> str | None:
            rel = os.path.relpath(disp, base_disp or ".")
            p = base_dir / rel
            if not p.is_file():
                return None
            sources[disp] = read_source(p, disp)
            return sources[disp].text

        a = _Analyzer(src.display, {d: s.text for d, s in sources.items()}, read).run()
        related = tuple(s for d, s in sources.items() if d != src.display)
        warnings = list(dict.fromkeys(a.warnings))
        for key, why in a.ambiguous.items():
            warnings.append(f"{key.split('#')[0]}: {why}; migrate it by hand")
        return LoadedFile(source=src, kind=KIND, entries=tuple(a.entries),
                          units=tuple(dict.fromkeys(a.units)), related=related,
                          group=",".join(dict.fromkeys(a.groups)), data=_Data(a, sources),
                          warnings=tuple(warnings))

    def _load_template(self, src: SourceText) -> LoadedFile:
        """A template alone. If a .tf next to it (or one directory up) references it, that .tf
        loads it; this file then reports nothing of its own."""
        name = src.path.name
        for d in (src.path.parent, src.path.parent.parent):
            try:
                tfs = sorted(p for p in d.iterdir() if p.name.endswith(".tf") and p.is_file())
            except OSError:
                continue
            for p in tfs:
                try:
                    t = p.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                if name in t and _RESOURCE_RE.search(t):
                    return LoadedFile(source=src, kind=KIND, entries=(),
                                      warnings=(f"loaded as part of the module of {p.name}",))
        try:
            node = hs.parse_json(src.text, templated=True)
        except hs.SpanError as e:
            raise _syntax_error(src.display, e, "invalid container definitions template") from None
        an = _Analyzer(src.display, {src.display: src.text}, lambda d: None)
        ctx = _Ctx(res=Path(src.display).name, family=name.split(".")[0], file=src.display, syntax="json",
                   json_ptr=True, tpl_map=None, templated=True)
        an.containers(node, ctx)
        a = an.a
        if a.entries:
            a.warnings.append(STATE_WARNING)
        return LoadedFile(source=src, kind=KIND, entries=tuple(a.entries), units=tuple(dict.fromkeys(a.units)),
                          group=ctx.family, data=_Data(a, {src.display: src}), warnings=tuple(a.warnings))

    # -- rewrite --------------------------------------------------------------------------------

    def splice(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        data = loaded.data
        if not isinstance(data, _Data):
            raise RewriteError(f"{loaded.path}: not loaded by the terraform source")
        a = data.analysis
        sp = _SplicePlan(loaded.path, a)
        for mv in moves:
            sp.move(mv)
        sp.check_shared()
        changes, new_texts = sp.changes()
        self._verify(loaded, a, new_texts, [m.entry.key for m in moves], data)
        return changes

    def _verify(self, loaded: LoadedFile, a: _Analysis, new_texts: dict[str, str], keys: list[str],
                data: _Data) -> None:
        texts = dict(a.texts)
        texts.update(new_texts)
        try:
            if loaded.path.lower().endswith(".tpl") and len(data.sources) == 1:
                an = _Analyzer(loaded.path, texts, lambda d: None)
                node = hs.parse_json(texts[loaded.path], templated=True)
                an.containers(node, _Ctx(res="", family="", file=loaded.path, syntax="json", json_ptr=True,
                                         tpl_map=None, templated=True))
                b = an.a
            else:
                for d, t in new_texts.items():
                    if _is_hcl(d):
                        hs.parse_hcl(t)
                b = _Analyzer(loaded.path, texts, lambda d: None).run()
        except (hs.SpanError, InputError):
            raise RewriteError(f"{loaded.path}: the rewritten files do not parse") from None
        for key in keys:
            for use in a.uses[key]:
                left = [u for u in b.all_uses if u.resource == use.resource and u.ci == use.ci
                        and u.location == use.location and u.name == use.name and u.file == use.file]
                if left:
                    raise RewriteError(f"{loaded.path}: {use.name} is still in {use.location} after the rewrite")
                if not _has_secret(texts[use.file], b, use):
                    raise RewriteError(f"{loaded.path}: {use.name} is missing from the secrets after the rewrite")
            name = a.uses[key][0].name  # index pointers shift: compare the name too
            if (key, name) in {(e.key, e.name) for e in b.entries if e.value_kind is ValueKind.LITERAL}:
                raise RewriteError(f"{loaded.path}: the plaintext of a moved entry is still there after the rewrite")


def _is_hcl(display: str) -> bool:
    return display.endswith(".tf") or display.endswith(".tfvars")


def _has_secret(text: str, b: _Analysis, use: _Use) -> bool:
    """The container (re-parsed) has ``use.name`` in secrets / secretOptions with a valueFrom."""
    if _is_hcl(use.file):
        tree = hs.parse_hcl(text)
        for it in hs.body_items(hs.root_body(tree)):
            if isinstance(it, hs.HclBlock) and it.labels[:1] == ["aws_ecs_task_definition"] \
                    and f"aws_ecs_task_definition.{it.labels[1]}" == use.resource:
                for at in hs.body_items(it.body):
                    if isinstance(at, hs.HclAttr) and at.name == "container_definitions":
                        call = hs.function_call(at.expr)
                        body = hs.heredoc_body(at.expr, text)
                        if call and call[0] == "jsonencode":
                            arr = hs.hcl_node(call[1][0], text)
                        elif body:
                            arr = hs.parse_json(text, body[0], body[1], templated=True)
                        else:
                            return False
                        return _container_has(arr, use)
        return False
    return _container_has(hs.parse_json(text, templated=True), use)


def _container_has(arr: hs.Node, use: _Use) -> bool:
    if arr.kind != hs.ARRAY or use.ci >= len(arr.items):
        return False
    c = arr.items[use.ci]
    lst: hs.Member | None
    if use.location == LOC_ENVIRONMENT:
        lst = c.get("secrets")
    else:
        log = c.get("logConfiguration")
        lst = log.value.get("secretOptions") if log and log.value.kind == hs.OBJECT else None
    if lst is None or lst.value.kind != hs.ARRAY:
        return False
    for el in lst.value.items:
        n = el.get("name") if el.kind == hs.OBJECT else None
        vf = el.get("valueFrom") if el.kind == hs.OBJECT else None
        if n and n.value.value == use.name and vf and vf.value.kind == hs.STRING and vf.value.value:
            return True
    return False


@dataclass
class _SplicePlan:
    """The edits of one rewrite, gathered move by move, then turned into FileChanges."""

    path: str  #: the loaded definition (display)
    a: _Analysis = field(repr=False)
    edits: dict[str, list[TextEdit]] = field(default_factory=dict)
    moved_keys: dict[str, list[str]] = field(default_factory=dict)
    summaries: dict[str, list[str]] = field(default_factory=dict)
    #: (file, id(container), location) -> [(use, value_from)]
    adds: dict[tuple[str, int, str], list[tuple[_Use, str]]] = field(default_factory=dict)
    removals: dict[tuple[str, int], list[int]] = field(default_factory=dict)  #: (file, id(list/map)) -> indexes
    nodes: dict[int, tuple[hs.Node, str]] = field(default_factory=dict)
    values: dict[str, list[tuple[int, int, str, str]]] = field(default_factory=dict)
    var_counts_needed: dict[str, int] = field(default_factory=dict)
    tplvar_needed: dict[tuple[str, str], int] = field(default_factory=dict)

    def note(self, file: str, key: str, line: str) -> None:
        keys = self.moved_keys.setdefault(file, [])
        if key not in keys:
            keys.append(key)
        self.summaries.setdefault(file, []).append(line)

    def move(self, mv: Move) -> None:
        a, key = self.a, mv.entry.key
        place = a.places.get(key)
        if place is None or mv.entry.value_kind is not ValueKind.LITERAL:
            raise RewriteError(f"{self.path}: {mv.entry.name} is not a plaintext literal this file can move")
        if key in a.ambiguous:
            raise RewriteError(f"{self.path}: {mv.entry.name}: {a.ambiguous[key]}")
        if not mv.entry.restorable:
            raise RewriteError(f"{self.path}: {mv.entry.name} uses escapes that cannot be restored")
        if place.var in a.var_refuse:
            raise RewriteError(f"{self.path}: var.{place.var}: {a.var_refuse[place.var]}; migrate it by hand")
        self.values.setdefault(place.file, []).append((place.node.start + 1, place.node.end - 1, key, place.encoding))
        for use in a.uses[key]:
            self._use(use, key, mv.value_from)
        self._place(place, key)

    def _use(self, use: _Use, key: str, value_from: str) -> None:
        holder = use.list_node
        self.nodes[id(holder)] = (holder, use.syntax)
        self.removals.setdefault((use.file, id(holder)), []).append(use.index)
        loc = "secrets" if use.location == LOC_ENVIRONMENT else "secretOptions"
        self.adds.setdefault((use.file, id(use.container), use.location), []).append((use, value_from))
        self.nodes[id(use.container)] = (use.container, use.syntax)
        self.note(use.file, key, f"{use.unit}: {use.name} {use.location} -> {loc}")
        if use.via_tplvar:
            tk = (use.file, use.via_tplvar)
            self.tplvar_needed[tk] = self.tplvar_needed.get(tk, 0) + 1
            if use.map_node is not None:
                el_i = next(i for i, m in enumerate(use.map_node.members) if m.key == use.via_tplvar)
                self.nodes[id(use.map_node)] = (use.map_node, "hcl")
                lst = self.removals.setdefault((self.path, id(use.map_node)), [])
                if el_i not in lst:
                    lst.append(el_i)
                    if use.via_var:
                        self.var_counts_needed[use.via_var] = self.var_counts_needed.get(use.via_var, 0) + 1
                    self.note(self.path, key, f"removed templatefile() variable {use.via_tplvar}")
        elif use.via_var:
            self.var_counts_needed[use.via_var] = self.var_counts_needed.get(use.via_var, 0) + 1

    def _place(self, place: _Place, key: str) -> None:
        a = self.a
        if place.kind == "tfvars":
            self.edits.setdefault(place.file, []).append(_line_removal(a.texts[place.file], place.owner, key, place))
            self.note(place.file, key, f"removed var {place.var} (its plaintext moved to the store)")
            dflt = a.var_defaults.get(place.var, "absent")
            if place.variable and dflt is None:
                self.edits.setdefault(place.variable, []).append(
                    _add_null_default(a.texts[place.variable], a.var_blocks[place.var]))
                self.note(place.variable, key, f"var.{place.var}: default = null (no longer required)")
        elif place.kind == "default":
            n = place.node
            self.edits.setdefault(place.file, []).append(
                TextEdit(n.start, n.end, "null", old_template(a.texts[place.file], n.start, n.end,
                                                              [(n.start + 1, n.end - 1, key, "hcl")])))
            self.note(place.file, key, f"var.{place.var}: plaintext default replaced by null; "
                                       "callers passing a value still hold plaintext")

    def check_shared(self) -> None:
        """A variable or template variable used by anything that does not move: refuse."""
        a = self.a
        for var, need in self.var_counts_needed.items():
            count = sum(len(re.findall(r"\bvar\." + re.escape(var) + r"\b", t))
                        for d, t in a.texts.items() if d.endswith(".tf"))
            if count != need:
                raise RewriteError(f"{self.path}: var.{var} is used elsewhere in the module; migrate it by hand")
        for (file, tv), need in self.tplvar_needed.items():
            count = sum(len(re.findall(r"\b" + re.escape(tv) + r"\b", m.group(0)))
                        for m in re.finditer(r"\$\{[^}]*\}", a.texts[file]))
            if count != need:
                raise RewriteError(f"{file}: template variable {tv} is used elsewhere; migrate it by hand")

    def changes(self) -> tuple[list[FileChange], dict[str, str]]:
        """The FileChanges, and each changed file's new text (references previewed)."""
        a, edits = self.a, self.edits
        for (file, nid), idxs in self.removals.items():
            holder, syntax = self.nodes[nid]
            edits.setdefault(file, []).extend(_remove_items(a.texts[file], holder, sorted(set(idxs)), syntax))
        for (file, cid, location), items in self.adds.items():
            container, syntax = self.nodes[cid]
            edits.setdefault(file, []).append(_add_secrets(a.texts[file], container, location, items, syntax))
        changes: list[FileChange] = []
        new_texts: dict[str, str] = {}
        for file in sorted(edits):
            text = a.texts[file]
            es = _tokenize(text, edits[file], self.values.get(file, []))
            if _is_hcl(file):
                es = _with_alignment(text, es)
            new_texts[file] = apply_edits(text, es, ref=lambda aid: PREVIEW_ARN)
            changes.append(FileChange(path=file, edits=tuple(es), entries=tuple(self.moved_keys.get(file, ())),
                                      summary="; ".join(dict.fromkeys(self.summaries.get(file, [])))))
        return changes, new_texts


# --- edit builders -------------------------------------------------------------------------------








_REST_RE = re.compile(r"[ \t]*,?[ \t]*(?:(?:#|//)[^\n]*)?\r?(?:\n|$)")


def _owns_lines(text: str, start: int, end: int, syntax: str) -> bool:
    if text[tx.line_start(text, start):start].strip():
        return False
    m = _REST_RE.match(text, end)
    if not m:
        return False
    return syntax == "hcl" or "#" not in m.group(0) and "//" not in m.group(0)


def _line_removal(text: str, span: tuple[int, int], key: str, place: _Place) -> TextEdit:
    s, e = span
    if not _owns_lines(text, s, e, "hcl"):
        raise RewriteError(f"{place.file}: var {place.var} shares its line with other settings")
    ls, le = tx.line_start(text, s), tx.line_end(text, e)
    return TextEdit(ls, le, "", old_template(text, ls, le, []))


def _add_null_default(text: str, block: tuple[int, int]) -> TextEdit:
    """Insert ``default = null`` as the first line of a variable block (its own alignment group)."""
    s, e = block
    brace = text.find("{", s, e)
    close = text.rfind("}", s, e)
    inner = text[brace + 1:close]
    nl = tx.eol(text, brace)
    if "\n" not in inner:  # variable "x" {} on one line
        new = "{" + nl + "  default = null" + nl + "}"
        return TextEdit(brace, close + 1, new, text[brace:close + 1])
    at = tx.line_end(text, brace)
    indent = re.match(r"[ \t]*", text[at:]).group(0) or "  "  # type: ignore[union-attr]
    return TextEdit(at, at, indent + "default = null" + nl + nl, "")


def _spans(holder: hs.Node) -> list[tuple[int, int]]:
    if holder.kind == hs.ARRAY:
        return [(n.start, n.end) for n in holder.items]
    return [(m.key_start, m.value.end) for m in holder.members]


def _remove_items(text: str, holder: hs.Node, idxs: list[int], syntax: str) -> list[TextEdit]:
    """Edits removing items ``idxs`` of an array/object, keeping the separators valid."""
    spans = _spans(holder)
    n = len(spans)
    drop = set(idxs)
    out: list[tuple[int, int]] = []
    if all(_owns_lines(text, *spans[i], syntax) for i in drop):
        for i in sorted(drop):
            out.append((tx.line_start(text, spans[i][0]), tx.line_end(text, spans[i][1])))
        kept = [i for i in range(n) if i not in drop]
        if syntax == "json" and kept and max(drop) > kept[-1]:
            # the last kept item must lose its comma
            j = spans[kept[-1]][1]
            while text[j] in " \t":
                j += 1
            if text[j] == ",":
                out.append((j, j + 1))
    else:
        i = 0
        while i < n:
            if i not in drop:
                i += 1
                continue
            j = i
            while j + 1 < n and j + 1 in drop:
                j += 1
            if j + 1 < n:
                out.append((spans[i][0], spans[j + 1][0]))
            elif i > 0:
                out.append((spans[i - 1][1], spans[j][1]))
            else:
                out.append((spans[i][0], spans[j][1]))
            i = j + 1
    merged: list[tuple[int, int]] = []
    for s, e in sorted(out):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return [TextEdit(s, e, "", text[s:e]) for s, e in merged]


def _indent_of(text: str, pos: int) -> str:
    ls = tx.line_start(text, pos)
    return re.match(r"[ \t]*", text[ls:]).group(0)  # type: ignore[union-attr]


def _quote(v: str, syntax: str) -> str:
    import json
    body = json.dumps(v, ensure_ascii=False)[1:-1]
    if syntax == "hcl":
        body = body.replace("${", "$${").replace("%{", "%%{")
    return '"' + body + '"'


def _secret_element(text: str, use: _Use, value_from: str, syntax: str) -> str:
    vf = '"' + value_from + '"'
    if use.location == LOC_ENVIRONMENT:
        el = use.list_node.items[use.index]
        vm = el.get("value")
        assert vm is not None
        parts = [(vm.key_start, vm.key_end, '"valueFrom"' if text[vm.key_start] == '"' else "valueFrom"),
                 (vm.value.start, vm.value.end, vf)]
        out, pos = [], el.start
        for s, e, new in parts:
            out.append(text[pos:s])
            out.append(new)
            pos = e
        out.append(text[pos:el.end])
        return "".join(out)
    if syntax == "hcl":
        return "{ name = " + _quote(use.name, "hcl") + ", valueFrom = " + vf + " }"
    return '{ "name": ' + _quote(use.name, "json") + ', "valueFrom": ' + vf + " }"


def _add_secrets(text: str, container: hs.Node, location: str, items: list[tuple[_Use, str]],
                 syntax: str) -> TextEdit:
    if location == LOC_ENVIRONMENT:
        parent = container
        anchor_key, list_key = "environment", "secrets"
    else:
        log = container.get("logConfiguration")
        assert log is not None
        parent = log.value
        anchor_key, list_key = "options", "secretOptions"
    anchor = parent.get(anchor_key)
    assert anchor is not None
    src_list = anchor.value
    first = src_list.items[0] if src_list.kind == hs.ARRAY and src_list.items else None
    first_start = first.start if first else (src_list.members[0].key_start if src_list.members else src_list.end)
    multiline = "\n" in text[src_list.start:first_start]
    nl = tx.eol(text, src_list.start)
    key_indent = _indent_of(text, anchor.key_start)
    item_indent = _indent_of(text, first_start) if multiline else ""
    elems = [_secret_element(text, u, vf, syntax) for u, vf in items]
    existing = parent.get(list_key)
    if existing is not None and existing.value.kind == hs.ARRAY:
        arr = existing.value
        if arr.items:
            sep_ws = text[arr.start + 1:arr.items[0].start]
            sep = (nl + _indent_of(text, arr.items[0].start)) if "\n" in sep_ws else " "
            at = arr.items[-1].end
            return TextEdit(at, at, "".join("," + sep + e for e in elems), "")
        return TextEdit(arr.start + 1, arr.end - 1, ", ".join(elems), text[arr.start + 1:arr.end - 1])
    if existing is not None:
        raise RewriteError(f"{list_key} of container is not a list")
    if multiline:
        body = "[" + nl + ("," + nl).join(item_indent + e for e in elems) + nl + key_indent + "]"
    else:
        body = "[" + ", ".join(elems) + "]"
    if syntax == "json":
        new = "," + (nl + key_indent if _multiline_parent(text, parent) else " ") + f'"{list_key}": ' + body
        return TextEdit(anchor.value.end, anchor.value.end, new, "")
    qkey = f'"{list_key}"' if text[anchor.key_start] == '"' else list_key
    if _multiline_parent(text, parent):
        m = _REST_RE.match(text, anchor.value.end)
        if m and "\n" in m.group(0):
            at = m.end() - len(nl)
            return TextEdit(at, at, nl + key_indent + qkey + " = " + body, "")
        return TextEdit(anchor.value.end, anchor.value.end, nl + key_indent + qkey + " = " + body, "")
    return TextEdit(anchor.value.end, anchor.value.end, ", " + qkey + " = " + body, "")


def _multiline_parent(text: str, parent: hs.Node) -> bool:
    first = parent.members[0].key_start if parent.members else parent.end
    return "\n" in text[parent.start:first]


def _tokenize(text: str, edits: list[TextEdit], values: list[tuple[int, int, str, str]]) -> list[TextEdit]:
    """Each edit's ``old`` with the moved values it covers replaced by value tokens."""
    out = []
    for e in edits:
        inside = [v for v in values if e.start <= v[0] and v[1] <= e.end]
        if any(v[0] < e.end and e.start < v[1] and v not in inside for v in values):
            raise RewriteError("an edit cuts through a moved value")
        if inside and e.old and e.old == text[e.start:e.end]:
            e = TextEdit(e.start, e.end, e.new, old_template(text, e.start, e.end, inside))
        out.append(e)
    return out


def _with_alignment(text: str, edits: list[TextEdit]) -> list[TextEdit]:
    """Add the whitespace changes that keep ``terraform fmt`` alignment around the edits."""
    keep = lambda aid: ref_token(aid)  # noqa: E731 - keep reference tokens in place
    edits = sorted(edits, key=lambda e: (e.start, e.end))
    # positions of each edit in the edited text
    placed: list[tuple[TextEdit, int, int]] = []
    shift = 0
    for e in edits:
        s = e.start + shift
        placed.append((e, s, s + len(e.new)))
        shift += len(e.new) - (e.end - e.start)
    new_text = apply_edits(text, edits, ref=keep)
    dirty = [(max(0, s - 2), t) for _, s, t in placed]  # a removed line joins its neighbours
    fixes = hs.alignment_fixes(new_text, dirty)
    if not fixes:
        return edits
    new_edits = {id(e): e.new for e, _, _ in placed}
    extra: list[TextEdit] = []
    for fs, fe, want in fixes:
        host = next(((e, s) for e, s, t in placed if s <= fs and fe <= t and t > s), None)
        if host is not None:
            e, s = host
            cur = new_edits[id(e)]
            # fixes are applied back to front inside one edit below; record offsets relative
            new_edits[id(e)] = cur  # placeholder to keep mapping
            extra.append(TextEdit(fs - s, fe - s, want, f"@{id(e)}"))
            continue
        # map an offset of new_text back to the original text
        before = [(e, s, t) for e, s, t in placed if t <= fs]
        if any(s < fe and fs < t for _, s, t in placed):
            raise RewriteError("alignment fix overlaps an edit")
        off = sum(len(e.new) - (e.end - e.start) for e, _, _ in before)
        extra.append(TextEdit(fs - off, fe - off, want, text[fs - off:fe - off]))
    out: list[TextEdit] = []
    inner = [x for x in extra if x.old.startswith("@")]
    for e, _, _ in placed:
        mine = sorted((x for x in inner if x.old == f"@{id(e)}"), key=lambda x: -x.start)
        new = e.new
        for x in mine:
            new = new[:x.start] + x.new + new[x.end:]
        out.append(TextEdit(e.start, e.end, new, e.old))
    out.extend(x for x in extra if not x.old.startswith("@"))
    return sorted(out, key=lambda e: (e.start, e.end))
