"""Shared command plumbing: scanning paths into findings, loading plans and their runtime."""

from __future__ import annotations

import os
from collections.abc import Sequence
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
         max_file_size: int | None = None) -> ScanOutcome:
    from migrate.detect.engine import classify
    from migrate.sources.walk import scan_paths

    for p in paths:
        if not os.path.lexists(p):
            raise UsageError(f"no such file or directory: {p}")
    cfg = config or load_config(Path(paths[0]) if paths else Path.cwd())
    max_bytes = max_file_size or cfg.max_file_size
    show = console is not None and console.is_terminal
    if console is not None and show:
        with progress_bar(console) as prog:
            task = prog.add_task("Scanning", total=None)
            res = scan_paths(list(paths), max_bytes=max_bytes, exclude=tuple(cfg.exclude),
                             on_file=lambda _d: prog.advance(task))
    else:
        res = scan_paths(list(paths), max_bytes=max_bytes, exclude=tuple(cfg.exclude))
    loaded = dedupe(list(res.loaded))
    entries = [e for lf in loaded for e in lf.entries]
    findings = classify(entries, cfg)
    return ScanOutcome(files=list(res.files), loaded=loaded, findings=findings)


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
    plan = Plan.from_json(text, where=str(plan_path))
    return plan, Journal(state_dir_for(plan_path), plan.id)
