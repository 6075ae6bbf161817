"""exec and env: give a developer the values of a migrated unit locally, without printing them.

The unit's references come from a plan that was applied (store actions + their journal receipts) or
from task-definition files that already hold ``secrets``/``valueFrom`` references. Values are read in
batches: SSM ``GetParameters`` (10 names, decrypted) and Secrets Manager ``BatchGetSecretValue``
(20 ids); ``arn:...:secret:NAME:JSON_KEY:STAGE:VERSION`` references are honoured like ECS does.
``exec`` runs a command with them added to its environment and passes its exit code through;
``env`` writes them to a file created with mode 0600 (and says so on stderr).
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrate.errors import EXIT_OK, MigrateError, PlanError, StoreError, UsageError
from migrate.model import SecretValue

SSM_BATCH = 10  #: GetParameters accepts at most 10 names
SM_BATCH = 20  #: BatchGetSecretValue accepts at most 20 ids


@dataclass(frozen=True)
class Ref:
    """One environment variable of a unit and where its value lives (no value)."""

    env: str  #: variable name
    store: str  #: ssm | secretsmanager
    id: str  #: parameter name, or secret name/ARN
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None


def parse_value_from(env: str, value_from: str) -> Ref:
    """An ECS ``valueFrom``: an SSM parameter name or ARN, or a Secrets Manager ARN with optional
    ``:json-key:version-stage:version-id``."""
    if not value_from.startswith("arn:"):
        return Ref(env, "ssm", value_from)
    parts = value_from.split(":")
    if len(parts) < 6:
        raise UsageError(f"{env}: valueFrom is not a valid ARN")
    service = parts[2]
    if service == "ssm":
        res = ":".join(parts[5:])
        if not res.startswith("parameter/"):
            raise UsageError(f"{env}: SSM valueFrom is not a parameter ARN")
        name = res[len("parameter"):]  # "/prod/x" for a hierarchical name, "/x" for a flat one
        return Ref(env, "ssm", name if name.count("/") > 1 else name[1:])
    if service == "secretsmanager":
        if len(parts) < 7 or parts[5] != "secret":
            raise UsageError(f"{env}: Secrets Manager valueFrom is not a secret ARN")
        extra = parts[7:] + ["", "", ""]
        return Ref(env, "secretsmanager", ":".join(parts[:7]), json_key=extra[0] or None,
                   version_stage=extra[1] or None, version_id=extra[2] or None)
    raise UsageError(f"{env}: valueFrom names service {service!r}; only ssm and secretsmanager are supported")


# -- where references come from -----------------------------------------------------------------

def _is_log_option(key: str) -> bool:
    k = key.lower()
    return "logconfiguration" in k or "log_configuration" in k or "secretoptions" in k or "secret_options" in k


@dataclass(frozen=True)
class UnitId:
    """One unit in one definition: the same container name in two files is two units."""

    path: str  #: definition file as displayed
    app: str  #: task-definition family, compose project or stack (the file's stem when unknown)
    unit: str  #: container / compose service
    real: str = ""  #: absolute path, to match a PATH given differently

    def label(self) -> str:
        return f"{self.path}:{self.unit}"


def select_unit(spec: str, units: Iterable[UnitId]) -> UnitId:
    """The one unit ``spec`` names: ``UNIT``, ``APP/UNIT`` or ``PATH:UNIT``. None or several: UsageError
    (exit 2) listing what to write instead."""
    known = sorted(set(units), key=lambda u: (u.unit, u.path))
    if ":" in spec:
        where, name = spec.rsplit(":", 1)
        real = os.path.realpath(where)
        hits = [u for u in known if u.unit == name and (os.path.normpath(u.path) == os.path.normpath(where)
                                                         or (u.real or os.path.realpath(u.path)) == real)]
    elif "/" in spec:
        app, name = spec.rsplit("/", 1)
        hits = [u for u in known if u.unit == name and u.app == app]
    else:
        hits = [u for u in known if u.unit == spec]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        _no_unit(spec, (u.unit for u in known))
    apps = [u.app for u in hits]
    names = [f"{u.app}/{u.unit}" if apps.count(u.app) == 1 and u.app else u.label() for u in hits]
    raise UsageError(f"unit {spec!r} is defined in {len(hits)} places; name one with --unit APP/UNIT or PATH:UNIT",
                     hint="one of: " + ", ".join(names))


def _check_unique_names(refs: Sequence[Ref], unit: UnitId) -> None:
    seen: set[str] = set()
    for r in refs:
        if r.env in seen:
            raise UsageError(f"variable {r.env} is defined twice in unit {unit.label()}; cannot tell which value to use",
                             hint="remove the duplicate from the definition")
        seen.add(r.env)


def refs_from_plan(plan_path: Path, unit: str) -> list[Ref]:
    """The unit's references from an applied plan: store action names/ARNs from the journal."""
    from migrate.commands.common import plan_state
    from migrate.plan.actions import CreateSecret

    plan, journal = plan_state(plan_path)
    states = journal.states()
    found: dict[UnitId, list[tuple[Any, Any]]] = {}
    for a in plan.store_actions:
        for v in a.values:
            if _is_log_option(v.key):
                continue
            shown = v.definition_display or v.definition
            real = os.path.join(plan.root, v.definition) if plan.root and v.definition else v.definition  # root-relative
            uid = UnitId(shown, Path(shown).stem, v.unit, real or os.path.realpath(shown))
            found.setdefault(uid, []).append((a, v))
    found = _with_groups(found, unit.rsplit(":", 1)[-1].rsplit("/", 1)[-1])
    chosen = select_unit(unit, found)
    refs: list[Ref] = []
    for a, v in found[chosen]:
        st = states.get(a.id)
        if st is None or st.phase != "applied":
            raise PlanError(f"entry {a.name} of unit {chosen.unit} is not in the store (state: {st.phase if st else 'pending'})",
                            hint=f"apply the plan first: `secrets-migrate apply {plan_path}`")
        if isinstance(a, CreateSecret):
            refs.append(Ref(v.name, "secretsmanager", str(st.receipt.get("arn") or a.name), json_key=v.json_key))
        else:
            refs.append(Ref(v.name, "ssm", a.name))
    _check_unique_names(refs, chosen)
    return refs


def _with_groups(found: dict[UnitId, list[Any]], name: str) -> dict[UnitId, list[Any]]:
    """The plan records no app name: read it (family, project, stack) from the definition files of
    the units called ``name``, so APP/UNIT means the same as with definition files. A file that
    cannot be read keeps its stem."""
    from migrate.sources.walk import scan_paths

    wanted = sorted({u.real for u in found if u.unit == name and u.real and os.path.isfile(u.real)})
    if not wanted:
        return found
    groups: dict[str, str] = {}
    try:
        res = scan_paths(wanted)
    except MigrateError:
        return found
    for lf in res.loaded:
        if lf.group:
            groups[os.path.realpath(lf.source.path)] = lf.group
    return {UnitId(u.path, groups.get(u.real, u.app), u.unit, u.real) if u.unit == name else u: v
            for u, v in found.items()}


def refs_from_definitions(paths: Sequence[str], unit: str) -> list[Ref]:
    """The unit's ``secrets`` references in ECS task-definition files and ecs-cli ``ecs-params.yml``
    files (as written by apply for compose projects)."""
    from migrate.sources.walk import scan_paths

    found: dict[UnitId, list[Callable[[], Ref]]] = {}
    for params in _ecs_params_files(paths):
        _refs_from_ecs_params(params, found)
    res = scan_paths(list(paths))
    docs: dict[str, Any] = {}
    for lf in res.loaded:
        for e in lf.entries:
            if not e.managed or e.location != "secrets":
                continue
            uid = UnitId(e.path, e.group or getattr(lf, "group", "") or Path(e.path).stem, e.unit,
                         os.path.realpath(e.path))
            found.setdefault(uid, []).append(_definition_ref(docs, lf, e))
    chosen = select_unit(unit, found)
    refs = [make() for make in found[chosen]]
    _check_unique_names(refs, chosen)
    return refs


def _definition_ref(docs: dict[str, Any], lf: Any, e: Any) -> Callable[[], Ref]:
    def make() -> Ref:
        vf = _resolve_pointer(docs, lf, e.value_path, e.pointer)
        if not isinstance(vf, str):
            raise UsageError(f"{e.value_path}: cannot read the valueFrom of {e.unit}.{e.name}",
                             hint="use --plan PLAN to take the references from the applied plan")
        return parse_value_from(e.name, vf)
    return make


def _ecs_params_files(paths: Sequence[str]) -> list[Path]:
    out = []
    for given in paths:
        p = Path(given)
        cands = [p] if p.is_file() else sorted(p.glob("ecs-params.y*ml")) if p.is_dir() else []
        out += [c for c in cands if c.name.lower() in ("ecs-params.yml", "ecs-params.yaml")]
    return out


def _refs_from_ecs_params(path: Path, found: dict[UnitId, list[Callable[[], Ref]]]) -> None:
    """``task_definition.services.<unit>.secrets: [{value_from, name}]`` (ecs-cli v1 format)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError):
        raise UsageError(f"{path}: cannot read this ecs-params file") from None
    services = ((doc or {}).get("task_definition") or {}).get("services") or {} if isinstance(doc, dict) else {}
    app = Path(os.path.realpath(path)).parent.name
    for name, svc in services.items() if isinstance(services, dict) else ():
        secrets = (svc or {}).get("secrets") if isinstance(svc, dict) else None
        if not isinstance(secrets, list) or not secrets:
            continue
        uid = UnitId(str(path), app, str(name), os.path.realpath(path))
        makers = found.setdefault(uid, [])
        for item in secrets:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("value_from"), str):
                makers.append(functools.partial(parse_value_from, item["name"], item["value_from"]))


def _resolve_pointer(docs: dict[str, Any], lf: Any, path: str, pointer: str) -> object:
    if path not in docs:
        text = getattr(getattr(lf, "src", None), "text", None)
        if text is None:
            try:
                text = Path(path).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                return None
        try:
            docs[path] = json.loads(text)
        except ValueError:
            docs[path] = None
    node: object = docs[path]
    for part in pointer.strip("/").split("/") if pointer.strip("/") else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _no_unit(unit: str, units: Iterable[str]) -> None:
    known = ", ".join(sorted(u for u in set(units) if u)) or "none"
    raise UsageError(f"no secrets references for unit {unit!r}", hint=f"units with references: {known}")


# -- reading the values ---------------------------------------------------------------------------

def _batches(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


_Raw = dict[tuple[str, str, str | None, str | None], str]


def _read_ssm(refs: Sequence[Ref], client: Callable[[str], Any], raw: _Raw, missing: list[str]) -> None:
    names = sorted({r.id for r in refs if r.store == "ssm"})
    for batch in _batches(names, SSM_BATCH):
        resp = client("ssm").get_parameters(Names=batch, WithDecryption=True)
        for p in resp.get("Parameters", []):
            raw[("ssm", p["Name"], None, None)] = p["Value"]
            if p.get("ARN"):
                raw[("ssm", p["ARN"], None, None)] = p["Value"]
        missing.extend(resp.get("InvalidParameters", []))


def _read_secrets(refs: Sequence[Ref], client: Callable[[str], Any], raw: _Raw, missing: list[str]) -> None:
    plain = sorted({r.id for r in refs if r.store == "secretsmanager" and not (r.version_stage or r.version_id)})
    for batch in _batches(plain, SM_BATCH):
        kw: dict[str, Any] = {"SecretIdList": batch}
        got: set[str] = set()
        while True:
            resp = client("secretsmanager").batch_get_secret_value(**kw)
            for s in resp.get("SecretValues", []):
                for ident in (s.get("ARN"), s.get("Name")):
                    if ident:
                        raw[("secretsmanager", ident, None, None)] = s.get("SecretString", "")
                        got.add(ident)
            if not resp.get("NextToken"):
                break
            kw["NextToken"] = resp["NextToken"]
        missing.extend(i for i in batch if i not in got and not any(g.startswith(i) for g in got))
    for r in refs:
        if r.store == "secretsmanager" and (r.version_stage or r.version_id):
            kw = {"SecretId": r.id}
            if r.version_stage:
                kw["VersionStage"] = r.version_stage
            if r.version_id:
                kw["VersionId"] = r.version_id
            s = client("secretsmanager").get_secret_value(**kw)
            raw[("secretsmanager", r.id, r.version_stage, r.version_id)] = s.get("SecretString", "")


def fetch(refs: Sequence[Ref], client: Callable[[str], Any]) -> dict[str, SecretValue]:
    """Read every reference's value: variable name -> value. ``client(service)`` builds boto3 clients."""
    from botocore.exceptions import ClientError

    from migrate.stores.aws import safe_aws_message

    raw: _Raw = {}
    missing: list[str] = []
    try:
        _read_ssm(refs, client, raw, missing)
        _read_secrets(refs, client, raw, missing)
    except ClientError as e:
        raise StoreError(f"cannot read the unit's values ({safe_aws_message(e)})",
                         hint="check your credentials and region, and that your identity may read these entries") from None
    if missing:
        raise StoreError(f"not found in the store: {', '.join(sorted(set(missing)))}",
                         hint="was the plan applied in this account and region (--region, --profile)?")
    out: dict[str, SecretValue] = {}
    for r in refs:
        text = _lookup(raw, r)
        if text is None:
            raise StoreError(f"{r.env}: {r.id} was not returned by the store", hint="check the reference and region")
        out[r.env] = SecretValue(_json_key(r, text) if r.json_key else text)
    raw.clear()
    return out


def _json_key(r: Ref, text: str) -> str:
    try:
        doc = json.loads(text)
    except ValueError:
        raise StoreError(f"{r.env}: secret {r.id} is not JSON but the reference names key {r.json_key}") from None
    if not isinstance(doc, dict) or r.json_key not in doc:
        raise StoreError(f"{r.env}: secret {r.id} has no JSON key {r.json_key}")
    v = doc[r.json_key]
    return v if isinstance(v, str) else json.dumps(v)


def _lookup(raw: _Raw, r: Ref) -> str | None:
    k = (r.store, r.id, r.version_stage, r.version_id)
    if k in raw:
        return raw[k]
    if r.store == "secretsmanager" and not (r.version_stage or r.version_id):
        # partial ARN (no random suffix) or name: match the returned full ARN by prefix
        for (store, ident, st, vi), text in raw.items():
            if store == r.store and st is None and vi is None and ident.startswith(r.id + "-"):
                return text
    return None


def resolve_unit(source: str | None, plan: Path | None, unit: str, *, profile: str | None = None,
                 region: str | None = None, endpoint_url: str | None = None) -> dict[str, SecretValue]:
    """Entry point for both commands: find the references, then read the values."""
    from migrate.stores.aws import Aws

    plan_path = plan
    if plan_path is None and source is not None and _looks_like_plan(Path(source)):
        plan_path = Path(source)
    if plan_path is not None:
        refs = refs_from_plan(plan_path, unit)
        if profile is None or region is None:
            from migrate.commands.common import plan_state

            p, _ = plan_state(plan_path)
            profile = profile or p.settings.profile
            region = region or p.settings.region
    elif source is not None:
        if not os.path.lexists(source):
            raise UsageError(f"no such file or directory: {source}")
        refs = refs_from_definitions([source], unit)
    else:
        raise UsageError("name the plan (--plan PLAN) or the definition files (PATH)",
                         hint="e.g. `secrets-migrate exec --plan plan.json --unit api -- ./run.sh`")
    aws = Aws(profile=profile, region=region, endpoint_url=endpoint_url)
    return fetch(refs, aws.client)


def _looks_like_plan(p: Path) -> bool:
    if not p.is_file() or p.suffix.lower() != ".json":
        return False
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b'"secrets-migrate/plan"' in head


# -- the commands ---------------------------------------------------------------------------------

def exec_(command: Sequence[str], *, source: str | None = None, plan: Path | None = None, unit: str,
          profile: str | None = None, region: str | None = None, endpoint_url: str | None = None) -> int:
    """Run ``command`` with the unit's secrets in its environment; its exit code is ours."""
    if not command:
        raise UsageError("no command to run", hint="put it after `--`: secrets-migrate exec --plan plan.json --unit api -- ./run.sh")
    values = resolve_unit(source, plan, unit, profile=profile, region=region, endpoint_url=endpoint_url)
    env = dict(os.environ)
    env.update({k: v.reveal() for k, v in values.items()})
    sys.stderr.write(f"secrets-migrate: running {command[0]} with {len(values)} secret(s) of {unit} in its environment\n")
    sys.stderr.flush()
    try:
        proc = subprocess.run(list(command), env=env)
    except FileNotFoundError:
        raise UsageError(f"command not found: {command[0]}", hint="check the name and your PATH") from None
    except PermissionError:
        raise UsageError(f"command is not executable: {command[0]}") from None
    finally:
        env.clear()
    rc = proc.returncode
    return 128 - rc if rc < 0 else rc


FORMATS = ("dotenv", "json", "shell")


def render(values: dict[str, SecretValue], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({k: values[k].reveal() for k in sorted(values)}, indent=2, ensure_ascii=False) + "\n"
    lines = []
    for k in sorted(values):
        v = values[k].reveal()
        if fmt == "shell":
            lines.append(f"export {k}={shlex.quote(v)}")
        else:
            lines.append(f"{k}={_dotenv_quote(v)}")
    return "\n".join(lines) + "\n"


def _dotenv_quote(v: str) -> str:
    """Single quotes (literal, no interpolation) when possible, else double quotes with escapes."""
    if not any(c in v for c in "'\\\n\r"):
        return f"'{v}'"
    esc = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{esc}"'


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (the temp file is 0600 from the start)."""
    from migrate.apply.fs import atomic_write

    atomic_write(path, text, mode=0o600)


def env(*, output: Path | None, fmt: str = "dotenv", source: str | None = None, plan: Path | None = None,
        unit: str, profile: str | None = None, region: str | None = None, endpoint_url: str | None = None,
        force: bool = False) -> int:
    """Write the unit's secrets to ``output`` (mode 0600), with a warning on stderr. An existing file
    is replaced only with ``force`` (and never when it is a link or has other hard links)."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if output is None:
        raise UsageError("env writes plaintext values: name the file with -o FILE (mode 0600)",
                         hint="or run the program with `secrets-migrate exec ... -- COMMAND` and write no file")
    if output.is_dir():
        raise UsageError(f"{output} is a directory", hint="name a file, e.g. -o .env.local")
    if os.path.lexists(output) and not force:
        raise UsageError(f"{output} already exists; env does not overwrite a file unless told to",
                         hint="pass --force to replace it, or name another file")
    if os.path.lexists(output):
        from migrate.apply.fs import check_rewritable

        check_rewritable(output)  # a link or a second hard link would keep the old file's name around
    values = resolve_unit(source, plan, unit, profile=profile, region=region, endpoint_url=endpoint_url)
    try:
        write_private(output, render(values, fmt))
    except OSError as e:
        raise MigrateError(f"cannot write {output} ({type(e).__name__})") from None
    sys.stderr.write(f"warning: wrote {len(values)} secret value(s) of {unit} in plaintext to {output} (mode 0600). "
                     "Do not commit it (add it to .gitignore) and delete it when you are done.\n")
    return EXIT_OK
