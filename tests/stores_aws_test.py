"""AwsContext: explicit credentials and endpoint, kept by for_region; no process-wide state; several
accounts at once; the client factory is the only hook. And the product holds no test hooks."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest

from migrate.stores.aws import Aws, AwsContext, boto_client

REPO = Path(__file__).resolve().parent.parent
ROLES = {"111111111111": "arn:aws:iam::111111111111:role/SecretsMigrate",
         "222222222222": "arn:aws:iam::222222222222:role/SecretsMigrate"}


def _assume(arn: str) -> dict[str, str]:
    c = boto3.client("sts", region_name="us-east-1").assume_role(RoleArn=arn, RoleSessionName="test")["Credentials"]
    return {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"], "SessionToken": c["SessionToken"]}


def test_alias_keeps_the_constructor_keywords() -> None:
    assert Aws is AwsContext
    ctx = Aws(profile=None, region="eu-west-1", credentials=None)
    assert ctx.region == "eu-west-1" and ctx.endpoint_url is None and ctx.client_factory is boto_client


def test_for_region_keeps_credentials_profile_endpoint_and_factory() -> None:
    def factory(ctx: AwsContext, service: str) -> Any:
        return boto_client(ctx, service)

    creds = {"AccessKeyId": "AKIAEXPLICIT", "SecretAccessKey": "s3cr3t-explicit", "SessionToken": "tok"}
    base = AwsContext(None, "us-east-1", creds, "http://127.0.0.1:9", client_factory=factory)
    eu = base.for_region("eu-west-1")
    assert (eu.region, eu.credentials, eu.endpoint_url, eu.client_factory) == (
        "eu-west-1", creds, "http://127.0.0.1:9", factory)
    assert eu.region_name == "eu-west-1"
    client = eu.client("ssm")
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert eu.session.get_credentials().access_key == "AKIAEXPLICIT"  # not the environment's "testing"
    assert base.for_region("us-east-1") is base and base.for_region(None) is base
    named = AwsContext(profile="ops", region="us-east-1").for_region("eu-central-1")
    assert named.profile == "ops" and named.credentials is None


def test_explicit_endpoint_beats_the_environment_which_still_applies_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7")
    before = dict(os.environ)
    assert AwsContext(region="us-east-1").client("ssm").meta.endpoint_url == "http://127.0.0.1:7"
    got = AwsContext(region="us-east-1", endpoint_url="http://127.0.0.1:8").client("ssm").meta.endpoint_url
    assert got == "http://127.0.0.1:8"
    assert dict(os.environ) == before  # nothing set, nothing removed


def test_client_factory_builds_every_client_once() -> None:
    calls: list[tuple[str, str]] = []

    def factory(ctx: AwsContext, service: str) -> Any:
        calls.append((ctx.region_name, service))
        return boto_client(ctx, service)

    ctx = AwsContext(region="us-east-1", client_factory=factory)
    assert ctx.client("ssm") is ctx.client("ssm")
    ctx.for_region("eu-west-1").client("ecs")
    assert calls == [("us-east-1", "ssm"), ("eu-west-1", "ecs")]


def test_two_accounts_at_once_on_threads(aws: None) -> None:
    contexts = {acct: AwsContext(region="us-east-1", credentials=_assume(arn)) for acct, arn in ROLES.items()}
    seen: dict[str, list[str]] = {acct: [] for acct in ROLES}
    barrier = threading.Barrier(len(ROLES))

    def work(acct: str) -> None:
        barrier.wait()
        for _ in range(3):
            ctx = AwsContext(region="us-east-1", credentials=contexts[acct].credentials)  # a fresh one each time
            seen[acct].append(ctx.account)
            seen[acct].append(ctx.for_region("eu-west-1").account)

    threads = [threading.Thread(target=work, args=(a,)) for a in ROLES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {acct: [acct] * 6 for acct in ROLES}
    assert AwsContext(region="us-east-1").account == "123456789012"  # the caller's own identity, untouched


def test_repr_never_holds_credentials() -> None:
    ctx = AwsContext(region="us-east-1", credentials={"AccessKeyId": "AKIAREPR", "SecretAccessKey": "hunter2-secret",
                                                      "SessionToken": "session-token-xyz"})
    text = repr(ctx) + repr(ctx.for_region("eu-west-1"))
    assert not any(s in text for s in ("AKIAREPR", "hunter2-secret", "session-token-xyz"))
    assert "explicit" in text


def test_no_process_wide_state_or_test_hooks_in_the_product() -> None:
    src = {p: p.read_text(encoding="utf-8") for p in (REPO / "migrate").rglob("*.py")}
    assert not [p for p, t in src.items() if "SECRETS_MIGRATE_TEST" in t]
    assert not [p for p, t in src.items() if re.search(r"os\.chdir\(|os\.environ\[[^]]+\]\s*=|os\.environ\.(update|setdefault|pop)\(|putenv", t)]
    assert not [p for p, t in src.items() if "assumed(" in t or "_DEFAULT_CREDENTIALS" in t]
    assert not (REPO / "migrate" / "faults.py").exists() and not (REPO / "migrate" / "testing.py").exists()
