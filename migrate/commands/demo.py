"""secrets-migrate demo: the whole pipeline on a temporary copy of the fixtures, against an
in-process sandbox. Nothing outside the temporary folder is touched and no AWS account is needed.

The demo neither changes directory nor the environment: it works on absolute paths inside its temporary
folder and talks to the sandbox through an explicit ``AwsContext``."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from migrate.console import out_console
from migrate.errors import EXIT_FAILED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from migrate.plan.model import PlanSettings
    from migrate.sandbox import Sandbox

DEMO_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
STEPS = 10
SANDBOX_RATE_SCALE = 20.0  #: the sandbox enforces no API rates: the client-side buckets need not wait
DEPLOY_SECONDS = 0.1  #: how long a sandbox deployment stays IN_PROGRESS (the live part polls every 0.05 s)
UNTRUSTED = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "ec2.amazonaws.com"}}]}


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
        with running_sandbox(deploy_seconds=DEPLOY_SECONDS) as sb:
            aws = sb.context()

            def step(n: int, title: str, cmd: str) -> None:
                con.print(Rule(Text(f" {n}/{STEPS}  {title} ", style="bold")))
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
            _batch_review(con, src, tmp, settings)

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
            ok &= _live_part(con, sb, src, tmp, step, no_color)
    finally:
        if keep:
            con.print(Text(f"kept {tmp}"))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    con.print(Text("\ndemo finished: " + ("all checks passed" if ok else "SOME CHECKS FAILED"),
                   style="bold green" if ok else "bold red"))
    return EXIT_OK if ok else EXIT_FAILED


def _batch_review(con: Console, src: Path, tmp: Path, settings: PlanSettings) -> None:
    """The same plan over a messy monorepo (dry run): one run lists every blocked item with its reason
    and fix, and plans everything else (exit 5 says "planned, with blocked items")."""
    from migrate.commands.common import scan as run_scan
    from migrate.commands.plan import plan_exit_code, print_blocked
    from migrate.plan.planner import check_plaintext, make_plan

    mono = src / "monorepo"
    if not mono.is_dir():
        return
    work = tmp / "monorepo"
    shutil.copytree(mono, work, ignore=shutil.ignore_patterns("labels.json", "README.md"))
    con.print(Text(f"\n$ secrets-migrate plan monorepo --execution-role {DEMO_ROLE}   "
                   "# a batch review of a messy tree (dry run)", style="dim"))
    outcome = run_scan([str(work)])
    mp = make_plan(outcome.loaded, outcome.findings, settings, errors=outcome.errors)
    check_plaintext(mp, outcome.findings, outcome.loaded)
    con.print(Text(f"monorepo: {len(outcome.loaded)} definition files read; {len(mp.store_actions)} entries and "
                   f"{len(mp.rewrites)} rewrites planned; {len(mp.blocked)} blocked item(s); plan exit code "
                   f"{plan_exit_code(mp)} (5 = planned, with blocked items listed below)"))
    print_blocked(mp, con)


def _live_part(con: Console, sb: Sandbox, src: Path, tmp: Path, step: Callable[[int, str, str], None],
               no_color: bool) -> bool:
    """Steps 7-10: running services. A canary fails for a real reason (its execution role is not assumable by
    ecs-tasks), the tool rolls it back by itself; the fix; then every service in waves, watched through
    DescribeServices exactly as against AWS (the sandbox's ECS emulator runs the deployments)."""
    import json

    from migrate.commands.live import apply_live, plan_live
    from migrate.live.planner import units_of
    from migrate.live.seed import seed_fixtures
    from migrate.plan.model import PlanSettings
    from migrate.sandbox import SANDBOX_CREDENTIALS, SANDBOX_REGION

    aws = sb.context()
    ecs, iam = aws.client("ecs"), aws.client("iam")
    step(7, "live: a legacy cluster of running services (sandbox)", "secrets-migrate sandbox --seed")
    keys = seed_fixtures(aws=aws, folder=src / "ecs", startable_only=True)
    con.print(Text(f"cluster legacy-prod: {len(keys)} running services on plaintext task definitions"))

    canary_td = next(t for t in (str(ecs.describe_services(cluster="legacy-prod", services=[k.split("/", 1)[1]])
                                      ["services"][0]["taskDefinition"]) for k in keys) if "auth-service" in t)
    role = str(ecs.describe_task_definition(taskDefinition=canary_td)["taskDefinition"]["executionRoleArn"])
    role_name = role.rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(UNTRUSTED))
    con.print(Text(f"(sandbox: execution role {role_name} now trusts ec2.amazonaws.com, not ecs-tasks.amazonaws.com: "
                   "a real misconfiguration its tasks will hit at start)", style="dim"))

    step(8, "live plan: entries, grants, a new revision per service, and a proof per service",
         "secrets-migrate live plan --cluster legacy-prod -o live-plan.json")
    live_plan = tmp / "live-plan.json"
    plan_live(out_path=live_plan, settings=PlanSettings(region=SANDBOX_REGION), regions=[SANDBOX_REGION],
              clusters=["legacy-prod"], fmt="json", credentials=SANDBOX_CREDENTIALS, endpoint_url=sb.url)
    from migrate.commands.common import plan_state

    plan, _ = plan_state(live_plan)
    steps = units_of(plan)[1]
    canary = steps[0].key

    def revision(key: str) -> str:
        c, n = key.split("/", 1)
        return str(ecs.describe_services(cluster=c, services=[n])["services"][0]["taskDefinition"])

    before = {s.key: revision(s.key) for s in steps}
    proved = [w for w in plan.warnings if w.startswith(f"prove {canary}: would fail")]
    con.print(Text(f"the proof warned before deploying: {'yes' if proved else 'NO'}",
                   style="bold green" if proved else "bold red"))

    step(9, "live apply, canary only: ECS fails its tasks for that reason, the tool rolls the service back",
         f"secrets-migrate live apply live-plan.json --service {canary} --yes")
    first = tmp / "live-report-1.md"
    apply_live(live_plan, yes=True, services=[canary], health_interval=0.05, report_out=first,
               rate_scale=SANDBOX_RATE_SCALE, no_color=no_color, aws=aws)
    row = next((ln for ln in first.read_text(encoding="utf-8").splitlines() if f"| {canary} |" in ln), "")
    rolled = "rolled-back" in row and "unable to assume the role" in row and revision(canary) == before[canary]
    untouched = all(revision(k) == v for k, v in before.items())
    con.print(Text(f"canary rolled back by the tool, for ECS's own reason, the rest untouched: "
                   f"{'yes' if rolled and untouched else 'NO'}", style="bold green" if rolled and untouched else "bold red"))

    con.print(Text(f"the fix: aws iam update-assume-role-policy --role-name {role_name} "
                   "--policy-document file://trust-ecs-tasks.json", style="dim"))
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust))
    step(10, "live apply again: the canary, then the rest in waves (resumes the run)",
         "secrets-migrate live apply live-plan.json --waves 1,rest --concurrency 4 --yes")
    rc = apply_live(live_plan, yes=True, waves="1,rest", concurrency=4, health_interval=0.05,
                    report_out=tmp / "live-report-2.md", rate_scale=SANDBOX_RATE_SCALE, no_color=no_color, aws=aws)
    moved = [k for k, v in before.items() if revision(k) != v]
    done = rc == 0 and len(moved) == len(before)
    con.print(Text(f"services on their new revision after the fix: {len(moved)}/{len(before)}",
                   style="bold green" if done else "bold red"))
    return bool(proved) and rolled and untouched and done
