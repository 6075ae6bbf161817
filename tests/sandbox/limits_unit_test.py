"""limits.py as pure functions (the planner will reuse them)."""

from __future__ import annotations

from migrate.sandbox import limits as L


def test_policy_chars_skip_whitespace() -> None:
    assert L.policy_chars('{ "a" :\n\t"b" }') == 9


def test_inline_policies_total() -> None:
    a = "x" * 6000
    assert L.check_role_inline_policies("r", {"a": a}, "a", "y" * 10_240) is None  # replaces "a"
    err = L.check_role_inline_policies("r", {"a": a}, "b", "y" * 4241)
    assert err is not None and (err.code, err.status) == ("LimitExceeded", 409)
    assert str(err) == "LimitExceeded: Maximum policy size of 10240 bytes exceeded for role r"
    assert L.check_role_inline_policies("r", {"a": a}, "b", "y" * 4240) is None


def test_managed_policy_and_attachments() -> None:
    assert L.check_managed_policy_size("x" * 6144) is None
    assert L.check_managed_policy_size("x" * 6145) == L.AwsError("LimitExceeded", "Cannot exceed quota for PolicySize: 6144", 409)
    ten = [f"arn:p{i}" for i in range(10)]
    assert L.check_attach_role_policy(ten, "arn:p0") is None
    assert L.check_attach_role_policy(ten[:9], "arn:new") is None
    err = L.check_attach_role_policy(ten, "arn:new")
    assert err is not None and err.message == "Cannot exceed quota for PoliciesPerRole: 10"
    assert L.check_attach_role_policy(ten, "arn:new", L.Quotas(managed_policies_per_role=20)) is None


def test_task_definition_size_and_rules() -> None:
    small = {"family": "f", "containerDefinitions": [{"name": "a"}]}
    assert L.check_task_definition_size(small) is None
    big = {"family": "f", "containerDefinitions": [{"name": "a", "image": "x" * 70_000}]}
    err = L.check_task_definition_size(big)
    assert err is not None and err.code == "ClientException"
    dup = {"executionRoleArn": "r", "containerDefinitions": [{"secrets": [{"name": "A", "valueFrom": "/a"}] * 2}]}
    assert (err := L.check_task_definition_rules(dup)) is not None and "Duplicate secret names found: A." in err.message
    sel = {"executionRoleArn": "r", "containerDefinitions": [{"secrets": [{"name": "A", "valueFrom": "/a:3"}]}]}
    assert (err := L.check_task_definition_rules(sel)) is not None and "parameter name specified for secret A" in err.message
    log = {"containerDefinitions": [{"logConfiguration": {"secretOptions": [{"name": "t", "valueFrom": "/a"}]}}]}
    assert (err := L.check_task_definition_rules(log)) is not None and "executionRoleArn" in err.message
    arn = {"executionRoleArn": "r", "containerDefinitions": [{"secrets": [
        {"name": "A", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf:k::"}]}]}
    assert L.check_task_definition_rules(arn) is None


def test_ssm_names() -> None:
    assert L.check_ssm_name("/app/db") is None and L.check_ssm_name("db.name-1_x") is None
    for bad in ("/app/db x", "aws-thing", "/ssm/x", "/AWS/x", "/a//b", "/a/é"):
        err = L.check_ssm_name(bad)
        assert err is not None and err.code == "ValidationException", bad
    assert (err := L.check_ssm_name("a/b")) is not None and "fully qualified" in err.message
    assert L.check_ssm_name("/" + "/".join("l" * 15)) is None
    err = L.check_ssm_name("/" + "/".join("l" * 16))
    assert err is not None and err.code == "HierarchyLevelLimitExceededException"
    assert L.check_ssm_name("/" + "a" * 1011) is not None


def test_ssm_values_tiers_counts() -> None:
    assert L.check_ssm_value("x" * 4096, None) is None
    assert L.check_ssm_value("x" * 4097, "Standard") is not None
    assert L.check_ssm_value("x" * 8192, "Advanced") is None
    assert L.check_ssm_value("x" * 8193, "Intelligent-Tiering") is not None
    assert L.effective_tier("x" * 4097, "Intelligent-Tiering") == "Advanced"
    assert L.effective_tier("x", "Intelligent-Tiering") == L.effective_tier("x", None) == "Standard"
    assert L.check_ssm_parameter_count(9_999, "Standard") is None
    assert (err := L.check_ssm_parameter_count(10_000, "Standard")) is not None and err.code == "ParameterLimitExceeded"
    assert L.check_ssm_parameter_count(10_000, "Advanced") is None


def test_secrets_manager() -> None:
    assert L.check_secret_value("x" * 65_536) is None
    assert L.check_secret_value("x" * 65_537) is not None
    assert L.check_secret_value("é" * 32_769) is not None  # bytes, not characters
    assert L.check_secret_value(None, "A" * 87_380 + "AA==") is None  # base64 of exactly 65,536 bytes
    assert L.check_secret_value(None, "A" * 87_384) is not None  # 65,538 bytes
    assert L.check_secret_name("app/db+x=y.z@w_-") is None
    assert L.check_secret_name("app db") is not None and L.check_secret_name("a" * 513) is not None
