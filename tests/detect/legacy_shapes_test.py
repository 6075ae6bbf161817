"""Issue 14 (classes 3-5), issue 13 and issue 11: recall on real legacy shapes, public detect-secrets API."""

from __future__ import annotations

import json

import pytest

from migrate.detect import filters as F
from migrate.detect.engine import DS_PLUGINS, _scan, classify, classify_one
from migrate.model import Entry, SecretValue, ValueKind, Verdict


def entry(name: str, value: str | None, kind: ValueKind = ValueKind.LITERAL, unit: str = "app", **kw) -> Entry:
    return Entry(path="td.json", line=1, unit=unit, location="environment", name=name,
                 value=None if value is None else SecretValue(value), value_kind=kind, pointer=f"/env/{name}", **kw)


def _no_value_leak(f) -> None:
    v = f.entry.value.reveal() if f.entry.value is not None else ""
    text = " ".join(f.reasons) + " " + f.why_not
    for part in [v, *v.replace("@", " ").replace(":", " ").replace("=", " ").replace(";", " ").split()]:
        if len(part) >= 4 and "${" not in part and part not in ("postgres", "mysql", "redis", "amqp"):
            assert part not in text, (part, text)


# --- class 3: credentials inside templated strings -------------------------------------------------

TEMPLATED_CREDENTIALS = [
    ("DATABASE_URL", "postgres://${db_user}:${db_password}@${db_host}/app", ValueKind.LITERAL),  # JSON template
    ("ConnectionStrings__Default", "Server=${db_server};User=${db_user};Password=${db_password}", ValueKind.LITERAL),
    ("DB_CONN", "postgresql://${DB_USER}:${DB_PASSWORD}@db:5432/app", ValueKind.TEMPLATED),  # compose
    ("DATABASE_URL", "postgres://app:${DB_PASSWORD}@db/app", ValueKind.LITERAL),  # label flipped by issue 14
    ("MONGO_URL", "mongodb://chat:${MONGO_PASSWORD:-x}@mongo:27017/chat?authSource=admin", ValueKind.TEMPLATED),
    ("BROKER", "redis://:{{ redis_password }}@redis:6379/0", ValueKind.LITERAL),  # Jinja
    ("IDENTITY", "postgresql://$IDENTITY_USER:$IDENTITY_PASSWORD@identity:5432/id", ValueKind.LITERAL),
    ("READ_DSN", "${RO_USER}:${RO_PASSWORD}@tcp(mysql-ro:3306)/app", ValueKind.TEMPLATED),  # Go DSN
    ("METRICS", "pg://metrics:5432?u=${METRICS_USER}&p=${METRICS_PASSWORD}&d=metrics", ValueKind.TEMPLATED),
    ("JAVA_OPTS", "-Xmx1g -Ddb.password=${DB_PASSWORD}", ValueKind.TEMPLATED),
    ("CFN_SUB", "postgres://${DbUser}:${DbPassword}@${DbHost}:5432/app", ValueKind.TEMPLATED),  # CFN !Sub text
]


@pytest.mark.parametrize(("name", "value", "kind"), TEMPLATED_CREDENTIALS)
def test_templated_credentials_are_secrets_not_migratable(name, value, kind):
    f = classify_one(entry(name, value, kind))
    assert f.verdict is Verdict.SECRET, f.reasons
    assert not f.migratable and f.why_not
    assert "value:templated-credentials" in f.reasons
    assert f.entry.value_kind is ValueKind.TEMPLATED
    _no_value_leak(f)


@pytest.mark.parametrize(("name", "value", "kind"), [
    ("AWS_ACCESS_KEY_ID", "${access_key}", ValueKind.LITERAL),  # JSON template
    ("Storage__AccessKeyId", "{{ storage_access_key }}", ValueKind.LITERAL),
    ("AccessKeyId", None, ValueKind.INTERPOLATED),  # CFN !Ref without Default, HCL var.x without value
    ("AWS_ACCESS_KEY_ID", None, ValueKind.INTERPOLATED),  # compose ${AWS_ACCESS_KEY_ID}
    ("AWS_SECRET_ACCESS_KEY", "${secret_key}", ValueKind.LITERAL),
    ("AWS_SECRET_ACCESS_KEY", None, ValueKind.TEMPLATED),  # !GetAtt Key.SecretAccessKey
    ("DB_PASSWORD", None, ValueKind.INTERPOLATED),
])
def test_secret_names_over_iac_references_are_secrets_in_every_format(name, value, kind):
    f = classify_one(entry(name, value, kind))
    assert f.verdict is Verdict.SECRET and not f.migratable and f.why_not, f.reasons


@pytest.mark.parametrize(("name", "value", "kind"), [
    ("DB_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbC123", ValueKind.LITERAL),
    ("DB_PASSWORD_PARAM", "/prod/db/password", ValueKind.LITERAL),
    ("DB_PASSWORD", "/prod/db/password", ValueKind.LITERAL),  # an SSM parameter name used as a reference
    ("DB_HOST", None, ValueKind.INTERPOLATED),  # compose ${DB_HOST} for a whole value
    ("DATABASE_URL", None, ValueKind.INTERPOLATED),
    ("REDIS_URL", "redis://${REDIS_HOST}:6379/0", ValueKind.TEMPLATED),  # templated, but no credential
    ("DATABASE_URL", "postgres://${db_user}@${db_host}/app", ValueKind.LITERAL),  # user only
    ("DATABASE_URL", "postgres://app:<password>@db/app", ValueKind.LITERAL),  # documentation placeholder
    ("APP_URL", "https://${domain}/login?next=${path}", ValueKind.LITERAL),
    ("AWS_ACCESS_KEY_ID_PARAM", "${param}", ValueKind.LITERAL),
])
def test_genuine_references_stay_ignored(name, value, kind):
    f = classify_one(entry(name, value, kind))
    assert f.verdict is Verdict.NOT_SECRET, f.reasons


def test_cfn_dynamic_reference_is_unchanged():
    f = classify_one(entry("DB_PASSWORD", "{{resolve:secretsmanager:prod/db:SecretString:password}}",
                           resolves_to="prod/db"))
    assert f.verdict is Verdict.SECRET and f.migratable and f.entry.value_kind is ValueKind.REFERENCE
    f = classify_one(entry("DB_HOST", "{{resolve:ssm:/prod/db/host}}"))
    assert f.verdict is Verdict.NOT_SECRET


# --- class 4: connection-string shapes ---------------------------------------------------------------

CONNECTION_STRINGS = [
    ("DSN", "root:s3cretPw@tcp(mysql:3306)/app?parseTime=true", "value:dsn-credentials"),
    ("MYSQL_DSN", "app:Pw-9911@unix(/var/run/mysqld/mysqld.sock)/app", "value:dsn-credentials"),
    ("DB_URL", "pg://db:5432?u=postgres&p=secret&d=db", "value:query-credentials"),
    ("REPORTS_URL", "postgres://db:5432/app?sslmode=disable&password=hunter22", "value:query-credentials"),
    ("PG_CONN", "host=db port=5432 user=app password=hunter2 dbname=app", "value:embedded-secret"),
    ("SQLALCHEMY_DATABASE_URI", "postgresql+psycopg2://u:pw-1@h/db", "value:url-credentials"),
    ("BROKER_URL", "amqp://guest:guest@rabbit:5672//", "value:url-credentials"),
    ("CACHE", "redis://:p4ss@h:6379/0", "value:url-credentials"),
    ("MONGO", "mongodb+srv://u:p4ss@cluster0.x.mongodb.net/db", "value:url-credentials"),
    ("JDBC", "jdbc:postgresql://h/db?user=u&password=p4ss", "value:query-credentials"),
    ("CONN", "Server=db;Database=app;User Id=sa;Password=Str0ng!;", "value:embedded-secret"),
    ("DATABASE_DSN", "api:Api-FAKE-pass9@tcp(mysql:3306)/goapp", "value:dsn-credentials"),  # weak DSN name
    ("BUILD_REF", "postgres://ci:Ci-pass-771@db/app", "value:url-credentials"),  # id hint never suppresses a URL
]


@pytest.mark.parametrize(("name", "value", "reason"), CONNECTION_STRINGS)
def test_connection_strings_with_passwords_are_secrets(name, value, reason):
    f = classify_one(entry(name, value))
    assert f.verdict is Verdict.SECRET and f.migratable, f.reasons
    assert reason in f.reasons
    _no_value_leak(f)


@pytest.mark.parametrize(("name", "value"), [
    ("DATABASE_URL", "postgres://user@host/db"), ("REDIS_URL", "redis://host:6379"),
    ("DB_DSN", "mysql://root@mariadb:3306/app"), ("REPLICA_DSN", "ledger_ro@tcp(mysql-ro:3306)/ledger"),
    ("PG_PARAMS", "pg://pg:5432?page=2&p=3"), ("MONGO_RO", "mongodb+srv://cluster0.ab1cd.mongodb.net/reports"),
    ("CONN", "Server=reporting;Database=rpt;Integrated Security=True;"),
    ("ANALYTICS_URL", "https://analytics.example.com/api/v2/collect?site=3f9a1c2b7d4e5f60718293a4b5c6d7e8f9012345"),
])
def test_urls_without_password_are_not_secrets(name, value):
    f = classify_one(entry(name, value))
    assert f.verdict is Verdict.NOT_SECRET, f.reasons
    assert "filter:id-or-digest" not in f.reasons  # the digest/identifier filter never explains a URL or DSN


def test_sentry_style_dsn_still_counts_the_user_part():
    f = classify_one(entry("SENTRY_DSN", "https://abc123def456@o123.ingest.sentry.io/42"))
    assert f.verdict is Verdict.SECRET


# --- class 5: known secret names with empty values -------------------------------------------------

@pytest.mark.parametrize("name", ["FERNET_KEY", "AIRFLOW__CORE__FERNET_KEY", "SECRET_KEY_BASE", "APP_KEY",
                                  "DJANGO_SECRET_KEY", "JWT_SECRET", "RAILS_MASTER_KEY", "NEXTAUTH_SECRET",
                                  "WORDPRESS_NONCE_KEY", "Jwt__SigningKey", "ENCRYPTION_KEY"])
@pytest.mark.parametrize("kind", [ValueKind.LITERAL, ValueKind.EMPTY])
def test_known_secret_names_with_empty_values(name, kind):
    f = classify_one(entry(name, "" if kind is ValueKind.LITERAL else None, kind))
    assert f.verdict is Verdict.SECRET, f.reasons
    assert f.entry.value_kind is ValueKind.EMPTY and not f.migratable and f.why_not


@pytest.mark.parametrize("name", ["CACHE_KEY", "S3_KEY", "LOG_LEVEL", "DATABASE_URL", "SORT_KEY"])
def test_other_empty_values_stay_not_secret(name):
    assert classify_one(entry(name, "")).verdict is Verdict.NOT_SECRET


# --- issue 13: a weak password equal to an identifier of its own definition ------------------------

@pytest.mark.parametrize(("name", "value", "unit", "ident"), [
    ("MYSQL_PASSWORD", "photoprism", "photoprism", "identifier:unit-name"),
    ("PHOTOPRISM_DATABASE_PASSWORD", "PhotoPrism", "photoprism", "identifier:unit-name"),
    ("SMTP_PASSWORD", "erp_api", "erp-api", "identifier:unit-name"),
    ("DB_PASS", "DB_PASS", "backup", "identifier:variable-name"),
    ("ADMIN_PASSWORD", "admin_password", "app", "identifier:variable-name"),
    ("POSTGRES_PASSWORD", "db", "db", "identifier:unit-name"),  # short, but still the service name
    ("RABBITMQ_DEFAULT_PASS", "rabbitmq", "rabbitmq", "identifier:unit-name"),
])
def test_password_equal_to_an_identifier_is_a_secret(name, value, unit, ident):
    f = classify_one(entry(name, value, unit=unit))
    assert f.verdict is Verdict.SECRET and f.migratable, f.reasons
    assert "value:equals-identifier" in f.reasons and ident in f.reasons
    _no_value_leak(f)


def test_identifier_matches_other_units_and_group():
    f = classify_one(entry("DB_PASSWORD", "billing", unit="api", units=("api", "billing"), group="shop"))
    assert "value:equals-identifier" in f.reasons
    f = classify_one(entry("DB_PASSWORD", "shop", unit="api", group="shop"))
    assert f.reasons[-1] == "identifier:group-name"
    f = classify_one(entry("ALLOW_EMPTY_PASSWORD", "yes", unit="yes"))  # switches stay switches
    assert f.verdict is Verdict.NOT_SECRET


# --- issue 11: public detect-secrets API ----------------------------------------------------------

DS_LINES = [
    ("DB_PASSWORD", "changeme"), ("BLOB", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A="),
    ("BUILD_SHA", "3f9a1c2b7d4e5f60718293a4b5c6d7e8f9012345"), ("LOG_LEVEL", "debug"),
    ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), ("API_KEY", "0f8fad5b-d9cb-469f-a165-70867728950e"),
    ("OAUTH_CLIENT_ID", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A"), ("DATABASE_URL", "postgres://u:p4ss@host/db"),
    ("DB_PASSWORD", "${DB_PASSWORD}"), ("X", "abcdefgh"), ("TOKEN", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz"),
    ("PW", 'pa"ss  # pragma: allowlist secret'),
]


def test_public_scan_matches_detect_secrets_file_scan():
    """The engine's scan (public names only) reports what detect-secrets' own line-based file scan reports."""
    try:
        from detect_secrets.core.scan import _process_line_based_plugins as private_scan
    except ImportError:  # pragma: no cover - the private function is gone: nothing to compare with
        pytest.skip("detect-secrets no longer has the private line scanner")
    from detect_secrets.settings import transient_settings

    with transient_settings({"plugins_used": [{"name": n} for n in DS_PLUGINS]}):
        for name, value in DS_LINES:
            line = f"{name}={json.dumps(value)}"
            expected = sorted({s.type for s in private_scan([(1, line)], filename="env.yaml")})
            assert sorted(set(_scan(line, "env.yaml"))) == expected, line


def test_engine_imports_no_private_detect_secrets_name():
    import inspect

    from migrate.detect import engine

    src = inspect.getsource(engine)
    assert "_process_line_based_plugins" not in src
    assert "import _" not in src and ", _" not in src.split("detect_secrets", 1)[1].split("\n")[0]


def test_verification_is_never_enabled_and_settings_are_restored():
    import contextlib

    from detect_secrets.settings import get_settings

    from migrate.detect import engine

    verify = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"
    before = sorted(get_settings().filters)
    with contextlib.ExitStack() as stack:
        plugins = engine._Plugins(stack)
        assert plugins.fired("KEY", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=")
        assert verify not in get_settings().filters

    assert sorted(get_settings().filters) == before


def test_filters_mask_templates_without_touching_literals():
    assert F.has_template_expression("a${b}c") and F.has_template_expression("{{ x }}")
    assert F.has_template_expression("$DB_PASSWORD") and F.has_template_expression("%(password)s")
    assert not F.has_template_expression("p4$$-word!") and not F.has_template_expression("<password>")
    assert F.mask_templates("plain-text") == "plain-text"
    is_pw = lambda k: "password" in k.lower()  # noqa: E731
    assert F.credential_evidence("postgres://u:<password>@h/db", is_pw) == ""
    assert F.credential_evidence("postgres://u:${P}@h/db", is_pw) == "value:templated-credentials"
    assert F.credential_evidence("postgres://${U}:lit3ral-pw@h/db", is_pw) == "value:url-credentials"
    assert F.embedded_evidence("Password=abc${x};", is_pw) == ""  # part literal, part template: not plaintext


# --- the same shapes through the real sources: JSON template, compose, CloudFormation, HCL --------

_ECS_TEMPLATE = """{"family": "t", "containerDefinitions": [{"name": "web", "image": "x", "environment": [
  {"name": "AWS_ACCESS_KEY_ID", "value": "${access_key}"},
  {"name": "DATABASE_URL", "value": "postgres://${db_user}:${db_password}@${db_host}/app"},
  {"name": "DB_HOST", "value": "${db_host}"}]}]}
"""
_COMPOSE = """services:
  web:
    image: x
    environment:
      AWS_ACCESS_KEY_ID: ${AWS_ACCESS_KEY_ID}
      DATABASE_URL: postgresql://${DB_USER}:${DB_PASSWORD}@db:5432/app
      DB_HOST: ${DB_HOST}
"""
_CFN = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  AccessKey: {Type: String}
  DbPassword: {Type: String, NoEcho: true}
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: web
          Image: x
          Environment:
            - {Name: AWS_ACCESS_KEY_ID, Value: !Ref AccessKey}
            - {Name: DATABASE_URL, Value: !Sub "postgres://app:${DbPassword}@db.internal/app"}
            - {Name: DB_HOST, Value: !Ref DbHostParam}
"""
_HCL = """variable "access_key" { type = string }
variable "db_password" { type = string }
variable "db_host" { type = string }
resource "aws_ecs_task_definition" "t" {
  family = "t"
  container_definitions = jsonencode([{
    name = "web"
    image = "x"
    environment = [
      { name = "AWS_ACCESS_KEY_ID", value = var.access_key },
      { name = "DB_PASSWORD", value = var.db_password },
      { name = "DB_HOST", value = var.db_host },
    ]
  }])
}
"""


@pytest.mark.parametrize(("filename", "text"), [
    ("taskdef.json", _ECS_TEMPLATE), ("compose.yaml", _COMPOSE), ("template.yaml", _CFN), ("main.tf", _HCL),
])
def test_secret_names_and_templated_credentials_agree_across_formats(tmp_path, filename, text):
    from migrate.sources.walk import scan_paths

    (tmp_path / filename).write_text(text, encoding="utf-8")
    res = scan_paths([str(tmp_path)])
    entries = [e for lf in res.loaded for e in lf.entries]
    assert entries, [(f.path, f.status, f.reason) for f in res.files]
    verdicts = {f.entry.name: f for f in classify(entries)}
    assert verdicts["AWS_ACCESS_KEY_ID"].is_secret and not verdicts["AWS_ACCESS_KEY_ID"].migratable
    cred = verdicts.get("DATABASE_URL") or verdicts["DB_PASSWORD"]
    assert cred.is_secret and not cred.migratable and cred.why_not
    assert not verdicts["DB_HOST"].is_secret
    for f in verdicts.values():
        _no_value_leak(f)
