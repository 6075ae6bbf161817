"""Seed a local endpoint (the sandbox's moto server) with a legacy cluster: a VPC, clusters, services and
plaintext task definitions built from ``fixtures/ecs/*.json``. Never run against a real account: every
function refuses unless ``AWS_ENDPOINT_URL`` points at 127.0.0.1/localhost (or moto is in-process)."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

import boto3

from migrate.arn import short
from migrate.errors import UsageError
from migrate.sources.ecs_taskdef import register_input

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ecs"
EXEC_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


def _guard(endpoint_url: str | None = None) -> None:
    url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL", "")
    if url and not any(h in url for h in ("127.0.0.1", "localhost", "[::1]")):
        raise UsageError("seeding is only allowed against a local endpoint (the sandbox)")


def fixture_taskdefs(folder: Path = FIXTURES) -> list[tuple[dict[str, Any], list[dict[str, str]]]]:
    """(task definition, tags) for every fixture shape: plain, describe output, list, container list."""
    out: list[tuple[dict[str, Any], list[dict[str, str]]]] = []
    for p in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        items: list[Any] = doc if isinstance(doc, list) else [doc]
        if items and all(isinstance(x, dict) and "image" in x for x in items):
            items = [{"family": p.stem, "containerDefinitions": items}]
        for x in items:
            if not isinstance(x, dict):
                continue
            tags = list(x.get("tags") or []) if "taskDefinition" in x else []
            td = x.get("taskDefinition", x)
            if isinstance(td, dict) and td.get("family") and td.get("containerDefinitions"):
                out.append((register_input(td), tags))
    return out


def ensure_network(ec2: Any) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"legacy-{vpc}", Description="legacy services", VpcId=vpc)["GroupId"]
    return subnet, sg


def ensure_roles(iam: Any, arns: list[str]) -> None:
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]})
    for arn in sorted(set(arns)):
        name = short(arn)
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)


def create_service(ecs: Any, cluster: str, name: str, td_arn: str, net: tuple[str, str], *, awsvpc: bool,
                   controller: str = "ECS", desired: int = 1) -> None:
    kw: dict[str, Any] = {"cluster": cluster, "serviceName": name, "taskDefinition": td_arn, "desiredCount": desired,
                          "deploymentController": {"type": controller}}
    if awsvpc:  # moto crashes without securityGroups (probe §2.3)
        kw["networkConfiguration"] = {"awsvpcConfiguration": {"subnets": [net[0]], "securityGroups": [net[1]],
                                                              "assignPublicIp": "DISABLED"}}
    ecs.create_service(**kw)


def startable(td: dict[str, Any]) -> bool:
    """Could this revision run as it stands? Not when it names a placeholder role, or already references
    secrets its role was never granted (the fixtures show such references; the sandbox has none of them)."""
    role = str(td.get("executionRoleArn") or EXEC_ROLE)
    if not role.startswith("arn:"):
        return False
    return not any(c.get("secrets") or (c.get("logConfiguration") or {}).get("secretOptions")
                   for c in td.get("containerDefinitions") or [])


def _rehome(td: dict[str, Any], account: str) -> dict[str, Any]:
    """The fixture's roles in the seeding account: a legacy cluster lives in one account, and a role in
    another account is one the tool must refuse to grant (so seeding as another account moves them too)."""
    out = dict(td)
    for key in ("executionRoleArn", "taskRoleArn"):
        role = out.get(key)
        if isinstance(role, str):
            out[key] = re.sub(r"^(arn:aws[\w-]*:iam::)\d{12}(:)", rf"\g<1>{account}\2", role)
    return out


def seed_fixtures(*, cluster: str = "legacy-prod", region: str | None = None, aws: Any = None,
                  folder: Path = FIXTURES, startable_only: bool = False) -> list[str]:
    """Register every fixture task definition and run one service of each; returns cluster/service keys.
    ``aws``: an ``AwsContext`` to use (default: boto3 clients from the environment). ``startable_only``: only
    the revisions whose tasks could start (:func:`startable`): a cluster as it runs, for the ECS emulator."""
    _guard(aws.endpoint_url if aws is not None else None)
    ecs, ec2, iam = (aws.client(s) if aws is not None else boto3.client(s, region_name=region)
                     for s in ("ecs", "ec2", "iam"))
    net = ensure_network(ec2)
    ecs.create_cluster(clusterName=cluster)
    sts = aws.client("sts") if aws is not None else boto3.client("sts", region_name=region)
    acct = str(sts.get_caller_identity()["Account"])
    tds = [(_rehome(td, acct), tags) for td, tags in fixture_taskdefs(folder) if not startable_only or startable(td)]
    ensure_roles(iam, [td.get("executionRoleArn") or EXEC_ROLE for td, _ in tds])
    keys = []
    for td, tags in tds:
        kw = dict(td)
        if tags:
            kw["tags"] = tags
        arn = ecs.register_task_definition(**kw)["taskDefinition"]["taskDefinitionArn"]
        name = f"{td['family']}-svc"
        create_service(ecs, cluster, name, arn, net, awsvpc=td.get("networkMode") == "awsvpc")
        keys.append(f"{cluster}/{name}")
    return keys


def seed_synthetic(n: int, *, cluster: str = "batch", per_family: int = 1, secrets: int = 2,
                   region: str | None = None, controller_every: int = 0, aws: Any = None) -> list[str]:
    """``n`` services over ``n / per_family`` families, each container with ``secrets`` plaintext
    passwords and a harmless PORT. ``controller_every`` > 0 makes every k-th service CODE_DEPLOY.
    ``aws``: an ``AwsContext`` (e.g. another account's) instead of the environment's boto3 clients."""
    _guard(aws.endpoint_url if aws is not None else None)
    ecs, ec2, iam = (aws.client(s) if aws is not None else boto3.client(s, region_name=region)
                     for s in ("ecs", "ec2", "iam"))
    net = ensure_network(ec2)
    ecs.create_cluster(clusterName=cluster)
    acct = str(aws.account) if aws is not None else "123456789012"
    exec_role = EXEC_ROLE.replace("123456789012", acct)
    ensure_roles(iam, [exec_role])
    keys: list[str] = []
    arn = ""
    for i in range(n):
        if i % per_family == 0:
            fam = f"app{i // per_family:03d}"
            env = [{"name": "PORT", "value": "8080"}] + [
                {"name": f"DB_PASSWORD_{j}" if j else "DB_PASSWORD", "value": f"Xk9-{fam}-s3cr3t-{j}-Qz7"} for j in range(secrets)]
            arn = ecs.register_task_definition(
                family=fam, executionRoleArn=exec_role, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                cpu="256", memory="512", tags=[{"key": "team", "value": "batch"}],
                containerDefinitions=[{"name": "app", "image": "nginx:1.27", "essential": True, "environment": env}],
            )["taskDefinition"]["taskDefinitionArn"]
        name = f"svc{i:03d}"
        ctl = "CODE_DEPLOY" if controller_every and (i + 1) % controller_every == 0 else "ECS"
        create_service(ecs, cluster, name, arn, net, awsvpc=True, controller=ctl)
        keys.append(f"{cluster}/{name}")
    return keys


def seed_sandbox(aws: Any = None, fixtures: Path | None = None) -> str:
    """Called by ``secrets-migrate sandbox --seed`` (``aws``: the sandbox's context, ``fixtures``: the shipped
    fixtures folder). Returns a one-line summary."""
    keys = seed_fixtures(aws=aws, folder=fixtures / "ecs" if fixtures is not None else FIXTURES)
    return (f"cluster legacy-prod with {len(keys)} services on plaintext task definitions from fixtures/ecs; "
            "try: secrets-migrate live plan --cluster legacy-prod -o live-plan.json")
