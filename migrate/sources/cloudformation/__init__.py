"""CloudFormation templates (YAML with short-form tags, and JSON): ECS task definitions.

Locating uses ruamel.yaml's *composer* (node tree with exact character marks, tags kept as
written), for both YAML and JSON (JSON is first checked strictly by ``json_spans``). Rewrites are
text splices: moved ``Environment`` items are cut out (with the comment lines above them) and
re-inserted under ``Secrets`` with ``Value`` renamed to ``ValueFrom``; log ``Options`` move to
``SecretOptions``. Nothing is ever dumped.

Conditions (``Fn::If``): an Environment item guarded on its own, ``- !If [C, {Name, Value}, !Ref
AWS::NoValue]``, moves whole, guard included. A plain item of a branch of ``Environment: !If [C, [...],
[...]]`` leaves its branch and becomes the Secrets item ``!If [C, {Name, ValueFrom}, !Ref AWS::NoValue]``
(the mirror for the second branch), so under either value of C the container gets the same names as
before. Comments on such an item are not carried over (rollback restores them). Not migratable, with the
reason: nested conditions, a guard with a mapping in both branches, and any move into a ``Secrets`` (or
``SecretOptions``) that is itself an ``Fn::If`` (appending there made a four-argument If).

Value kinds:
  * plain or quoted string -> LITERAL; ``!Sub`` without ``${...}`` -> LITERAL
  * ``!Ref Param`` whose ``Default`` is a literal -> LITERAL, located at the Default
  * ``!Ref`` to a parameter without Default -> INTERPOLATED; to a resource/pseudo parameter -> REFERENCE
  * ``!Sub`` with variables, ``Fn::Join``, other intrinsics -> TEMPLATED
  * ``{{resolve:secretsmanager:ID...}}`` -> REFERENCE with ``resolves_to`` = ID (plaintext at deploy time)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from migrate.model import Entry
from migrate.sources.base import (
    ExecutionRoleRef,
    FileChange,
    LoadedFile,
    Move,
    RewriteOptions,
    SourceBase,
    SourceText,
)
from migrate.sources.cloudformation.nodes import _TASKDEF, KIND, _get, _Template
from migrate.sources.cloudformation.parse import _build
from migrate.sources.cloudformation.roles import role_ref
from migrate.sources.cloudformation.splice import _rewrite_template

_SNIFF_RE = re.compile(r"AWSTemplateFormatVersion|AWS::ECS::TaskDefinition")


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
        refs: dict[str, ExecutionRoleRef] = {}
        for occs in t.occ.values():
            for o in occs:
                props = _get(_get(_get(t.root, "Resources"), o.taskdef), "Properties")
                refs.setdefault(o.unit, role_ref(t.root, src.display, props))
        return LoadedFile(source=src, kind=KIND, entries=tuple(t.entries.values()), units=units,
                          group=Path(src.display).stem, data=t, role_refs=tuple(refs.items()),
                          execution_roles=tuple((u, r.arn) for u, r in refs.items() if r.arn))

    def value_spans(self, loaded: LoadedFile) -> dict[str, tuple[str, int, int, str]]:
        """Entry key -> (file, start, end, encoding) of each plaintext value's raw text."""
        t = loaded.data
        if not isinstance(t, _Template):
            return {}
        return {key: (loaded.path, s, e, enc) for key, (s, e, enc) in t.values.items()}

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


__all__ = ["KIND", "CloudFormationSource", "SOURCE", "iter_entries"]
