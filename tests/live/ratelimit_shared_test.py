"""Issue 15 §5: throttling seen on any thread charges the account's shared bucket once per refusal."""

from __future__ import annotations

import threading

import boto3

from migrate.live.ratelimit import RateLimits, TokenBucket, family_of


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


def test_a_refusal_costs_every_thread_exactly_one_slot() -> None:
    clk = _Clock()
    b = TokenBucket(2.0, 1.0, clock=clk, sleep=clk.sleep)
    assert b.acquire() == 0.0  # the burst
    b.refused()
    b.refused()  # two refusals, maybe seen by two threads: two slots (1 s at 2/s), not two backoffs each
    assert b.acquire() == 1.5  # one slot for this call + two for the refusals
    assert clk.slept == [1.5]


def test_family_of_maps_operations_to_the_tools_families() -> None:
    assert family_of("ecs", "UpdateService") == "ecs.UpdateService"
    assert family_of("ssm", "PutParameter") == "ssm.PutParameter"
    assert family_of("secretsmanager", "CreateSecret") == "secretsmanager.write"
    assert family_of("secretsmanager", "GetSecretValue") == ""
    assert family_of("ecs", "ListClusters") == ""


def test_throttled_responses_on_threads_are_counted_once_each() -> None:
    """The needs-retry hook (as botocore calls it), fired from many threads at once: one charge per throttled response."""
    limits = RateLimits({"ssm.PutParameter": (1000.0, 1000.0)})
    c = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    limits.observe(c)
    limits.observe(c)  # idempotent: one handler per (client, limits)
    op = c.meta.service_model.operation_model("PutParameter")

    def fire(code: str) -> None:
        for _ in range(50):
            limits._on_retry(response=(None, {"Error": {"Code": code}}), endpoint=None, operation=op, attempts=1,
                     caught_exception=None, request_dict={})

    threads = [threading.Thread(target=fire, args=("ThrottlingException",)) for _ in range(4)]
    threads.append(threading.Thread(target=fire, args=("ParameterNotFound",)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limits.refusals == {"ssm.PutParameter": 200}
