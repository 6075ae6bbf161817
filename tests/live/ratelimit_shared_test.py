"""Issue 15 §5: throttling seen on any thread charges the account's shared bucket once per refusal."""

from __future__ import annotations

import threading

from migrate.live.ratelimit import RateLimits, TokenBucket, family_of
from migrate.stores.aws import AwsContext


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
    """The needs-retry handler (as botocore calls it), fired from many threads at once: one charge per throttled
    response, each one retried (0: at once, the slot already waited), and other errors left to botocore (None)."""
    limits = RateLimits({"ssm.PutParameter": (1000.0, 1000.0)})
    ctx = limits.attach(AwsContext(region="us-east-1", credentials={"AccessKeyId": "x", "SecretAccessKey": "y"}))
    c = ctx.client("ssm")
    assert ctx.client("ssm") is c  # one client, one handler (installed once, when the client was built)
    op = c.meta.service_model.operation_model("PutParameter")
    answers: list[float | None] = []
    lock = threading.Lock()

    def fire(code: str) -> None:
        for _ in range(50):
            got = ctx.throttle.needs_retry(response=(None, {"Error": {"Code": code}}), endpoint=None, operation=op,
                                           attempts=1, caught_exception=None, request_dict={})
            with lock:
                answers.append(got)

    threads = [threading.Thread(target=fire, args=("ThrottlingException",)) for _ in range(4)]
    threads.append(threading.Thread(target=fire, args=("ParameterNotFound",)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limits.refusals == {"ssm.PutParameter": 200}
    assert ctx.throttle.retried == {"ssm.PutParameter": 200}
    assert answers.count(0) == 200 and answers.count(None) == 50
