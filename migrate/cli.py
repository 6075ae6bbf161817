"""The command line: declares options and calls migrate.commands.*; nothing else lives here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

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

Profile = Annotated[Optional[str], typer.Option("--profile", help="AWS profile name.", envvar="AWS_PROFILE")]
Region = Annotated[Optional[str], typer.Option("--region", help="AWS region (default: from the profile/environment).")]
Endpoint = Annotated[Optional[str], typer.Option("--endpoint-url", help="AWS endpoint (sets AWS_ENDPOINT_URL), e.g. the sandbox's.")]
NoColor = Annotated[bool, typer.Option("--no-color", help="Plain output.", envvar="NO_COLOR")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Fmt = Annotated[str, typer.Option("--format", "-f", help="text or json.")]
PlanArg = Annotated[Path, typer.Argument(help="Plan file written by `secrets-migrate plan -o`.", metavar="PLAN")]


def _endpoint(url: str | None) -> None:
    if url:
        os.environ["AWS_ENDPOINT_URL"] = url


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
    paths: Annotated[list[str], typer.Argument(help="Files or directories (task-definition JSON, compose, CloudFormation, CDK, Terraform).")],
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or sarif.")] = "table",
    all_entries: Annotated[bool, typer.Option("--all", help="Report every entry, not only secrets.")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to a file.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="Config file (default: pyproject.toml [tool.secrets-migrate] or .secrets-migrate.toml).")] = None,
    max_file_size: Annotated[Optional[int], typer.Option("--max-file-size", help="Skip files larger than this many bytes (reported as errors).")] = None,
    no_color: NoColor = False,
) -> None:
    """Find plaintext secrets in environment variables and log options. Never prints a value.

    Exit codes: 0 clean, 1 plaintext secrets found, 2 usage error, 3 some input could not be read (fail closed).
    """
    with error_handler():
        from migrate.commands.scan import scan as cmd
        raise typer.Exit(cmd(paths, fmt=format, all_entries=all_entries, output=output, config_path=config,
                             max_file_size=max_file_size, no_color=no_color))


@app.command(epilog="Example:  secrets-migrate plan fixtures/ecs --store auto --execution-role "
             "arn:aws:iam::123456789012:role/ecsTaskExecutionRole -o plan.json")
def plan(
    paths: Annotated[list[str], typer.Argument(help="Files or directories to migrate.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the plan file here (without it: dry run, print only).")] = None,
    store: Annotated[str, typer.Option("--store", help="ssm, secretsmanager or auto (by size and cost).")] = "auto",
    group: Annotated[str, typer.Option("--group", help="per-var (one entry per variable) or per-unit (one JSON secret per container).")] = "per-var",
    prefix: Annotated[str, typer.Option("--prefix", help="Name prefix, e.g. prod.")] = "",
    name_template: Annotated[Optional[str], typer.Option("--name-template", help="e.g. '/{prefix}/{group}/{unit}/{name}'.")] = None,
    kms_key: Annotated[Optional[str], typer.Option("--kms-key", help="KMS key id, alias or ARN for new entries.")] = None,
    execution_role: Annotated[Optional[str], typer.Option("--execution-role", help="Task execution role ARN for definitions that name none.")] = None,
    compose_target: Annotated[str, typer.Option("--compose-target", help="ecs-params (ecs-cli ecs-params.yml) or compose-secrets.")] = "ecs-params",
    share_identical: Annotated[bool, typer.Option("--share-identical", help="Identical values within one app share one entry.")] = False,
    skip_errors: Annotated[bool, typer.Option("--skip-errors", help="Plan even if some files cannot be read.")] = False,
    format: Fmt = "text",
    config: Annotated[Optional[Path], typer.Option("--config")] = None,
    profile: Profile = None,
    region: Region = None,
    no_color: NoColor = False,
) -> None:
    """Decide store, name, rewrite and IAM grant for every migratable secret; write a reviewable plan.

    A plan is a dry run: nothing in AWS or in your files changes until `apply`.
    """
    with error_handler():
        from migrate.commands.plan import plan as cmd
        from migrate.plan.model import PlanSettings
        settings = PlanSettings(store=store, group=group, prefix=prefix, name_template=name_template, kms_key=kms_key,
                                execution_role=execution_role, compose_target=compose_target,
                                share_identical=share_identical, region=region, profile=profile)
        raise typer.Exit(cmd(paths, out_path=out, settings=settings, fmt=format, config_path=config,
                             no_color=no_color, allow_errors=skip_errors))


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
) -> None:
    """Create the entries, grant the roles, rewrite the files; journaled, resumable, rolled back on failure."""
    with error_handler():
        from migrate.commands.run import apply as cmd
        _endpoint(endpoint_url)
        raise typer.Exit(cmd(plan, yes=yes, no_rollback=no_rollback, profile=profile, region=region, no_color=no_color))


@app.command(epilog="Example:  secrets-migrate verify plan.json --format json")
def verify(plan: PlanArg, format: Fmt = "text", profile: Profile = None, region: Region = None,
           endpoint_url: Endpoint = None, no_color: NoColor = False) -> None:
    """Check every reference resolves, holds the original value, is granted, and no plaintext is left. Exit 1 on failure."""
    with error_handler():
        from migrate.commands.run import verify as cmd
        _endpoint(endpoint_url)
        raise typer.Exit(cmd(plan, fmt=format, profile=profile, region=region, no_color=no_color))


@app.command(epilog="Example:  secrets-migrate rollback plan.json --yes")
def rollback(plan: PlanArg, yes: Yes = False, profile: Profile = None, region: Region = None,
             endpoint_url: Endpoint = None, no_color: NoColor = False) -> None:
    """Undo exactly what the run did: files byte-identical, created entries and grants deleted. Idempotent."""
    with error_handler():
        from migrate.commands.run import rollback as cmd
        _endpoint(endpoint_url)
        raise typer.Exit(cmd(plan, yes=yes, profile=profile, region=region, no_color=no_color))


@app.command(epilog="Example:  secrets-migrate finalize plan.json --yes")
def finalize(plan: PlanArg, yes: Yes = False, format: Fmt = "text", profile: Profile = None, region: Region = None,
             endpoint_url: Endpoint = None, no_color: NoColor = False) -> None:
    """Close the run (no rollback afterwards) and list the values to rotate."""
    with error_handler():
        from migrate.commands.run import finalize as cmd
        _endpoint(endpoint_url)
        raise typer.Exit(cmd(plan, yes=yes, fmt=format, profile=profile, region=region, no_color=no_color))


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
    fixtures: Annotated[Optional[Path], typer.Option("--fixtures", help="Folder to copy and migrate (default: the shipped fixtures).")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the temporary copy and print its path.")] = False,
    no_color: NoColor = False,
) -> None:
    """Run scan, plan, show, apply, verify and rollback on a temporary copy of the fixtures against an in-process sandbox."""
    with error_handler():
        from migrate.commands.demo import demo as cmd
        raise typer.Exit(cmd(fixtures=fixtures, keep=keep, no_color=no_color))


def main() -> int:
    try:
        app(prog_name="secrets-migrate")
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0
