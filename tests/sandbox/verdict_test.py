"""verdict.py as a pure function: no moto, no boto3 (issue 15 §1, shared later with the live preflight)."""

from __future__ import annotations

from typing import Any

import pytest

from migrate.sandbox.verdict import (
    ASM_PREFIX,
    SSM_PREFIX,
    BadReference,
    Reference,
    Resolution,
    RoleView,
    evaluate,
    json_keys_of,
    parse_reference,
    task_start_verdict,
    trusts_ecs_tasks,
)

R, A = "us-east-1", "123456789012"
ROLE = f"arn:aws:iam::{A}:role/exec"
TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
SECRET = f"arn:aws:secretsmanager:{R}:{A}:secret:app/api-AbCdEf"


def allow(action: str | list[str], resource: str | list[str], effect: str = "Allow") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]}


def td(*value_froms: str, role: str | None = ROLE, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"family": "web", "containerDefinitions": [
        {"name": "app", "image": "i", "secrets": [{"name": f"S{i}", "valueFrom": v} for i, v in enumerate(value_froms)]}],
        **extra}
    if role:
        out["executionRoleArn"] = role
    return out


def found(ref: Reference) -> Resolution:
    if ref.store == "asm":
        return Resolution(True, SECRET, None, frozenset({"user"}), frozenset({"AWSCURRENT"}), frozenset({"v1"}))
    return Resolution(True, ref.arn)


def role(*docs: dict[str, Any], trust: dict[str, Any] | None = TRUST) -> RoleView:
    return RoleView(ROLE, True, trust, docs)


def verdict(t: dict[str, Any], r: RoleView | None, resolve: Any = found, **kw: Any) -> Any:
    return task_start_verdict(t, r, resolve, region=R, account=A, **kw)


# --- references ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value_from", "store", "name", "key", "stage"), [
    ("/app/db", "ssm", "/app/db", "", ""),
    ("db", "ssm", "db", "", ""),
    (f"arn:aws:ssm:{R}:{A}:parameter/app/db", "ssm", "/app/db", "", ""),
    (f"arn:aws:ssm:eu-west-1:{A}:parameter/db", "ssm", "db", "", ""),
    (SECRET, "asm", SECRET, "", ""),
    (f"{SECRET}:user::", "asm", SECRET, "user", ""),
    (f"{SECRET}::AWSPREVIOUS:", "asm", SECRET, "", "AWSPREVIOUS"),
])
def test_parse_reference(value_from: str, store: str, name: str, key: str, stage: str) -> None:
    ref = parse_reference(value_from, region=R, account=A)
    assert (ref.store, ref.name, ref.json_key, ref.version_stage) == (store, name, key, stage)


def test_ssm_arn_has_no_double_slash() -> None:
    assert parse_reference("/a/b", region=R, account=A).arn == f"arn:aws:ssm:{R}:{A}:parameter/a/b"


@pytest.mark.parametrize("bad", [f"arn:aws:ssm:{R}:{A}:parameter:/app/db", "arn:aws:s3:::bucket/x", "arn:aws:ssm",
                                 f"{SECRET}:k", f"{SECRET}::AWSCURRENT:v1"])
def test_bad_references(bad: str) -> None:
    with pytest.raises(BadReference):
        parse_reference(bad, region=R, account=A)


# --- the evaluator ---------------------------------------------------------------------------------------------------


def test_evaluate_allow_deny_wildcards() -> None:
    res = f"arn:aws:ssm:{R}:{A}:parameter/app/db"
    assert evaluate([allow("ssm:GetParameters", res)], "ssm:GetParameters", res) == "allow"
    assert evaluate([allow("SSM:getparameters", res)], "ssm:GetParameters", res) == "allow"  # actions: any case
    assert evaluate([allow("ssm:Get*", f"arn:aws:ssm:{R}:{A}:parameter/app/*")], "ssm:GetParameters", res) == "allow"
    assert evaluate([allow("ssm:GetParameter", res)], "ssm:GetParameters", res) == "implicit"
    assert evaluate([allow("ssm:GetParameters", res.upper())], "ssm:GetParameters", res) == "implicit"  # ARNs: exact case
    assert evaluate([allow("*", "*"), allow("ssm:*", res, "Deny")], "ssm:GetParameters", res) == "deny"
    assert evaluate([allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{R}:{A}:secret:app/api-??????")],
                    "secretsmanager:GetSecretValue", SECRET) == "allow"
    assert evaluate([allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{R}:{A}:secret:app/api")],
                    "secretsmanager:GetSecretValue", SECRET) == "implicit"


def test_evaluate_not_action_not_resource_and_conditions() -> None:
    res = f"arn:aws:ssm:{R}:{A}:parameter/app/db"
    na = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert evaluate([na], "ssm:GetParameters", res) == "allow"
    assert evaluate([na], "iam:PassRole", res) == "implicit"
    nr = {"Statement": {"Effect": "Allow", "Action": "ssm:*", "NotResource": f"arn:aws:ssm:{R}:{A}:parameter/other/*"}}
    assert evaluate([nr], "ssm:GetParameters", res) == "allow"
    cond = {"Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*", "Condition": {"StringEquals": {"x": "y"}}}]}
    assert evaluate([cond], "ssm:GetParameters", res) == "implicit"  # not evaluated: an Allow does not apply


def test_trust() -> None:
    assert trusts_ecs_tasks(TRUST)
    assert trusts_ecs_tasks({"Statement": [{"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com",
                            "ecs-tasks.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]})
    assert not trusts_ecs_tasks({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]})
    assert not trusts_ecs_tasks({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                                "Action": "sts:TagSession"}]})
    assert not trusts_ecs_tasks(None)


# --- verdicts -------------------------------------------------------------------------------------------------------


def test_no_secrets_always_starts() -> None:
    assert verdict(td(role=None), None).starts
    assert str(verdict(td(role=None), None)) == "will start"


def test_starts_with_grants() -> None:
    r = role(allow(["ssm:GetParameters", "secretsmanager:GetSecretValue"], "*"))
    assert verdict(td("/app/db", f"{SECRET}:user::"), r).starts


def test_registration_refusals() -> None:
    v = verdict(td("/app/db", role=None), None)
    assert not v.starts and v.at_registration and "must also specify a value for 'executionRoleArn'" in v.reason
    big = td("/app/db")
    big["containerDefinitions"][0]["environment"] = [{"name": f"V{i}", "value": "x" * 100} for i in range(700)]
    v = verdict(big, role())
    assert v.at_registration and v.reason.startswith("ClientException: Actual task definition size")


def test_role_missing_or_untrusted() -> None:
    assert "ECS was unable to assume the role" in verdict(td("/a"), RoleView(ROLE, False)).reason
    assert "ECS was unable to assume the role" in verdict(td("/a"), role(trust={"Statement": []})).reason


def test_ssm_denied_missing_and_kms() -> None:
    v = verdict(td("/app/db"), role())
    assert v.reason.startswith(SSM_PREFIX + "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/exec/")
    assert "because no identity-based policy allows the ssm:GetParameters action" in v.reason
    r = role(allow("ssm:GetParameters", "*"))
    v = verdict(td("/a", "/b"), r, lambda ref: Resolution(False, ref.arn))
    assert v.reason == f"{SSM_PREFIX}invalid ssm parameters: /a /b"
    key = f"arn:aws:kms:{R}:{A}:key/k1"
    v = verdict(td("/a"), r, lambda ref: Resolution(True, ref.arn, key))
    assert f"kms:Decrypt on resource: {key}" in v.reason
    assert verdict(td("/a"), role(allow("ssm:GetParameters", "*"), allow("kms:Decrypt", key)),
                   lambda ref: Resolution(True, ref.arn, key)).starts


def test_asm_cases() -> None:
    r = role(allow("secretsmanager:GetSecretValue", "*"))
    assert "ResourceNotFoundException: Secrets Manager can't find the specified secret." in verdict(
        td(SECRET), r, lambda ref: Resolution(False)).reason
    assert verdict(td(f"{SECRET}:password::"), r).reason == (
        f"{ASM_PREFIX}retrieved secret from Secrets Manager did not contain json key password")
    assert "staging label: AWSPREVIOUS" in verdict(td(f"{SECRET}::AWSPREVIOUS:"), r).reason
    assert "VersionId: v9" in verdict(td(f"{SECRET}:::v9"), r).reason
    key = f"arn:aws:kms:{R}:{A}:key/k1"
    assert "Access to KMS is not allowed" in verdict(td(SECRET), r, lambda ref: Resolution(True, SECRET, key)).reason


def test_json_key_needs_fargate_1_4_0() -> None:
    r = role(allow("secretsmanager:GetSecretValue", "*"))
    t = td(f"{SECRET}:user::", requiresCompatibilities=["FARGATE"])
    assert "1.4.0" in verdict(t, r, launch_type="FARGATE", platform_version="1.3.0").reason
    assert verdict(t, r, launch_type="FARGATE", platform_version="1.4.0").starts
    assert verdict(t, r, launch_type="FARGATE", platform_version="LATEST").starts
    assert verdict(td(f"{SECRET}:user::"), r, launch_type="EC2", platform_version="1.3.0").starts


def test_log_secret_options_count() -> None:
    t = td()
    t["containerDefinitions"][0]["logConfiguration"] = {"logDriver": "splunk", "secretOptions": [
        {"name": "splunk-token", "valueFrom": "/app/splunk"}]}
    assert "ssm:GetParameters" in verdict(t, role()).reason


def test_json_keys_of_keeps_no_value() -> None:
    assert json_keys_of('{"user": "u", "pw": "p"}') == frozenset({"user", "pw"})
    assert json_keys_of("plain") is None and json_keys_of("[1]") is None and json_keys_of(None) is None
