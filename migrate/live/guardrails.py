"""Preflight guardrails for live runs: checked before any change (``live apply``) and reported as plan
warnings (``live plan``). Read-only AWS calls; no value is ever read.

Rules (issue 4, facts §1.2, §1.3, §2):

* ``pass-role``: the caller may pass each execution role (``iam:PassRole``). Checked with
  SimulatePrincipalPolicy; when that API is unavailable or itself denied the result is a warning
  ("could not check"), only a clear deny is a failure.
* ``role-exists``: every execution role exists (GetRole).
* ``json-key-platform``: JSON-key references (``valueFrom`` ending in ``::``) only for Fargate platform
  >= 1.4.0 / LATEST, or EC2. A service pinning 1.3.0 or older is a failure.
* ``own-account`` / ``cross-region-arn``: references stay in the task's account (ECS cannot read another
  account's parameter); across regions they must be full ARNs.
* ``private-network`` (warning only): awsvpc tasks without a public IP need a VPC endpoint for ssm /
  secretsmanager or a NAT gateway route; warn when neither is evident.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from migrate.arn import Arn, short
from migrate.errors import PreconditionFailed
from migrate.plan.actions import CreateSecret, PutParameter, PutRolePolicy, RegisterRevision, UpdateService
from migrate.plan.model import Plan
from migrate.stores.aws import error_code, safe_aws_message

FAILURE, WARNING = "failure", "warning"
PASS_ROLE = "iam:PassRole"
MIN_JSON_KEY_PLATFORM = (1, 4, 0)


@dataclass(frozen=True)
class Check:
    level: str  #: failure | warning
    rule: str
    subject: str
    message: str

    def line(self) -> str:
        return f"preflight {self.rule}: {self.subject}: {self.message}"


def failures(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if c.level == FAILURE]


def raise_for(checks: Sequence[Check]) -> None:
    bad = failures(checks)
    if bad:
        raise PreconditionFailed("preflight failed, nothing was changed: " + "; ".join(c.line() for c in bad),
                                 hint="fix these, or re-plan without the services concerned (--service)")


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(service, region, account) of an ARN; empty strings for a bare name."""
    a = Arn.parse(arn)
    return (a.service, a.region, a.account) if a else ("", "", "")


# ---------------------------------------------------------------------------------------------------
# pure rules
# ---------------------------------------------------------------------------------------------------


def reference_problem(value_from: str, task_account: str, task_region: str) -> str:
    """Why ``value_from`` cannot work for a task in ``task_account``/``task_region`` ("" when it can).

    A bare name resolves in the task's own account and region; an ARN may name another region but
    never another account."""
    if not value_from.startswith("arn:"):
        return ""
    _, _, account = _arn_parts(value_from)
    if account and task_account and account != task_account:
        return (f"the entry lives in account {account}, the task runs in account {task_account}; "
                "ECS cannot read another account's parameter")
    return ""


def bare_name_problem(value_from: str, store_region: str, task_region: str) -> str:
    """A bare name only resolves in the task's region: across regions the reference must be an ARN."""
    if value_from.startswith("arn:") or not store_region or store_region == task_region:
        return ""
    return f"the entry is in {store_region}, the task in {task_region}: reference it by full ARN"


def platform_tuple(version: str) -> tuple[int, ...] | None:
    """``"1.3.0"`` -> (1, 3, 0); ``LATEST`` or empty -> None (means the newest)."""
    if not version or version.upper() == "LATEST":
        return None
    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", version.strip())
    return tuple(int(x or 0) for x in m.groups()) if m else None


def is_fargate(svc: dict[str, Any]) -> bool:
    if svc.get("launchType") == "FARGATE":
        return True
    return any(str(c.get("capacityProvider", "")).startswith("FARGATE") for c in svc.get("capacityProviderStrategy") or [])


def json_key_problem(svc: dict[str, Any]) -> str:
    if not is_fargate(svc):
        return ""  # EC2: agent 1.37.0+ (not checkable from the API)
    v = platform_tuple(str(svc.get("platformVersion") or ""))
    if v is not None and v < MIN_JSON_KEY_PLATFORM:
        return (f"pins Fargate platform {svc.get('platformVersion')}; JSON-key references need 1.4.0 or LATEST")
    return ""


# ---------------------------------------------------------------------------------------------------
# what the plan touches
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRef:
    region: str
    cluster: str  #: name or ARN
    service: str
    register_id: str

    @property
    def key(self) -> str:
        return f"{short(self.cluster)}/{self.service}"


def services_of(plan: Plan) -> list[ServiceRef]:
    out: list[ServiceRef] = []
    for a in plan.actions:
        if isinstance(a, UpdateService):
            out.append(ServiceRef(a.region, a.cluster, a.service, a.register_id))
        elif isinstance(a, RegisterRevision):
            for k in a.register_only:
                cluster, service = k.split("/", 1)
                out.append(ServiceRef(a.region, cluster, service, a.id))
    return out


def roles_of(plan: Plan) -> list[str]:
    roles = [a.role_arn for a in plan.actions if isinstance(a, PutRolePolicy)]
    roles += [a.execution_role for a in plan.actions if isinstance(a, RegisterRevision) and a.execution_role]
    return list(dict.fromkeys(r for r in roles if r))


def stores_of(plan: Plan, register: RegisterRevision) -> set[str]:
    by_id = plan.by_id()
    kinds = set()
    for sid in register.store_ids:
        a = by_id.get(sid)
        if isinstance(a, PutParameter):
            kinds.add("ssm")
        elif isinstance(a, CreateSecret):
            kinds.add("secretsmanager")
    return kinds


def check_references(plan: Plan, *, caller_account: str, store_region: str, partition: str = "aws") -> list[Check]:
    """Own-account and cross-region rules for every moved value (the references the apply will write)."""
    by_id = plan.by_id()
    out: list[Check] = []
    for a in plan.actions:
        if not isinstance(a, RegisterRevision):
            continue
        _, task_region, task_account = _arn_parts(a.source_arn)
        for m in a.moves:
            s = by_id.get(m.store_id)
            if isinstance(s, PutParameter):
                ref = f"arn:{partition}:ssm:{store_region}:{caller_account}:parameter/{s.name.lstrip('/')}"
            elif isinstance(s, CreateSecret):
                ref = f"arn:{partition}:secretsmanager:{store_region}:{caller_account}:secret:{s.name}"
            else:
                continue
            why = reference_problem(ref, task_account, task_region)
            if why:
                out.append(Check(FAILURE, "own-account", short(a.source_arn), why))
                break
    return out


# ---------------------------------------------------------------------------------------------------
# AWS-backed rules
# ---------------------------------------------------------------------------------------------------


def _caller_principal(iam: Any, caller_arn: str) -> str:
    """SimulatePrincipalPolicy wants a user or role ARN, not an assumed-role session ARN."""
    u = re.fullmatch(r"arn:([^:]+):sts::(\d+):user/(.+)", caller_arn)  # some endpoints (moto) say sts for users
    if u:
        return f"arn:{u.group(1)}:iam::{u.group(2)}:user/{u.group(3)}"
    m = re.fullmatch(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/.+", caller_arn)
    if not m:
        return caller_arn
    try:
        return str(iam.get_role(RoleName=m.group(3))["Role"]["Arn"])
    except (ClientError, BotoCoreError):
        return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}"


def task_roles_of(plan: Plan, ecs_for: Callable[[str], Any]) -> list[str]:
    """The task roles (``taskRoleArn``) the new revisions carry over from their sources: registering them
    needs ``iam:PassRole`` on those too. Unreadable sources are left out (the execution-role checks still run)."""
    from concurrent.futures import ThreadPoolExecutor

    regs = [a for a in plan.actions if isinstance(a, RegisterRevision)]
    clients = {a.region: ecs_for(a.region) for a in regs}  # built here, not raced on the threads

    def role(a: RegisterRevision) -> str:
        try:
            td = clients[a.region].describe_task_definition(taskDefinition=a.source_arn)["taskDefinition"]
        except (ClientError, BotoCoreError):
            return ""
        return str(td.get("taskRoleArn") or "")

    with ThreadPoolExecutor(max_workers=8) as pool:  # one read per revision: on threads (hundreds in a batch)
        return list(dict.fromkeys(r for r in pool.map(role, regs) if r))


def check_roles(iam: Any, sts: Any, roles: Sequence[str], task_roles: Sequence[str] = ()) -> list[Check]:
    """Execution roles: exist, and the caller may pass them. Task roles: the caller may pass them."""
    out: list[Check] = []
    caller = ""
    try:
        ident = sts.get_caller_identity()
        caller, caller_account = str(ident.get("Arn", "")), str(ident.get("Account", ""))
    except (ClientError, BotoCoreError) as e:
        caller_account = ""
        out.append(Check(WARNING, "pass-role", "caller", f"could not check (GetCallerIdentity: {safe_aws_message(e)})"))
    for role in roles:
        _, _, acct = _arn_parts(role)
        name = short(role)
        if caller_account and acct and acct != caller_account:
            out.append(Check(WARNING, "role-exists", role, f"in account {acct}, not the caller's: could not check"))
            continue
        try:
            iam.get_role(RoleName=name)
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                out.append(Check(FAILURE, "role-exists", role, "execution role does not exist"))
                continue
            out.append(Check(WARNING, "role-exists", role, f"could not check ({safe_aws_message(e)})"))
        except BotoCoreError as e:
            out.append(Check(WARNING, "role-exists", role, f"could not check ({type(e).__name__})"))
        denied = _pass_role(iam, caller, role) if caller else None
        if denied is not None:
            out.append(denied)
    for role in (r for r in task_roles if r not in roles):
        denied = _pass_role(iam, caller, role) if caller else None
        if denied is not None:
            out.append(dataclasses.replace(denied, message=denied.message.replace("this role", "this task role")))
    return out


def _pass_role(iam: Any, caller: str, role: str) -> Check | None:
    try:
        principal = _caller_principal(iam, caller)
        r = iam.simulate_principal_policy(PolicySourceArn=principal, ActionNames=[PASS_ROLE], ResourceArns=[role])
    except (ClientError, BotoCoreError, NotImplementedError) as e:
        why = safe_aws_message(e) if isinstance(e, ClientError) else type(e).__name__
        return Check(WARNING, "pass-role", role, f"could not check {PASS_ROLE} (SimulatePrincipalPolicy: {why})")
    except Exception as e:  # noqa: BLE001 - some endpoints answer unsupported actions with odd payloads
        return Check(WARNING, "pass-role", role, f"could not check {PASS_ROLE} ({type(e).__name__})")
    results = r.get("EvaluationResults") or []
    if not results:
        return Check(WARNING, "pass-role", role, f"could not check {PASS_ROLE} (no evaluation result)")
    decision = str(results[0].get("EvalDecision", ""))
    if decision == "allowed":
        return None
    return Check(FAILURE, "pass-role", role, f"the caller {short(principal)} is denied {PASS_ROLE} on this role "
                                             f"({decision}); RegisterTaskDefinition would fail")


def describe_services(ecs_for: Callable[[str], Any], refs: Sequence[ServiceRef]) -> dict[str, dict[str, Any]]:
    """key -> DescribeServices output, 10 per call, per region and cluster. Missing services are left out."""
    groups: dict[tuple[str, str], list[ServiceRef]] = defaultdict(list)
    for r in refs:
        groups[(r.region, r.cluster)].append(r)
    out: dict[str, dict[str, Any]] = {}
    for (region, cluster), rs in groups.items():
        ecs = ecs_for(region)
        names = list(dict.fromkeys(r.service for r in rs))
        for i in range(0, len(names), 10):
            for s in ecs.describe_services(cluster=cluster, services=names[i:i + 10]).get("services") or []:
                out[f"{short(cluster)}/{s.get('serviceName')}"] = s
    return out


def check_platforms(plan: Plan, described: dict[str, dict[str, Any]]) -> list[Check]:
    refs = services_of(plan)
    json_units = {a.id for a in plan.actions if isinstance(a, RegisterRevision)
                  and any(m.json_key for m in a.moves)}
    out: list[Check] = []
    for r in refs:
        if r.register_id not in json_units or r.key not in described:
            continue
        why = json_key_problem(described[r.key])
        if why:
            out.append(Check(FAILURE, "json-key-platform", r.key, why))
    return out


def _private(svc: dict[str, Any]) -> list[str]:
    net = (svc.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    if not net or net.get("assignPublicIp") == "ENABLED":
        return []
    return list(net.get("subnets") or [])


def check_network(plan: Plan, described: dict[str, dict[str, Any]], ec2_for: Callable[[str], Any]) -> list[Check]:
    """Warn for private awsvpc services whose VPC shows neither the store's endpoint nor a NAT route."""
    by_id = plan.by_id()
    need: dict[str, set[str]] = {}
    for r in services_of(plan):
        reg = by_id.get(r.register_id)
        if isinstance(reg, RegisterRevision):
            need.setdefault(r.key, set()).update(stores_of(plan, reg))
    region_of = {r.key: r.region for r in services_of(plan)}
    cache_sub: dict[tuple[str, str], dict[str, Any]] = {}
    cache_vpc: dict[tuple[str, str], set[str]] = {}
    cache_nat: dict[tuple[str, str], bool] = {}
    out: list[Check] = []
    for key, svc in described.items():
        subnets = _private(svc)
        stores = need.get(key) or set()
        if not subnets or not stores:
            continue
        region = region_of.get(key) or ""
        ec2 = ec2_for(region)
        try:
            missing = set(stores)
            nat = True
            for sn in subnets:
                if (region, sn) not in cache_sub:
                    got = ec2.describe_subnets(SubnetIds=[sn]).get("Subnets") or [{}]
                    cache_sub[(region, sn)] = got[0]
                vpc = str(cache_sub[(region, sn)].get("VpcId", ""))
                if (region, vpc) not in cache_vpc:
                    eps = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}]).get("VpcEndpoints") or []
                    cache_vpc[(region, vpc)] = {str(e.get("ServiceName", "")).rsplit(".", 1)[-1] for e in eps
                                                if e.get("State", "available").lower() in ("available", "pending")}
                missing -= cache_vpc[(region, vpc)]
                if (region, sn) not in cache_nat:
                    cache_nat[(region, sn)] = _nat_route(ec2, vpc, sn)
                nat = nat and cache_nat[(region, sn)]
        except (ClientError, BotoCoreError) as e:
            out.append(Check(WARNING, "private-network", key, f"could not check the route to the stores "
                                                              f"({safe_aws_message(e)})"))
            continue
        if missing and not nat:
            out.append(Check(WARNING, "private-network", key,
                             f"tasks in private subnets and no VPC endpoint for {', '.join(sorted(missing))} nor a NAT "
                             "gateway route is evident: tasks may fail to fetch their secrets"))
    return out


def _nat_route(ec2: Any, vpc: str, subnet: str) -> bool:
    """A 0.0.0.0/0 route to a NAT gateway in the subnet's route table (or the VPC's main one)."""
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}]).get("RouteTables")
    if not tables:
        tables = [t for t in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}]).get("RouteTables") or []
                  if any(a.get("Main") for a in t.get("Associations") or [])]
    for t in tables or []:
        for r in t.get("Routes") or []:
            if r.get("DestinationCidrBlock") == "0.0.0.0/0" and str(r.get("NatGatewayId", "")).startswith("nat-"):
                return True
    return False


# ---------------------------------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------------------------------


def preflight_live(plan: Plan, aws: Any) -> list[Check]:
    """Every rule against the account ``aws`` (a :class:`migrate.stores.aws.Aws`) points at. Read-only."""

    regional: dict[str, Any] = {}

    def client(service: str) -> Callable[[str], Any]:
        def get(region: str) -> Any:
            if not region or region == aws.region_name:
                return aws.client(service)
            if region not in regional:
                regional[region] = aws.for_region(region)
            return regional[region].client(service)
        return get

    checks = check_roles(aws.client("iam"), aws.client("sts"), roles_of(plan), task_roles_of(plan, client("ecs")))
    try:
        account = aws.account
    except (ClientError, BotoCoreError):
        account = ""
    if account:
        checks += check_references(plan, caller_account=account, store_region=plan.settings.region or aws.region_name,
                                   partition=aws.partition)
    try:
        described = describe_services(client("ecs"), services_of(plan))
    except (ClientError, BotoCoreError) as e:
        return checks + [Check(WARNING, "json-key-platform", "services", f"could not describe ({safe_aws_message(e)})")]
    checks += check_platforms(plan, described)
    checks += check_network(plan, described, client("ec2"))
    return checks


def plan_warnings(plan: Plan, aws: Any) -> list[str]:
    """The preflight as plan warnings (failures say they will block apply)."""
    return [(c.line() + " (apply will refuse)") if c.level == FAILURE else c.line() for c in preflight_live(plan, aws)]
