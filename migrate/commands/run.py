"""apply, verify, rollback, finalize, status: the commands that act on a plan file."""

from __future__ import annotations

import json
from pathlib import Path

from rich.text import Text

from migrate.apply.executor import apply_plan, rollback_plan
from migrate.apply.finalize import finalize_plan
from migrate.apply.guard import run_guard
from migrate.apply.journal import locked, state_dir_for
from migrate.commands.common import (
    confirm,
    finalize_refusal,
    open_env,
    phase_counts,
    plan_state,
    progress_bar,
    state_line,
)
from migrate.console import err_console, out_console
from migrate.errors import EXIT_FAILED, EXIT_FINDINGS, EXIT_OK, FinalizedError
from migrate.plan.choices import FailurePolicy, Mode
from migrate.stores.aws import AwsContext


def _mode(plan_path: Path) -> Mode:
    plan, _ = plan_state(plan_path)
    return plan.mode


def apply(plan_path: Path, *, yes: bool = False, no_rollback: bool = False, profile: str | None = None,
          region: str | None = None, no_color: bool = False, endpoint_url: str | None = None,
           aws: AwsContext | None = None, digest: str | None = None) -> int:
    from migrate.commands.plan import check_digest

    digest = check_digest(plan_path, digest)  # --digest: apply exactly the reviewed plan
    if _mode(plan_path) is Mode.LIVE:  # live plans deploy in waves with health checks: `live apply` defaults
        from migrate.commands.live import apply_live

        return apply_live(plan_path, yes=yes, profile=profile, region=region, endpoint_url=endpoint_url, no_color=no_color,
                          policy=FailurePolicy.STOP if no_rollback else FailurePolicy.ROLLBACK_SERVICE)
    err = err_console(no_color)
    with locked(state_dir_for(plan_path)):
        rt = open_env(plan_path, profile, region, endpoint_url=endpoint_url, aws=aws)
        if rt.journal.finalized:
            raise FinalizedError("this plan was finalized; make a new plan")
        c = rt.plan.counts()
        err.print(Text(f"Plan {rt.plan.id}: {c['+']} to create, {c['~']} to rewrite, {c['-']} to delete"))
        err.print(Text(f"Digest {digest} (compare with the one you reviewed in `secrets-migrate show`)"))
        if not confirm("Apply this plan?", yes):
            return EXIT_FAILED
        with run_guard(rt, plan_path), progress_bar(err, enabled=err.is_terminal) as prog:
            task = prog.add_task("Applying", total=len(rt.plan.actions))
            rt.progress = lambda phase, a: prog.update(task, advance=1 if phase == "apply" else 0,
                                                       description=a.describe()[:60])
            try:
                notes = apply_plan(rt, auto_rollback=not no_rollback)
            finally:
                rt.journal.close()
        for n in notes:
            err.print(Text(f"note: {n}"))
        err.print(Text(f"Applied plan {rt.plan.id}. Next: `secrets-migrate verify {plan_path}`; "
                       f"undo with `secrets-migrate rollback {plan_path}`.", style="green"))
    return EXIT_OK


def verify(plan_path: Path, *, fmt: str = "text", profile: str | None = None, region: str | None = None,
           no_color: bool = False, endpoint_url: str | None = None,
           aws: AwsContext | None = None) -> int:
    from migrate.apply.verify import verify_plan

    rt = open_env(plan_path, profile, region, endpoint_url=endpoint_url, aws=aws)  # live plans: values from the old revisions
    checks = verify_plan(rt)
    failed = [c for c in checks if not c.ok]
    if fmt == "json":
        print(json.dumps({"version": 1, "plan_id": rt.plan.id, "ok": not failed,
                          "checks": [c.to_record() for c in checks]}, indent=2))
    else:
        con = out_console(no_color)
        left = [c for c in checks if c.kind == "remaining"]
        for c in checks:
            label = ("LEFT ", "yellow") if c.kind == "remaining" else ("PASS ", "green") if c.ok else ("FAIL ", "bold red")
            con.print(Text.assemble(label, Text(f"{c.kind:15} {c.subject}"),
                                    Text(f"  {c.detail}" if c.detail else "", style="dim")))
        con.print(Text(f"verify: {len(checks) - len(failed) - len(left)} checks passed, {len(failed)} failed"
                       + ("; plaintext secrets remain outside this plan (LEFT above)" if left else ""),
                       style="bold red" if failed else "bold green"))
    return EXIT_FINDINGS if failed else EXIT_OK


def rollback(plan_path: Path, *, yes: bool = False, profile: str | None = None, region: str | None = None,
             no_color: bool = False, endpoint_url: str | None = None,
           aws: AwsContext | None = None) -> int:
    if _mode(plan_path) is Mode.LIVE:
        from migrate.commands.live import rollback_live

        return rollback_live(plan_path, yes=yes, profile=profile, region=region, endpoint_url=endpoint_url, no_color=no_color)
    err = err_console(no_color)
    with locked(state_dir_for(plan_path)):
        rt = open_env(plan_path, profile, region, endpoint_url=endpoint_url, aws=aws)
        if not rt.journal.records:
            err.print("nothing to roll back: this plan was never applied")
            return EXIT_OK
        left = phase_counts(rt.plan, rt.journal.states())
        nothing = not any(k not in ("pending", "reverted") for k in left)  # still run: it clears a lease left behind
        if not confirm("Roll back everything this run did?", yes):
            return EXIT_FAILED
        try:
            with run_guard(rt, plan_path):
                notes = rollback_plan(rt)
        finally:
            rt.journal.close()
        for n in notes:
            err.print(Text(f"note: {n}"))
        if nothing:
            err.print("nothing to roll back: this plan was already rolled back" if left.get("reverted")
                      else "nothing to roll back: no action of this plan was applied")
        else:
            err.print(Text(f"Rolled back plan {rt.plan.id}: files restored byte-identical, created entries deleted.",
                           style="green"))
    return EXIT_OK


def finalize(plan_path: Path, *, yes: bool = False, fmt: str = "text", profile: str | None = None,
             region: str | None = None, no_color: bool = False, endpoint_url: str | None = None,
           aws: AwsContext | None = None) -> int:
    if _mode(plan_path) is Mode.LIVE:
        from migrate.commands.live import finalize_live

        return finalize_live(plan_path, yes=yes, fmt=fmt, profile=profile, region=region, endpoint_url=endpoint_url, no_color=no_color)
    err = err_console(no_color)
    with locked(state_dir_for(plan_path)):
        rt = open_env(plan_path, profile, region, endpoint_url=endpoint_url, aws=aws)
        refusal = None if rt.journal.finalized else finalize_refusal(rt.plan, rt.journal.states())
        if refusal:
            err.print(refusal)
            return EXIT_FAILED
        if not rt.journal.finalized:
            if not confirm("Finalize? Rollback will no longer be possible.", yes):
                return EXIT_FAILED
            with run_guard(rt, plan_path):
                finalize_plan(rt)
        rotate = sorted({f"{v.unit}.{v.name} ({a.name})" for a in rt.plan.store_actions for v in a.values})
        if fmt == "json":
            print(json.dumps({"plan_id": rt.plan.id, "finalized": True, "rotate": rotate}, indent=2))
        else:
            con = out_console(no_color)
            con.print(Text("Finalized. Rotate these values: they sat in plaintext in files, VCS history and old "
                           "task-definition revisions:", style="bold"))
            for r in rotate:
                con.print(Text(f"  - {r}"))
    return EXIT_OK


def force_unlock(plan_path: Path, lock_id: str, *, yes: bool = False, profile: str | None = None,
                 region: str | None = None, no_color: bool = False, endpoint_url: str | None = None,
                 aws: AwsContext | None = None) -> int:
    """Remove the run lease of this plan at the target if it holds ``lock_id`` (Terraform's force-unlock)."""
    from migrate.stores.aws import Aws
    from migrate.stores.lease import force_unlock as do

    err = err_console(no_color)
    plan, _ = plan_state(plan_path)
    if not confirm(f"Remove the run lock {lock_id} of plan {plan.id}? Only if its run is dead.", yes):
        return EXIT_FAILED
    aws = aws or Aws(profile=profile or plan.settings.profile, region=region or plan.settings.region,
                     endpoint_url=endpoint_url)
    info = do(aws, plan.id, lock_id)
    err.print(Text(f"Removed the run lock of plan {plan.id} held by {info.describe()}. "
                   f"`secrets-migrate apply {plan_path}` resumes, `secrets-migrate rollback {plan_path}` undoes.",
                   style="green"))
    return EXIT_OK


def status(plan_path: Path, *, fmt: str = "text", no_color: bool = False) -> int:
    plan, journal = plan_state(plan_path)
    states = journal.states()
    rows = [{"id": a.id, "kind": a.kind, "describe": a.describe(),
             "phase": states[a.id].phase if a.id in states else "pending"} for a in plan.actions]
    if fmt == "json":
        print(json.dumps({"plan_id": plan.id, "finalized": journal.finalized, "actions": rows}, indent=2))
        return EXIT_OK
    con = out_console(no_color)
    for r in rows:
        con.print(Text(f"{r['phase']:9} {r['id']:5} {r['describe']}"))
    con.print(Text(state_line(plan, states, journal.finalized)))
    return EXIT_OK
