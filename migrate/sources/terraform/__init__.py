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

Execution role (``LoadedFile.execution_role_ref``): a literal ARN, ``var.x`` followed to its
tfvars/default literal, ``aws_iam_role.x.arn`` of this module (the grant is then written here as an
``aws_iam_role_policy`` on that role, removed again by rollback), ``module.m.out`` (IMPORTED: the
role lives in that module). A resource without ``execution_role_arn`` gets the ``--execution-role``
ARN inserted; without one the rewrite is refused. A list the move empties is removed whole (key
included). A sibling ``.tf`` that does not parse is left out (a warning here; the walk reports it
as an error under its own name and line).

Edits keep formatting (comments, CRLF, indentation) and ``terraform fmt`` alignment of ``=``.
The Terraform state still holds the old plaintext and old revisions: every load says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from migrate.errors import InputError, RewriteError
from migrate.model import ValueKind
from migrate.rewrite import hcl_spans as hs
from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions, SourceBase, SourceText, read_source
from migrate.sources.terraform.model import KIND, STATE_WARNING, _Analysis, _Ctx, _Data, _is_hcl
from migrate.sources.terraform.parse import _Analyzer, _looks_like_container_template, _module_files, _syntax_error
from migrate.sources.terraform.splice import _has_secret, _SplicePlan

_RESOURCE_RE = re.compile(r'resource\s+"aws_ecs_task_definition"')
_MODULE_RE = re.compile(r'^[ \t]*module[ \t]+"[^"]*"[ \t]*\{', re.M)
_MODULE_ENV_RE = re.compile(r"^[ \t]*(container_definitions|environment|map_environment|env|environment_variables|"
                            r"env_vars|container_environment)[ \t]*=[ \t]*(jsonencode\(|<<|\[|\{)", re.M)


class TerraformSource(SourceBase):
    kind: ClassVar[str] = KIND

    def sniff(self, path: Path, text: str) -> bool:
        """``.tf`` files declaring an ``aws_ecs_task_definition``; ``.tpl`` container templates."""
        name = path.name.lower()
        if name.endswith(".tf"):
            return bool(_RESOURCE_RE.search(text)) or bool(_MODULE_RE.search(text) and _MODULE_ENV_RE.search(text))
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
                          warnings=tuple(warnings), role_refs=tuple(a.role_refs),
                          execution_roles=tuple((u, r.arn) for u, r in a.role_refs if r.arn))

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

    def value_spans(self, loaded: LoadedFile) -> dict[str, tuple[str, int, int, str]]:
        """Entry key -> (file, start, end, encoding) of each plaintext value's raw text."""
        data = loaded.data
        if not isinstance(data, _Data):
            return {}
        return {key: (p.file, p.node.start + 1, p.node.end - 1, p.encoding) for key, p in data.analysis.places.items()}

    def splice(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        data = loaded.data
        if not isinstance(data, _Data):
            raise RewriteError(f"{loaded.path}: not loaded by the terraform source")
        a = data.analysis
        sp = _SplicePlan(loaded.path, a)
        for mv in moves:
            sp.move(mv)
        sp.check_shared()
        sp.roles(moves, options)
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


__all__ = ["KIND", "STATE_WARNING", "TerraformSource"]
