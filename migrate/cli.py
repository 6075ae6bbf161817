"""The command line: declares options and calls migrate.commands.*; nothing else lives here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from migrate import __version__
from migrate.error_handler import error_handler

app = typer.Typer(
    name="secrets-migrate",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,  # rich tracebacks print local variables: never on a terminal
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help=(
        "Move Amazon ECS services off plaintext environment variables onto Secrets Manager and SSM "
        "Parameter Store, reversibly.\n\n"
        "Pipeline: scan -> plan -> show -> apply -> verify -> rollback | finalize.\n\n"
        "Try it with no AWS account:  secrets-migrate demo"
    ),
)

Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile name.", envvar="AWS_PROFILE")]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (default: from the profile/environment).")]
Endpoint = Annotated[str | None, typer.Option("--endpoint-url", help="AWS endpoint, e.g. the sandbox's (default: AWS_ENDPOINT_URL, else the real one).")]
NoColor = Annotated[bool, typer.Option("--no-color", help="Plain output.", envvar="NO_COLOR")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Fmt = Annotated[str, typer.Option("--format", "-f", help="text or json.")]
PlanArg = Annotated[Path, typer.Argument(help="Plan file written by `secrets-migrate plan -o`.", metavar="PLAN")]


def _version(v: bool) -> None:
    if v:
        typer.echo(f"secrets-migrate {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    pass


@app.command(epilog="Example:  secrets-migrate scan fixtures/ --format json > findings.json")
def scan(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(help="Files or directories (task-definition JSON, compose, CloudFormation, CDK, Terraform).")] = None,
    live: Annotated[bool, typer.Option("--live", help="Scan the running services of an account instead of files (see `live scan`).")] = False,
    cluster: Annotated[list[str] | None, typer.Option("--cluster", help="With --live: cluster name or ARN (repeatable).")] = None,
    service: Annotated[list[str] | None, typer.Option("--service", help="With --live: service name (repeatable).")] = None,
    family: Annotated[list[str] | None, typer.Option("--family", help="With --live: task-definition family (repeatable).")] = None,
    all_revisions: Annotated[bool, typer.Option("--all-revisions", help="With --live: every ACTIVE revision of those families.")] = False,
    region: Annotated[list[str] | None, typer.Option("--region", help="With --live: AWS region (repeatable).")] = None,
    profile: Profile = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="With --live: AWS endpoint (default: AWS_ENDPOINT_URL).")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or sarif.")] = "table",
    all_entries: Annotated[bool, typer.Option("--all", help="Report every entry, not only secrets.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to a file.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Config file (default: pyproject.toml [tool.secrets-migrate] or .secrets-migrate.toml).")] = None,
    max_file_size: Annotated[int | None, typer.Option("--max-file-size", help="Skip files larger than this many bytes (reported as errors).")] = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="Known findings (JSON): fail only on new ones; stale entries are reported.")] = None,
    update_baseline: Annotated[Path | None, typer.Option("--update-baseline", help="Write every current finding to this baseline (reasons kept) and exit 0.")] = None,
    no_color: NoColor = False,
) -> None:
    """Find plaintext secrets in environment variables and log options. Never prints a value.

    Exit codes: 0 clean, 1 plaintext secrets found, 2 usage error, 3 some input could not be read (fail closed).
    """
    with error_handler():
        if live:
            from migrate.commands.scan_output import scan_live_to

            raise typer.Exit(scan_live_to(output, endpoint_url=endpoint_url, regions=region or (), clusters=cluster or (), services=service or (),
                                          families=family or (), all_revisions=all_revisions, profile=profile,
                                          fmt=format, no_color=no_color, all_entries=all_entries))
        if not paths:
            raise typer.BadParameter("missing PATHS... (or pass --live)", ctx=ctx, param_hint="PATHS")
        from migrate.commands.scan import scan as cmd
        raise typer.Exit(cmd(paths, fmt=format, all_entries=all_entries, output=output, config_path=config,
                             max_file_size=max_file_size, no_color=no_color, baseline=baseline,
                             update_baseline=update_baseline))


@app.command(epilog="Example:  secrets-migrate plan fixtures/ecs --store auto --execution-role "
             "arn:aws:iam::123456789012:role/ecsTaskExecutionRole -o plan.json")
def plan(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(help="Files or directories to migrate.")] = None,
    live: Annotated[bool, typer.Option("--live", help="Plan for running services instead of files (see `live plan`).")] = False,
    cluster: Annotated[list[str] | None, typer.Option("--cluster", help="With --live: cluster (repeatable).")] = None,
    service: Annotated[list[str] | None, typer.Option("--service", help="With --live: service (repeatable).")] = None,
    family: Annotated[list[str] | None, typer.Option("--family", help="With --live: family (repeatable).")] = None,
    all_revisions: Annotated[bool, typer.Option("--all-revisions", help="With --live: every ACTIVE revision.")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the plan file here (without it: dry run, print only).")] = None,
    store: Annotated[str, typer.Option("--store", help="ssm, secretsmanager or auto (by size and cost).")] = "auto",
    group: Annotated[str, typer.Option("--group", help="per-var (one entry per variable) or per-unit (one JSON secret per container).")] = "per-var",
    prefix: Annotated[str, typer.Option("--prefix", help="Name prefix, e.g. prod.")] = "",
    name_template: Annotated[str | None, typer.Option("--name-template", help="Fields {prefix} {project} {group} {file} {unit} {name}; default '/{prefix}/{project}/{unit}/{name}'.")] = None,
    kms_key: Annotated[str | None, typer.Option("--kms-key", help="KMS key id, alias or ARN for new entries.")] = None,
    execution_role: Annotated[str | None, typer.Option("--execution-role", help="Task execution role ARN for definitions that name none.")] = None,
    compose_target: Annotated[str, typer.Option("--compose-target", help="ecs-params (ecs-cli ecs-params.yml) or compose-secrets.")] = "ecs-params",
    share_identical: Annotated[bool, typer.Option("--share-identical", help="Identical values within one app share one entry.")] = False,
    skip_errors: Annotated[bool, typer.Option("--skip-errors", help="Kept for compatibility: unreadable files are always listed as blocked and the rest planned.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse the whole plan (nothing written) when any file or entry is blocked.")] = False,
    format: Fmt = "text",
    config: Annotated[Path | None, typer.Option("--config")] = None,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="With --live: AWS endpoint (default: AWS_ENDPOINT_URL).")] = None,
    no_color: NoColor = False,
) -> None:
    """Decide store, name, rewrite and IAM grant for every migratable secret; write a reviewable plan.

    A plan is a dry run: nothing in AWS or in your files changes until `apply`.

    A file or entry with a problem (parse error, name clash, execution role, plaintext guard, store
    limit) is blocked alone and listed with its reason and fix; everything else is planned. Exit 0:
    planned (or nothing to migrate); 5: planned, with blocked items; 3/4 with --strict.
    """
    with error_handler():
        from migrate.commands.plan import plan as cmd
        from migrate.plan.model import PlanSettings
        settings = PlanSettings.from_options(store=store, group=group, prefix=prefix, name_template=name_template, kms_key=kms_key,
                                execution_role=execution_role, compose_target=compose_target,
                                share_identical=share_identical, region=region, profile=profile)
        if live:
            from migrate.commands.live import plan_live

            raise typer.Exit(plan_live(endpoint_url=endpoint_url, out_path=out, settings=settings, regions=[region] if region else (),
                                       clusters=cluster or (), services=service or (), families=family or (),
                                       all_revisions=all_revisions, fmt=format, no_color=no_color, strict=strict))
        if not paths:
            raise typer.BadParameter("missing PATHS... (or pass --live)", ctx=ctx, param_hint="PATHS")
        raise typer.Exit(cmd(paths, out_path=out, settings=settings, fmt=format, config_path=config,
                             no_color=no_color, allow_errors=skip_errors, strict=strict))


@app.command(epilog="Example:  secrets-migrate show plan.json")
def show(plan: PlanArg, format: Fmt = "text", no_color: NoColor = False) -> None:
    """Review a plan: counts, cost, + ~ - actions and the redacted diff of every file."""
    with error_handler():
        from migrate.commands.plan import show as cmd
        raise typer.Exit(cmd(plan, fmt=format, no_color=no_color))


@app.command(epilog="Example:  AWS_ENDPOINT_URL=http://127.0.0.1:4566 secrets-migrate apply plan.json --yes")
def apply(
    plan: PlanArg,
    yes: Yes = False,
    no_rollback: Annotated[bool, typer.Option("--no-rollback", help="On failure keep what was done (resume with apply).")] = False,
    profile: Profile = None, region: Region = None, endpoint_url: Endpoint = None, no_color: NoColor = False,
    digest: Annotated[str | None, typer.Option("--digest", help="Refuse unless the plan's digest (printed by plan/show) is this one.")] = None,
) -> None:
    """Create the entries, grant the roles, rewrite the files; journaled, resumable, rolled back on failure."""
    with error_handler():
        from migrate.commands.run import apply as cmd
        raise typer.Exit(cmd(plan, yes=yes, no_rollback=no_rollback, endpoint_url=endpoint_url, profile=profile, region=region,
                             no_color=no_color, digest=digest))


@app.command(epilog="Example:  secrets-migrate verify plan.json --format json")
def verify(plan: PlanArg, format: Fmt = "text", profile: Profile = None, region: Region = None,
           endpoint_url: Endpoint = None, no_color: NoColor = False) -> None:
    """Check every reference resolves, holds the original value, is granted, and no plaintext is left. Exit 1 on failure."""
    with error_handler():
        from migrate.commands.run import verify as cmd
        raise typer.Exit(cmd(plan, fmt=format, profile=profile, endpoint_url=endpoint_url, region=region, no_color=no_color))


@app.command(epilog="Example:  secrets-migrate rollback plan.json --yes")
def rollback(plan: PlanArg, yes: Yes = False, profile: Profile = None, region: Region = None,
             endpoint_url: Endpoint = None, no_color: NoColor = False) -> None:
    """Undo exactly what the run did: files byte-identical, created entries and grants deleted. Idempotent."""
    with error_handler():
        from migrate.commands.run import rollback as cmd
        raise typer.Exit(cmd(plan, yes=yes, profile=profile, endpoint_url=endpoint_url, region=region, no_color=no_color))


@app.command("force-unlock", epilog="Example:  secrets-migrate force-unlock plan.json 3f2a9c0d4e5b6a7c8d9e0f1a2b3c4d5e")
def force_unlock(plan: PlanArg,
                 lock_id: Annotated[str, typer.Argument(help="The lock id the refusal named.", metavar="LOCK_ID")],
                 yes: Yes = False, profile: Profile = None, region: Region = None, endpoint_url: Endpoint = None,
                 no_color: NoColor = False) -> None:
    """Break a run lock whose holder is dead. Only when you are sure no run of this plan is active."""
    with error_handler():
        from migrate.commands.run import force_unlock as cmd
        raise typer.Exit(cmd(plan, lock_id, yes=yes, profile=profile, endpoint_url=endpoint_url, region=region,
                             no_color=no_color))


@app.command(epilog="Example:  secrets-migrate finalize plan.json --yes")
def finalize(plan: PlanArg, yes: Yes = False, format: Fmt = "text", profile: Profile = None, region: Region = None,
             endpoint_url: Endpoint = None, no_color: NoColor = False) -> None:
    """Close the run (no rollback afterwards) and list the values to rotate."""
    with error_handler():
        from migrate.commands.run import finalize as cmd
        raise typer.Exit(cmd(plan, yes=yes, fmt=format, profile=profile, endpoint_url=endpoint_url, region=region, no_color=no_color))


@app.command(epilog="Example:  secrets-migrate status plan.json")
def status(plan: PlanArg, format: Fmt = "text", no_color: NoColor = False) -> None:
    """Show each action's state from the journal."""
    with error_handler():
        from migrate.commands.run import status as cmd
        raise typer.Exit(cmd(plan, fmt=format, no_color=no_color))


@app.command(epilog="Example:  secrets-migrate sandbox --port 4566   (then, in another shell, eval the printed exports)")
def sandbox(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0 = any free port).")] = 4566,
    seed: Annotated[bool, typer.Option("--seed", help="Load a legacy cluster built from fixtures/ (live mode).")] = False,
) -> None:
    """Start a local AWS endpoint (moto server on 127.0.0.1) and print the environment to use it."""
    with error_handler():
        from migrate.commands.sandbox import sandbox as cmd
        raise typer.Exit(cmd(port=port, seed=seed))


@app.command(epilog="Example:  secrets-migrate demo")
def demo(
    fixtures: Annotated[Path | None, typer.Option("--fixtures", help="Folder to copy and migrate (default: the shipped fixtures).")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the temporary copy and print its path.")] = False,
    no_color: NoColor = False,
) -> None:
    """Run scan, plan, show, apply, verify and rollback on a temporary copy of the fixtures against an in-process sandbox."""
    with error_handler():
        from migrate.commands.demo import demo as cmd
        raise typer.Exit(cmd(fixtures=fixtures, keep=keep, no_color=no_color))


@app.command("schema", epilog="Example:  secrets-migrate schema scan > scan-v1.schema.json")
def schema_cmd(
    name: Annotated[str, typer.Argument(help="Which output: scan (the file-scan JSON of `scan --format json`).")] = "scan",
) -> None:
    """Print the JSON Schema that a command's JSON output validates against."""
    with error_handler():
        from migrate.errors import UsageError
        from migrate.schemas import SCHEMAS, schema_text

        if name not in SCHEMAS:
            raise UsageError(f"no schema named {name!r}", hint="known: " + ", ".join(sorted(SCHEMAS)))
        typer.echo(schema_text(name), nl=False)


UnitOpt = Annotated[str, typer.Option("--unit", "-u", help="Container / compose service whose secrets to resolve: UNIT, or APP/UNIT or PATH:UNIT when several definitions have it.")]
PlanOpt = Annotated[Path | None, typer.Option("--plan", help="An applied plan: take the references from its journal.")]


@app.command("exec", epilog="Example:  secrets-migrate exec --plan plan.json --unit api -- python manage.py runserver")
def exec_cmd(
    args: Annotated[list[str] | None, typer.Argument(help="[PATH] -- COMMAND...: definition files (when no --plan), then the command after `--`.", metavar="[PATH] -- COMMAND...")] = None,
    unit: UnitOpt = ..., plan: PlanOpt = None,  # type: ignore[assignment]
    profile: Profile = None, region: Region = None, endpoint_url: Endpoint = None,
) -> None:
    """Run a command with a unit's secrets (resolved from the store) in its environment; never prints them.

    The command's exit code is passed through.
    """
    with error_handler():
        from migrate.commands.exec_env import exec_ as cmd
        rest = list(args or [])
        source = None
        if plan is None and rest:
            source, rest = rest[0], rest[1:]
        raise typer.Exit(cmd(rest, source=source, endpoint_url=endpoint_url, plan=plan, unit=unit, profile=profile, region=region))


@app.command("env", epilog="Example:  secrets-migrate env --plan plan.json --unit api --format dotenv -o .env.local")
def env_cmd(
    path: Annotated[str | None, typer.Argument(help="Definition files holding `secrets` references (when no --plan).")] = None,
    unit: UnitOpt = ..., plan: PlanOpt = None,  # type: ignore[assignment]
    format: Annotated[str, typer.Option("--format", "-f", help="dotenv, json or shell.")] = "dotenv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (created with mode 0600).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")] = False,
    profile: Profile = None, region: Region = None, endpoint_url: Endpoint = None,
) -> None:
    """Write a unit's secrets to a file (mode 0600) for tools that need one. Prefer `exec`."""
    with error_handler():
        from migrate.commands.exec_env import env as cmd
        raise typer.Exit(cmd(endpoint_url=endpoint_url, output=output, fmt=format, source=path, plan=plan, unit=unit, profile=profile, region=region,
                             force=force))


@app.command(epilog="Example:  secrets-migrate report plan.json -o report.html --markdown report.md --verify-json verify.json")
def report(
    plan: PlanArg,
    out: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write (self-contained, works offline).")] = Path("report.html"),
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Also write the report as Markdown here.")] = None,
    verify_json: Annotated[Path | None, typer.Option("--verify-json", help="Output of `secrets-migrate verify --format json` to include.")] = None,
) -> None:
    """Write an audit / change-review report of a plan and its run: HTML (and Markdown). Never holds a value."""
    with error_handler():
        from migrate.commands.report import report as cmd
        raise typer.Exit(cmd(plan, html_path=out, markdown_path=markdown, verify_json=verify_json))


# --- live ECS mode (issue 4) -------------------------------------------------------------------------
live_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                       help="Migrate running ECS services (clusters -> services -> task definitions) in waves.")
app.add_typer(live_app, name="live")
Regions = Annotated[list[str] | None, typer.Option("--region", help="Region (repeatable).")]
Clusters = Annotated[list[str] | None, typer.Option("--cluster", help="Cluster name or ARN (repeatable).")]
Services = Annotated[list[str] | None, typer.Option("--service", help="Service name (repeatable).")]
Families = Annotated[list[str] | None, typer.Option("--family", help="Task-definition family (repeatable).")]
AllRevs = Annotated[bool, typer.Option("--all-revisions", help="Also every ACTIVE revision of those families.")]


@live_app.command("scan", epilog="Example:  secrets-migrate live scan --region eu-west-1 --cluster prod --format json")
def live_scan(region: Regions = None, cluster: Clusters = None, service: Services = None, family: Families = None,
              all_revisions: AllRevs = False, format: Annotated[str, typer.Option("--format", "-f")] = "table",
              profile: Profile = None, endpoint_url: Endpoint = None, no_color: NoColor = False,
              output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to a file.")] = None) -> None:
    """List services and the plaintext secrets in the revisions they run. Exit 1 when some are found."""
    with error_handler():
        from migrate.commands.scan_output import scan_live_to
        raise typer.Exit(scan_live_to(output, endpoint_url=endpoint_url, regions=region or (), clusters=cluster or (), services=service or (),
                                      families=family or (), all_revisions=all_revisions, profile=profile, fmt=format,
                                      no_color=no_color))


@live_app.command("plan", epilog="Example:  secrets-migrate live plan --cluster prod --store auto -o live-plan.json")
def live_plan(out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the plan file here.")] = None,
              region: Regions = None, cluster: Clusters = None, service: Services = None, family: Families = None,
              all_revisions: AllRevs = False,
              store: Annotated[str, typer.Option("--store")] = "auto", prefix: Annotated[str, typer.Option("--prefix")] = "",
              group: Annotated[str, typer.Option("--group", help="per-var, or per-unit (one JSON secret per container).")] = "per-var",
              strict: Annotated[bool, typer.Option("--strict", help="Refuse the whole plan when any service is blocked.")] = False,
              name_template: Annotated[str | None, typer.Option("--name-template")] = None,
              kms_key: Annotated[str | None, typer.Option("--kms-key")] = None,
              execution_role: Annotated[str | None, typer.Option("--execution-role")] = None,
              health_timeout: Annotated[float, typer.Option("--health-timeout", help="Seconds per deployment.")] = 600.0,
              prove: Annotated[bool, typer.Option("--prove/--no-prove", help="Ask IAM per service whether its new tasks will start.")] = True,
              format: Fmt = "text", profile: Profile = None, endpoint_url: Endpoint = None, no_color: NoColor = False) -> None:
    """Plan entries, grant, new revision, service update and health check for every live service.

    A service with a problem (name clash, value too large, revision unreadable) is blocked alone and listed
    with its reason and fix; every other service is planned. Exit 0: planned; 5: planned, with blocked items;
    4 with --strict."""
    with error_handler():
        from migrate.commands.live import plan_live
        from migrate.plan.model import PlanSettings
        settings = PlanSettings.from_options(store=store, group=group, prefix=prefix, name_template=name_template, kms_key=kms_key,
                                execution_role=execution_role, profile=profile, region=region[0] if region else None)
        raise typer.Exit(plan_live(endpoint_url=endpoint_url, out_path=out, settings=settings, regions=region or (), clusters=cluster or (),
                                   services=service or (), families=family or (), all_revisions=all_revisions,
                                   health_timeout=health_timeout, fmt=format, no_color=no_color, prove=prove, strict=strict))


@live_app.command("apply", epilog="Example:  secrets-migrate live apply live-plan.json --waves 1,25%,rest --yes")
def live_apply(plan: PlanArg, yes: Yes = False,
               waves: Annotated[str, typer.Option("--waves", help="Wave sizes: N, N% or rest, comma-separated.")] = "1,rest",
               concurrency: Annotated[int, typer.Option("--concurrency", help="Services at once per wave (canary: 1).")] = 4,
               failure_policy: Annotated[str, typer.Option("--failure-policy", help="rollback-service, rollback-wave, rollback-all or stop.")] = "rollback-service",
               health: Annotated[str, typer.Option("--health", help="ecs (poll DescribeServices) or scripted (sandbox: moto runs no deployments).")] = "ecs",
               fail: Annotated[list[str] | None, typer.Option("--fail", help="With --health scripted: make this service's deployment fail.")] = None,
               health_timeout: Annotated[float | None, typer.Option("--health-timeout")] = None,
               health_interval: Annotated[float, typer.Option("--health-interval", help="Seconds between DescribeServices polls (--health ecs).")] = 15.0,
               prove: Annotated[bool, typer.Option("--prove/--no-prove", help="Ask IAM first whether each service's tasks will start; a would-fail makes every policy but rollback-service refuse its wave.")] = True,
               service: Services = None,
               rate_scale: Annotated[float, typer.Option("--rate-scale", help="Multiply the client-side API rate limits (quotas raised by AWS, or a test endpoint).")] = 1.0,
               report: Annotated[str, typer.Option("--report", help="table, json or markdown.")] = "table",
               report_out: Annotated[Path | None, typer.Option("--report-out", help="Also write the report here.")] = None,
               profile: Profile = None, region: Region = None, endpoint_url: Endpoint = None, no_color: NoColor = False) -> None:
    """Migrate services wave by wave; a failed deployment rolls its service back by itself. Resumable."""
    with error_handler():
        from migrate.commands.live import apply_live
        raise typer.Exit(apply_live(plan, yes=yes, endpoint_url=endpoint_url, waves=waves, concurrency=concurrency, policy=failure_policy,
                                    health=health, fail=fail or (), health_timeout=health_timeout, services=service or (),
                                    report_format=report, report_out=report_out, profile=profile, region=region,
                                    rate_scale=rate_scale, no_color=no_color, health_interval=health_interval, prove=prove))


@live_app.command("rollback", epilog="Example:  secrets-migrate live rollback live-plan.json --service prod/api --yes")
def live_rollback(plan: PlanArg, service: Annotated[list[str] | None, typer.Option("--service", help="cluster/service (repeatable); default: all.")] = None,
                  yes: Yes = False, profile: Profile = None, region: Region = None, endpoint_url: Endpoint = None,
                  no_color: NoColor = False) -> None:
    """Undo a live run, or only some services. Idempotent."""
    with error_handler():
        from migrate.commands.live import rollback_live
        raise typer.Exit(rollback_live(plan, services=service or (), endpoint_url=endpoint_url, yes=yes, profile=profile, region=region,
                                       no_color=no_color))


@live_app.command("finalize", epilog="Example:  secrets-migrate live finalize live-plan.json --yes")
def live_finalize(plan: PlanArg, yes: Yes = False, format: Fmt = "text", profile: Profile = None, region: Region = None,
                  endpoint_url: Endpoint = None, no_color: NoColor = False) -> None:
    """Deregister and delete the old plaintext revisions (10 per call); no rollback afterwards."""
    with error_handler():
        from migrate.commands.live import finalize_live
        raise typer.Exit(finalize_live(plan, yes=yes, endpoint_url=endpoint_url, fmt=format, profile=profile, region=region, no_color=no_color))


@app.command("run", epilog="Example:  secrets-migrate run playbooks/canary-then-rest.yaml --plan-only")
def run_cmd(playbook: Annotated[Path, typer.Argument(help="Playbook YAML (see playbooks/README.md).")],
            plan_only: Annotated[bool, typer.Option("--plan-only", help="Write PLAYBOOK.plan.json only.")] = False,
            do_apply: Annotated[bool, typer.Option("--apply", help="Plan if needed, then apply in the playbook's waves.")] = False,
            accounts_concurrency: Annotated[int, typer.Option("--accounts-concurrency", help="Accounts run at once (each its own credentials, journal, limits, report).")] = 1,
            yes: Yes = False, endpoint_url: Endpoint = None, no_color: NoColor = False) -> None:
    """Run a playbook: live targets, store policy, waves and failure policy from one YAML file."""
    with error_handler():
        from migrate.playbook import run_playbook
        raise typer.Exit(run_playbook(playbook, endpoint_url=endpoint_url, plan_only=plan_only, apply=do_apply, yes=yes, no_color=no_color,
                                      accounts_concurrency=accounts_concurrency))


def main() -> int:
    import sys

    from migrate.commands.scan import quick_main  # a plain file scan skips building the command line

    code = quick_main(sys.argv[1:])
    if code is not None:
        return code
    try:
        app(prog_name="secrets-migrate")
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0
