"""Terraform rewrite: gather the edits of every move, then check the re-parsed result."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lark import Token, Tree

from migrate.errors import RewriteError
from migrate.model import LOC_ENVIRONMENT, ValueKind
from migrate.rewrite import hcl_spans as hs
from migrate.rewrite import text as tx
from migrate.rewrite.edits import PREVIEW_ARN, TextEdit, apply_edits
from migrate.sources.base import FileChange, Move, RewriteOptions
from migrate.sources.terraform.edits import (
    _add_null_default,
    _add_secrets,
    _line_removal,
    _remove_items,
    _replace_emptied,
    _with_alignment,
)
from migrate.sources.terraform.model import _Analysis, _is_hcl, _Place, _Use


def _has_secret(text: str, b: _Analysis, use: _Use) -> bool:
    """The container (re-parsed) has ``use.name`` in secrets / secretOptions with a valueFrom."""
    if _is_hcl(use.file):
        tree = hs.parse_hcl(text)
        if use.module_arg:
            return _module_has(text, tree, use)
        for it in hs.body_items(hs.root_body(tree)):
            if isinstance(it, hs.HclBlock) and (
                    it.type == "resource" and it.labels[:1] == ["aws_ecs_task_definition"]
                    and f"aws_ecs_task_definition.{it.labels[1]}" == use.resource
                    or it.type == "module" and it.labels and f"module.{it.labels[0]}" == use.resource):
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


def _module_has(text: str, tree: Tree[Token], use: _Use) -> bool:
    """The module call has ``use.name`` in its ``secrets`` argument with a valueFrom."""
    for it in hs.body_items(hs.root_body(tree)):
        if isinstance(it, hs.HclBlock) and it.type == "module" and it.labels and f"module.{it.labels[0]}" == use.resource:
            for at in hs.body_items(it.body):
                if isinstance(at, hs.HclAttr) and at.name == "secrets":
                    arr = hs.hcl_node(at.expr, text)
                    return arr.kind == hs.ARRAY and any(
                        el.kind == hs.OBJECT and (n := el.get("name")) is not None and n.value.value == use.name
                        and (vf := el.get("valueFrom")) is not None and vf.value.kind == hs.STRING
                        and bool(vf.value.value) for el in arr.items)
    return False


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
    var_counts_needed: dict[str, int] = field(default_factory=dict)
    tplvar_needed: dict[tuple[str, str], int] = field(default_factory=dict)
    granted: list[str] = field(default_factory=list)  #: entry keys whose grant this rewrite writes

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
                TextEdit(n.start, n.end, "null", a.texts[place.file][n.start:n.end]))
            self.note(place.file, key, f"var.{place.var}: plaintext default replaced by null; "
                                       "callers passing a value still hold plaintext")

    def roles(self, moves: Sequence[Move], options: RewriteOptions) -> None:
        """Each moved-into resource reads its secrets with its execution role: insert
        ``execution_role_arn`` where it has none (``--execution-role``; refused without), and
        write the grant as an ``aws_iam_role_policy`` when the role is an ``aws_iam_role`` of
        this module (rollback removes it with the rest of the rewrite)."""
        a = self.a
        by_res: dict[str, list[Move]] = {}
        for mv in moves:
            for use in a.uses.get(mv.entry.key, []):
                lst = by_res.setdefault(use.resource, [])
                if mv not in lst:
                    lst.append(mv)
        text = a.texts[self.path]
        nl = tx.eol(text)
        for res, mvs in by_res.items():
            spot = a.role_missing.get(res)
            if spot is not None:
                if not options.execution_role:
                    raise RewriteError(f"{self.path}: {res} has no execution_role_arn, which ECS requires for "
                                       "secrets; pass --execution-role ARN")
                at, indent = spot
                self.edits.setdefault(self.path, []).append(
                    TextEdit(at, at, f'{indent}execution_role_arn = {_hcl_str(options.execution_role)}{nl}', ""))
                self.note(self.path, mvs[0].entry.key, f"{res}: execution_role_arn added")
            ref = a.role_same_module.get(res)
            if ref is not None and ref.logical_id:
                self._grant(res, ref.logical_id, mvs, nl)

    def _grant(self, res: str, role: str, mvs: list[Move], nl: str) -> None:
        text = self.a.texts[self.path]
        base = "secrets_migrate_" + re.sub(r"[^A-Za-z0-9_]", "_", res.split(".", 1)[1])
        taken = {m.group(1) for t in self.a.texts.values()
                 for m in re.finditer(r'resource\s+"aws_iam_role_policy"\s+"([^"]+)"', t)}
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        block = iam_policy_block(name, role, [(mv.store, mv.value_from) for mv in mvs], nl)
        at = len(text)
        lead = "" if text.endswith(nl + nl) else (nl if text.endswith(("\n", "\r")) else nl + nl)
        self.edits.setdefault(self.path, []).append(TextEdit(at, at, lead + block, ""))
        for mv in mvs:
            self.granted.append(mv.entry.key)
        self.note(self.path, mvs[0].entry.key, f"aws_iam_role_policy.{name} grants {role} read access")

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
        emptied: set[tuple[str, int]] = set()  # lists a move empties: removed whole, key included
        for (file, cid, location), items in self.adds.items():
            container, syntax = self.nodes[cid]
            holder = items[0][0].list_node
            size = len(holder.items) if holder.kind == hs.ARRAY else len(holder.members)
            if len(set(self.removals.get((file, id(holder)), []))) == size:
                emptied.add((file, id(holder)))
                edits.setdefault(file, []).extend(_replace_emptied(a.texts[file], container, location, items, syntax))
            else:
                edits.setdefault(file, []).append(_add_secrets(a.texts[file], container, location, items, syntax))
        for (file, nid), idxs in self.removals.items():
            if (file, nid) in emptied:
                continue
            holder, syntax = self.nodes[nid]
            edits.setdefault(file, []).extend(_remove_items(a.texts[file], holder, sorted(set(idxs)), syntax))
        changes: list[FileChange] = []
        new_texts: dict[str, str] = {}
        for file in sorted(edits):
            text = a.texts[file]
            es = sorted(edits[file], key=lambda e: (e.start, e.end))
            if _is_hcl(file):
                es = _with_alignment(text, es)
            new_texts[file] = apply_edits(text, es, ref=lambda aid: PREVIEW_ARN)
            changes.append(FileChange(path=file, edits=tuple(es), entries=tuple(self.moved_keys.get(file, ())),
                                      summary="; ".join(dict.fromkeys(self.summaries.get(file, []))),
                                      grants=tuple(self.granted) if file == self.path else ()))
        return changes, new_texts


def _hcl_str(v: str) -> str:
    import json
    return '"' + json.dumps(v, ensure_ascii=False)[1:-1].replace("${", "$${").replace("%{", "%%{") + '"'


def _strip_key(value_from: str) -> str:
    """The secret of a ``<secret>:<json-key>::`` reference (IAM grants the secret, not the key)."""
    return value_from[:-len(m.group(0))] if (m := re.search(r":[^:]*::$", value_from)) else value_from


def iam_policy_block(name: str, role: str, refs: list[tuple[str, str]], nl: str) -> str:
    """An ``aws_iam_role_policy`` granting ``role`` (``aws_iam_role.x``) read access to ``refs``
    ((store, value_from)), written ``terraform fmt``-clean (``=`` aligned per group)."""
    ssm = list(dict.fromkeys(vf for st, vf in refs if st == "ssm" or (st == "existing" and ":ssm:" in vf)))
    sm = list(dict.fromkeys(_strip_key(vf) for st, vf in refs if vf not in ssm))
    stmts = [(a, r) for a, r in (("ssm:GetParameters", ssm), ("secretsmanager:GetSecretValue", sm)) if r]
    lines = [f'resource "aws_iam_role_policy" "{name}" {{',
             f'  name   = {_hcl_str(name.replace("_", "-"))}',
             f"  role   = {role}.id",
             "  policy = jsonencode({",
             '    Version = "2012-10-17"',
             "    Statement = ["]
    for action, res in stmts:
        lines += ["      {",
                  '        Effect   = "Allow"',
                  f"        Action   = [{_hcl_str(action)}]",
                  "        Resource = [" + ", ".join(_hcl_str(r) for r in res) + "]",
                  "      },"]
    lines += ["    ]", "  })", "}"]
    return nl.join(lines) + nl
