"""Issue 15 §1: the sandbox fails a deployment exactly when ECS would, with ECS's wording (boto3 against a running sandbox)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from migrate.live.health import COMPLETED, FAILED, EcsHealthChecker, judge
from migrate.sandbox import SANDBOX_ACCOUNT, SANDBOX_REGION, Sandbox
from migrate.sandbox.verdict import ASM_PREFIX, SSM_PREFIX

pytest.importorskip("moto")

ACCT, REGION = SANDBOX_ACCOUNT, SANDBOX_REGION
ROLE = f"arn:aws:iam::{ACCT}:role/exec"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
DELAY = 0.25


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(deploy_seconds=DELAY)
    sb.start()
    yield sb
    sb.stop()


@dataclass
class Env:
    sb: Sandbox
    ecs: Any
    iam: Any
    ssm: Any
    sm: Any
    kms: Any
    subnet: str
    sg: str

    def grant(self, *statements: dict[str, Any], name: str = "secrets") -> None:
        self.iam.put_role_policy(RoleName="exec", PolicyName=name,
                                 PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))

    def register(self, secrets: list[dict[str, str]], *, role: str | None = ROLE, fargate: bool = False,
                 extra_env: int = 0) -> str:
        c: dict[str, Any] = {"name": "app", "image": "nginx", "memory": 128, "secrets": secrets}
        if extra_env:
            c["environment"] = [{"name": f"V{i}", "value": "x" * 100} for i in range(extra_env)]
        kw: dict[str, Any] = {"family": "web", "containerDefinitions": [c]}
        if role:
            kw["executionRoleArn"] = role
        if fargate:
            kw.update(requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512")
        return str(self.ecs.register_task_definition(**kw)["taskDefinition"]["taskDefinitionArn"])

    def service(self, *, fargate: bool = False, platform: str | None = None, rollback: bool = False) -> str:
        v1 = str(self.ecs.register_task_definition(
            family="web", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}],
            **({"requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256", "memory": "512"}
               if fargate else {}))["taskDefinition"]["taskDefinitionArn"])
        kw: dict[str, Any] = {"cluster": "c", "serviceName": "web", "taskDefinition": v1, "desiredCount": 2}
        if fargate:
            kw.update(launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {
                "subnets": [self.subnet], "securityGroups": [self.sg]}})
        if platform:
            kw["platformVersion"] = platform
        if rollback:
            kw["deploymentConfiguration"] = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
        self.ecs.create_service(**kw)
        return v1

    def describe(self) -> dict[str, Any]:
        return dict(self.ecs.describe_services(cluster="c", services=["web"])["services"][0])

    def deploy(self, td: str) -> dict[str, Any]:
        """UpdateService, check the rollout is IN_PROGRESS first, then wait for its end."""
        out = self.ecs.update_service(cluster="c", service="web", taskDefinition=td)["service"]
        primary = next(d for d in out["deployments"] if d["status"] == "PRIMARY")
        assert primary["rolloutState"] == "IN_PROGRESS" and primary["taskDefinition"] == td
        assert judge(self.describe(), td)[0] is None  # a waiter sees IN_PROGRESS first
        time.sleep(DELAY + 0.05)
        return self.describe()

    def stopped_reasons(self) -> list[str]:
        arns = self.ecs.list_tasks(cluster="c", desiredStatus="STOPPED")["taskArns"]
        assert arns, "a failed deployment leaves stopped tasks"
        tasks = self.ecs.describe_tasks(cluster="c", tasks=arns)["tasks"]
        assert all(t["lastStatus"] == "STOPPED" for t in tasks)
        return [str(t["stoppedReason"]) for t in tasks]


@pytest.fixture
def env(sandbox: Sandbox) -> Env:
    sandbox.reset()
    aws = sandbox.context()
    ecs, iam, ec2 = aws.client("ecs"), aws.client("iam"), aws.client("ec2")
    iam.create_role(RoleName="exec", AssumeRolePolicyDocument=json.dumps(TRUST))
    ecs.create_cluster(clusterName="c")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    return Env(sandbox, ecs, iam, aws.client("ssm"), aws.client("secretsmanager"), aws.client("kms"), subnet, sg)


def ssm_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:ssm:{region}:{ACCT}:parameter/{name.lstrip('/')}"


SSM_ALL = {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": f"arn:aws:ssm:{REGION}:{ACCT}:parameter/*"}
SM_ALL = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}


def assert_failed(e: Env, td: str, *fragments: str) -> str:
    svc = e.deploy(td)
    primary = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
    assert primary["rolloutState"] == FAILED
    assert primary["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert primary["failedTasks"] >= 1 and primary["runningCount"] == 0
    assert judge(svc, td)[0] == FAILED
    reasons = e.stopped_reasons()
    for frag in fragments:
        assert all(frag in r for r in reasons), (frag, reasons[0])
    return reasons[0]


# --- a correct revision completes -------------------------------------------------------------------------


def test_correct_revision_completes_and_the_real_health_checker_sees_it(env: Env) -> None:
    key = env.kms.create_key()["KeyMetadata"]["Arn"]
    env.ssm.put_parameter(Name="/app/db", Value="v", Type="SecureString", KeyId=key)
    sec = env.sm.create_secret(Name="app/api", SecretString=json.dumps({"token": "t"}), KmsKeyId=key)["ARN"]
    env.grant({"Effect": "Allow", "Action": ["ssm:GetParameters", "secretsmanager:GetSecretValue"],
               "Resource": [f"arn:aws:ssm:{REGION}:{ACCT}:parameter/app/*", f"arn:aws:secretsmanager:{REGION}:{ACCT}:secret:app/api-??????"]},
              {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key})
    env.service(fargate=True, platform="1.4.0")
    td = env.register([{"name": "DB", "valueFrom": "/app/db"}, {"name": "TOKEN", "valueFrom": f"{sec}:token::"}], fargate=True)
    env.ecs.update_service(cluster="c", service="web", taskDefinition=td)
    result = EcsHealthChecker(interval=0.05).wait(env.ecs, cluster="c", service="web", task_definition=td, timeout=5)
    assert result.state == COMPLETED, result.reason
    svc = env.describe()
    assert [d["status"] for d in svc["deployments"]] == ["PRIMARY"]  # the old deployment drained
    assert svc["runningCount"] == svc["desiredCount"] == 2 and svc["taskDefinition"] == td
    assert env.ecs.list_tasks(cluster="c", desiredStatus="STOPPED")["taskArns"] == []


def test_a_managed_policy_attached_to_the_role_counts(env: Env) -> None:
    env.ssm.put_parameter(Name="db", Value="v", Type="SecureString")
    pol = env.iam.create_policy(PolicyName="read", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [SSM_ALL]}))
    env.iam.attach_role_policy(RoleName="exec", PolicyArn=pol["Policy"]["Arn"])
    env.service()
    svc = env.deploy(env.register([{"name": "DB", "valueFrom": ssm_arn("db")}]))
    assert svc["deployments"][0]["rolloutState"] == COMPLETED


def test_the_real_health_checker_sees_failed(env: Env) -> None:
    env.service()
    td = env.register([{"name": "DB", "valueFrom": "/missing"}])
    env.ecs.update_service(cluster="c", service="web", taskDefinition=td)
    result = EcsHealthChecker(interval=0.05).wait(env.ecs, cluster="c", service="web", task_definition=td, timeout=5)
    assert result.state == FAILED and "circuit breaker" in result.reason


def test_circuit_breaker_rollback_makes_the_previous_revision_primary(env: Env) -> None:
    v1 = env.service(rollback=True)
    td = env.register([{"name": "DB", "valueFrom": "/missing"}])
    env.ecs.update_service(cluster="c", service="web", taskDefinition=td,
                           deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    time.sleep(DELAY + 0.05)
    svc = env.describe()
    assert svc["taskDefinition"] == v1
    assert [(d["taskDefinition"], d["status"]) for d in svc["deployments"]] == [(v1, "PRIMARY"), (td, "ACTIVE")]
    assert svc["deployments"][1]["rolloutState"] == "FAILED"  # ECS keeps the failed deployment ACTIVE
    # the failed deployment's reason is reported, not the primary's other revision
    assert judge(svc, td) == (FAILED, "rollout failed: ECS deployment circuit breaker: tasks failed to start.")
    assert judge({"deployments": [svc["deployments"][0]]}, td) == (
        FAILED, "the primary deployment runs another revision (circuit breaker rolled back?)")
    assert env.stopped_reasons()


# --- the execution role ---------------------------------------------------------------------------------------


def test_role_does_not_exist(env: Env) -> None:
    env.ssm.put_parameter(Name="/app/db", Value="v", Type="SecureString")
    env.service()
    gone = f"arn:aws:iam::{ACCT}:role/gone"
    r = assert_failed(env, env.register([{"name": "DB", "valueFrom": "/app/db"}], role=gone), f"ECS was unable to assume the role '{gone}'")
    assert "trust relationship" in r


def test_role_not_assumable_by_ecs_tasks(env: Env) -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    env.iam.create_role(RoleName="ec2only", AssumeRolePolicyDocument=json.dumps(trust))
    env.ssm.put_parameter(Name="/app/db", Value="v", Type="SecureString")
    env.service()
    arn = f"arn:aws:iam::{ACCT}:role/ec2only"
    assert_failed(env, env.register([{"name": "DB", "valueFrom": "/app/db"}], role=arn), f"ECS was unable to assume the role '{arn}'")


def test_no_ssm_get_parameters(env: Env) -> None:
    env.ssm.put_parameter(Name="/app/db", Value="v", Type="SecureString")
    env.grant({"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"})  # singular: not what the agent calls
    env.service()
    assert_failed(env, env.register([{"name": "DB", "valueFrom": "/app/db"}]), SSM_PREFIX,
                  f"AccessDeniedException: User: arn:aws:sts::{ACCT}:assumed-role/exec/",
                  f"is not authorized to perform: ssm:GetParameters on resource: {ssm_arn('/app/db')} because no "
                  "identity-based policy allows the ssm:GetParameters action")


def test_an_explicit_deny_wins(env: Env) -> None:
    env.ssm.put_parameter(Name="/app/db", Value="v", Type="SecureString")
    env.grant(SSM_ALL, {"Effect": "Deny", "NotAction": "kms:*", "Resource": ssm_arn("/app/db")})
    env.service()
    assert_failed(env, env.register([{"name": "DB", "valueFrom": "/app/db"}]), "with an explicit deny in an identity-based policy")


def test_no_secretsmanager_get_secret_value_on_the_partial_arn_trap(env: Env) -> None:
    arn = env.sm.create_secret(Name="app/api", SecretString="s")["ARN"]
    # facts §2: a grant on the partial ARN does not match the real one (with its -XXXXXX suffix)
    env.grant({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
               "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCT}:secret:app/api"})
    env.service()
    assert_failed(env, env.register([{"name": "API", "valueFrom": arn}]), ASM_PREFIX,
                  f"failed to fetch secret {arn} from secrets manager: AccessDeniedException",
                  f"secretsmanager:GetSecretValue on resource: {arn}")


def test_no_kms_decrypt_for_a_customer_key_on_a_secret(env: Env) -> None:
    key = env.kms.create_key()["KeyMetadata"]["KeyId"]
    arn = env.sm.create_secret(Name="app/api", SecretString="s", KmsKeyId=key)["ARN"]
    env.grant(SM_ALL)
    env.service()
    assert_failed(env, env.register([{"name": "API", "valueFrom": arn}]),
                  f"failed to fetch secret {arn} from secrets manager: AccessDeniedException: Access to KMS is not allowed")


def test_no_kms_decrypt_for_a_customer_key_on_a_parameter(env: Env) -> None:
    key = env.kms.create_key()["KeyMetadata"]["Arn"]
    env.ssm.put_parameter(Name="/app/db", Value="v", Type="SecureString", KeyId=key)
    env.grant(SSM_ALL)
    env.service()
    assert_failed(env, env.register([{"name": "DB", "valueFrom": "/app/db"}]), SSM_PREFIX, f"kms:Decrypt on resource: {key}")


def test_the_default_keys_need_no_kms_grant(env: Env) -> None:
    env.ssm.put_parameter(Name="/app/db", Value="v", Type="SecureString")
    arn = env.sm.create_secret(Name="app/api", SecretString="s")["ARN"]
    env.grant(SSM_ALL, SM_ALL)
    env.service()
    svc = env.deploy(env.register([{"name": "DB", "valueFrom": "/app/db"}, {"name": "API", "valueFrom": arn}]))
    assert svc["deployments"][0]["rolloutState"] == COMPLETED


# --- the valueFrom does not resolve -----------------------------------------------------------------------------


def test_wrong_arn_form_the_doc_colon_typo(env: Env) -> None:
    env.ssm.put_parameter(Name="/app/db", Value="v", Type="SecureString")
    env.grant(SSM_ALL)
    env.service()
    bad = f"arn:aws:ssm:{REGION}:{ACCT}:parameter:/app/db"  # facts §1.2: the archived doc's wrong form
    assert_failed(env, env.register([{"name": "DB", "valueFrom": bad}]), SSM_PREFIX, f"invalid ssm parameters: {bad}")


def test_missing_parameter(env: Env) -> None:
    env.grant(SSM_ALL)
    env.service()
    assert_failed(env, env.register([{"name": "DB", "valueFrom": "/app/nothing"}]), f"{SSM_PREFIX}invalid ssm parameters: /app/nothing")


def test_missing_secret(env: Env) -> None:
    env.grant(SM_ALL)
    env.service()
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCT}:secret:app/none-AbCdEf"
    assert_failed(env, env.register([{"name": "API", "valueFrom": arn}]),
                  f"failed to fetch secret {arn} from secrets manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.")


def test_other_region_by_name_fails_by_arn_works(env: Env) -> None:
    env.sb.context().for_region("eu-west-1").client("ssm").put_parameter(Name="/app/db", Value="v", Type="SecureString")
    env.grant({"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": "arn:aws:ssm:*:*:parameter/app/*"})
    env.service()
    assert_failed(env, env.register([{"name": "DB", "valueFrom": "/app/db"}]), f"{SSM_PREFIX}invalid ssm parameters: /app/db")
    svc = env.deploy(env.register([{"name": "DB", "valueFrom": ssm_arn("/app/db", "eu-west-1")}]))
    assert next(d for d in svc["deployments"] if d["status"] == "PRIMARY")["rolloutState"] == COMPLETED


def test_json_key_that_does_not_exist(env: Env) -> None:
    arn = env.sm.create_secret(Name="app/api", SecretString=json.dumps({"user": "u"}))["ARN"]
    env.grant(SM_ALL)
    env.service()
    assert_failed(env, env.register([{"name": "PW", "valueFrom": f"{arn}:password::"}]),
                  f"{ASM_PREFIX}retrieved secret from Secrets Manager did not contain json key password")


def test_version_stage_that_does_not_exist(env: Env) -> None:
    arn = env.sm.create_secret(Name="app/api", SecretString="s")["ARN"]
    env.grant(SM_ALL)
    env.service()
    assert_failed(env, env.register([{"name": "API", "valueFrom": f"{arn}::AWSPREVIOUS:"}]),
                  "ResourceNotFoundException: Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS")


def test_json_key_on_fargate_before_1_4_0(env: Env) -> None:
    arn = env.sm.create_secret(Name="app/api", SecretString=json.dumps({"user": "u"}))["ARN"]
    env.grant(SM_ALL)
    env.service(fargate=True, platform="1.3.0")
    assert_failed(env, env.register([{"name": "U", "valueFrom": f"{arn}:user::"}], fargate=True), ASM_PREFIX, "1.4.0")


# --- revisions ECS refuses at registration -----------------------------------------------------------------------


def test_revision_over_64_kib_is_refused(env: Env) -> None:
    with pytest.raises(env.ecs.exceptions.ClientException, match="exceeds the limit of 65536 bytes"):
        env.register([{"name": "DB", "valueFrom": "/app/db"}], extra_env=700)


def test_secrets_without_execution_role_are_refused(env: Env) -> None:
    with pytest.raises(env.ecs.exceptions.ClientException) as ei:
        env.register([{"name": "DB", "valueFrom": "/app/db"}], role=None)
    assert ei.value.response["Error"]["Message"] == ("When you are specifying container secrets, you must also specify "
                                                     "a value for 'executionRoleArn'.")


def test_secret_and_environment_name_clash_is_refused(env: Env) -> None:
    c = {"name": "app", "image": "nginx", "memory": 128, "environment": [{"name": "DB", "value": "x"}],
         "secrets": [{"name": "DB", "valueFrom": "/app/db"}]}
    with pytest.raises(env.ecs.exceptions.ClientException, match="such as 'DB'"):
        env.ecs.register_task_definition(family="web", executionRoleArn=ROLE, containerDefinitions=[c])


def test_emulate_false_is_bare_moto() -> None:
    sb = Sandbox(emulate=False)
    sb.start()
    try:
        ecs = sb.context().client("ecs")
        out = ecs.register_task_definition(family="x", containerDefinitions=[
            {"name": "a", "image": "i", "memory": 8, "secrets": [{"name": "S", "valueFrom": "/p"}]}])
        assert out["taskDefinition"]["revision"] == 1  # moto accepts what ECS refuses (probe §2.3)
    finally:
        sb.stop()


def test_ensure_roles_makes_an_execution_role_ecs_can_assume(env: Env) -> None:
    from migrate.sandbox import ensure_roles

    arn = f"arn:aws:iam::{ACCT}:role/svc/app-exec"
    assert ensure_roles(env.sb.context(), [arn]) == ["app-exec"]
    env.ssm.put_parameter(Name="/app/db", Value="v", Type="SecureString")
    env.iam.put_role_policy(RoleName="app-exec", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [SSM_ALL]}))
    env.service()
    svc = env.deploy(env.register([{"name": "DB", "valueFrom": "/app/db"}], role=arn))
    assert svc["deployments"][0]["rolloutState"] == COMPLETED
