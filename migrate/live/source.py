"""Live source: clusters -> services -> the task definitions they run, read through the ECS API.

Every list call is paginated; each revision is described once (``include=["TAGS"]``). Values from the
describe output stay in memory (inside :class:`SecretValue`) and never reach the plan or journal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from migrate.arn import family_of, region_of, short
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, SecretValue, ValueKind
from migrate.stores.aws import safe_aws_message

KIND = "ecs-live"


@dataclass(frozen=True)
class LiveService:
    region: str
    cluster_arn: str
    name: str
    arn: str
    task_definition: str  #: ARN of the revision the service runs
    controller: str = "ECS"  #: ECS | CODE_DEPLOY | EXTERNAL
    desired: int = 0
    subnets: tuple[str, ...] = ()
    public_ip: bool = False

    @property
    def cluster(self) -> str:
        return short(self.cluster_arn)

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.name}"

    @property
    def updatable(self) -> bool:
        return self.controller == "ECS"


@dataclass(frozen=True)
class LiveRevision:
    arn: str
    family: str
    revision: int
    region: str
    body: dict[str, Any] = field(repr=False, compare=False)  #: describe output (holds plaintext: memory only)
    tags: tuple[dict[str, str], ...] = ()

    @property
    def status(self) -> str:
        return str(self.body.get("status", "ACTIVE"))

    @property
    def execution_role(self) -> str:
        return str(self.body.get("executionRoleArn") or "")


@dataclass
class Inventory:
    services: list[LiveService] = field(default_factory=list)
    revisions: dict[str, LiveRevision] = field(default_factory=dict)  #: arn -> revision
    warnings: list[str] = field(default_factory=list)
    #: revisions that could not be described -> why (never a value): their services are blocked, not skipped
    failed: dict[str, str] = field(default_factory=dict)

    def entries(self) -> list[Entry]:
        return [e for arn in sorted(self.revisions) for e in entries_of(self.revisions[arn])]


def _paginate(client: Any, op: str, key: str, **kw: Any) -> list[Any]:
    out: list[Any] = []
    for page in client.get_paginator(op).paginate(**kw):
        out.extend(page.get(key) or [])
    return out


def _match(value: str, wanted: Sequence[str]) -> bool:
    return not wanted or value in wanted or short(value) in wanted


def discover(ecs: Any, region: str, *, clusters: Sequence[str] = (), services: Sequence[str] = (),
             families: Sequence[str] = (), all_revisions: bool = False, limits: Any = None) -> Inventory:
    """List the services (filtered) and describe the revisions they run (every ACTIVE revision of their
    families with ``all_revisions``)."""
    inv = Inventory()
    cluster_arns = [c for c in _paginate(ecs, "list_clusters", "clusterArns") if _match(c, clusters)]
    for carn in cluster_arns:
        arns = [s for s in _paginate(ecs, "list_services", "serviceArns", cluster=carn) if _match(s, services)]
        for i in range(0, len(arns), 10):  # DescribeServices takes 10 at a time
            for s in ecs.describe_services(cluster=carn, services=arns[i:i + 10]).get("services") or []:
                if s.get("status") != "ACTIVE":
                    continue
                td = str(s.get("taskDefinition", ""))
                fam = family_of(td)
                if families and fam not in families:
                    continue
                net = ((s.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {})
                inv.services.append(LiveService(
                    region=region, cluster_arn=carn, name=str(s["serviceName"]), arn=str(s.get("serviceArn", "")),
                    task_definition=td, controller=str((s.get("deploymentController") or {}).get("type", "ECS")),
                    desired=int(s.get("desiredCount", 0)), subnets=tuple(net.get("subnets") or ()),
                    public_ip=net.get("assignPublicIp") == "ENABLED"))
    wanted: list[str] = []
    for s in inv.services:
        wanted.append(s.task_definition)
    if all_revisions:
        for fam in sorted({_family(t) for t in wanted}):
            wanted.extend(_paginate(ecs, "list_task_definitions", "taskDefinitionArns", familyPrefix=fam, status="ACTIVE"))
    for td in dict.fromkeys(wanted):
        try:
            rev = describe_revision(ecs, td, limits=limits)
        except ClientError as e:  # one unreadable revision blocks its services only (fail closed, never clean)
            inv.failed[td] = f"cannot describe {td}: {safe_aws_message(e)}"
            continue
        if rev.arn in inv.revisions:
            continue
        if all_revisions and rev.family != _family(td):
            continue  # familyPrefix is a prefix match
        inv.revisions[rev.arn] = rev
    # services may name their revision as family:rev (moto) -> normalise to the ARN
    by_short = {short(r.arn): r.arn for r in inv.revisions.values()}
    inv.services = [s if s.task_definition in inv.revisions else
                    LiveService(**{**s.__dict__, "task_definition": by_short.get(short(s.task_definition), s.task_definition)})
                    for s in inv.services]
    return inv


def _family(td: str) -> str:
    return family_of(td)


def describe_revision(ecs: Any, td: str, *, limits: Any = None) -> LiveRevision:
    if limits is not None:
        limits.acquire("ecs.DescribeTaskDefinition")
    r = ecs.describe_task_definition(taskDefinition=td, include=["TAGS"])
    body = r["taskDefinition"]
    arn = str(body["taskDefinitionArn"])
    return LiveRevision(arn=arn, family=str(body["family"]), revision=int(body["revision"]), region=region_of(arn),
                        body=body, tags=tuple(r.get("tags") or ()))


def entries_of(rev: LiveRevision) -> list[Entry]:
    """Entries of one revision: plaintext environment values and log options of each container."""
    out: list[Entry] = []
    for ci, c in enumerate(rev.body.get("containerDefinitions") or []):
        unit = str(c.get("name", f"container{ci}"))
        for ei, ev in enumerate(c.get("environment") or []):
            name = str(ev.get("name", ""))
            val = ev.get("value")
            out.append(_entry(rev, unit, name, val, f"/containerDefinitions/{ci}/environment/{ei}", LOC_ENVIRONMENT))
        opts = (c.get("logConfiguration") or {}).get("options") or {}
        for k in opts:
            out.append(_entry(rev, unit, str(k), opts[k], f"/containerDefinitions/{ci}/logConfiguration/options/{_esc(k)}",
                              LOC_LOG_OPTIONS))
    return out


def _esc(k: str) -> str:
    return str(k).replace("~", "~0").replace("/", "~1")


def _entry(rev: LiveRevision, unit: str, name: str, val: object, pointer: str, location: str) -> Entry:
    kind = ValueKind.LITERAL if isinstance(val, str) and val != "" else ValueKind.EMPTY
    return Entry(path=rev.arn, line=0, unit=unit, location=location, name=name,
                 value=SecretValue(val) if isinstance(val, str) else None, value_kind=kind, pointer=pointer,
                 source=KIND, group=rev.family)


def values_of(rev: LiveRevision) -> dict[str, SecretValue]:
    return {e.key: e.value for e in entries_of(rev) if e.value is not None}


def iter_containers(body: dict[str, Any]) -> Iterable[dict[str, Any]]:
    return body.get("containerDefinitions") or []
