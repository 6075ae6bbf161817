"""secrets-migrate plan: scan, decide stores and names, compute rewrites; write the plan file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.text import Text

from migrate.commands.common import scan as run_scan
from migrate.console import err_console, out_console
from migrate.errors import EXIT_BLOCKED, EXIT_FAILED, EXIT_INPUT, EXIT_OK, PlanError
from migrate.plan.leaks import guard_no_values
from migrate.plan.model import Plan, PlanSettings
from migrate.plan.planner import check_plaintext, make_plan
from migrate.plan.render import print_plan

__all__ = ["check_digest", "guard_no_values", "plan", "plan_digest", "show"]


def print_blocked(p: Plan, con: Console) -> None:
    """Every blocked item with its reason and fix (plan and show)."""
    if not p.blocked:
        return
    con.print(Text(f"\nBlocked ({len(p.blocked)}): left as they are, everything else is planned", style="bold red"))
    for b in p.blocked:
        con.print(Text.assemble(("  x ", "red"), Text(f"[{b.kind}] {b.label()}: {b.reason}")))
        if b.fix:
            con.print(Text(f"      fix: {b.fix}", style="dim"))


def plan_exit_code(p: Plan) -> int:
    """0: planned (or nothing to do); EXIT_BLOCKED: planned, with blocked items listed in the plan."""
    return EXIT_BLOCKED if p.blocked else EXIT_OK


def plan(paths: Sequence[str], *, out_path: Path | None, settings: PlanSettings, fmt: str = "text",
         config_path: Path | None = None, show_diff: bool = True, no_color: bool = False,
         allow_errors: bool = False, strict: bool = False) -> int:
    """Plan every migratable entry; problems block their own file or entry only (exit EXIT_BLOCKED),
    or, with ``strict``, refuse the whole plan. ``allow_errors`` (--skip-errors) is the default now."""
    from migrate.config import load_config

    del allow_errors  # parse errors block their file only; kept for the command line's --skip-errors
    cfg = load_config(Path(paths[0]) if paths else Path.cwd(), config_path)
    err = err_console(no_color)
    outcome = run_scan(paths, config=cfg, console=err)
    if not outcome.loaded and not outcome.errors:
        err.print(Text(f"warning: no definition file found under {', '.join(paths)} (ECS task definition, compose, "
                       "CloudFormation, Terraform, CDK); nothing to plan, nothing written", style="yellow"))
        return EXIT_OK
    base = out_path.absolute().parent if out_path is not None else None
    # the plan root: the plan file's directory when it holds every input (then the plan moves with its project)
    p = make_plan(outcome.loaded, outcome.findings, settings, errors=outcome.errors, root=base)
    check_plaintext(p, outcome.findings, outcome.loaded)
    if not outcome.loaded:  # nothing could be read at all: fail closed, as for one bad file given alone
        for f in outcome.errors:
            err.print(Text(f"error: {f.path}{':' + str(f.line) if f.line else ''}: {f.reason}"))
        err.print("no plan written: none of the definition files could be read; fix the files above")
        return EXIT_INPUT
    if strict and p.blocked:
        for b in p.blocked:
            err.print(Text(f"blocked: [{b.kind}] {b.label()}: {b.reason}" + (f" (fix: {b.fix})" if b.fix else "")))
        err.print(f"no plan written (--strict): {len(p.blocked)} blocked item(s) above; fix them or drop --strict")
        only_parse = all(b.kind == "parse-error" for b in p.blocked)
        return EXIT_INPUT if only_parse else EXIT_FAILED
    text = p.to_json(base=base)
    digest = p.digest(base=base)
    if out_path is not None:
        _write_plan(out_path, text, base)
    if fmt == "json":
        if out_path is None:
            print(text, end="")
        else:
            print(json.dumps({"plan": str(out_path), "id": p.id, "digest": digest, "summary": p.counts(),
                              "cost": p.cost, "warnings": list(p.warnings), "refused": list(p.refused),
                              "blocked": [asdict(b) for b in p.blocked]}, indent=2))
    else:
        con = out_console(no_color)
        print_plan(p, con, show_diffs=show_diff, digest=digest)
        print_blocked(p, con)
        con.print("\n" + _next_step(p, out_path))
    return plan_exit_code(p)


def _next_step(p: Plan, out_path: Path | None) -> str:
    """The closing line: what was written and what to do next, matching what the plan holds."""
    if not p.actions:
        what = ("nothing to migrate: " + (f"{len(p.refused)} secret(s) found, none migratable from these files"
                                          if p.refused else "no plaintext secret found"))
        blocked = f"; {len(p.blocked)} blocked item(s) above" if p.blocked else ""
        tail = f" Plan written to {out_path} (nothing to apply)." if out_path is not None else " Nothing was changed."
        return f"{what[0].upper()}{what[1:]}{blocked}.{tail}"
    blocked = (f" {len(p.blocked)} item(s) are blocked and stay as they are (listed above); fix them and plan again"
               " to migrate them too." if p.blocked else "")
    if out_path is not None:
        return (f"Plan written to {out_path}. Review it with `secrets-migrate show {out_path}`, "
                f"then `secrets-migrate apply {out_path}`.{blocked}")
    return f"Dry run: no plan file written (use -o PLAN to write one). Nothing was changed.{blocked}"


def _write_plan(out_path: Path, text: str, base: Path | None) -> None:
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


def show(plan_path: Path, *, fmt: str = "text", no_color: bool = False) -> int:
    from migrate.commands.common import plan_state

    p, journal = plan_state(plan_path)
    base = plan_path.absolute().parent
    if fmt == "json":
        print(p.to_json(base=base), end="")
        return EXIT_OK
    con = out_console(no_color)
    print_plan(_printable(p), con, digest=p.digest(base=base))
    print_blocked(p, con)
    from migrate.commands.common import state_line

    con.print(Text("\n" + state_line(p, journal.states(), journal.finalized)))
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
