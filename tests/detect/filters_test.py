from __future__ import annotations

from migrate.detect import filters as F


def test_suppressors():
    assert F.is_boolean("Yes") and F.is_boolean("off") and not F.is_boolean("yesterday")
    assert F.is_number("3600") and F.is_number("30s") and F.is_number("512Mi") and not F.is_number("12ab34cd")
    assert F.is_arn("arn:aws:ssm:us-east-1:123456789012:parameter/x") and F.is_arn("arn:aws-cn:s3:::b")
    assert not F.is_arn("arnold")
    assert F.is_cfn_resolve("{{resolve:secretsmanager:x}}") == "secretsmanager" and F.is_cfn_resolve("x") == ""
    assert F.is_file_path("/run/secrets/db") and F.is_file_path("./conf") and not F.is_file_path("p/w")
    assert F.is_ssm_name("/prod/db/password") and F.is_ssm_name("prod/app/db") and not F.is_ssm_name("changeme")
    assert not F.is_ssm_name("aB3/x9Qz/Kk2")
    assert F.is_hex_digest("a" * 40) and F.is_hex_digest("sha256:" + "0" * 64) and not F.is_hex_digest("xyz")
    assert F.is_uuid("0f8fad5b-d9cb-469f-a165-70867728950e")
    assert F.is_hostname("db.internal") and F.is_hostname("10.0.0.1:5432") and not F.is_hostname("hunter2")
    assert F.is_public_key("pk_live_abc") and F.is_public_key("ssh-rsa AAAAB3Nza") and not F.is_public_key("sk_live_x")


def test_placeholders():
    for v in ("${X}", "${X:-y}", "$X", "{{ x }}", "<token>", "****", "xxxx", "TODO", "TODO: fill", "@@X@@",
              "__X__", "%(x)s", "null", "N/A"):
        assert F.is_placeholder(v), v
    for v in ("changeme", "password", "hunter2", "s3cr3t", "admin"):
        assert not F.is_placeholder(v), v


def test_evidence():
    assert F.url_credentials_evidence("postgres://u:p4ss@h/db") == "value:url-credentials"
    assert F.url_credentials_evidence("redis://:p4ss@h:6379") == "value:url-credentials"
    assert F.url_credentials_evidence("postgres://u:${PW}@h/db") == "value:url-templated-password"
    assert F.url_credentials_evidence("https://example.com/a@b") == ""
    assert F.url_userinfo_evidence("https://abc@sentry.io/1")
    assert F.private_key_evidence("-----BEGIN OPENSSH PRIVATE KEY-----\nabc") == "value:private-key"
    assert F.private_key_evidence("-----BEGIN PUBLIC KEY-----") == ""
    assert F.provider_evidence("AKIAIOSFODNN7EXAMPLE") == "value:aws-access-key-id"
    assert F.provider_evidence("token ghp_" + "a" * 36) == "value:github-token"
    assert F.provider_evidence("pk_live_" + "a" * 24) == ""
    assert F.provider_evidence("plain text value") == ""
    secret_name = lambda k: k.lower().endswith("password")  # noqa: E731
    assert F.embedded_evidence("-Ddb.password=hunter22", secret_name) == "value:embedded-secret"
    assert F.embedded_evidence("-Ddb.password=${PW}", secret_name) == ""
    assert F.embedded_evidence("Server=x;Password=abc123;", secret_name) == "value:embedded-secret"
    assert F.embedded_evidence("-Xmx1g", secret_name) == ""


def test_entropy():
    assert F.shannon_entropy("") == 0.0 and F.shannon_entropy("aaaa") == 0.0
    assert F.is_random_looking("Zx9Qw8Er7Ty6Ui5Op4As") and not F.is_random_looking("this-is-my-password")
