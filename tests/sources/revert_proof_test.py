"""The plan-time revert proof (SourceBase): every format proves its rewrite rebuilds the original
bytes, and a rewrite that would not revert is refused at plan time with a reason, never a crash
and never a value in the message."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from migrate.commands.common import scan
from migrate.errors import RewriteError
from migrate.plan.actions import RewriteFile
from migrate.plan.model import PlanSettings
from migrate.plan.planner import make_plan
from migrate.rewrite import edits
from migrate.rewrite.edits import ref_token
from migrate.sources import base
from migrate.sources.base import NOT_REVERTIBLE, LoadedFile, Move, RewriteOptions, revert_failures

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/exec"

#: kind -> (fixture directory, definition file in it)
FORMATS: dict[str, tuple[Path, str]] = {
    "ecs-taskdef": (ROOT / "tests/resources/ecs", "register_web.json"),
    "compose": (ROOT / "tests/resources/compose", "compose.yaml"),
    "terraform": (ROOT / "fixtures/terraform/jsonencode", "main.tf"),
    "cloudformation": (ROOT / "fixtures/cloudformation", "api.yaml"),
    "cdk-python": (ROOT / "fixtures/cdk/plain_stack", "app.py"),
}


def _copy(tmp_path: Path, kind: str) -> Path:
    src, name = FORMATS[kind]
    dst = tmp_path / "defs"
    shutil.copytree(src, dst)
    for other in dst.iterdir():  # keep only the definition under test (and its env files)
        if other.is_file() and other.name != name and other.suffix in (".json", ".yaml", ".yml", ".py"):
            other.unlink()
    return dst


def _loaded(root: Path, kind: str) -> LoadedFile:
    o = scan([str(root)])
    lfs = [lf for lf in o.loaded if lf.kind == kind]
    assert len(lfs) == 1
    return lfs[0]


def _secret_values(root: Path) -> list[str]:
    o = scan([str(root)])
    return [f.entry.value.reveal() for f in o.findings
            if f.is_secret and f.entry.value is not None and len(f.entry.value.reveal()) > 3]


def _broken_old_template(real: Callable[..., str]) -> Callable[..., str]:
    """A template builder that loses one character: its rewrite can never revert."""

    def wrong(*args: Any, **kwargs: Any) -> str:
        return real(*args, **kwargs) + "\u00a7"

    return wrong


@pytest.mark.parametrize("kind", list(FORMATS))
def test_every_format_proves_its_rewrite_reverts(tmp_path: Path, kind: str) -> None:
    root = _copy(tmp_path, kind)
    o = scan([str(root)])
    plan = make_plan(o.loaded, o.findings, PlanSettings(execution_role=ROLE))
    assert not [r for r in plan.refused if "byte-identically" in str(r["reason"])]
    assert any(isinstance(a, RewriteFile) for a in plan.actions)
    lf = _loaded(root, kind)
    movable = [e for e in lf.entries if e.value is not None and e.restorable and e.value_kind.value == "literal"
               and not e.managed]
    assert movable and not any(NOT_REVERTIBLE in e.note for e in lf.entries)


@pytest.mark.parametrize("kind", list(FORMATS))
def test_a_non_revertible_rewrite_is_refused_at_plan_time(tmp_path: Path, kind: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = _copy(tmp_path, kind)
    secrets = _secret_values(root)
    assert secrets
    # the base builds every format's revert templates: a builder that loses a character breaks them all
    monkeypatch.setattr(base, "old_template", _broken_old_template(edits.old_template))
    o = scan([str(root)])
    lf = next(lf for lf in o.loaded if lf.kind == kind)
    marked = [e for e in lf.entries if NOT_REVERTIBLE in e.note]
    assert marked and all(not e.restorable for e in marked)
    plan = make_plan(o.loaded, o.findings, PlanSettings(execution_role=ROLE))
    refused = [r for r in plan.refused if "byte-identically" in str(r["reason"])]
    assert refused  # refused with a reason, the plan itself is made
    refused_names = {r["name"] for r in refused}
    moved = {v.name for a in plan.actions for v in getattr(a, "values", ())}
    assert not refused_names & moved  # no store entry for a value whose file could not be reverted
    text = plan.to_json()
    for v in secrets:
        assert v not in text


@pytest.mark.parametrize("kind", list(FORMATS))
def test_rewrite_raises_without_values_when_the_proof_fails(tmp_path: Path, kind: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root = _copy(tmp_path, kind)
    lf = _loaded(root, kind)  # loaded with the real template builder: the entries are movable
    secrets = _secret_values(root)
    # the base builds every format's revert templates: a builder that loses a character breaks them all
    monkeypatch.setattr(base, "old_template", _broken_old_template(edits.old_template))
    moves = [Move(e, ref_token(f"a{i}")) for i, e in enumerate(lf.entries)
             if e.value is not None and e.restorable and e.value_kind.value == "literal" and not e.managed
             and not e.resolves_to]
    with pytest.raises(RewriteError, match="byte-for-byte") as info:
        _source(kind).rewrite(lf, moves, RewriteOptions(execution_role=ROLE))
    for v in secrets:
        assert v not in str(info.value)


def _source(kind: str) -> base.SourceBase:
    from migrate.sources.registry import SOURCES

    src = SOURCES[kind]
    assert isinstance(src, base.SourceBase)
    return src


def test_revert_failures_blames_the_entries_whose_span_does_not_rebuild(tmp_path: Path) -> None:
    root = _copy(tmp_path, "ecs-taskdef")
    lf = _loaded(root, "ecs-taskdef")
    moves = [Move(e, ref_token(f"a{i}")) for i, e in enumerate(lf.entries) if e.restorable and e.value is not None
             and e.value_kind.value == "literal" and not e.managed][:2]
    src = _source("ecs-taskdef")
    located = src.splice(lf, moves, RewriteOptions(execution_role=ROLE))
    # the format only locates: its edits keep the original text, which would put plaintext in the
    # plan, and no value token would restore the values on rollback
    assert revert_failures(lf, moves, located) == {m.entry.key for m in moves}
    changes = base.build_templates(lf, moves, located, src.value_spans(lf))
    assert revert_failures(lf, moves, changes) == set()
    # corrupt only the span that holds the first entry's value token
    first = moves[0].entry.key
    ch = changes[0]
    bad = [e if first not in e.old else edits.TextEdit(e.start, e.end, e.new, e.old.replace(edits.TOKEN_CLOSE, edits.TOKEN_CLOSE + " ", 1))
           for e in ch.edits]
    broken = [base.FileChange(path=ch.path, edits=tuple(bad), entries=ch.entries)]
    assert first in revert_failures(lf, moves, broken)
    # a template that keeps no value token for a moved entry cannot restore it
    literal = [base.FileChange(path=ch.path, edits=tuple(edits.TextEdit(e.start, e.end, e.new, lf.source.text[e.start:e.end])
                                                        for e in ch.edits), entries=ch.entries)]
    assert revert_failures(lf, moves, literal) == {m.entry.key for m in moves}


def test_rewrite_refuses_a_change_to_an_entry_it_did_not_move(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _copy(tmp_path, "ecs-taskdef")
    lf = _loaded(root, "ecs-taskdef")
    src = _source("ecs-taskdef")
    literal = [e for e in lf.entries if e.restorable and e.value is not None and e.value_kind.value == "literal"
               and not e.managed]
    moved, other = literal[0], next(e for e in literal[1:] if e.unit != literal[0].unit or e.location == "environment")
    moves = [Move(moved, ref_token("a1"))]
    assert src.rewrite(lf, moves, RewriteOptions(execution_role=ROLE))  # the real splice passes both checks
    import migrate.rewrite.json_spans as js
    node = js.parse(lf.source.text)
    body = _value_body(js, node, other.pointer)
    real = type(src).splice

    def splice_touching_another(self: Any, loaded: LoadedFile, mv: Any, options: RewriteOptions) -> Any:
        changes = real(self, loaded, mv, options)
        ch = changes[0]
        extra = edits.TextEdit(body[0], body[0], "x", "")  # revertible, but changes another entry's value
        return [base.FileChange(path=ch.path, edits=(*ch.edits, extra), entries=ch.entries, summary=ch.summary)]

    monkeypatch.setattr(type(src), "splice", splice_touching_another)
    with pytest.raises(RewriteError, match="changed entries it did not move") as info:
        src.rewrite(lf, moves, RewriteOptions(execution_role=ROLE))
    assert other.value is not None and other.value.reveal() not in str(info.value)


def _value_body(js: Any, node: Any, pointer: str) -> tuple[int, int]:
    for part in pointer.split("/")[1:]:
        node = node.items[int(part)] if isinstance(node, js.JArr) else node.get(part.replace("~1", "/").replace("~0", "~"))
    return node.body_start, node.body_end


@pytest.mark.parametrize("kind", list(FORMATS))
def test_value_spans_locate_every_movable_value(tmp_path: Path, kind: str) -> None:
    root = _copy(tmp_path, kind)
    lf = _loaded(root, kind)
    spans = _source(kind).value_spans(lf)
    texts = {s.display: s.text for s in (lf.source, *lf.related)}
    movable = [e for e in lf.entries if e.value is not None and e.restorable and e.value_kind.value == "literal"
               and not e.managed and not e.resolves_to]
    assert movable
    for e in movable:
        file, s, end, enc = spans[e.key]
        assert e.value is not None and edits.encode(enc, e.value.reveal()) == texts[file][s:end]


def test_build_templates_refuses_an_edit_that_cuts_through_a_moved_value(tmp_path: Path) -> None:
    root = _copy(tmp_path, "ecs-taskdef")
    lf = _loaded(root, "ecs-taskdef")
    src = _source("ecs-taskdef")
    e = next(e for e in lf.entries if e.restorable and e.value is not None and e.value_kind.value == "literal")
    _file, s, end, _enc = src.value_spans(lf)[e.key]
    assert end - s >= 2
    cut = base.FileChange(path=lf.path, edits=(edits.TextEdit(s + 1, end + 1, "", ""),))
    with pytest.raises(RewriteError, match="cuts through a moved value") as info:
        base.build_templates(lf, [Move(e, ref_token("a1"))], [cut], src.value_spans(lf))
    assert e.value is not None and e.value.reveal() not in str(info.value)
    whole = base.FileChange(path=lf.path, edits=(edits.TextEdit(s - 1, end + 1, "x", "ignored"),))
    (built,) = base.build_templates(lf, [Move(e, ref_token("a1"))], [whole], src.value_spans(lf))
    assert built.edits[0].old == lf.source.text[s - 1] + edits.value_token(e.key, "json") + lf.source.text[end]
