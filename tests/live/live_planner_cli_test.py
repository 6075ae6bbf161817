"""``plan --live`` through the real CLI against the sandbox's moto server: a clashing service is blocked alone
(exit 5, ``--strict`` refuses), ``--group per-unit`` round-trips (plan, apply, verify, rollback), and the
per-service proofs reach ``show`` and ``report``."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from support.testing import run_cli

from migrate.errors import EXIT_BLOCKED, EXIT_FAILED
from migrate.live.seed import EXEC_ROLE, seed_synthetic

MARK = "s3cr3t"
TRUST_EC2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "ec2.amazonaws.com"}}]}


def _service(name: str, family: str, containers: list[dict[str, object]], role: str = EXEC_ROLE) -> str:
    ecs = boto3.client("ecs")
    td = ecs.register_task_definition(family=family, executionRoleArn=role, networkMode="awsvpc",
                                      requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
                                      containerDefinitions=containers)["taskDefinition"]["taskDefinitionArn"]
    net = ecs.describe_services(cluster="batch", services=["svc000"])["services"][0]["networkConfiguration"]
    ecs.create_service(cluster="batch", serviceName=name, taskDefinition=td, desiredCount=1, networkConfiguration=net)
    return str(td)


def _td(service: str) -> str:
    return str(boto3.client("ecs").describe_services(cluster="batch", services=[service])["services"][0]["taskDefinition"])


def test_plan_live_blocks_the_clashing_service_and_strict_refuses(server_env: str, tmp_path: Path) -> None:
    seed_synthetic(2, secrets=1)
    _service("svc-twin", "twin", [{"name": n, "image": "nginx:1.27", "essential": n == "app",
                                   "environment": [{"name": "DB_PASSWORD", "value": f"Xk9-twin-{n}-s3cr3t-Qz7"}]}
                                  for n in ("app", "worker")])
    plan = tmp_path / "live.json"
    args = ["--store", "ssm", "--name-template", "/{prefix}/{project}/{name}"]
    r = run_cli(["live", "plan", *args, "--strict", "-o", str(plan)], cwd=tmp_path)
    assert r.returncode == EXIT_FAILED, r.stderr
    assert not plan.exists() and "no plan written (--strict)" in r.stderr
    assert "[name-clash]" in r.stderr and "worker.DB_PASSWORD" in r.stderr
    r = run_cli(["plan", "--live", *args, "--strict"], cwd=tmp_path)  # the same through `plan --live`
    assert r.returncode == EXIT_FAILED and "no plan written (--strict)" in r.stderr, r.stderr
    r = run_cli(["plan", "--live", *args, "-o", str(plan)], cwd=tmp_path)
    assert r.returncode == EXIT_BLOCKED, r.stderr
    out = r.stdout + r.stderr
    assert MARK not in out and MARK not in plan.read_text()
    assert "Blocked (1)" in r.stdout and "batch/svc-twin is left as it is" in r.stdout
    assert "fix: use --name-template '/{prefix}/{project}/{unit}/{name}'" in r.stdout
    doc = json.loads(plan.read_text())
    assert doc["deploy_order"] == ["batch/svc000", "batch/svc001"]
    (b,) = doc["blocked"]
    assert b["kind"] == "name-clash" and b["unit"] == "worker"
    r = run_cli(["show", str(plan)], cwd=tmp_path)  # show lists it too
    assert r.returncode == 0 and "[name-clash]" in r.stdout, r.stderr


def test_plan_live_per_unit_round_trip(server_env: str, tmp_path: Path) -> None:
    keys = seed_synthetic(2, secrets=2)
    before = {k: _td(k.split("/")[1]) for k in keys}
    plan = tmp_path / "live.json"
    r = run_cli(["plan", "--live", "--group", "per-unit", "-o", str(plan)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(plan.read_text())
    assert MARK not in plan.read_text()
    secrets = [a for a in doc["actions"] if a["kind"] == "secretsmanager.create-secret"]
    assert sorted(a["name"] for a in secrets) == ["app000/app", "app001/app"]
    assert not [a for a in doc["actions"] if a["kind"] == "ssm.put-parameter"]
    r = run_cli(["live", "apply", str(plan), "--yes", "--health", "scripted", "--report", "json"], cwd=tmp_path,
                timeout=300)
    assert r.returncode == 0, r.stderr
    assert MARK not in r.stdout + r.stderr
    assert {s["status"] for s in json.loads(r.stdout)["services"]} == {"migrated"}
    sm = boto3.client("secretsmanager")
    arn = sm.describe_secret(SecretId="app001/app")["ARN"]
    c = boto3.client("ecs").describe_task_definition(taskDefinition=_td("svc001"))["taskDefinition"]["containerDefinitions"][0]
    assert sorted(s["valueFrom"] for s in c["secrets"]) == [f"{arn}:DB_PASSWORD::", f"{arn}:DB_PASSWORD_1::"]
    r = run_cli(["verify", str(plan), "--format", "json"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert MARK not in r.stdout
    r = run_cli(["live", "rollback", str(plan), "--yes"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert {k: _td(k.split("/")[1]) for k in keys} == before  # back on their previous revisions
    assert not [s["Name"] for s in sm.list_secrets()["SecretList"] if not s.get("DeletedDate")]


def test_a_would_fail_proof_is_in_the_plan_show_and_report(server_env: str, tmp_path: Path) -> None:
    seed_synthetic(1, secrets=1)
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="ec2-only", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))["Role"]["Arn"]
    _service("svc-wrong-role", "wrongrole", [{"name": "app", "image": "nginx:1.27", "essential": True,
                                              "environment": [{"name": "DB_PASSWORD", "value": "Xk9-wrong-s3cr3t-Qz7"}]}],
             role=role)
    plan = tmp_path / "live.json"
    r = run_cli(["plan", "--live", "--store", "ssm", "-o", str(plan)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    proofs = {p["key"]: p for p in json.loads(plan.read_text())["proofs"]}
    assert proofs["batch/svc000"]["state"] == "will start"
    assert proofs["batch/svc-wrong-role"]["state"] == "would fail"
    assert "unable to assume the role" in proofs["batch/svc-wrong-role"]["reason"]
    r = run_cli(["show", str(plan)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if "batch/svc-wrong-role: would fail" in ln)
    assert "unable to assume the role" in line and "ec2-only" in line
    assert "1 will start, 1 to look at" in r.stdout
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    r = run_cli(["report", str(plan), "-o", str(html), "--markdown", str(md)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for text in (html.read_text(), md.read_text()):
        assert "Deployment proofs" in text and "batch/svc-wrong-role" in text and "would fail" in text
        assert MARK not in text
