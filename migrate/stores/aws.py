"""AWS sessions and clients: the only place clients are built.

An ``AwsContext`` is one account/region view: profile *or* explicit credentials, a region and an optional
endpoint. It holds no process-wide state and never touches ``os.environ``, so several contexts (several
accounts, several regions) can be used at once. ``for_region`` derives a context for another region that
keeps the credentials, profile, endpoint and client factory.

Without an explicit ``endpoint_url``, botocore itself honours ``AWS_ENDPOINT_URL`` (and the per-service
``AWS_ENDPOINT_URL_<SERVICE>``); ``--endpoint-url`` on the command line is passed in explicitly.
Clients are made by an injected ``ClientFactory`` (default: ``boto_client``), which is where tests wrap
them (fault injection) without any hook in this module.

Retries (issue 15 §5). botocore retries what is transient (5xx, timeouts, connection errors) in its
``standard`` mode, a few attempts with its own jittered backoff. Throttling is NOT left to botocore's
per-client backoff (one thread's exponential wait, blind to every other thread of the account): each client
carries the context's :class:`ThrottleRetry`, registered before botocore's handler, which answers every
throttled attempt itself. It asks the account's shared limiter (a :class:`Pacer`, ``migrate.live.ratelimit``)
for the retry's slot in the API family's bucket, so a refusal costs one slot of that family whichever thread
saw it, and retries; families without a bucket wait a short jittered step in a lane shared by the family.
A call still throttled after ``THROTTLE_ATTEMPTS`` attempts raises :class:`ThrottledError`.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

#: botocore's own retries: transient errors only in effect (throttles are answered first by ThrottleRetry)
RETRIES: dict[str, Any] = {"mode": "standard", "total_max_attempts": 5}
#: attempts of one call (the first included) while AWS answers "throttled"; then ThrottledError
THROTTLE_ATTEMPTS = 12

#: codes of "rate exceeded" (the request was fine, only too early). Quota-style codes (LimitExceededException)
#: and in-progress conflicts stay with botocore's standard handler.
THROTTLE_CODES = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
                            "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "SlowDown",
                            "EC2ThrottledException"})


class Pacer(Protocol):
    """The account's shared limiter, as the throttle retry sees it."""

    def throttled(self, service: str, operation: str) -> float | None:
        """AWS refused a call of ``service``/``operation`` for throttling and it is about to be retried: block until
        the retry's slot in the family's shared bucket; the seconds waited, or None when the family has no bucket."""
        ...


class ThrottledError(ClientError):  # type: ignore[misc]  # botocore is untyped (ignore_missing_imports)
    """AWS still throttled a call after ``THROTTLE_ATTEMPTS`` attempts (a ``ClientError`` with the throttle code,
    so callers that handle AWS errors handle it; its text holds only the code, operation and attempts)."""

    MSG_TEMPLATE = "AWS kept throttling {operation_name} ({error_code}){retry_info}: {error_message}"

    def __init__(self, code: str, operation: str, attempts: int) -> None:
        self.attempts = attempts
        super().__init__({"Error": {"Code": code, "Message": (
            f"still refused after {attempts} attempts, each retry paced by the account's shared rate limiter; "
            "another client may be using this account's API quota: retry later (live apply: or lower --rate-scale)")},
            "ResponseMetadata": {"RetryAttempts": attempts - 1}}, operation)


def throttle_code(response: Any) -> str:
    """The throttling error code of a botocore ``(http, parsed)`` response, "" when it is not a throttle."""
    parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else None
    err = parsed.get("Error") if isinstance(parsed, dict) else None
    code = str(err.get("Code", "")) if isinstance(err, dict) else ""
    return code if code in THROTTLE_CODES else ""


class ThrottleRetry:
    """The ``needs-retry`` handler of every client of one context (and of the contexts ``for_region`` derives).

    On a throttled attempt: the shared ``pacer`` (if any) takes the retry's slot in the family's bucket (one
    slot per refusal, whichever thread saw it); a family without a bucket waits a jittered step in a lane
    shared by that family, so a burst of refusals is spread out instead of retried at once. From the third
    throttle of the same call on, an exponential jittered backoff (``base`` doubling, at most ``cap``) is added:
    a family that keeps refusing is really over its quota. Other errors: None (botocore's standard handler
    decides). After ``max_attempts`` throttled attempts: :class:`ThrottledError`. Thread-safe."""

    def __init__(self, pacer: Pacer | None = None, *, max_attempts: int = THROTTLE_ATTEMPTS, base: float = 0.05,
                 cap: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, rand: Callable[[], float] = random.random) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.pacer = pacer
        self.max_attempts, self.base, self.cap = max_attempts, base, cap
        self._clock, self._sleep, self._rand = clock, sleep, rand
        self._lane: dict[str, float] = {}  #: family without a bucket -> when its retry lane is free
        self._lock = threading.Lock()
        self.retried: dict[str, int] = {}  #: "service.Operation" -> throttled attempts retried
        self.slept = 0.0  #: seconds this handler made callers wait (pacer slots, lanes and backoff)

    def install(self, client: Any) -> Any:
        """Register on ``client`` before botocore's own retry handler (idempotent per client)."""
        name = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"needs-retry.{name}", self.needs_retry,
                                          unique_id=f"secrets-migrate-throttle-{name}")
        return client

    def needs_retry(self, response: Any = None, operation: Any = None, attempts: int = 1,
                    **_kw: Any) -> float | None:
        """botocore's ``needs-retry`` event: 0 (retry now: this already waited) for a throttle, else None."""
        code = throttle_code(response)
        if not code or operation is None:
            return None
        service, op = str(operation.service_model.service_name), str(operation.name)
        if attempts >= self.max_attempts:
            raise ThrottledError(code, op, attempts)
        with self._lock:
            self.retried[f"{service}.{op}"] = self.retried.get(f"{service}.{op}", 0) + 1
        self.wait(service, op, attempts)
        return 0

    def wait(self, service: str, op: str, attempts: int) -> float:
        """Block until the retry of a call refused ``attempts`` times may go; the seconds waited."""
        t0 = self._clock()
        if attempts >= 3:  # refused again and again: the quota is really spent, back off (this call only) first,
            # then take the slot (a slot taken before a backoff would be lost to every other thread)
            self._sleep(min(self.cap, self.base * 2 ** (attempts - 2)) * (0.5 + self._rand() / 2))
        waited = self.pacer.throttled(service, op) if self.pacer is not None else None
        if waited is None:  # no shared bucket for this family: a jittered step in the family's shared lane
            step = self.base * (0.5 + self._rand() / 2)
            with self._lock:
                now = self._clock()
                start = max(now, self._lane.get(f"{service}.{op}", now))
                self._lane[f"{service}.{op}"] = start + step
            self._sleep(start + step - now)
        took = self._clock() - t0
        with self._lock:
            self.slept += took
        return took

#: builds one botocore client: ``factory(context, service)``
ClientFactory = Callable[["AwsContext", str], Any]


def boto_client(ctx: AwsContext, service: str) -> Any:
    """The default client factory: the context's session, region and endpoint; botocore's standard retries for
    transient errors and the context's shared :class:`ThrottleRetry` for throttling."""
    return ctx.throttle.install(ctx.session.client(
        service,
        region_name=ctx.region_name,
        endpoint_url=ctx.endpoint_url,  # None: botocore falls back to AWS_ENDPOINT_URL* or the real endpoint
        config=BotoConfig(retries=RETRIES, connect_timeout=10, read_timeout=60),
    ))


class AwsContext:
    """A lazily-built session plus cached clients for one account and region. Thread-safe."""

    def __init__(self, profile: str | None = None, region: str | None = None,
                 credentials: Mapping[str, str] | None = None, endpoint_url: str | None = None, *,
                 client_factory: ClientFactory | None = None, throttle: ThrottleRetry | None = None) -> None:
        self.profile = profile
        self.region = region
        #: temporary credentials (``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``), e.g. from AssumeRole
        self.credentials = dict(credentials) if credentials is not None else None
        self.endpoint_url = endpoint_url or None
        self.client_factory: ClientFactory = client_factory or boto_client
        #: throttled calls of every client of this account (shared with ``for_region`` contexts); a live run
        #: sets its ``pacer`` to the run's rate limits
        self.throttle = throttle if throttle is not None else ThrottleRetry()
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._account: str | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:  # credentials never appear
        creds = "explicit" if self.credentials is not None else "default chain"
        return (f"AwsContext(profile={self.profile!r}, region={self.region!r}, credentials={creds}, "
                f"endpoint_url={self.endpoint_url!r})")

    def for_region(self, region: str | None) -> AwsContext:
        """The same identity (credentials or profile), endpoint, client factory and throttle retry in another region."""
        if region is None or region == self.region:
            return self
        return AwsContext(self.profile, region, self.credentials, self.endpoint_url,
                          client_factory=self.client_factory, throttle=self.throttle)

    @property
    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                if self.credentials is not None:
                    c = self.credentials
                    self._session = boto3.session.Session(
                        aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c.get("SessionToken"), region_name=self.region)
                else:
                    self._session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
            return self._session

    @property
    def region_name(self) -> str:
        r = self.session.region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return str(r or "us-east-1")

    def client(self, service: str) -> Any:
        with self._lock:
            c = self._clients.get(service)
            if c is None:
                c = self._clients[service] = self.client_factory(self, service)
            return c

    @property
    def account(self) -> str:
        if self._account is None:
            self._account = str(self.client("sts").get_caller_identity()["Account"])
        return self._account

    @property
    def partition(self) -> str:
        r = self.region_name
        if r.startswith("cn-"):
            return "aws-cn"
        if r.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"


#: the historical name; same constructor keywords (``profile``, ``region``, ``credentials``)
Aws = AwsContext


def error_code(exc: BaseException) -> str:
    resp = getattr(exc, "response", None)
    if isinstance(resp, dict):
        return str(resp.get("Error", {}).get("Code", ""))
    return ""


def safe_aws_message(exc: BaseException) -> str:
    """A one-line description of an AWS error that can never echo a value we sent.

    AWS error messages may quote request parameters; we keep only the error code and operation.
    """
    code = error_code(exc)
    op = getattr(exc, "operation_name", "") or ""
    if code:
        msg = f"{op}: {code}" if op else code
        if isinstance(exc, ThrottledError):
            msg += f" (still throttled after {exc.attempts} attempts; retry later)"
        if "AccessDenied" in code or code in ("UnauthorizedOperation", "UnrecognizedClientException"):
            msg += f"; missing IAM permission {_denied_action(exc) or op or 'unknown'}"
        return msg
    return type(exc).__name__


def _denied_action(exc: BaseException) -> str:
    """The IAM action AWS names in an AccessDenied message ("... not authorized to perform: ssm:PutParameter").

    Only a strictly action-shaped token is kept, so nothing else from the message can leak through."""
    resp = getattr(exc, "response", None)
    text = str(resp.get("Error", {}).get("Message", "")) if isinstance(resp, dict) else ""
    m = re.search(r"perform: ([a-z0-9-]{2,40}:[A-Za-z0-9*]{2,80})(?![^\s])", text)
    return m.group(1) if m else ""
