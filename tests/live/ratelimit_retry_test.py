"""Issue 15 §5: a throttled call is retried by the account's shared limiter, never by botocore's per-client
backoff; the retry costs one slot of the family's bucket; a call throttled again and again ends in one clear
error; transient errors (5xx) are still botocore's to retry. A local HTTP endpoint scripts the answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from migrate.live.ratelimit import RateLimits, TokenBucket
from migrate.stores import aws as aws_mod
from migrate.stores.aws import THROTTLE_ATTEMPTS, AwsContext, ThrottledError, ThrottleRetry, safe_aws_message

CREDS = {"AccessKeyId": "AKIATEST", "SecretAccessKey": "not-a-secret", "SessionToken": "t"}
OK_BODY = {"services": [], "failures": []}  # DescribeServices / any ECS read: an empty, valid answer


class Script:
    """What the endpoint answers, one entry per request: "throttle", "500" or "ok" (the last one repeats)."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def next(self, target: str) -> str:
        with self.lock:
            self.seen.append(target)
            i = len(self.seen) - 1
            return self.answers[min(i, len(self.answers) - 1)]


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Callable[[list[str]], Script]]]:
    holder: dict[str, Script] = {"s": Script(["ok"])}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = holder["s"].next(self.headers.get("X-Amz-Target", ""))
            status, body = {"throttle": (400, {"__type": "ThrottlingException", "message": "Rate exceeded"}),
                            "500": (500, {"__type": "ServerException", "message": "internal"}),
                            "ok": (200, OK_BODY)}[answer]
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-amzn-RequestId", "scripted")
            self.end_headers()
            self.wfile.write(payload)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"

    def script(answers: list[str]) -> Script:
        holder["s"] = Script(answers)
        return holder["s"]

    yield url, script
    srv.shutdown()
    srv.server_close()


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        with self.lock:
            self.slept.append(s)
            self.t += max(0.0, s)


@pytest.fixture
def botocore_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every sleep botocore's endpoint asks for between attempts (its retry backoff), recorded, not slept."""
    import botocore.endpoint

    got: list[float] = []

    class _Time:
        def __getattr__(self, name: str) -> Any:
            import time

            return getattr(time, name)

        @staticmethod
        def sleep(s: float) -> None:
            got.append(s)

    monkeypatch.setattr(botocore.endpoint, "time", _Time())
    return got


def _ctx(url: str, throttle: ThrottleRetry) -> AwsContext:
    return AwsContext(region="us-east-1", credentials=CREDS, endpoint_url=url, throttle=throttle)


def _paced(clk: FakeClock, rate: float = 4.0) -> RateLimits:
    limits = RateLimits({"ecs.DescribeServices": (rate, 1.0)})
    limits._buckets["ecs.DescribeServices"] = TokenBucket(rate, 1.0, clock=clk, sleep=clk.sleep)
    return limits


def test_a_throttled_call_is_retried_in_the_shared_bucket_not_by_botocore(endpoint, botocore_sleeps) -> None:
    url, script = endpoint
    s = script(["throttle", "throttle", "ok"])
    clk = FakeClock()
    limits = _paced(clk)
    throttle = ThrottleRetry(clock=clk, sleep=clk.sleep, rand=lambda: 1.0)
    ctx = limits.attach(_ctx(url, throttle))
    limits.acquire("ecs.DescribeServices")  # the call's own slot (the burst), as Env.limit takes it
    got = ctx.client("ecs").describe_services(cluster="c", services=["s"])
    assert got["services"] == [] and got["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(s.seen) == 3 and all(t.endswith(".DescribeServices") for t in s.seen)
    # each refusal took exactly one slot of the shared bucket (4/s: 0.25 s), and nothing else waited ...
    assert clk.slept == [0.25, 0.25] and clk.t == 0.5
    assert limits.refusals == {"ecs.DescribeServices": 2} and throttle.retried == {"ecs.DescribeServices": 2}
    # ... in particular not botocore: it retried at once (slept 0) instead of its own exponential backoff
    assert botocore_sleeps == [0, 0]


def test_a_call_refused_again_and_again_backs_off_from_the_third_refusal(endpoint, botocore_sleeps) -> None:
    url, script = endpoint
    script(["throttle"] * 5 + ["ok"])
    clk = FakeClock()
    limits = _paced(clk)
    ctx = limits.attach(_ctx(url, ThrottleRetry(clock=clk, sleep=clk.sleep, rand=lambda: 1.0)))
    limits.acquire("ecs.DescribeServices")
    ctx.client("ecs").describe_services(cluster="c", services=["s"])
    # one slot per refusal; from the 3rd refusal of the same call on, its own backoff first (0.1, 0.2, 0.4 s:
    # base 0.05 doubling), then the slot, of which the backoff already waited a part (the bucket refilled)
    assert clk.slept == pytest.approx([0.25, 0.25, 0.1, 0.15, 0.2, 0.05, 0.4])
    assert clk.t == pytest.approx(1.4) and limits.refusals == {"ecs.DescribeServices": 5}
    assert botocore_sleeps == [0] * 5


def test_refusals_are_charged_once_each_to_every_thread(endpoint, botocore_sleeps) -> None:
    """8 threads, each call refused once: the 8 retries take 8 consecutive slots of the shared bucket (the
    time lost is one slot per refusal, whichever thread saw it), every call succeeds."""
    url, script = endpoint
    script(["throttle"] * 8 + ["ok"])  # the first 8 attempts (one per thread, all started at once) are refused
    clk = FakeClock()
    limits = _paced(clk, rate=10.0)
    ctx = limits.attach(_ctx(url, ThrottleRetry(clock=clk, sleep=clk.sleep)))
    client = ctx.client("ecs")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            client.describe_services(cluster="c", services=["s"])
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert limits.refusals == {"ecs.DescribeServices": 8}
    # the bucket's debt grows by one slot per refusal: 1 free (burst), then 0.1 s each for the 7 others
    assert clk.t == pytest.approx(0.7, abs=1e-9)
    assert all(x == 0 for x in botocore_sleeps) and len(botocore_sleeps) == 8


def test_exhausted_throttle_retries_raise_one_clear_error(endpoint, botocore_sleeps) -> None:
    url, script = endpoint
    s = script(["throttle"])  # never served
    clk = FakeClock()
    limits = _paced(clk)
    ctx = limits.attach(_ctx(url, ThrottleRetry(max_attempts=4, clock=clk, sleep=clk.sleep, rand=lambda: 0.0)))
    with pytest.raises(ThrottledError) as ei:
        ctx.client("ecs").describe_services(cluster="c", services=["s"])
    e = ei.value
    assert len(s.seen) == 4 and e.attempts == 4  # bounded: 4 attempts in all, then no more requests
    assert isinstance(e, ClientError) and e.response["Error"]["Code"] == "ThrottlingException"
    assert str(e).startswith("AWS kept throttling DescribeServices (ThrottlingException)")
    assert "after 4 attempts" in str(e) and "Rate exceeded" not in str(e)
    assert safe_aws_message(e) == "DescribeServices: ThrottlingException (still throttled after 4 attempts; retry later)"
    assert limits.refusals == {"ecs.DescribeServices": 3}  # the 4th refusal is not retried, so not charged
    assert botocore_sleeps == [0, 0, 0]


def test_the_default_budget_survives_30_percent_random_refusals() -> None:
    # a call fails only if all its attempts are refused: at 30 % that is 0.3**12 = 5e-7 per call
    assert THROTTLE_ATTEMPTS >= 12 and 0.3 ** THROTTLE_ATTEMPTS * 10_000 < 0.01


def test_transient_server_errors_are_still_retried_by_botocore(endpoint, botocore_sleeps) -> None:
    url, script = endpoint
    s = script(["500", "ok"])
    throttle = ThrottleRetry()
    got = _ctx(url, throttle).client("ecs").describe_services(cluster="c", services=["s"])
    assert got["services"] == [] and len(s.seen) == 2
    assert throttle.retried == {} and len(botocore_sleeps) == 1 and 0 <= botocore_sleeps[0] <= 1.0
    assert aws_mod.RETRIES["mode"] == "standard"


def test_a_family_without_a_bucket_waits_a_short_step_in_a_shared_lane(endpoint, botocore_sleeps) -> None:
    url, script = endpoint
    script(["throttle", "ok"])
    clk = FakeClock()
    throttle = ThrottleRetry(clock=clk, sleep=clk.sleep, rand=lambda: 1.0)
    ctx = RateLimits({}).attach(_ctx(url, throttle))  # no bucket for DescribeServices here
    ctx.client("ecs").describe_services(cluster="c", services=["s"])
    assert clk.slept == [0.05]  # one step (base 0.05 s), not botocore's backoff
    # the lane is shared: two refusals of that family seen at the same instant go 0.05 s apart
    assert throttle.wait("ecs", "DescribeServices", 1) == pytest.approx(0.05)
    clk.t -= 0.05  # a second thread, refused at the same instant as the first
    assert throttle.wait("ecs", "DescribeServices", 1) == pytest.approx(0.10)


def test_every_client_of_an_account_and_its_regions_shares_the_throttle_retry() -> None:
    ctx = AwsContext(region="us-east-1", credentials=CREDS, endpoint_url="http://127.0.0.1:9")
    limits = RateLimits.defaults()
    assert limits.attach(ctx) is ctx and ctx.throttle.pacer is limits
    eu = ctx.for_region("eu-west-1")
    assert eu.throttle is ctx.throttle
    for c in (ctx.client("ecs"), ctx.client("ssm"), ctx.client("iam"), eu.client("secretsmanager")):
        name = c.meta.service_model.service_id.hyphenize()
        handlers = list(c.meta.events._emitter._handlers.prefix_search(f"needs-retry.{name}.AnyOperation"))
        assert handlers[0] == ctx.throttle.needs_retry  # first, before botocore's own retry handler
    assert AwsContext(region="us-east-1").throttle is not ctx.throttle  # another account: its own
