"""secrets-migrate demo: the whole pipeline on a temporary copy of the fixtures, against an
in-process sandbox. Nothing outside the temporary folder is touched and no AWS account is needed.

The demo neither changes directory nor the environment: it works on absolute paths inside its temporary
folder and talks to the sandbox through an explicit ``AwsContext``."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
from pathlib import Path

from rich.rule import Rule
from rich.text import Text

from migrate.console import out_console
from migrate.errors import EXIT_FAILED, EXIT_OK, UsageError

DEMO_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


def default_fixtures() -> Path:
    """The fixtures shipped with the package (or the checkout's ``fixtures/``)."""
    from migrate.sandbox import fixtures_dir

    return fixtures_dir()


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def demo(*, fixtures: Path | None = None, keep: bool = False, no_color: bool = False) -> int:
    from migrate.apply.journal import state_dir_for
    from migrate.commands import plan as plan_cmd
    from migrate.commands import run as run_cmd
    from migrate.commands import scan as scan_cmd
    from migrate.commands.common import plan_state
    from migrate.plan.model import PlanSettings
    from migrate.sandbox import ensure_roles, running_sandbox

    src = fixtures or default_fixtures()
    if not src.is_dir():
        raise UsageError(f"no such fixtures folder: {src}", hint="pass --fixtures DIR")
    con = out_console(no_color)
    tmp = Path(tempfile.mkdtemp(prefix="secrets-migrate-demo-"))
    work = tmp / "fixtures"
    shutil.copytree(src, work, ignore=shutil.ignore_patterns("labels.json", "README.md", "node_modules", "cdk.out", "monorepo", "legacy"))
    before = _hashes(work)
    plan_path = tmp / "plan.json"
    ok = True
    try:
        with running_sandbox() as sb:
            aws = sb.context()

            def step(n: int, title: str, cmd: str) -> None:
                con.print(Rule(Text(f" {n}/6  {title} ", style="bold")))
                con.print(Text(f"$ {cmd}", style="dim"))

            con.print(Text(f"secrets-migrate demo: a copy of {src} in {tmp}, AWS = local sandbox at {sb.url}\n", style="bold"))
            step(1, "scan: find plaintext secrets (values are never printed)", "secrets-migrate scan fixtures")
            from migrate.commands.common import scan as run_scan

            outcome = run_scan([str(work)])
            secret = [f for f in outcome.findings if f.is_secret]
            shown = dataclasses.replace(outcome, findings=secret[:12])
            scan_cmd.print_table(shown, con, all_entries=False)
            con.print(Text(f"... {len(secret)} plaintext secrets in all ({sum(f.migratable for f in secret)} migratable) "
                           f"across {len(outcome.loaded)} definition files; `secrets-migrate scan fixtures` lists them all. "
                           f"Exit code {scan_cmd.exit_code(outcome)} (1 = plaintext secrets found).", style="dim"))

            step(2, "plan: decide stores, names, rewrites and IAM grants (a dry run)",
                 f"secrets-migrate plan fixtures --execution-role {DEMO_ROLE} -o plan.json")
            settings = PlanSettings(execution_role=DEMO_ROLE)
            plan_cmd.plan([str(work)], out_path=plan_path, settings=settings, show_diff=False,
                          no_color=no_color, allow_errors=True)
            plan, _ = plan_state(plan_path)

            step(3, "show: the redacted diff you review before applying (first files)", "secrets-migrate show plan.json")
            from migrate.plan.render import diffs, print_diff

            file_diffs = diffs(plan)
            for i, diff in enumerate(file_diffs.values()):
                if i >= 3:
                    con.print(Text(f"... and {len(file_diffs) - 3} more files (see `secrets-migrate show plan.json`)", style="dim"))
                    break
                print_diff(diff, con)
            made = ensure_roles(aws, sorted({p.role_arn for p in plan.policies}))
            if made:
                con.print(Text(f"(sandbox: created execution role(s) {', '.join(made)} as an account would have them)", style="dim"))

            step(4, "apply: create entries, grant roles, rewrite files (journaled)", "secrets-migrate apply plan.json --yes")
            run_cmd.apply(plan_path, yes=True, no_color=no_color, aws=aws)
            changed = [k for k, v in _hashes(work).items() if before.get(k) != v]
            con.print(Text(f"{len(changed)} files changed; journal in {state_dir_for(plan_path)}/journal.jsonl"))

            step(5, "verify: references resolve, hold the original values, are granted; no plaintext left",
                 "secrets-migrate verify plan.json")
            vrc = run_cmd.verify(plan_path, no_color=no_color, aws=aws)
            ok &= vrc == 0

            step(6, "rollback: undo exactly what apply did", "secrets-migrate rollback plan.json --yes")
            run_cmd.rollback(plan_path, yes=True, no_color=no_color, aws=aws)
            after = _hashes(work)
            same = after == before
            ok &= same
            con.print(Text(f"every file byte-identical to the original: {'yes' if same else 'NO'}",
                           style="bold green" if same else "bold red"))
            left = len(aws.client("ssm").describe_parameters().get("Parameters", [])) + \
                len(aws.client("secretsmanager").list_secrets().get("SecretList", []))
            ok &= left == 0
            con.print(Text(f"entries left in the sandbox after rollback: {left}",
                           style="bold green" if left == 0 else "bold red"))
    finally:
        if keep:
            con.print(Text(f"kept {tmp}"))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    con.print(Text("\ndemo finished: " + ("all checks passed" if ok else "SOME CHECKS FAILED"),
                   style="bold green" if ok else "bold red"))
    return EXIT_OK if ok else EXIT_FAILED
