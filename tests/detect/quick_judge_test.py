"""The scan's shortcuts change nothing but speed.

* The plain-value shortcut of the judge (:func:`migrate.detect.engine._judge_plain`) gives the judgement
  of the full path for every plain value, under every kind of name.
* A streaming scan that judges task definitions from (name, value) pairs and builds an Entry only for
  what it reports gives the findings of the full path (every entry built, then ``classify``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import random
import string
from pathlib import Path
from typing import Any

from migrate.commands.common import scan
from migrate.detect import engine as E
from migrate.detect import filters as F
from migrate.model import ValueKind

ROOT = Path(__file__).resolve().parents[2]

NAMES = [
    "DB_PASSWORD", "MYSQL_PASSWORD", "API_KEY", "STRIPE_KEY", "JWT_SECRET", "AUTH_TOKEN", "SMTP_PASS",
    "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "CLIENT_SECRET", "ENCRYPTION_KEY", "GITHUB_TOKEN",
    "SENTRY_DSN", "AUTH", "KEY", "CACHE_KEY", "PUBLIC_KEY", "PASSWORD_MIN_LENGTH", "DB_SECRET_ARN",
    "DB_SECRET_NAME", "TOKEN_TTL", "API_KEY_HEADER", "PORT", "HOST", "LOG_LEVEL", "GIT_SHA", "IMAGE_TAG",
    "INSTANCE_ID", "BUCKET", "NODE_ENV", "OPTS", "SOME_VALUE", "app", "api-key", "shop",
]

_PLAIN_CHARS = string.ascii_letters + string.digits + "._-"


def _plain_values(rng: random.Random) -> list[str]:
    fixed = [
        "x", "xx", "xxx", "XXXX", "...", ".", "-", "_", "--", "__X__", "__SECRET__", "TODO", "todo-later", "TBD",
        "FIXME", "REDACTED", "masked", "HIDDEN", "SET_ME", "setme", "REPLACE_ME", "replaceme", "TO_BE_SET", "NA", "na",
        "none", "None", "NULL", "nil", "undefined", "unset", "empty", "true", "false", "yes", "0", "1", "8080",
        "30s", "512Mi", "1.5", "123456", "12345678", "info", "production", "us-east-1", "shop", "app", "api-key",
        "pk_live_" + "a1B2" * 6, "pk_test_abcdefghijklmnop", "sk_live_" + "Zx9" * 8, "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a1B2c3D4e5" * 4, "glpat-" + "x1Y2z3" * 4, "xoxb-1234567890-abcdefghij", "SG.abcdefghijklmnop.qrstuvwxyzabcdef",
        "AIza" + "B" * 35, "dapi" + "0123456789abcdef" * 2, "hf_" + "aB3" * 11, "key-" + "0123456789abcdef" * 2,
        "0123456789abcdef0123456789abcdef-us12", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijklmnop",
        "deadbeefcafe", "deadbeefcafe0123456789abcdef012345678901", "123e4567-e89b-12d3-a456-426614174000",
        "payments-a1b2.internal", "acme-payments-abc123", "db.example.com", "localhost", "10.0.0.1",
        "Pq8-0001-zv7LmN2", "s3cr3tP4ssw0rdXyZ", "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7", "A" * 40, "a1" * 20,
        "x" * 16, "Xx" * 12, "1234567890123456789012345",
    ]
    out = list(fixed)
    for _ in range(3000):
        n = rng.choice([1, 2, 3, 5, 8, 12, 15, 16, 19, 20, 23, 24, 32, 40, 44, 60])
        out.append("".join(rng.choice(_PLAIN_CHARS) for _ in range(n)))
    return out


def _other_values(rng: random.Random) -> list[str]:
    """URLs (the URL shortcut), ARNs (the ARN shortcut) and values no shortcut takes."""
    fixed = [
        "https://api.example.com/v1", "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "https://discord.com/api/webhooks/123/abcdefghijklmnop", "redis://cache.internal:6379/0", "http://a",
        "https://sqs.us-east-1.amazonaws.com/123456789012/q-1a2b", "TODO://later", "NA://x", "none://x",
        "http://x-secret:abcd1234/path", "http://host/-Ddb.password:hunter22", "https://my-token.host:8080/x",
        "s3://bucket/key", "file:///etc/passwd", "jdbc:postgresql://db:5432/app", "git+ssh://git@github.com/x",
        "postgres://app:s3cret@db/app", "postgres://app@db/app", "https://k@o1.ingest.sentry.io/1",
        "https://x/?token=abc", "https://x/${PATH}", "ftp://AKIAIOSFODNN7EXAMPLE/x", "https://ghp_" + "a1B2" * 9,
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf", "ARN:AWS:S3:::bucket",
        "arn:aws-cn:iam::123456789012:role/x", "arn:aws:ssm:us-east-1:1:parameter/p", "arn:", "arn:x", "arn:aws",
        "arn:aws:", "arn:aws:s3", " arn:aws:s3:::b ", "-XX:MaxRAMPercentage=75 -Dfile.encoding=UTF-8",
        "-Xmx1g -Ddb.user=app -Ddb.password=abc123xyz", "Server=h;Password=p4ss;", "u:p@tcp(h:3306)/db",
        "{{resolve:secretsmanager:x}}", "${DB_PASSWORD}", "$X", "<password>", "****", "a b c", "key=value",
        "-----BEGIN RSA PRIVATE KEY-----\nabc", "ssh-rsa AAAAB3Nza", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx.c2lnbmF0dXJl",
    ]
    url_chars = string.ascii_letters + string.digits + "._~:/-"
    out = list(fixed)
    for _ in range(1500):
        scheme = rng.choice(["http", "https", "redis", "s3", "amqp", "x+y", "TODO", "sk"])
        out.append(scheme + "://" + "".join(rng.choice(url_chars) for _ in range(rng.randrange(0, 50))))
        service = rng.choice(["s3", "iam", "secretsmanager", "ssm", "x-y", "", "S3"])
        out.append(f"{rng.choice(['arn', 'ARN'])}:aws:{service}:" + "".join(rng.choice(url_chars + "@?= ")
                                                                          for _ in range(rng.randrange(0, 40))))
    return out


def test_plain_shortcut_equals_the_full_path() -> None:
    rng = random.Random(7)
    values = _plain_values(rng) + _other_values(rng)
    assert sum(1 for v in values if E._URLISH.fullmatch(v)) > 1000  # the shortcuts are taken
    assert sum(1 for v in values if F.is_arn(v)) > 800
    checked = 0
    with contextlib.ExitStack() as stack:
        plugins = E._Plugins(stack)
        for value in values:
            for name in rng.sample(NAMES, 6) + ["DB_PASSWORD", "PORT"]:
                for unit, group in (("app", "shop"), (value, "g"), ("u", value.lower())):
                    subject = E._Subject(name, unit, (unit,), group)
                    quick = E._judge_value(subject, ValueKind.LITERAL, value, plugins)
                    full = E._judge_value(subject, ValueKind.LITERAL, value, plugins, quick=False)
                    assert quick == full, (name, unit, group, checked)
                    checked += 1
    assert checked > 50_000


def test_never_secret_is_never_wrong() -> None:
    rng = random.Random(9)
    skipped = 0
    with contextlib.ExitStack() as stack:
        plugins = E._Plugins(stack)
        for value in _plain_values(rng) + ["", " x ", "a b", "u:p@h", "${X}", "{{x}}", "arn:aws:s3:::b"]:
            for name in NAMES + ["AWS_ACCESS_KEY_ID", "AccessKeyId", "SECRET_NAME"]:
                if E.Judge.never_secret(name, value):
                    skipped += 1
                    for unit in ("app", value):
                        j = E._judge_value(E._Subject(name, unit, (unit,), "g"), ValueKind.LITERAL, value, plugins,
                                           quick=False)
                        assert j.verdict is not E._SECRET, (name, value)
    assert skipped > 10_000
    assert not E.Judge.never_secret("AWS_ACCESS_KEY_ID", "xxx")  # a credential name under a placeholder
    assert not E.Judge.never_secret("DB_PASSWORD", "shop")


def test_shortcut_tests_cover_what_they_skip() -> None:
    """Each check the plain shortcut skips cannot match a plain value; the placeholder pre-test knows
    every first character a plain placeholder can have."""
    rng = random.Random(3)
    for value in _plain_values(rng):
        assert F.credential_evidence(value, E._is_secret_key_name) == ""
        assert not F.is_cfn_resolve(value) and not F.is_arn(value) and not F.url_credentials_evidence(value)
        assert not F.is_file_path(value) and not F.is_email(value) and not F.is_connection_url(value)
        assert not F.is_ssm_name(value) and not F.private_key_evidence(value)
        assert F.is_public_key(value) == value.startswith(E._PUBLISHABLE)
        if F.is_placeholder(value):
            assert value[0] in E._PLACEHOLDER_STARTS, value
    for first in _PLAIN_CHARS:
        if first in E._PLACEHOLDER_STARTS:
            continue
        for rest in ("", "a", "x", "A", "_", "-", ".", "0", "xx", "__", "..", "TODO"):
            assert not F.is_placeholder(first + rest), first + rest


def test_norm_is_the_isalnum_filter() -> None:
    for text in ("MySQL_Password-1", "ÄÖü_ß", "x²³", "٣٤", "İstanbul", "a b\tc", "Ⅻ", "_", ""):
        assert E._norm(text) == "".join(c for c in text.lower() if c.isalnum())


def test_random_looking_by_sets_equals_by_characters() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        v = "".join(rng.choice(_PLAIN_CHARS + "é/+=") for _ in range(rng.choice([12, 16, 20, 24, 30])))
        classes = any(c.islower() for c in v) + any(c.isupper() for c in v) + any(c.isdigit() for c in v)
        slow = (len(v) >= 16 and " " not in v and math_ok(v) and classes >= 2
                and F.shannon_entropy(v) >= (3.0 if len(v) < 24 else 3.5))
        assert F.is_random_looking(v) == slow, v


def math_ok(v: str) -> bool:
    import math

    return math.log2(len(set(v))) >= (3.0 if len(v) < 24 else 3.5)


# --- the streaming scan's light path ------------------------------------------------------------------


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("scan_bench", ROOT / "benchmarks" / "scan_bench.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _key(o: Any) -> tuple[Any, Any]:
    return ([(f.path, f.kind, f.status.value, f.reason, f.line) for f in o.files],
            [(dataclasses.asdict(dataclasses.replace(f.entry, value=None)), f.verdict, f.confidence, f.reasons,
              f.migratable, f.why_not) for f in o.findings])


def test_light_scan_equals_the_full_scan(tmp_path: Path) -> None:
    from migrate.sources.base import unproven_loads

    defs = tmp_path / "defs"
    defs.mkdir()
    _bench().generate(defs, 60, seed=11)
    # shapes beside the generated register files: describe, list, containers, log options, secrets,
    # escapes (the regex token path), CRLF, a non-ASCII value, a value equal to the family
    td = {"taskDefinition": {"family": "shop", "containerDefinitions": [
        {"name": "web", "image": "i", "environment": [{"name": "DB_PASSWORD", "value": "shop"},
                                                     {"name": "TOKEN", "value": "tok-\n-9Xz81LmQw02PzR"},
                                                     {"name": "NOTE", "value": "caf\u00e9 \"quoted\""}],
         "secrets": [{"name": "S", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/s"}],
         "logConfiguration": {"logDriver": "x", "options": {"api-key": "k3y-9Xz81LmQw02PzRtY"},
                              "secretOptions": [{"name": "t", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/t"}]}}]}}
    (defs / "describe.json").write_text(json.dumps(td, indent=2).replace("\n", "\r\n"), encoding="utf-8")
    (defs / "list.json").write_text(json.dumps([td["taskDefinition"], td["taskDefinition"]]), encoding="utf-8")
    (defs / "containers.json").write_text(json.dumps(td["taskDefinition"]["containerDefinitions"], indent=4),
                                          encoding="utf-8")
    (defs / "broken.json").write_text('{"containerDefinitions": [', encoding="utf-8")
    from migrate.sources.base import read_source
    from migrate.sources.ecs_taskdef import fast

    for f in ("describe.json", "list.json", "containers.json", "svc-00001.json"):  # they take the light path
        assert fast.decode(read_source(defs / f), "x") is not None, f
    for keep_all in (False, True):
        with unproven_loads():
            light = scan([str(defs)], keep_loaded=False, keep_all=keep_all, workers=1)
        full = scan([str(defs)], keep_loaded=True)  # every entry built and proven, then classified
        full_found = [dataclasses.replace(f, entry=dataclasses.replace(f.entry, value=None))
                      for f in full.findings if keep_all or f.is_secret]
        assert _key(light)[1] == _key(type(full)(files=full.files, loaded=[], findings=full_found))[1]
        assert _key(light)[0] == _key(full)[0]
        assert sum(f.is_secret for f in light.findings) > 50
        assert all(f.entry.value is None for f in light.findings)


def test_entropy_is_the_counter_formula() -> None:
    import math
    from collections import Counter

    rng = random.Random(13)
    for _ in range(2000):
        v = "".join(rng.choice(_PLAIN_CHARS + "é/+= ") for _ in range(rng.randrange(1, 60)))
        n = len(v)
        assert F.shannon_entropy(v) == -sum(c / n * math.log2(c / n) for c in Counter(v).values())


def test_provider_marks_and_embedded_hints_lose_nothing() -> None:
    """The substring pre-tests before the provider and embedded-pair expressions never reject a value the
    expressions match (every provider example, random values seeded with provider prefixes)."""
    rng = random.Random(17)
    examples = [
        "AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE", "ghp_" + "a" * 36, "github_pat_" + "a" * 60, "glpat-" + "a" * 20,
        "xoxb-1234567890-abc", "xapp-1-ABCDEFGHIJK", "sk_live_" + "a" * 24, "rk_test_" + "a" * 16, "whsec_" + "a" * 24,
        "SG." + "a" * 20 + "." + "b" * 20, "SK" + "0123456789abcdef" * 2, "AIza" + "a" * 35, "npm_" + "a" * 36,
        "_authToken=abcdefgh", "0123456789abcdef" * 2 + "-us12", "key-" + "0123456789abcdef" * 2, "sk-" + "a" * 40,
        "sk-proj-" + "a" * 40, "hf_" + "a" * 30, "pypi-AgE" + "a" * 40, "shpat_" + "0123456789abcdef" * 2,
        "dop_v1_" + "0123456789abcdef" * 4, "sq0atp-" + "a" * 22, "NRAK-" + "A" * 27, "NRII-" + "a" * 32,
        "0123456789abcdef" * 2 + "0123NRAL", "hvs." + "a" * 24, "123456789:AA" + "a" * 33, "dapi" + "0123456789abcdef" * 2,
        "glsa_" + "a" * 32 + "_0123abcd", "glc_" + "a" * 32, "sntry_" + "a" * 30, "dp.st." + "a" * 30,
        "AGE-SECRET-KEY-1" + "A" * 58, "PMAK-" + "0123456789abcdef01234567" + "-" + "0123456789abcdef" * 2 + "01",
        "AccountKey=" + "a" * 40, "https://x.blob.core.windows.net/c/?sig=" + "a" * 30,
    ]
    pieces = examples + ["https://", "-", "_", ".", ":", "=", "?", "&", "x", "A", "0", " ", "/", "é", "K", "ſ"]
    values = list(examples)
    for _ in range(20000):
        values.append("".join(rng.choice(pieces) if rng.random() < 0.3 else rng.choice(_PLAIN_CHARS)
                              for _ in range(rng.randrange(1, 12))))
    hits = 0
    for v in values:
        m = F._PROVIDER_RE.search(v)
        if m and m.lastgroup:
            hits += 1
            assert any(mark in v for mark in F._PROVIDER_MARKS), v
            assert F._may_hold_provider_token(v), v
        assert F._embedded_hint(v) == bool(F._EMBEDDED_HINT_RE.search(v)), v
        assert F._may_hold_provider_token(v) == any(mark in v for mark in F._PROVIDER_MARKS), v
    assert hits > 1000
    for v in examples:
        assert F.provider_evidence(v), v
    for v in ("ſecret=1", "KEY=1", "Pass: x", "x-Token=y", "SIG=1"):
        assert F._embedded_hint(v) == bool(F._EMBEDDED_HINT_RE.search(v)), v


def test_light_records_equal_the_records_of_built_findings(tmp_path: Path) -> None:
    """The streaming JSON report renders a task-definition literal from (item, judgement) without an
    Entry or a Finding: the same text as the record of the finding built the usual way, for every item
    (escaped and unrestorable values, non-ASCII names and units, empty values, every judgement)."""
    from migrate.commands.scan import _render
    from migrate.detect.engine import Judge
    from migrate.sources.base import read_source
    from migrate.sources.ecs_taskdef import fast

    defs = tmp_path / "defs"
    defs.mkdir()
    _bench().generate(defs, 40, seed=5)
    rng = random.Random(3)
    env = [{"name": n, "value": v} for n in NAMES for v in rng.sample(_plain_values(rng) + _other_values(rng), 6)]
    env += [{"name": "DB_PASSWORD", "value": ""}, {"name": "caf\u00e9_TOKEN", "value": "p\u00e4ss-9Xz81LmQw02PzR"},
            {"name": "API_KEY", "value": "\u0041\u00e9\\/x-9Xz81LmQw02PzR"}]
    td = {"family": "sh\u00f6p", "containerDefinitions": [{"name": "w\u00ebb", "image": "i", "environment": env}]}
    (defs / "mixed.json").write_text(json.dumps(td, indent=2), encoding="utf-8")
    (defs / "escaped.json").write_text(json.dumps(td, indent=2, ensure_ascii=True).replace("\\/", "/"),
                                       encoding="utf-8")
    seen = {"unrestorable": 0, "secret": 0, "not": 0}
    with Judge() as judge:
        for f in sorted(defs.iterdir()):
            light = fast.decode(read_source(f), "x")
            assert light is not None, f
            for item in light.items:
                if item[5] is None:
                    continue
                j = judge.judge_literal(item[4], item[5], item[2], item[9])
                built = _render(Judge.make_finding(light.entry(item, keep_value=False), j))
                assert _render.light(light, item, j) == built, (f.name, item[4])
                seen["secret" if built[0] else "not"] += 1
                seen["unrestorable"] += not light.entry(item).restorable
    assert min(seen.values()) > 0, seen


def test_identifier_length_shortcut_loses_nothing() -> None:
    """:func:`E._equals_identifier` rejects a value longer than every identifier (ASCII) without building
    them: the same answer as the lookup in all identifiers."""
    rng = random.Random(9)
    units = ["web", "api-gateway", "Shop", "pay_ments", "w\u00ebb", "\u0130stanbul", ""]
    checked = 0
    for name in NAMES + ["DB_PASSWORD_\u0130", "x"]:
        for unit in units:
            for group in ("", "shop", "Payments-Service", "\u0130"):
                values = [name, unit, group, name.lower() + "x", "".join(name.split("_")[:1]), unit.upper() + "!",
                          *(rng.choice([unit, group, name, "a", "xyz"]) + "".join(rng.choice(_PLAIN_CHARS)
                                                                                  for _ in range(rng.randrange(0, 30)))
                            for _ in range(20))]
                s = E._Subject(name, unit, (unit,), group)
                for v in values:
                    n = E._norm(v)
                    want = E._identifiers(name, unit, (unit,), group).get(n, "") if n else ""
                    assert E._equals_identifier(s, v) == want, (name, unit, group)
                    checked += bool(want)
    assert checked > 100
