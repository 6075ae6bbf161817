"""Playbooks: a versioned YAML file naming targets, store policy, waves and failure policy (playbooks/README.md).

Invalid playbooks raise InputError pointing at the line and field; input text is never quoted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.errors import InputError, MigrateError

PLAYBOOK_VERSION = 1
_TOP = {"version", "name", "targets", "store", "prefix", "name_template", "kms_key", "execution_role", "tags",
        "waves", "failure_policy", "health"}
_TARGETS = {"regions", "clusters", "services", "families", "all_revisions"}


@dataclass(frozen=True)
class Wave:
    size: str
    concurrency: int = 1


@dataclass(frozen=True)
class Playbook:
    path: str
    name: str = ""
    regions: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    all_revisions: bool = False
    store: str = "auto"
    prefix: str = ""
    name_template: str | None = None
    kms_key: str | None = None
    execution_role: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    waves: tuple[Wave, ...] = (Wave("1", 1), Wave("rest", 4))
    failure_policy: str = "rollback-service"
    health: str = "ecs"
    health_timeout: float = 600.0


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
    waves = []
    raw_waves = doc.get("waves", [{"size": "1"}, {"size": "rest", "concurrency": 4}])
    if not isinstance(raw_waves, list) or not raw_waves:
        raise err(doc, "waves", "must be a non-empty list")
    for i, w in enumerate(raw_waves):
        if not isinstance(w, dict) or "size" not in w:
            raise InputError(where, f"field waves[{i}]: needs size (N, N% or rest)", line=_line(raw_waves, i) or _line(doc, "waves"))
        size = str(w["size"])
        conc = w.get("concurrency", 1)
        import re

        if not re.fullmatch(r"rest|\d+%?", size):
            raise err(w, f"waves[{i}].size", "must be N, N% or rest")
        if not isinstance(conc, int) or conc < 1:
            raise err(w, f"waves[{i}].concurrency", "must be a positive integer")
        waves.append(Wave(size, conc))
    policy = doc.get("failure_policy", "rollback-service")
    if policy not in ("rollback-service", "rollback-wave", "rollback-all", "stop"):
        raise err(doc, "failure_policy", "must be rollback-service, rollback-wave, rollback-all or stop")
    store = doc.get("store", "auto")
    if store not in ("ssm", "secretsmanager", "auto"):
        raise err(doc, "store", "must be ssm, secretsmanager or auto")
    h = doc.get("health", {})
    if not isinstance(h, dict) or h.get("mode", "ecs") not in ("ecs", "scripted"):
        raise err(doc, "health", "must be a mapping with mode ecs or scripted")
    timeout = h.get("timeout", 600)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise err(h, "health.timeout", "must be a positive number of seconds")
    tags = doc.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise err(doc, "tags", "must map strings to strings")
    ar = t.get("all_revisions", False)
    if not isinstance(ar, bool):
        raise err(t, "targets.all_revisions", "must be true or false")
    return Playbook(path=where, name=str(doc.get("name", path.stem)), regions=strs(t, "regions", "targets.regions"),
                    clusters=strs(t, "clusters", "targets.clusters"), services=strs(t, "services", "targets.services"),
                    families=strs(t, "families", "targets.families"), all_revisions=ar, store=store,
                    prefix=opt_str("prefix") or "", name_template=opt_str("name_template"), kms_key=opt_str("kms_key"),
                    execution_role=opt_str("execution_role"), tags=dict(tags), waves=tuple(waves),
                    failure_policy=policy, health=h.get("mode", "ecs"), health_timeout=float(timeout))


def run_playbook(path: Path, *, plan_only: bool = False, apply: bool = False, yes: bool = False,
                 no_color: bool = False) -> int:
    """Plan the playbook's targets into ``<playbook>.plan.json``; with ``apply``, run it in its waves."""
    from migrate.commands.live import apply_live, plan_live
    from migrate.plan.model import PlanSettings

    pb = load_playbook(path)
    if plan_only == apply:
        raise MigrateError("pass exactly one of --plan-only or --apply")
    plan_path = path.with_name(path.name + ".plan.json")
    if not plan_path.exists():
        settings = PlanSettings(store=pb.store, prefix=pb.prefix, name_template=pb.name_template, kms_key=pb.kms_key,
                                execution_role=pb.execution_role, region=pb.regions[0] if pb.regions else None)
        rc = plan_live(out_path=plan_path, settings=settings, regions=pb.regions, clusters=pb.clusters,
                       services=pb.services, families=pb.families, all_revisions=pb.all_revisions,
                       health_timeout=pb.health_timeout, no_color=no_color)
        if rc or plan_only:
            return rc
    elif plan_only:
        return 0
    waves = ",".join(w.size for w in pb.waves)
    conc = max(w.concurrency for w in pb.waves)
    return apply_live(plan_path, yes=yes, waves=waves, concurrency=conc, policy=pb.failure_policy, health=pb.health,
                      health_timeout=pb.health_timeout, no_color=no_color)
