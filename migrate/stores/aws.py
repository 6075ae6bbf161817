"""AWS sessions and clients: the only place clients are built.

An ``AwsContext`` is one account/region view: profile *or* explicit credentials, a region and an optional
endpoint. It holds no process-wide state and never touches ``os.environ``, so several contexts (several
accounts, several regions) can be used at once. ``for_region`` derives a context for another region that
keeps the credentials, profile, endpoint and client factory.

Without an explicit ``endpoint_url``, botocore itself honours ``AWS_ENDPOINT_URL`` (and the per-service
``AWS_ENDPOINT_URL_<SERVICE>``); ``--endpoint-url`` on the command line is passed in explicitly.
Clients are made by an injected ``ClientFactory`` (default: ``boto_client``), which is where tests wrap
them (fault injection) without any hook in this module.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

RETRIES = {"mode": "adaptive", "max_attempts": 10}

#: builds one botocore client: ``factory(context, service)``
ClientFactory = Callable[["AwsContext", str], Any]


def boto_client(ctx: AwsContext, service: str) -> Any:
    """The default client factory: the context's session, region and endpoint, adaptive retries."""
    return ctx.session.client(
        service,
        region_name=ctx.region_name,
        endpoint_url=ctx.endpoint_url,  # None: botocore falls back to AWS_ENDPOINT_URL* or the real endpoint
        config=BotoConfig(retries=RETRIES, connect_timeout=10, read_timeout=60),
    )


class AwsContext:
    """A lazily-built session plus cached clients for one account and region. Thread-safe."""

    def __init__(self, profile: str | None = None, region: str | None = None,
                 credentials: Mapping[str, str] | None = None, endpoint_url: str | None = None, *,
                 client_factory: ClientFactory | None = None) -> None:
        self.profile = profile
        self.region = region
        #: temporary credentials (``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``), e.g. from AssumeRole
        self.credentials = dict(credentials) if credentials is not None else None
        self.endpoint_url = endpoint_url or None
        self.client_factory: ClientFactory = client_factory or boto_client
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._account: str | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:  # credentials never appear
        creds = "explicit" if self.credentials is not None else "default chain"
        return (f"AwsContext(profile={self.profile!r}, region={self.region!r}, credentials={creds}, "
                f"endpoint_url={self.endpoint_url!r})")

    def for_region(self, region: str | None) -> AwsContext:
        """The same identity (credentials or profile), endpoint and client factory in another region."""
        if region is None or region == self.region:
            return self
        return AwsContext(self.profile, region, self.credentials, self.endpoint_url,
                          client_factory=self.client_factory)

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
