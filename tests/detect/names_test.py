from __future__ import annotations

import pytest

from migrate.detect.names import NEUTRAL, SAFE, STRONG, WEAK, analyze_name, split_words


def test_split_words():
    assert split_words("HTTP_Passwd") == ("http", "passwd")
    assert split_words("dbPassword") == ("db", "password")
    assert split_words("APIKey") == ("api", "key")
    assert split_words("splunk-token") == ("splunk", "token")
    assert split_words("tls.key") == ("tls", "key")


@pytest.mark.parametrize(("name", "kind", "keyword"), [
    ("DB_PASSWORD", STRONG, "password"), ("PGPASSWORD", STRONG, "password"), ("MYSQL_PWD", STRONG, "password"),
    ("SMTP_PASS", STRONG, "password"), ("JWT_SECRET", STRONG, "secret"), ("GITHUB_TOKEN", STRONG, "token"),
    ("apikey", STRONG, "api-key"), ("X_API_KEY", STRONG, "api-key"), ("license_key", STRONG, "license-key"),
    ("AWS_SECRET_ACCESS_KEY", STRONG, "access-key"), ("PRIVATE_KEY", STRONG, "private-key"),
    ("GOOGLE_CREDENTIALS", STRONG, "credentials"), ("PASSWORD_SALT", STRONG, "salt"),
    ("SECRET_KEY_BASE", STRONG, "secret-key"), ("ECS_ENGINE_AUTH_DATA", STRONG, "auth"),
    ("STRIPE_KEY", WEAK, "key"), ("AUTH", WEAK, "auth"), ("SENTRY_DSN", WEAK, "dsn"),
    ("PASSWORD_MIN_LENGTH", SAFE, "password"), ("TOKEN_TTL", SAFE, "token"), ("DB_SECRET_ARN", SAFE, "secret"),
    ("MYSQL_ALLOW_EMPTY_PASSWORD", SAFE, "password"), ("PUBLIC_KEY", SAFE, "key"), ("NEXT_PUBLIC_API_KEY", SAFE, "api-key"),
    ("AWS_ACCESS_KEY_ID", SAFE, "access-key"),
    ("MONKEY", NEUTRAL, ""), ("TOKENIZER", NEUTRAL, ""), ("KEYCLOAK_REALM", NEUTRAL, ""), ("AUTHOR", NEUTRAL, ""),
    ("BYPASS", NEUTRAL, ""), ("COMPASS_URL", NEUTRAL, ""), ("SECRETARY", NEUTRAL, ""),
])
def test_analyze_name(name, kind, keyword):
    info = analyze_name(name)
    assert (info.kind, info.keyword) == (kind, keyword)
