"""Playbooks: a versioned YAML file naming targets, store policy, waves and failure policy (playbooks/README.md).

Invalid playbooks raise InputError pointing at the line and field; input text is never quoted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate.errors import EXIT_BLOCKED, InputError, MigrateError
from migrate.plan.choices import FailurePolicy, StoreKind, spelled

if TYPE_CHECKING:
    from migrate.plan.model import PlanSettings

PLAYBOOK_VERSION = 1
_TOP = {"version", "name", "targets", "store", "prefix", "name_template", "kms_key", "execution_role", "tags",
        "waves", "failure_policy", "health", "accounts"}
_TARGETS = {"regions", "clusters", "services", "families", "all_revisions", "paths"}
_ACCOUNT = {"name", "role_arn", "external_id", "regions"}
STS_SESSION_NAME = "secrets-migrate"  # also migrate.live.accounts.STS_SESSION_NAME

#: builds the InputError for (node, dotted field, why)
_Err = Callable[[Any, str, str], InputError]


@dataclass(frozen=True)
class Wave:
    size: str
    concurrency: int = 1


@dataclass(frozen=True)
class Account:
    name: str
    role_arn: str | None = None
    external_id: str | None = None
    regions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Playbook:
    path: str
    name: str = ""
    regions: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    all_revisions: bool = False
    store: StoreKind = StoreKind.AUTO
    prefix: str = ""
    name_template: str | None = None
    kms_key: str | None = None
    execution_role: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    waves: tuple[Wave, ...] = (Wave("1", 1), Wave("rest", 4))
    failure_policy: FailurePolicy = FailurePolicy.ROLLBACK_SERVICE
    health: str = "ecs"
    health_timeout: float = 600.0
    accounts: tuple[Account, ...] = ()
    paths: tuple[str, ...] = ()  #: file-mode targets, relative to the playbook's folder


def _line(node: Any, key: Any) -> int | None:
    try:
        return int(node.lc.key(key)[0]) + 1
    except Exception:  # noqa: BLE001
        return None


def load_playbook(path: Path) -> Playbook:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    where = str(path)
    try:
        doc = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(where, f"cannot read playbook ({e.strerror})") from None
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(where, "not valid YAML", line=mark.line + 1 if mark else None) from None
    if not isinstance(doc, dict):
        raise InputError(where, "a playbook is a YAML mapping")

    def err(node: Any, key: str, why: str) -> InputError:
        return InputError(where, f"field {key}: {why}", line=_line(node, key.rsplit(".", 1)[-1]))

    for k in doc:
        if k not in _TOP:
            raise err(doc, str(k), f"unknown field (expected one of {', '.join(sorted(_TOP))})")
    if doc.get("version") != PLAYBOOK_VERSION:
        raise err(doc, "version", f"must be {PLAYBOOK_VERSION}")

    def strs(node: Any, key: str, dotted: str) -> tuple[str, ...]:
        v = node.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise err(node, dotted, "must be a list of non-empty strings")
        return tuple(v)

    def opt_str(key: str) -> str | None:
        v = doc.get(key)
        if v is not None and not isinstance(v, str):
            raise err(doc, key, "must be a string")
        return v

    t = doc.get("targets", {})
    if not isinstance(t, dict):
        raise err(doc, "targets", "must be a mapping")
    for k in t:
        if k not in _TARGETS:
            raise err(t, f"targets.{k}", f"unknown field (expected one of {', '.join(sorted(_TARGETS))})")
    waves = _waves(doc, where, err)
    policy, store = _choices(doc, err)
    health, timeout = _health(doc, err)
    tags = doc.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise err(doc, "tags", "must map strings to strings")
    ar = t.get("all_revisions", False)
    if not isinstance(ar, bool):
        raise err(t, "targets.all_revisions", "must be true or false")
    paths = strs(t, "paths", "targets.paths")
    if paths:
        _file_mode_only(doc, t, err)
    accounts = _accounts(doc, where, err)
    return Playbook(path=where, name=str(doc.get("name", path.stem)), regions=strs(t, "regions", "targets.regions"),
                    clusters=strs(t, "clusters", "targets.clusters"), services=strs(t, "services", "targets.services"),
                    families=strs(t, "families", "targets.families"), all_revisions=ar, store=store,
                    prefix=opt_str("prefix") or "", name_template=opt_str("name_template"), kms_key=opt_str("kms_key"),
                    execution_role=opt_str("execution_role"), tags=dict(tags), waves=waves,
                    failure_policy=policy, health=health, health_timeout=timeout,
                    accounts=accounts, paths=paths)


def _health(doc: Any, err: _Err) -> tuple[str, float]:
    h = doc.get("health", {})
    if not isinstance(h, dict) or h.get("mode", "ecs") not in ("ecs", "scripted"):
        raise err(doc, "health", "must be a mapping with mode ecs or scripted")
    timeout = h.get("timeout", 600)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise err(h, "health.timeout", "must be a positive number of seconds")
    return str(h.get("mode", "ecs")), float(timeout)


def _file_mode_only(doc: Any, t: Any, err: _Err) -> None:
    """targets.paths (file mode) excludes every live target and accounts."""
    for k in ("regions", "clusters", "services", "families", "all_revisions"):
        if k in t:
            raise err(t, f"targets.{k}", "cannot be combined with targets.paths (file mode)")
    if "accounts" in doc:
        raise err(doc, "accounts", "cannot be combined with targets.paths (file mode)")


def _waves(doc: Any, where: str, err: _Err) -> tuple[Wave, ...]:
    import re

    waves = []
    raw_waves = doc.get("waves", [{"size": "1"}, {"size": "rest", "concurrency": 4}])
    if not isinstance(raw_waves, list) or not raw_waves:
        raise err(doc, "waves", "must be a non-empty list")
    for i, w in enumerate(raw_waves):
        if not isinstance(w, dict) or "size" not in w:
            raise InputError(where, f"field waves[{i}]: needs size (N, N% or rest)",
                             line=_line(raw_waves, i) or _line(doc, "waves"))
        size = str(w["size"])
        conc = w.get("concurrency", 1)
        if not re.fullmatch(r"rest|\d+%?", size):
            raise err(w, f"waves[{i}].size", "must be N, N% or rest")
        if not isinstance(conc, int) or conc < 1:
            raise err(w, f"waves[{i}].concurrency", "must be a positive integer")
        waves.append(Wave(size, conc))
    return tuple(waves)


def _choices(doc: Any, err: _Err) -> tuple[FailurePolicy, StoreKind]:
    """failure_policy and store, checked against the same StrEnums the CLI and the plan settings use."""
    try:
        policy = FailurePolicy(doc.get("failure_policy", FailurePolicy.ROLLBACK_SERVICE))
    except ValueError:
        raise err(doc, "failure_policy", f"must be {spelled(FailurePolicy)}") from None
    try:
        store = StoreKind(doc.get("store", StoreKind.AUTO))
    except ValueError:
        raise err(doc, "store", f"must be {spelled(StoreKind)}") from None
    return policy, store


def _accounts(doc: Any, where: str, err: _Err) -> tuple[Account, ...]:
    import re

    raw = doc.get("accounts")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise err(doc, "accounts", "must be a non-empty list of {name, role_arn, external_id, regions}")
    out: list[Account] = []
    for i, a in enumerate(raw):
        f = f"accounts[{i}]"
        if not isinstance(a, dict):
            raise InputError(where, f"field {f}: must be a mapping with name", line=_line(raw, i) or _line(doc, "accounts"))
        for k in a:
            if k not in _ACCOUNT:
                raise err(a, f"{f}.{k}", f"unknown field (expected one of {', '.join(sorted(_ACCOUNT))})")
        name = a.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            raise InputError(where, f"field {f}.name: needs a name of letters, digits, '.', '_' or '-'",
                             line=_line(a, "name") or _line(raw, i))
        if name in {o.name for o in out}:
            raise err(a, f"{f}.name", "duplicate account name")
        role = a.get("role_arn")
        if role is not None and (not isinstance(role, str) or not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/\S+", role)):
            raise err(a, f"{f}.role_arn", "must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
        ext = a.get("external_id")
        if ext is not None and (not isinstance(ext, str) or not ext):
            raise err(a, f"{f}.external_id", "must be a non-empty string")
        if ext is not None and role is None:
            raise err(a, f"{f}.external_id", "needs role_arn")
        regions = a.get("regions", [])
        if not isinstance(regions, list) or not all(isinstance(x, str) and x for x in regions):
            raise err(a, f"{f}.regions", "must be a list of non-empty strings")
        out.append(Account(name, role, ext, tuple(regions)))
    return tuple(out)


def run_playbook(path: Path, *, plan_only: bool = False, apply: bool = False, yes: bool = False,
                 no_color: bool = False, endpoint_url: str | None = None, accounts_concurrency: int = 1) -> int:
    """Plan the playbook's targets, then (with ``apply``) run them.

    Live targets: ``<playbook>.plan.json`` applied in the playbook's waves; with ``accounts``, one
    ``<playbook>.<account>.plan.json`` and one run per account (AssumeRole when ``role_arn`` is set; up to
    ``accounts_concurrency`` accounts at once, each with its own credentials, journal, rate limits and
    report ``<playbook>.<account>.report.json``), then one organisation summary. File targets (``targets.paths``): a file-mode plan applied like ``apply``.
    """
    pb = load_playbook(path)
    if plan_only == apply:
        raise MigrateError("pass exactly one of --plan-only or --apply")
    if pb.paths:
        return _run_files(pb, path, plan_only=plan_only, yes=yes, no_color=no_color, endpoint_url=endpoint_url)
    if not pb.accounts:
        return _run_live(pb, path.with_name(path.name + ".plan.json"), pb.regions, plan_only=plan_only, yes=yes,
                         no_color=no_color, endpoint_url=endpoint_url)
    if accounts_concurrency < 1:
        raise MigrateError("--accounts-concurrency must be at least 1")
    if accounts_concurrency > 1 and apply and not yes:
        raise MigrateError("--accounts-concurrency above 1 needs --yes (accounts cannot prompt at once)")
    return _run_accounts(pb, path, plan_only=plan_only, yes=yes, no_color=no_color, endpoint_url=endpoint_url,
                         concurrency=accounts_concurrency)


def _settings(pb: Playbook, region: str | None) -> PlanSettings:
    from migrate.plan.model import PlanSettings

    return PlanSettings(store=pb.store, prefix=pb.prefix, name_template=pb.name_template, kms_key=pb.kms_key,
                        execution_role=pb.execution_role, region=region)


def _run_live(pb: Playbook, plan_path: Path, regions: tuple[str, ...], *, plan_only: bool, yes: bool,  # noqa: PLR0913 - keyword options of one run
              no_color: bool, credentials: Mapping[str, str] | None = None, endpoint_url: str | None = None,
              report_out: Path | None = None, quiet: bool = False) -> int:
    """Plan then apply the live targets; ``credentials`` (an assumed role's) are used for every AWS call."""
    from migrate.commands.live import apply_live, plan_live
    from migrate.live.waves import WaveSpec

    if not plan_path.exists():
        rc = plan_live(out_path=plan_path, settings=_settings(pb, regions[0] if regions else None), regions=regions,
                       clusters=pb.clusters, services=pb.services, families=pb.families,
                       all_revisions=pb.all_revisions, health_timeout=pb.health_timeout, no_color=no_color,
                       credentials=credentials, endpoint_url=endpoint_url, tags=pb.tags,
                       fmt="json" if quiet else "text")
        if (rc and rc != EXIT_BLOCKED) or plan_only:
            return rc
    elif plan_only:
        return 0
    else:
        rc = 0
    specs = tuple(WaveSpec(w.size, w.concurrency, f"wave{i}") for i, w in enumerate(pb.waves, 1))
    return _blocked_stays(rc, apply_live(plan_path, yes=yes, waves=",".join(w.size for w in pb.waves), wave_specs=specs,
                      policy=pb.failure_policy, health=pb.health, health_timeout=pb.health_timeout, no_color=no_color,
                      credentials=credentials, endpoint_url=endpoint_url, report_out=report_out,
                      report_format="none" if quiet else "table"))


def _blocked_stays(planned: int, applied: int) -> int:
    """A plan with blocked items (exit 5) is still applied: one blocked item never stalls the batch. The
    run's code is the apply's when that failed, else 5 while blocked items are left."""
    return applied or (EXIT_BLOCKED if planned == EXIT_BLOCKED else 0)


def assume_role(account: Account, region: str | None, endpoint_url: str | None = None) -> dict[str, str]:
    """STS AssumeRole (session name ``secrets-migrate``) with the caller's own credentials; returns Credentials."""
    from migrate.live.accounts import assume

    assert account.role_arn is not None
    return assume(account.role_arn, account.external_id, region, endpoint_url, label=account.name)


@dataclass
class AccountRun:
    """One account's line of the organisation summary."""

    name: str
    rc: int
    note: str
    plan: str
    report: str = ""
    counts: dict[str, int] = field(default_factory=dict)


def _one_account(pb: Playbook, path: Path, acct: Account, *, plan_only: bool, yes: bool, no_color: bool,
                 endpoint_url: str | None, quiet: bool) -> AccountRun:
    import contextlib
    import json

    from migrate.errors import EXIT_FAILED
    from migrate.live.accounts import AccountRecord, record_account

    regions = acct.regions or pb.regions
    plan_path = path.with_name(f"{path.name}.{acct.name}.plan.json")
    report = path.with_name(f"{path.name}.{acct.name}.report.json")
    try:
        creds = assume_role(acct, regions[0] if regions else None, endpoint_url) if acct.role_arn else None
        rc = _run_live(pb, plan_path, regions, plan_only=plan_only, yes=yes, no_color=no_color, credentials=creds,
                       endpoint_url=endpoint_url, report_out=None if plan_only else report, quiet=quiet)
        if plan_path.exists():
            # verify / rollback / finalize of this plan re-assume this account's role from the record
            record_account(plan_path, AccountRecord(acct.name, acct.role_arn, acct.external_id, regions))
        note = "planned" if plan_only else ("migrated" if rc == 0 else "failed")
    except MigrateError as e:
        return AccountRun(acct.name, EXIT_FAILED, f"error: {e}", plan_path.name)
    run = AccountRun(acct.name, rc, note, plan_path.name)
    if not plan_only and report.exists():
        run.report = report.name
        with contextlib.suppress(OSError, ValueError):  # the summary then shows no tally for this account
            run.counts = dict(json.loads(report.read_text(encoding="utf-8")).get("summary") or {})
    return run


def _run_accounts(pb: Playbook, path: Path, *, plan_only: bool, yes: bool, no_color: bool,
                  endpoint_url: str | None = None, concurrency: int = 1) -> int:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from rich.text import Text

    from migrate.console import err_console, out_console
    from migrate.errors import EXIT_FAILED

    err = err_console(no_color)
    stop = threading.Event()
    quiet = concurrency > 1  # accounts run at once: no interleaved tables, each account's report goes to its file

    def run(acct: Account) -> AccountRun:
        if stop.is_set():
            return AccountRun(acct.name, EXIT_FAILED, "not started (an earlier account failed)", "")
        err.print(Text(f"== account {acct.name}" + (f" (role {acct.role_arn})" if acct.role_arn else "") + " =="))
        r = _one_account(pb, path, acct, plan_only=plan_only, yes=yes, no_color=no_color, endpoint_url=endpoint_url,
                         quiet=quiet)
        if r.rc and pb.failure_policy in (FailurePolicy.STOP, FailurePolicy.ROLLBACK_ALL):
            stop.set()
        return r

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(run, pb.accounts))
    con = out_console(no_color)
    con.print(Text(f"Playbook {pb.name}: {len(results)} account(s)"))
    for r in results:
        c = r.counts
        tally = (f"; migrated {c.get('migrated', 0) + c.get('registered-only', 0)}, rolled back {c.get('rolled-back', 0)}, "
                 f"blocked {c.get('skipped', 0)}, failed {c.get('failed', 0)}") if r.report else ""
        where = f" ({r.plan}" + (f", report {r.report})" if r.report else ")") if r.plan else ""
        con.print(Text(f"  account {r.name}: {r.note}{tally}{where}", style="green" if r.rc == 0 else "red"))
    return next((r.rc for r in results if r.rc), 0)


def _run_files(pb: Playbook, path: Path, *, plan_only: bool, yes: bool, no_color: bool,
               endpoint_url: str | None = None) -> int:
    from migrate.commands.plan import plan
    from migrate.commands.run import apply as apply_plan

    plan_path = path.with_name(path.name + ".plan.json")
    if not plan_path.exists():
        base = path.resolve().parent
        paths = [str(p if p.is_absolute() else base / p) for p in map(Path, pb.paths)]
        rc = plan(paths, out_path=plan_path, settings=_settings(pb, pb.regions[0] if pb.regions else None),
                  show_diff=False, no_color=no_color)
        if (rc and rc != EXIT_BLOCKED) or plan_only:
            return rc
    elif plan_only:
        return 0
    else:
        rc = 0
    return _blocked_stays(rc, apply_plan(plan_path, yes=yes, no_color=no_color, endpoint_url=endpoint_url))
