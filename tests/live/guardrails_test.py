from __future__ import annotations

import dataclasses

import boto3
import pytest

from migrate.errors import PreconditionFailed
from migrate.live import guardrails as g
from migrate.live.planner import live_findings, make_live_plan
from migrate.live.seed import EXEC_ROLE, seed_synthetic
from migrate.live.source import discover
from migrate.plan.actions import RegisterRevision
from migrate.plan.model import Plan, PlanSettings
from migrate.stores.aws import Aws


def _plan(store: str = "ssm") -> Plan:
    inv = discover(boto3.client("ecs"), "us-east-1")
    return Plan.from_json(make_live_plan(inv, live_findings(inv), PlanSettings(store=store)).to_json())


def _rules(checks, level=None):
    return {(c.rule, c.subject) for c in checks if level is None or c.level == level}


class _Iam:
    """moto's IAM with a scripted SimulatePrincipalPolicy (moto does not implement it)."""

    def __init__(self, decision: str) -> None:
        self._inner = boto3.client("iam")
        self.decision = decision
        self.asked: list[dict] = []

    def simulate_principal_policy(self, **kw):
        self.asked.append(kw)
        return {"EvaluationResults": [{"EvalActionName": "iam:PassRole", "EvalDecision": self.decision}]}

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_pass_role_unsupported_is_a_warning_never_a_failure(aws):
    seed_synthetic(2)
    checks = g.preflight_live(_plan(), Aws())
    pr = [c for c in checks if c.rule == "pass-role"]
    assert pr and all(c.level == g.WARNING and "could not check iam:PassRole" in c.message for c in pr)
    assert not g.failures(checks)
    g.raise_for(checks)  # warnings only: no exception


def test_pass_role_denied_is_a_failure_naming_the_permission(aws):
    seed_synthetic(1)
    iam = _Iam("implicitDeny")
    checks = g.check_roles(iam, boto3.client("sts"), g.roles_of(_plan()))
    assert _rules(checks, g.FAILURE) == {("pass-role", EXEC_ROLE)}
    assert iam.asked[0]["ActionNames"] == ["iam:PassRole"] and iam.asked[0]["ResourceArns"] == [EXEC_ROLE]
    assert iam.asked[0]["PolicySourceArn"].startswith("arn:aws:iam::123456789012:")
    with pytest.raises(PreconditionFailed, match="iam:PassRole"):
        g.raise_for(checks)
    assert g.check_roles(_Iam("allowed"), boto3.client("sts"), [EXEC_ROLE]) == []


def test_assumed_role_caller_is_simulated_as_its_role():
    class Iam:
        def get_role(self, RoleName):
            return {"Role": {"Arn": f"arn:aws:iam::111122223333:role/ops/{RoleName}"}}

    got = g._caller_principal(Iam(), "arn:aws:sts::111122223333:assumed-role/deployer/session-1")
    assert got == "arn:aws:iam::111122223333:role/ops/deployer"
    assert g._caller_principal(Iam(), "arn:aws:iam::111122223333:user/me") == "arn:aws:iam::111122223333:user/me"


def test_missing_execution_role_is_a_failure(aws):
    seed_synthetic(1)
    plan = _plan()
    boto3.client("iam").delete_role(RoleName=EXEC_ROLE.rsplit("/", 1)[-1])
    checks = g.preflight_live(plan, Aws())
    assert ("role-exists", EXEC_ROLE) in _rules(checks, g.FAILURE)
    with pytest.raises(PreconditionFailed, match="does not exist"):
        g.raise_for(checks)


def _with_json_keys(plan: Plan) -> Plan:
    acts = tuple(dataclasses.replace(a, moves=tuple(dataclasses.replace(m, json_key=m.name) for m in a.moves))
                 if isinstance(a, RegisterRevision) else a for a in plan.actions)
    return dataclasses.replace(plan, actions=acts)


@pytest.mark.parametrize("version,fails", [("1.3.0", True), ("1.2.0", True), ("1.4.0", False), ("LATEST", False)])
def test_json_key_references_need_fargate_1_4(aws, version, fails):
    seed_synthetic(1)
    ecs = boto3.client("ecs")
    td = ecs.describe_services(cluster="batch", services=["svc000"])["services"][0]["taskDefinition"]
    ecs.delete_service(cluster="batch", service="svc000", force=True)
    ecs.create_service(cluster="batch", serviceName="svc000", taskDefinition=td, desiredCount=1, launchType="FARGATE",
                       platformVersion=version)
    plan = _plan()
    assert g.check_platforms(plan, g.describe_services(lambda r: ecs, g.services_of(plan))) == []  # no JSON keys
    checks = g.check_platforms(_with_json_keys(plan), g.describe_services(lambda r: ecs, g.services_of(plan)))
    assert bool(checks) is fails
    if fails:
        assert checks[0].rule == "json-key-platform" and checks[0].subject == "batch/svc000"
        assert version in checks[0].message and checks[0].level == g.FAILURE


def test_json_keys_on_ec2_or_unpinned_fargate_pass():
    assert g.json_key_problem({"launchType": "EC2", "platformVersion": "1.3.0"}) == ""
    assert g.json_key_problem({"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT"}],
                               "platformVersion": "1.3.0"}) != ""
    assert g.json_key_problem({"launchType": "FARGATE"}) == ""


def test_references_stay_in_the_tasks_account(aws):
    seed_synthetic(1)
    plan = _plan()
    assert g.check_references(plan, caller_account="123456789012", store_region="us-east-1") == []
    assert g.check_references(plan, caller_account="123456789012", store_region="eu-west-1") == []  # full ARNs
    bad = g.check_references(plan, caller_account="999999999999", store_region="us-east-1")
    assert [(c.level, c.rule) for c in bad] == [(g.FAILURE, "own-account")]
    assert "999999999999" in bad[0].message and "another account" in bad[0].message


def test_reference_forms():
    ssm = "arn:aws:ssm:eu-west-1:123456789012:parameter/a/b"
    assert g.reference_problem(ssm, "123456789012", "us-east-1") == ""
    assert "another account" in g.reference_problem(ssm, "111122223333", "eu-west-1")
    assert g.reference_problem("/a/b", "123456789012", "us-east-1") == ""
    assert "full ARN" in g.bare_name_problem("/a/b", "eu-west-1", "us-east-1")
    assert g.bare_name_problem(ssm, "eu-west-1", "us-east-1") == ""
    assert g.bare_name_problem("/a/b", "us-east-1", "us-east-1") == ""


def _vpc_of_service() -> tuple[str, str]:
    svc = boto3.client("ecs").describe_services(cluster="batch", services=["svc000"])["services"][0]
    subnet = svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"][0]
    return boto3.client("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"], subnet


def test_private_subnet_without_endpoint_or_nat_warns(aws):
    seed_synthetic(2)
    checks = g.preflight_live(_plan(), Aws())
    net = [c for c in checks if c.rule == "private-network"]
    assert {c.subject for c in net} == {"batch/svc000", "batch/svc001"}
    assert all(c.level == g.WARNING and "ssm" in c.message for c in net)
    # a Secrets Manager plan needs the secretsmanager endpoint, not the ssm one
    vpc, _ = _vpc_of_service()
    boto3.client("ec2").create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.ssm",
                                            VpcEndpointType="Interface")
    assert not [c for c in g.preflight_live(_plan(), Aws()) if c.rule == "private-network"]
    sm = [c for c in g.preflight_live(_plan("secretsmanager"), Aws()) if c.rule == "private-network"]
    assert sm and "secretsmanager" in sm[0].message


def test_nat_gateway_route_silences_the_network_warning(aws):
    seed_synthetic(1)
    vpc, subnet = _vpc_of_service()
    ec2 = boto3.client("ec2")
    pub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.2.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=pub, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rt, SubnetId=subnet)
    plan = _plan()
    assert [c.rule for c in g.preflight_live(plan, Aws()) if c.rule == "private-network"] == ["private-network"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    assert not [c for c in g.preflight_live(plan, Aws()) if c.rule == "private-network"]


def test_plan_warnings_say_apply_will_refuse(aws):
    seed_synthetic(1)
    plan = _plan()
    boto3.client("iam").delete_role(RoleName=EXEC_ROLE.rsplit("/", 1)[-1])
    lines = g.plan_warnings(plan, Aws())
    assert any(w.startswith("preflight role-exists:") and w.endswith("(apply will refuse)") for w in lines)
    assert any(w.startswith("preflight private-network:") for w in lines)


def test_pass_role_is_checked_for_task_roles_too(aws):
    """Issue 15 §3: the new revision keeps the source's taskRoleArn; registering it needs iam:PassRole on it."""
    seed_synthetic(1)
    task_role = "arn:aws:iam::123456789012:role/app-task"
    ecs = boto3.client("ecs")
    svc = ecs.describe_services(cluster="batch", services=["svc000"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    keep = {k: td[k] for k in ("family", "containerDefinitions", "executionRoleArn", "networkMode",
                               "requiresCompatibilities", "cpu", "memory")}
    arn = ecs.register_task_definition(**keep, taskRoleArn=task_role)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="batch", service="svc000", taskDefinition=arn)
    plan = _plan()
    assert g.task_roles_of(plan, lambda _r: ecs) == [task_role]
    iam = _Iam("implicitDeny")
    checks = g.check_roles(iam, boto3.client("sts"), g.roles_of(plan), g.task_roles_of(plan, lambda _r: ecs))
    assert ("pass-role", task_role) in _rules(checks, g.FAILURE)
    assert any("task role" in c.message for c in checks if c.subject == task_role)
    assert [a["ResourceArns"] for a in iam.asked] == [[EXEC_ROLE], [task_role]]
