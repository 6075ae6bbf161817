"""Issue 15 §2: the sandbox refuses what AWS refuses, with AWS's error code and message (moto alone accepts it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from migrate.sandbox import Sandbox
from migrate.sandbox.limits import Quotas

pytest.importorskip("moto")

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                            "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]})


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(quotas=Quotas(ssm_standard_parameters=3))  # 10,000 is the default; 3 keeps the test cheap
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def aws(sandbox: Sandbox) -> Any:
    sandbox.reset()
    return sandbox.context()


def refused(call: Any, code: str, message: str | None = None, **kw: Any) -> str:
    with pytest.raises(ClientError) as ei:
        call(**kw)
    err = ei.value.response["Error"]
    assert err["Code"] == code, err
    if message is not None:
        assert err["Message"] == message
    return str(err["Message"])


def policy(n_resources: int, *, pad: str = "") -> str:
    res = [f"arn:aws:ssm:us-east-1:123456789012:parameter/app/p{i:05d}" for i in range(n_resources)]
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameters",
                                                                "Resource": res}]}, indent=pad or None)


def test_role_inline_policies_share_10240_characters(aws: Any) -> None:
    iam = aws.client("iam")
    iam.create_role(RoleName="exec", AssumeRolePolicyDocument=TRUST)
    doc = policy(60)  # ~3,500 characters each
    iam.put_role_policy(RoleName="exec", PolicyName="a", PolicyDocument=doc)
    iam.put_role_policy(RoleName="exec", PolicyName="b", PolicyDocument=doc)
    iam.put_role_policy(RoleName="exec", PolicyName="b", PolicyDocument=doc)  # replacing one is not adding
    refused(iam.put_role_policy, "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role exec",
            RoleName="exec", PolicyName="c", PolicyDocument=doc)
    assert sorted(iam.list_role_policies(RoleName="exec")["PolicyNames"]) == ["a", "b"]


def test_whitespace_does_not_count(aws: Any) -> None:
    iam = aws.client("iam")
    iam.create_role(RoleName="exec", AssumeRolePolicyDocument=TRUST)
    doc = policy(150, pad=" " * 40)  # > 10,240 characters with whitespace, ~8,900 without
    assert len(doc) > 10_240
    iam.put_role_policy(RoleName="exec", PolicyName="a", PolicyDocument=doc)


def test_managed_policy_size_6144(aws: Any) -> None:
    iam = aws.client("iam")
    iam.create_policy(PolicyName="ok", PolicyDocument=policy(90))
    refused(iam.create_policy, "LimitExceeded", "Cannot exceed quota for PolicySize: 6144",
            PolicyName="big", PolicyDocument=policy(120))
    arn = "arn:aws:iam::123456789012:policy/ok"
    refused(iam.create_policy_version, "LimitExceeded", "Cannot exceed quota for PolicySize: 6144",
            PolicyArn=arn, PolicyDocument=policy(120))


def test_ten_managed_policies_per_role(aws: Any) -> None:
    iam = aws.client("iam")
    iam.create_role(RoleName="exec", AssumeRolePolicyDocument=TRUST)
    arns = [iam.create_policy(PolicyName=f"p{i}", PolicyDocument=policy(1))["Policy"]["Arn"] for i in range(11)]
    for arn in arns[:10]:
        iam.attach_role_policy(RoleName="exec", PolicyArn=arn)
    iam.attach_role_policy(RoleName="exec", PolicyArn=arns[0])  # already attached: no-op
    refused(iam.attach_role_policy, "LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10",
            RoleName="exec", PolicyArn=arns[10])


def test_task_definition_64_kib(aws: Any) -> None:
    ecs = aws.client("ecs")
    env = [{"name": f"V{i}", "value": "x" * 100} for i in range(700)]
    msg = refused(ecs.register_task_definition, "ClientException", family="web",
                  containerDefinitions=[{"name": "a", "image": "i", "memory": 8, "environment": env}])
    assert "exceeds the limit of 65536 bytes" in msg
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "a", "image": "i", "memory": 8,
                                                                      "environment": env[:500]}])


def test_ssm_standard_4kb_advanced_8kb(aws: Any) -> None:
    ssm = aws.client("ssm")
    msg = refused(ssm.put_parameter, "ValidationException", Name="/big", Value="x" * 4097, Type="SecureString")
    assert msg.startswith("Standard tier parameters support a maximum parameter value of 4096 characters.")
    ssm.put_parameter(Name="/std", Value="x" * 4096, Type="SecureString")
    ssm.put_parameter(Name="/adv", Value="x" * 8192, Type="SecureString", Tier="Advanced")
    ssm.put_parameter(Name="/it", Value="x" * 5000, Type="SecureString", Tier="Intelligent-Tiering")
    refused(ssm.put_parameter, "ValidationException", "Advanced tier parameters support a maximum parameter value of 8192 characters.",
            Name="/huge", Value="x" * 8193, Type="SecureString", Tier="Advanced")


def test_standard_parameters_per_region(aws: Any) -> None:
    ssm = aws.client("ssm")
    for i in range(3):
        ssm.put_parameter(Name=f"/p{i}", Value="v", Type="SecureString")
    refused(ssm.put_parameter, "ParameterLimitExceeded",
            "You have exceeded the number of parameters for this AWS account. Delete unnecessary parameters and try again.",
            Name="/p3", Value="v", Type="SecureString")
    ssm.put_parameter(Name="/p0", Value="w", Type="SecureString", Overwrite=True)  # an overwrite adds nothing
    ssm.put_parameter(Name="/p3", Value="v", Type="SecureString", Tier="Advanced")  # the other tier has room
    aws.for_region("eu-west-1").client("ssm").put_parameter(Name="/p3", Value="v", Type="SecureString")  # per region


def test_secret_value_64_kb(aws: Any) -> None:
    sm = aws.client("secretsmanager")
    msg = ("1 validation error detected: Value at 'secretString' failed to satisfy constraint: "
           "Member must have length less than or equal to 65536")
    refused(sm.create_secret, "ValidationException", msg, Name="big", SecretString="x" * 65_537)
    sm.create_secret(Name="ok", SecretString="x" * 65_536)
    refused(sm.put_secret_value, "ValidationException", msg, SecretId="ok", SecretString="é" * 40_000)


def test_ssm_name_rules_and_15_levels(aws: Any) -> None:
    ssm = aws.client("ssm")
    msg = refused(ssm.put_parameter, "ValidationException", Name="/app/db password", Value="v", Type="SecureString")
    assert "can't be prefixed with \"aws\" or \"ssm\"" in msg
    refused(ssm.put_parameter, "ValidationException", Name="ssm-things", Value="v", Type="String")
    refused(ssm.put_parameter, "ValidationException", "Parameter name must be a fully qualified name.",
            Name="app/db", Value="v", Type="String")
    ssm.put_parameter(Name="/" + "/".join(f"l{i}" for i in range(15)), Value="v", Type="String")
    refused(ssm.put_parameter, "HierarchyLevelLimitExceededException",
            Name="/" + "/".join(f"l{i}" for i in range(16)), Value="v", Type="String")


def test_secret_name_rules(aws: Any) -> None:
    sm = aws.client("secretsmanager")
    refused(sm.create_secret, "ValidationException",
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
            Name="app db", SecretString="v")
    refused(sm.create_secret, "ValidationException", Name="a" * 513, SecretString="v")
    sm.create_secret(Name="app/db+x=y.z@w_-", SecretString="v")
