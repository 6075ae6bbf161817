"""Shared command plumbing: scanning paths into findings, loading plans and their runtime."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from migrate.config import Config, load_config
from migrate.errors import PlanError, UsageError
from migrate.model import FileReport, FileStatus, Finding
from migrate.sources.base import LoadedFile


@dataclass
class ScanOutcome:
    files: list[FileReport]
    loaded: list[LoadedFile]
    findings: list[Finding]

    @property
    def errors(self) -> list[FileReport]:
        return [f for f in self.files if f.status is FileStatus.ERROR]


def progress_bar(console: Console, *, enabled: bool = True) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not enabled)


def scan(paths: Sequence[str], *, config: Config | None = None, console: Console | None = None,
         max_file_size: int | None = None, keep_loaded: bool = True, keep_all: bool = True,
         on_findings: Callable[[list[Finding]], None] | None = None) -> ScanOutcome:
    """Load and classify. ``keep_loaded=False`` streams: parsed files are dropped after classification
    and kept findings carry no value (``keep_all=False`` keeps only secret findings), so memory stays
    flat however many files there are. ``plan`` needs the loaded files; ``scan`` does not.
    With ``on_findings`` (streaming only) findings are handed over per batch and not kept."""
    from migrate.detect.engine import classify
    from migrate.sources.walk import scan_paths

    for p in paths:
        if not os.path.lexists(p):
            raise UsageError(f"no such file or directory: {p}")
    cfg = config or load_config(Path(paths[0]) if paths else Path.cwd())
    max_bytes = max_file_size or cfg.max_file_size
    findings: list[Finding] = []
    batch: list[LoadedFile] = []

    def flush() -> None:
        kept = [dataclasses.replace(f, entry=dataclasses.replace(f.entry, value=None))
                for f in classify([e for lf in dedupe(batch) for e in lf.entries], cfg) if keep_all or f.is_secret]
        batch.clear()
        if on_findings is not None:
            on_findings(kept)
        else:
            findings.extend(kept)

    def on_loaded(lf: LoadedFile) -> None:
        # flush between directories only, so a Terraform module and the JSON it reads through
        # file() are deduplicated together
        if batch and (len(batch) >= 100 or
                      (len(batch) >= 25 and Path(batch[-1].path).parent != Path(lf.path).parent)):
            flush()
        batch.append(lf)

    stream = None if keep_loaded else on_loaded
    show = console is not None and console.is_terminal
    if console is not None and show:
        with progress_bar(console) as prog:
            task = prog.add_task("Scanning", total=None)
            res = scan_paths(list(paths), max_bytes=max_bytes, exclude=tuple(cfg.exclude),
                             on_file=lambda _d: prog.advance(task), on_loaded=stream)
    else:
        res = scan_paths(list(paths), max_bytes=max_bytes, exclude=tuple(cfg.exclude), on_loaded=stream)
    if not keep_loaded:
        flush()
        return ScanOutcome(files=list(res.files), loaded=[], findings=_dedupe_findings(findings))
    loaded = dedupe(list(res.loaded))
    entries = [e for lf in loaded for e in lf.entries]
    return ScanOutcome(files=list(res.files), loaded=loaded, findings=classify(entries, cfg))


def _dedupe_findings(findings: list[Finding]) -> list[Finding]:
    best: dict[str, Finding] = {}
    for f in findings:
        cur = best.get(f.entry.key)
        if cur is None or _PRECEDENCE.get(f.entry.source, 9) < _PRECEDENCE.get(cur.entry.source, 9):
            best[f.entry.key] = f
    return [f for f in findings if best[f.entry.key] is f]


#: when two sources report the same entry (a JSON file that Terraform reads through file()),
#: the one that knows more context keeps it
_PRECEDENCE = {"terraform": 0, "cloudformation": 1, "cdk-python": 1, "compose": 2, "ecs-taskdef": 3}


def dedupe(loaded: list[LoadedFile]) -> list[LoadedFile]:
    import dataclasses

    owner: dict[str, int] = {}
    for i, lf in enumerate(loaded):
        for e in lf.entries:
            j = owner.get(e.key)
            if j is None or _PRECEDENCE.get(lf.kind, 9) < _PRECEDENCE.get(loaded[j].kind, 9):
                owner[e.key] = i
    out = []
    for i, lf in enumerate(loaded):
        keep = tuple(e for e in lf.entries if owner.get(e.key) == i)
        out.append(lf if len(keep) == len(lf.entries) else dataclasses.replace(lf, entries=keep))
    return out


def plan_state(plan_path: Path) -> tuple[object, object]:
    """(Plan, Journal) for a plan file."""
    from migrate.apply.journal import Journal, state_dir_for
    from migrate.plan.model import Plan

    if not plan_path.is_file():
        raise UsageError(f"no such plan file: {plan_path}", hint="create one with `secrets-migrate plan PATH -o plan.json`")
    try:
        text = plan_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PlanError(f"{plan_path}: cannot read plan file ({type(e).__name__})") from None
    import migrate.live.actions  # noqa: F401  (registers the live action kinds with the plan reader)

    plan = Plan.from_json(text, where=str(plan_path))
    return plan, Journal(state_dir_for(plan_path), plan.id)


def is_live(plan: object) -> bool:
    return any(a.kind.startswith("ecs.") for a in plan.actions)  # type: ignore[attr-defined]
