from __future__ import annotations

import pytest

from migrate.config import Config, Rule
from migrate.detect.engine import classify, classify_one
from migrate.model import Confidence, Entry, SecretValue, ValueKind, Verdict

HEX40 = "3f9a1c2b7d4e5f60718293a4b5c6d7e8f9012345"


def entry(name: str, value: str | None, kind: ValueKind = ValueKind.LITERAL, **kw) -> Entry:
    return Entry(path="td.json", line=1, unit="app", location="environment", name=name,
                 value=None if value is None else SecretValue(value), value_kind=kind,
                 pointer=f"/env/{name}", **kw)


def verdict(name: str, value: str | None, kind: ValueKind = ValueKind.LITERAL) -> Verdict:
    return classify_one(entry(name, value, kind)).verdict


FALSE_POSITIVE_TRAPS = [
    ("MONKEY", "banana"), ("TOKENIZER", "bert-base-uncased"), ("KEYCLOAK_REALM", "acme"), ("AUTHOR", "jane"),
    ("PASSWORD_MIN_LENGTH", "12"), ("TOKEN_TTL", "3600"), ("BUILD_SHA", HEX40), ("GIT_COMMIT", HEX40),
    ("DB_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"),
    ("DB_SECRET_NAME", "prod/db"), ("DB_PASSWORD_PARAM", "/prod/db/password"),
    ("STRIPE_PUBLISHABLE_KEY", "pk_live_51HxYzAbCdEfGhIjKlMnOpQr"), ("STRIPE_KEY", "pk_live_51HxYzAbCdEfGhIjKlMnOp"),
    ("JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZI\n-----END PUBLIC KEY-----"),
    ("RECAPTCHA_SITE_KEY", "6LcA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvWxYz_"),
    ("NEXT_PUBLIC_STRIPE_KEY", "pk_live_abcdefghijklmnop1234"),
    ("MYSQL_ALLOW_EMPTY_PASSWORD", "yes"), ("MYSQL_RANDOM_ROOT_PASSWORD", "yes"), ("USE_SECRETS_MANAGER", "true"),
    ("PASSWORD_FILE", "/run/secrets/db"), ("DB_PASSWORD", "/run/secrets/db_password"),
    ("API_URL", "https://api.example.com/v1"), ("TOKEN_URL", "https://auth.example.com/oauth/token"),
    ("DB_USER", "app"), ("DB_HOST", "db.internal"), ("PORT", "8080"), ("AWS_REGION", "eu-west-1"),
    ("LOG_LEVEL", "debug"), ("API_KEY_HEADER", "X-Api-Key"), ("KMS_KEY_ID", "alias/app"),
    ("CACHE_KEY_PREFIX", "app:v2:"), ("S3_KEY", "uploads/avatars"), ("OAUTH_CLIENT_ID", "web-app"),
    ("AUTH_ENABLED", "true"), ("AUTH_URL", "https://auth.example.com"), ("POSTGRES_HOST_AUTH_METHOD", "trust"),
    ("TWILIO_ACCOUNT_SID", "AC" + "0123456789abcdef" * 2), ("REQUEST_ID", "0f8fad5b-d9cb-469f-a165-70867728950e"),
    ("IMAGE_DIGEST", "sha256:" + "ab" * 32), ("SENTRY_DSN", "https://o123.ingest.sentry.io/42"),
    ("REDIS_URL", "redis://cache:6379/0"), ("SECRET_KEY", "x"), ("GOOGLE_APPLICATION_CREDENTIALS", "/etc/gcp/sa.json"),
    ("DATABASE_URL", "postgres://app:<password>@db/app"), ("FEATURE_FLAGS", "a,b,c"),
    ("JAVA_OPTS", "-Xmx512m -Dtoken.ttl=3600 -Dfile.encoding=UTF-8"), ("SECRETARY_EMAIL", "desk@example.com"),
    ("BYPASS_CACHE", "1"), ("SESSION_TIMEOUT", "1800"), ("PASSWORD_RESET_URL", "https://x.example.com/reset"),
]


@pytest.mark.parametrize(("name", "value"), FALSE_POSITIVE_TRAPS)
def test_false_positive_traps(name, value):
    f = classify_one(entry(name, value))
    assert f.verdict is Verdict.NOT_SECRET, f.reasons
    assert not f.migratable


TRUE_POSITIVES = [
    ("AUTH_TOKEN", "tok_123456"), ("SENTRY_DSN", "https://abc123def456@o123.ingest.sentry.io/42"),
    ("DATABASE_URL", "postgres://app:s3cr3t@db:5432/app"), ("REDIS_URL", "redis://:hunter2@cache:6379/0"),
    ("JAVA_OPTS", "-Xmx512m -Ddb.password=hunter22 -Dfoo=bar"), ("DB_PASSWORD", "changeme"),
    ("PGPASSWORD", "postgres"), ("MYSQL_PWD", "root-pw"), ("HTTP_Passwd", "fluent-pass"), ("dbPassword", "pw-1234"),
    ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("splunk-token", "1CB2A3F4-5D6E-4F80-9A1B-2C3D4E5F6A7B"), ("apikey", "0123456789abcdef0123456789abcdef"),
    ("license_key", "0123456789abcdef0123456789abcdef0123NRAL"), ("SECRET_KEY_BASE", "ab12" * 32),
    ("RAILS_MASTER_KEY", "0123456789abcdef0123456789abcdef"), ("CLIENT_SECRET", "s3cret-value"),
    ("GITHUB_TOKEN", "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"), ("X", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("PAYMENT", "sk_live_" + "AbCdEf0123456789AbCd"), ("MAIL", "SG.abcdefghijABCDEFGHIJ12.abcdefghijABCDEFGHIJ1234567890abcdefghijklm"),
    ("SOMETHING", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("CONN", "Server=tcp:db,1433;Database=app;User ID=app;Password=Pa55word!;"),
    ("STORAGE", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + "A" * 20 + "b" * 20 + "9" * 20 + "=="),
    ("ALERT_URL", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
    ("TLS_KEY", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"),
    ("ECS_ENGINE_AUTH_DATA", '{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz","email":"a@b.c"}}'),
    ("PASSWORD_SALT", "pepper-and-salt"), ("API_KEYS", "k1-abcdef,k2-ghijkl"), ("KEY", "Zx9Qw8Er7Ty6Ui5Op4As"),
    ("UPSTREAM_AUTH", "Basic YWRtaW46cGFzc3dvcmQ="), ("REDIS_PASSWORD", "123456"),
    ("AWS_SECRET_ACCESS_KEY", "/9xKq2Lm4Np6Rs8Tu0Vw1Yz3Ab5Cd7Ef9Gh1Ij3K"), ("ENCRYPTION_KEY", "Ab3dEf6h/Jk9mN2pQr5t/Vw8yZ1bCd4f"),
]


@pytest.mark.parametrize(("name", "value"), TRUE_POSITIVES)
def test_true_positives(name, value):
    f = classify_one(entry(name, value))
    assert f.verdict is Verdict.SECRET, f.reasons
    assert f.migratable


def test_non_literal_secret_names_are_secret_but_not_migratable():
    for kind, value in ((ValueKind.EMPTY, None), (ValueKind.INTERPOLATED, None), (ValueKind.TEMPLATED, "{{ x }}")):
        f = classify_one(entry("DB_PASSWORD", value, kind))
        assert f.verdict is Verdict.SECRET and not f.migratable and f.why_not
    f = classify_one(entry("LOG_LEVEL", None, ValueKind.INTERPOLATED))
    assert f.verdict is Verdict.NOT_SECRET


@pytest.mark.parametrize("value", ["${DB_PASSWORD}", "$DB_PASSWORD", "{{ db_password }}", "<your-password>",
                                   "********", "xxx", "TODO", "__DB_PASSWORD__"])
def test_placeholders_become_templated(value):
    f = classify_one(entry("DB_PASSWORD", value))
    assert f.entry.value_kind is ValueKind.TEMPLATED
    assert f.verdict is Verdict.SECRET and not f.migratable


def test_references_are_downgraded():
    f = classify_one(entry("DB_PASSWORD", "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db"))
    assert f.entry.value_kind is ValueKind.REFERENCE and f.verdict is Verdict.NOT_SECRET
    f = classify_one(entry("DB_SECRET_NAME", "prod/app/db"))
    assert f.entry.value_kind is ValueKind.REFERENCE
    f = classify_one(entry("DB_PASSWORD", "{{resolve:secretsmanager:prod/db:SecretString:password}}",
                           resolves_to="prod/db"))
    assert f.entry.value_kind is ValueKind.REFERENCE and f.verdict is Verdict.SECRET and f.migratable
    f = classify_one(entry("DB_PASSWORD", "{{resolve:secretsmanager:prod/db:SecretString:password}}"))
    assert f.verdict is Verdict.SECRET and not f.migratable


def test_managed_unrestorable_and_config():
    f = classify_one(entry("DB_PASSWORD", None, ValueKind.REFERENCE, managed=True))
    assert f.verdict is Verdict.NOT_SECRET and f.reasons == ("already-managed",)
    f = classify_one(entry("DB_PASSWORD", "changeme", restorable=False))
    assert f.verdict is Verdict.SECRET and not f.migratable and "byte" in f.why_not
    cfg = Config(ignore=(Rule("ignore", name="DB_*"),), force=(Rule("force", name="LOG_LEVEL"),))
    fs = classify([entry("DB_PASSWORD", "changeme"), entry("LOG_LEVEL", "debug")], cfg)
    assert [f.verdict for f in fs] == [Verdict.NOT_SECRET, Verdict.SECRET]
    assert fs[0].reasons == ("config:ignore",) and fs[1].reasons == ("config:force",)
    assert fs[1].migratable


def test_confidence_levels():
    assert classify_one(entry("DB_PASSWORD", "Zx9Qw8Er7Ty6Ui5Op4As")).confidence is Confidence.HIGH
    assert classify_one(entry("DB_PASSWORD", "changeme")).confidence is Confidence.MEDIUM
    f = classify_one(entry("BLOB", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A="))
    assert f.verdict is Verdict.SECRET and f.confidence is Confidence.LOW
    assert any(r.startswith("ds:") for r in f.reasons)


def test_findings_never_carry_the_value():
    secret = "Sup3r-S3cret-Value-42"
    fs = classify([entry(n, v) for n, v in TRUE_POSITIVES + [("DB_PASSWORD", secret)]])
    for f in fs:
        text = repr(f) + " ".join(f.reasons) + f.why_not
        assert secret not in text
        assert f.entry.value.reveal() not in " ".join(f.reasons)
    assert len(fs) == len(TRUE_POSITIVES) + 1 and [f.entry.name for f in fs][-1] == "DB_PASSWORD"


def test_detect_secrets_settings_are_restored():
    from detect_secrets.settings import get_settings

    before = [type(p).__name__ for p in get_settings().plugins.values()] if hasattr(get_settings(), "plugins") else None
    classify([entry("BLOB", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=")])
    after = [type(p).__name__ for p in get_settings().plugins.values()] if hasattr(get_settings(), "plugins") else None
    assert before == after
