"""Test-only AWS fault injection through botocore event hooks, installed by wrapping the client factory.

Rules pick operations (``"ssm.PutParameter"``, ``"secretsmanager.*"``, ``"*"``) and return a fault at
chosen call positions (1-based per rule) or at a seeded rate:

* ``throttle``: HTTP 400 ThrottlingException (botocore retries it);
* ``server-error``: HTTP 500 InternalFailure;
* ``timeout``: the request is sent to the server, then ReadTimeoutError is raised, as if the
  response were lost on the way back (botocore retries; the write already happened);
* ``access-denied``: HTTP 400 AccessDeniedException naming the IAM action, like AWS does;
* ``delay``: sleep ``seconds`` before sending.

Activation is explicit: ``inject(aws, rules)`` from a test (it wraps that ``AwsContext``'s client factory),
or, for CLI runs in a subprocess, ``tests/support/launcher.py`` reading ``SECRETS_MIGRATE_TEST_FAULTS``
(a JSON list of rules) together with ``SECRETS_MIGRATE_TEST_MODE=i-know-this-injects-faults``.
The product itself knows nothing about any of this.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ENV_RULES = "SECRETS_MIGRATE_TEST_FAULTS"
ENV_GUARD = "SECRETS_MIGRATE_TEST_MODE"
GUARD_VALUE = "i-know-this-injects-faults"
KINDS = ("throttle", "server-error", "timeout", "access-denied", "delay")

#: write operations of the stores and IAM, for "every write" rules
WRITES = ("ssm.PutParameter", "ssm.DeleteParameter", "ssm.AddTagsToResource", "secretsmanager.CreateSecret",
          "secretsmanager.DeleteSecret", "secretsmanager.PutSecretValue", "secretsmanager.TagResource",
          "iam.PutRolePolicy", "iam.DeleteRolePolicy")


@dataclass
class Rule:
    kind: str
    ops: tuple[str, ...] = ("*",)  #: "service.Operation" glob patterns (service = botocore service name)
    at: tuple[int, ...] = ()  #: 1-based positions among the matching calls; empty = use rate
    rate: float = 0.0
    seed: int = 0
    seconds: float = 0.0  #: for "delay"
    calls: int = 0
    fired: list[str] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind}")
        self._rng.seed(self.seed)
        self.ops = tuple(self.ops)
        self.at = tuple(self.at)

    def matches(self, op: str) -> bool:
        return any(fnmatch.fnmatchcase(op, p) for p in self.ops)

    def should_fire(self) -> bool:
        self.calls += 1
        if self.at:
            return self.calls in self.at
        return self._rng.random() < self.rate


class Injector:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._lock = threading.Lock()

    def fired(self) -> list[str]:
        return [f for r in self.rules for f in r.fired]

    # botocore: before-send receives the prepared request; returning an AWSResponse short-circuits it
    def before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        parts = event_name.split(".")  # before-send.<service id, hyphenated>.<Operation>
        if len(parts) >= 3:
            parts[1] = {"secrets-manager": "secretsmanager"}.get(parts[1], parts[1])
        op = f"{parts[1]}.{parts[2]}" if len(parts) >= 3 else event_name
        with self._lock:
            rule = next((r for r in self.rules if r.matches(op) and r.should_fire()), None)
            if rule is not None:
                rule.fired.append(f"{rule.kind} {op}")
        if rule is None:
            return None
        if rule.kind == "delay":
            import time

            time.sleep(rule.seconds)
            return None
        if rule.kind == "timeout":
            _send_for_real(request)
            from botocore.exceptions import ReadTimeoutError

            raise ReadTimeoutError(endpoint_url=request.url)
        return _response(rule.kind, parts[1], parts[2], request)


def _send_for_real(request: Any) -> None:
    """Deliver the request to the server and drop the answer (the write happens server-side)."""
    import urllib.request

    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(request.url, data=body, method=request.method,
                                 headers={k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})
    with contextlib.suppress(Exception):  # an error answer is still "the server saw it"
        urllib.request.urlopen(req, timeout=30).read()


_IAM_PREFIX = {"secretsmanager": "secretsmanager", "ssm": "ssm", "iam": "iam", "ecs": "ecs", "kms": "kms", "sts": "sts"}


def _response(kind: str, service: str, operation: str, request: Any) -> Any:
    from botocore.awsrequest import AWSResponse

    code, status, message = {
        "throttle": ("ThrottlingException", 400, "Rate exceeded"),
        "server-error": ("InternalFailure", 500, "Internal service error (injected)"),
        "access-denied": ("AccessDeniedException", 400,
                          f"User: arn:aws:iam::123456789012:user/test is not authorized to perform: "
                          f"{_IAM_PREFIX.get(service, service)}:{operation} because no identity-based policy "
                          f"allows the {_IAM_PREFIX.get(service, service)}:{operation} action"),
    }[kind]
    if service in ("iam", "sts"):  # query protocol: XML errors
        if kind == "access-denied":
            code = "AccessDenied"
        if kind == "throttle":
            code = "Throttling"
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
                f"</Error><RequestId>injected</RequestId></ErrorResponse>").encode()
        headers = {"Content-Type": "text/xml"}
    else:  # JSON 1.1 protocol (ssm, secretsmanager, ecs, kms)
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
    return AWSResponse(request.url, status, headers, _Raw(body))


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data

    def read(self, *_: Any) -> bytes:
        data, self._data = self._data, b""
        return data


def with_faults(factory: Callable[[Any, str], Any], injector: Injector) -> Callable[[Any, str], Any]:
    """A client factory that builds with ``factory`` and then routes every request through ``injector``."""
    def build(ctx: Any, service: str) -> Any:
        client = factory(ctx, service)
        client.meta.events.register("before-send", injector.before_send)
        return client

    return build


def inject(aws: Any, rules: list[Rule]) -> Injector:
    """Attach faults to a ``migrate.stores.aws.AwsContext``: clients it builds from now on (its ``for_region``
    contexts included) and any it already built."""
    inj = Injector(rules)
    aws.client_factory = with_faults(aws.client_factory, inj)
    for c in getattr(aws, "_clients", {}).values():
        c.meta.events.register("before-send", inj.before_send)
    return inj


def rules_from_env(environ: Mapping[str, str] | None = None) -> list[Rule] | None:
    env = os.environ if environ is None else environ
    raw = env.get(ENV_RULES)
    if not raw or env.get(ENV_GUARD) != GUARD_VALUE:
        return None
    parsed: list[dict[str, Any]] = json.loads(raw)
    out = []
    for r in parsed:
        kw: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in r.items()}
        out.append(Rule(**kw))
    return out
