"""Live ECS commands: scan, plan, apply (waves), rollback, finalize for running services (issue 4)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from migrate.arn import short
from migrate.commands.common import confirm, open_env, progress_bar
from migrate.console import err_console, out_console
from migrate.errors import EXIT_FAILED, EXIT_FINDINGS, EXIT_OK, ConfigError, FinalizedError, PlanError, UsageError
from migrate.plan.choices import FailurePolicy

#: temporary credentials (AccessKeyId, SecretAccessKey, SessionToken) of an assumed role, or None: the caller's own
Credentials = Mapping[str, str] | None

if TYPE_CHECKING:
    from rich.progress import TaskID

    from migrate.live.prove import Proof
    from migrate.live.source import Inventory
    from migrate.live.waves import RunReport, WaveSpec
    from migrate.plan.model import Plan, PlanSettings
    from migrate.stores.aws import AwsContext


def _inventory(regions: Sequence[str], profile: str | None, clusters: Sequence[str], services: Sequence[str],
               families: Sequence[str], all_revisions: bool, credentials: Credentials = None,
              endpoint_url: str | None = None) -> Inventory:
    from migrate.live.source import Inventory, discover
    from migrate.stores.aws import Aws

    inv = Inventory()
    each: list[str | None] = [*regions] or [None]  # None: the profile's default region
    for region in each:
        aws = Aws(profile=profile, region=region, credentials=credentials, endpoint_url=endpoint_url)
        got = discover(aws.client("ecs"), aws.region_name, clusters=clusters, services=services, families=families,
                       all_revisions=all_revisions)
        inv.services += got.services
        inv.revisions.update(got.revisions)
        inv.warnings += got.warnings
    return inv


def scan_live(*, regions: Sequence[str] = (), clusters: Sequence[str] = (), services: Sequence[str] = (),  # noqa: PLR0913 - one parameter per CLI option
              families: Sequence[str] = (), all_revisions: bool = False, profile: str | None = None,
              fmt: str = "table", no_color: bool = False, endpoint_url: str | None = None,
              all_entries: bool = False) -> int:
    """Live scan. ``json`` is the same v1 contract as a file scan (``secrets-migrate schema scan``), ``sarif``
    the same SARIF 2.1.0 (the artifact is the task-definition ARN)."""
    from migrate.commands.common import ScanOutcome
    from migrate.commands.scan import to_json_live, to_sarif
    from migrate.live.planner import live_findings

    if fmt not in ("table", "json", "sarif"):
        raise UsageError(f"--format must be table, json or sarif, not {fmt!r}")
    inv = _inventory(regions, profile, clusters, services, families, all_revisions, endpoint_url=endpoint_url)
    every = live_findings(inv)
    findings = [f for f in every if f.is_secret]
    if fmt == "json":
        print(json.dumps(to_json_live(every, inv.services, all_entries=all_entries, warnings=inv.warnings),
                         indent=2, ensure_ascii=False))
        return EXIT_FINDINGS if findings else EXIT_OK
    if fmt == "sarif":
        print(json.dumps(to_sarif(ScanOutcome(files=[], loaded=[], findings=findings)), indent=2, ensure_ascii=False))
        return EXIT_FINDINGS if findings else EXIT_OK
    by_rev: dict[str, list[str]] = {}
    for f in findings:
        by_rev.setdefault(f.entry.path, []).append(f"{f.entry.unit}.{f.entry.name}")
    other = sorted(a for a in by_rev if a not in {s.task_definition for s in inv.services})
    from rich.table import Table

    con = out_console(no_color)
    t = Table(title=Text("Live services"))
    for c in ("service", "controller", "revision", "plaintext secrets"):
        t.add_column(c, overflow="fold")
    for s in inv.services:
        t.add_row(Text(s.key), s.controller, Text(short(s.task_definition)),
                  Text(", ".join(sorted(by_rev.get(s.task_definition, []))) or "-"))
    con.print(t)
    for a in other:
        con.print(Text(f"also ACTIVE: {short(a)}: {', '.join(sorted(by_rev[a]))}"))
    return EXIT_FINDINGS if findings else EXIT_OK


def plan_live(*, out_path: Path | None, settings: PlanSettings, regions: Sequence[str] = (), clusters: Sequence[str] = (),  # noqa: PLR0913 - one parameter per CLI option
              services: Sequence[str] = (), families: Sequence[str] = (), all_revisions: bool = False,
              health_timeout: float = 600.0, fmt: str = "text", no_color: bool = False,
              credentials: Credentials = None,
              endpoint_url: str | None = None, prove: bool = True, tags: Mapping[str, str] | None = None,
              strict: bool = False) -> int:
    """Describe the services, plan the live migration; ``credentials`` (e.g. an assumed role's) for every call.
    ``prove``: ask IAM, per service, whether its new revision's tasks will start (:mod:`migrate.live.prove`);
    the proofs are stored in the plan (``show`` and ``report`` list them).
    ``tags``: added to every entry the plan creates (the tool's own managed-by / plan-id tags win).
    A problem with one service blocks that service only (exit EXIT_BLOCKED, every blocked item listed with its
    reason and fix); ``strict``: any blocked item refuses the whole plan (nothing written, EXIT_FAILED)."""
    import dataclasses

    from migrate.commands.plan import guard_no_values, plan_exit_code, print_blocked
    from migrate.live.planner import live_findings, make_live_plan
    from migrate.live.prove import WILL_START
    from migrate.plan.model import ServiceProof
    from migrate.plan.planner import plaintext_values

    inv = _inventory(regions, settings.profile, clusters, services, families, all_revisions, credentials, endpoint_url)
    findings = live_findings(inv)
    p = make_live_plan(inv, findings, settings, health_timeout=health_timeout)
    if strict and p.blocked:
        err = err_console(no_color)
        for b in p.blocked:
            err.print(Text(f"blocked: [{b.kind}] {b.label()}: {b.reason}" + (f" (fix: {b.fix})" if b.fix else "")))
        err.print(f"no plan written (--strict): {len(p.blocked)} blocked item(s) above; fix them or drop --strict")
        return EXIT_FAILED
    if tags:
        p = _with_tags(p, tags)
    p = _with_preflight(p, regions, settings.profile, credentials, endpoint_url)
    proofs = _proofs(p, regions, settings.profile, credentials, endpoint_url) if prove else {}
    if proofs:
        doubts = [f"prove {k}: {v}" for k, v in proofs.items() if str(v) != WILL_START]
        p = dataclasses.replace(p, warnings=tuple(dict.fromkeys((*p.warnings, *doubts))),
                                proofs=tuple(ServiceProof(k, v.state, v.reason) for k, v in proofs.items()))
    text = p.to_json()
    guard_no_values(text, plaintext_values(findings))
    if out_path is not None:
        from migrate.apply.fs import atomic_write

        if out_path.exists():
            raise PlanError(f"{out_path} exists; refusing to overwrite it", hint="pick another -o path")
        atomic_write(out_path, text.encode("utf-8"))
    if fmt == "json":
        print(text if out_path is None else json.dumps({
            "plan": str(out_path), "id": p.id, "summary": p.counts(), "warnings": list(p.warnings),
            "proofs": {k: str(v) for k, v in proofs.items()},
            "blocked": [dataclasses.asdict(b) for b in p.blocked]}, indent=2))
        return plan_exit_code(p)
    con = out_console(no_color)
    for a in p.actions:
        con.print(Text(f"{a.category.value} {a.describe()}"))
    for k, v in proofs.items():
        con.print(Text(f"service {k}: {v}", style="green" if str(v) == WILL_START else "yellow"))
    for w in p.warnings:
        con.print(Text(f"warning: {w}", style="yellow"))
    for r in p.refused:
        con.print(Text(f"refused: {r['path']} {r['unit']}.{r['name']}: {r['reason']}", style="yellow"))
    print_blocked(p, con)
    con.print(Text(f"{len(p.deploy_order)} service(s), {len(p.store_actions)} entr(ies)"
                   + (f", {len(p.blocked)} blocked item(s) left as they are" if p.blocked else "")
                   + (f"; plan written to {out_path}" if out_path else "; dry run (pass -o to write the plan)")))
    return plan_exit_code(p)


def _with_preflight(p: Plan, regions: Sequence[str], profile: str | None, credentials: Credentials = None,
              endpoint_url: str | None = None) -> Plan:
    """Add the guardrails that can be evaluated now (read-only calls) to the plan's warnings."""
    import dataclasses

    from migrate.live.guardrails import plan_warnings
    from migrate.stores.aws import Aws

    extra = plan_warnings(p, Aws(profile=profile, region=regions[0] if regions else None,
                                       credentials=credentials, endpoint_url=endpoint_url))
    return dataclasses.replace(p, warnings=tuple(dict.fromkeys((*p.warnings, *extra)))) if extra else p


def _with_tags(p: Plan, tags: Mapping[str, str]) -> Plan:
    import dataclasses

    from migrate.plan.actions import CreateSecret, PutParameter

    acts = tuple(dataclasses.replace(a, tags={**dict(tags), **a.tags}) if isinstance(a, (PutParameter, CreateSecret)) else a
                 for a in p.actions)
    return dataclasses.replace(p, actions=acts)


def _proofs(p: Plan, regions: Sequence[str], profile: str | None, credentials: Credentials = None,
            endpoint_url: str | None = None) -> dict[str, Proof]:
    from migrate.live.prove import prove_plan
    from migrate.stores.aws import Aws

    aws = Aws(profile=profile, region=regions[0] if regions else None, credentials=credentials, endpoint_url=endpoint_url)
    return dict(prove_plan(p, aws))


def parse_waves(spec: str, concurrency: int) -> tuple[WaveSpec, ...]:
    from migrate.live.waves import WaveSpec

    parts = [s.strip() for s in spec.split(",") if s.strip()]
    if not parts:
        raise ConfigError("--waves needs at least one wave, e.g. 1,rest")
    return tuple(WaveSpec(p, 1 if p == "1" else concurrency, f"wave{i}") for i, p in enumerate(parts, 1))


def apply_live(plan_path: Path, *, yes: bool = False, waves: str = "1,rest", concurrency: int = 4,  # noqa: PLR0913 - one parameter per CLI option
               policy: FailurePolicy | str = FailurePolicy.ROLLBACK_SERVICE, health: str = "ecs", fail: Sequence[str] = (),
               health_timeout: float | None = None, services: Sequence[str] = (), report_format: str = "table",
               report_out: Path | None = None, profile: str | None = None, region: str | None = None,
               rate_scale: float = 1.0, wave_specs: Sequence[WaveSpec] | None = None, no_color: bool = False,
               credentials: Credentials = None,
              endpoint_url: str | None = None, health_interval: float = 15.0, aws: AwsContext | None = None,
              prove: bool = True) -> int:
    """Apply a live plan in waves. ``wave_specs`` (WaveSpec, each with its own concurrency) overrides
    ``waves``/``concurrency``; ``credentials`` (e.g. an assumed role's) are used for every AWS call, or ``aws``
    (an explicit context) for all of them. ``health_interval``: seconds between DescribeServices polls.
    ``prove``: ask IAM first whether each service's tasks will start; a "would fail" makes every failure policy
    but rollback-service refuse that service's wave."""
    from migrate.apply.journal import locked, state_dir_for
    from migrate.live.health import EcsHealthChecker, ScriptedHealth
    from migrate.live.ratelimit import RateLimits
    from migrate.live.waves import LiveRunner, RunInterrupted, RunOptions, failure_policy

    if health not in ("ecs", "scripted"):
        raise ConfigError("--health must be ecs or scripted")
    if health_interval <= 0:
        raise ConfigError("--health-interval must be positive")
    checker = (ScriptedHealth({k: "FAILED" for k in fail}) if health == "scripted"
               else EcsHealthChecker(interval=health_interval))
    opts = RunOptions(waves=tuple(wave_specs) if wave_specs else parse_waves(waves, concurrency), failure_policy=failure_policy(policy))
    err = err_console(no_color)
    with locked(state_dir_for(plan_path)):
        rt = open_env(plan_path, profile, region, health=checker, limits=RateLimits.defaults(scale=rate_scale),
                   health_timeout=health_timeout, credentials=credentials, endpoint_url=endpoint_url, aws=aws)
        if rt.journal.finalized:
            raise FinalizedError("this plan was finalized; make a new plan")
        runner = LiveRunner(rt, opts)
        err.print(Text(f"Plan {rt.plan.id}: {len(runner.order)} service(s), policy {policy}, waves {waves}"))
        from migrate.live.guardrails import preflight_live, raise_for

        checks = preflight_live(rt.plan, rt.aws)
        for c in checks:
            err.print(Text(("warning: " if c.level == "warning" else "error: ") + c.line(),
                           style="yellow" if c.level == "warning" else "red"))
        raise_for(checks)
        if prove:
            from migrate.live.prove import prove_plan

            runner.proofs = {k: str(v) for k, v in prove_plan(rt.plan, rt.aws).items()}
            for k, v in runner.proofs.items():
                if v != "will start":
                    err.print(Text(f"prove {k}: {v}", style="yellow"))
        if not confirm("Apply this live plan to running services?", yes):
            return EXIT_FAILED
        with progress_bar(err, enabled=err.is_terminal) as prog:
            tasks: dict[int, TaskID] = {}

            def on_event(ev: str, wave: int, key: str, status: str) -> None:
                if ev == "wave":
                    tasks[wave] = prog.add_task(f"wave {wave}", total=int(status))
                elif wave in tasks:
                    prog.update(tasks[wave], advance=1 if ev == "end" else 0, description=f"wave {wave}: {key} {status}"[:70])

            runner.on_event = on_event
            from migrate.apply.guard import run_guard

            try:
                with run_guard(rt, plan_path):
                    rep = runner.run(only=set(services) if services else None)
            except RunInterrupted as stopped:
                # the run was compensated and stops: its per-service outcome is still reported before the
                # message that says where things are and which command finishes the job
                _emit_report(stopped.report, report_format, report_out, no_color)
                raise
            finally:
                rt.journal.close()
    _emit_report(rep, report_format, report_out, no_color)
    return EXIT_OK if rep.ok else EXIT_FAILED


def _emit_report(rep: RunReport, report_format: str, report_out: Path | None, no_color: bool) -> None:
    from migrate.live import report as rp

    text = rp.to_json(rep) if report_format == "json" else rp.to_markdown(rep) if report_format == "markdown" else None
    if report_out is not None:
        from migrate.apply.fs import atomic_write

        # a .json path gets the JSON report whatever --report says (the organisation summary reads it)
        body = rp.to_json(rep) if report_out.suffix == ".json" else (text or rp.to_markdown(rep))
        atomic_write(report_out, body.encode("utf-8"))
    if report_format == "none":
        pass
    elif text is not None:
        print(text, end="")
    else:
        out_console(no_color).print(rp.to_table(rep))


def rollback_live(plan_path: Path, *, services: Sequence[str] = (), yes: bool = False, profile: str | None = None,
                  region: str | None = None, no_color: bool = False, endpoint_url: str | None = None,
                  aws: AwsContext | None = None) -> int:
    from migrate.apply.guard import run_guard
    from migrate.apply.journal import locked, state_dir_for
    from migrate.live.waves import rollback_live as do

    err = err_console(no_color)
    with locked(state_dir_for(plan_path)):
        rt = open_env(plan_path, profile, region, endpoint_url=endpoint_url, aws=aws)
        if not confirm("Roll back " + (", ".join(services) if services else "every service of this run") + "?", yes):
            return EXIT_FAILED
        try:
            with run_guard(rt, plan_path):
                notes = do(rt, list(services) or None)
        finally:
            rt.journal.close()
    for n in notes:
        err.print(Text(f"note: {n}"))
    err.print(Text("Rolled back: services on their previous revisions, new revisions deregistered, entries deleted.",
                   style="green"))
    return EXIT_OK


def finalize_live(plan_path: Path, *, yes: bool = False, fmt: str = "text", profile: str | None = None,
                  region: str | None = None, no_color: bool = False, endpoint_url: str | None = None,
                  aws: AwsContext | None = None) -> int:
    """Deregister + delete the old plaintext revisions of migrated services. The point of no return."""
    from migrate.apply.finalize import finalize_plan
    from migrate.apply.guard import run_guard
    from migrate.apply.journal import locked, state_dir_for
    from migrate.live.waves import LiveRunner

    err = err_console(no_color)
    with locked(state_dir_for(plan_path)):
        rt = open_env(plan_path, profile, region, endpoint_url=endpoint_url, aws=aws)
        runner = LiveRunner(rt)
        states = rt.journal.states()
        busy = [k for k, s in runner.steps.items() if not runner.migrated(k)
                and any(states.get(a.id) and states[a.id].phase in ("intent", "failed", "reverting") for a in s.actions)]
        if busy:
            err.print(f"cannot finalize: {len(busy)} service(s) are mid-way (apply or roll back first)")
            return EXIT_FAILED
        if rt.journal.finalized:
            deleted: list[str] = []
        else:
            if not confirm("Finalize? Old revisions are deleted and rollback is no longer possible.", yes):
                return EXIT_FAILED
            with run_guard(rt, plan_path):
                deleted = finalize_plan(rt)
    rotate = sorted({f"{v.unit}.{v.name} ({a.name})" for a in rt.plan.store_actions for v in a.values
                     if states.get(a.id) and states[a.id].phase == "applied"})
    if fmt == "json":
        print(json.dumps({"plan_id": rt.plan.id, "finalized": True, "deleted_revisions": deleted, "rotate": rotate},
                         indent=2))
    else:
        con = out_console(no_color)
        con.print(Text(f"Finalized: {len(deleted)} old revision(s) deregistered and deleted. Rotate these values:"))
        for r in rotate:
            con.print(Text(f"  - {r}"))
    return EXIT_OK
