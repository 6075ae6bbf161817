"""The quota-enforcing proxy of benchmarks/batch_bench.py, and the tool's limiter + retries against it."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ThrottledRetryableChecker

from migrate.live.ratelimit import RateLimits
from migrate.stores.aws import Aws

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "batch_bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("batch_bench", BENCH)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["batch_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


bb = _bench()


@pytest.fixture
def proxy(server_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    quotas = {"ecs.taskdef-read": (0.001, 1.0), "ssm.PutParameter": (0.001, 1.0),
              "secretsmanager.write": (0.001, 1.0), "iam.ListRoles": (0.001, 1.0)}
    p = bb.QuotaProxy(server_env, quotas)
    monkeypatch.setenv("AWS_ENDPOINT_URL", p.start())
    yield p
    p.stop()


def _once(service: str):
    return boto3.client(service, config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


CALLS = {
    "ecs": lambda c: c.list_task_definitions(),
    "ssm": lambda c: c.put_parameter(Name="/q/p", Value="v", Type="SecureString", Overwrite=True),
    "secretsmanager": lambda c: c.create_secret(Name=f"q-{time.monotonic_ns()}", SecretString="v"),
    "iam": lambda c: c.list_roles(),
}


@pytest.mark.parametrize("service,code", [("ecs", "ThrottlingException"), ("ssm", "ThrottlingException"),
                                          ("secretsmanager", "ThrottlingException"), ("iam", "Throttling")])
def test_proxy_throttles_in_each_protocol_and_botocore_sees_a_throttle(proxy, service, code):
    c = _once(service)
    CALLS[service](c)  # the burst of 1
    with pytest.raises(ClientError) as ei:
        CALLS[service](c)
    err = ei.value.response["Error"]
    assert err["Code"] == code and "Rate exceeded" in err["Message"]
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert code in ThrottledRetryableChecker._THROTTLED_ERROR_CODES
    assert sum(proxy.throttled.values()) == 1


def test_proxy_finds_operations_and_families():
    auth = "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/{}/aws4_request, SignedHeaders=host"
    h = {"Authorization": auth.format("ecs"), "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition"}
    assert bb.QuotaProxy.operation(h, "/", b"{}") == ("ecs", "RegisterTaskDefinition")
    h = {"Authorization": auth.format("iam")}
    assert bb.QuotaProxy.operation(h, "/", b"Action=PutRolePolicy&Version=2010-05-08") == ("iam", "PutRolePolicy")
    assert bb.family_of("ecs", "DeregisterTaskDefinition") == bb.family_of("ecs", "RegisterTaskDefinition")
    assert bb.family_of("secretsmanager", "CreateSecret") == "secretsmanager.write"
    assert bb.family_of("secretsmanager", "GetSecretValue") != "secretsmanager.write"


def test_floor_is_the_slowest_family_after_its_burst():
    q = {"a": (1.0, 20.0), "b": (5.0, 50.0)}
    floor, per = bb.floor_seconds({"a": 200, "b": 200}, q, scale=2.0, health=1.5)
    assert per == {"a": 90.0, "b": 15.0} and floor == 91.5
    assert bb.floor_seconds({"a": 10}, q, scale=1.0)[0] == 0.0  # within the burst


def test_client_limiter_and_shared_throttle_retry_surface_no_throttling(server_env, monkeypatch):
    """Quota 40/s burst 5 at the proxy; 8 threads x 10 calls through the tool's client (its throttle retry paced
    by the limiter, as a live run attaches it) and its limiter set to the same quota: every call succeeds, and
    no faster than the quota allows."""
    ecs = boto3.client("ecs")
    ecs.register_task_definition(family="q", containerDefinitions=[{"name": "a", "image": "x", "memory": 8}])
    p = bb.QuotaProxy(server_env, {"ecs.taskdef-read": (40.0, 5.0)})
    monkeypatch.setenv("AWS_ENDPOINT_URL", p.start())
    try:
        limits = RateLimits({"ecs.DescribeTaskDefinition": (40.0, 5.0)})
        client = limits.attach(Aws()).client("ecs")
        errors: list[str] = []

        def work() -> None:
            for _ in range(10):
                limits.acquire("ecs.DescribeTaskDefinition")
                try:
                    client.describe_task_definition(taskDefinition="q:1")
                except ClientError as e:
                    errors.append(e.response["Error"]["Code"])

        t0 = time.monotonic()
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
    finally:
        p.stop()
    assert errors == []
    assert p.served["ecs.taskdef-read"] == 80
    assert wall >= (80 - 5) / 40 * 0.95  # the quota floor holds
    # the proxy counts throttled attempts: only the quota'd family, and only a few (the client limiter runs at
    # the quota, so the rare ones come from the two clocks drifting), every one absorbed by the retries above
    assert set(p.throttled) <= {"ecs.taskdef-read"}, dict(p.throttled)
    assert sum(p.throttled.values()) <= 16, dict(p.throttled)
    assert limits.refusals == {"ecs.DescribeTaskDefinition": sum(p.throttled.values())}  # each charged once
