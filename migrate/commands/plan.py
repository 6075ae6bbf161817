"""secrets-migrate plan: scan, decide stores and names, compute rewrites; write the plan file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from migrate.commands.common import scan as run_scan
from migrate.console import err_console, out_console
from migrate.errors import EXIT_FAILED, EXIT_INPUT, EXIT_OK, PlanError
from migrate.plan.leaks import guard_no_values
from migrate.plan.model import Plan, PlanSettings
from migrate.plan.planner import make_plan, plaintext_values
from migrate.plan.render import print_plan

__all__ = ["check_digest", "guard_no_values", "plan", "plan_digest", "show"]


def plan(paths: Sequence[str], *, out_path: Path | None, settings: PlanSettings, fmt: str = "text",
         config_path: Path | None = None, show_diff: bool = True, no_color: bool = False,
         allow_errors: bool = False) -> int:
    from migrate.config import load_config

    cfg = load_config(Path(paths[0]) if paths else Path.cwd(), config_path)
    err = err_console(no_color)
    outcome = run_scan(paths, config=cfg, console=err)
    if outcome.errors and not allow_errors:
        for f in outcome.errors:
            err.print(f"error: {f.path}{':' + str(f.line) if f.line else ''}: {f.reason}")
        err.print("no plan written: fix the files above (or pass --skip-errors to plan without them)")
        return EXIT_INPUT
    base = out_path.absolute().parent if out_path is not None else None
    # the plan root: the plan file's directory when it holds every input (then the plan moves with its project)
    p = make_plan(outcome.loaded, outcome.findings, settings, root=base)
    text = p.to_json(base=base)
    digest = p.digest(base=base)
    secrets = plaintext_values(outcome.findings)
    guard_no_values(text, secrets)
    if out_path is not None:
        from migrate.apply.fs import atomic_write

        if out_path.exists():
            from migrate.apply.journal import state_dir_for

            try:
                Plan.from_json(out_path.read_text(encoding="utf-8"), base=base)
            except (PlanError, UnicodeDecodeError):
                raise PlanError(f"{out_path} exists and is not a plan file; refusing to overwrite it") from None
            journal = state_dir_for(out_path) / "journal.jsonl"
            if journal.exists() and journal.stat().st_size > 0:
                raise PlanError(f"{out_path} was already applied (journal in {journal.parent}); overwriting it would "
                                "lose the only way to roll that run back",
                                hint="write the new plan to another file, or finalize/rollback the old one first")
        atomic_write(out_path, text.encode("utf-8"))
    if fmt == "json":
        if out_path is None:
            print(text, end="")
        else:
            print(json.dumps({"plan": str(out_path), "id": p.id, "digest": digest, "summary": p.counts(), "cost": p.cost,
                              "warnings": list(p.warnings), "refused": list(p.refused)}, indent=2))
    else:
        con = out_console(no_color)
        print_plan(p, con, show_diffs=show_diff, digest=digest)
        if out_path is not None:
            con.print(f"\nPlan written to {out_path}. Review it with `secrets-migrate show {out_path}`, "
                      f"then `secrets-migrate apply {out_path}`.")
        else:
            con.print("\nDry run: no plan file written (use -o PLAN to write one). Nothing was changed.")
    return EXIT_OK if p.actions or not p.refused else EXIT_FAILED


def show(plan_path: Path, *, fmt: str = "text", no_color: bool = False) -> int:
    from migrate.commands.common import plan_state

    p, journal = plan_state(plan_path)
    base = plan_path.absolute().parent
    if fmt == "json":
        print(p.to_json(base=base), end="")
        return EXIT_OK
    con = out_console(no_color)
    print_plan(_printable(p), con, digest=p.digest(base=base))
    states = journal.states()
    if states:
        applied = sum(1 for s in states.values() if s.phase == "applied")
        con.print(f"\nState: {applied}/{len(p.actions)} actions applied"
                  + (" (finalized)" if journal.finalized else ""))
    return EXIT_OK


def plan_digest(plan_path: Path) -> str:
    """The canonical digest of a plan file's executable content (what `plan` and `show` print)."""
    from migrate.commands.common import plan_state

    p, _ = plan_state(plan_path)
    return p.digest(base=plan_path.absolute().parent)


def check_digest(plan_path: Path, expected: str | None) -> str:
    """The plan's digest; PlanError when ``expected`` is given and differs (the plan is not the reviewed one)."""
    got = plan_digest(plan_path)
    if expected is not None and expected.strip().lower() != got:
        raise PlanError(f"{plan_path}: plan digest is {got}, not the reviewed {expected.strip()}; nothing was applied",
                        hint="the plan changed after review: review it again with `secrets-migrate show`")
    return got


def _printable(p: Plan) -> Plan:
    """``p`` with every refusal carrying the fields the renderer prints. Live refusals name a task-definition
    revision and have no line (``show`` on a live plan with refused entries crashed with KeyError)."""
    import dataclasses

    if all({"path", "line", "unit", "name", "reason"} <= set(r) for r in p.refused):
        return p
    rows = tuple({"path": "", "line": "", "unit": "", "name": "", "reason": "", **r} for r in p.refused)
    return dataclasses.replace(p, refused=rows)
