"""boto3 sessions and clients. The only place clients are built.

``AWS_ENDPOINT_URL`` (and the per-service ``AWS_ENDPOINT_URL_<SERVICE>``) are honoured by botocore
itself; ``--endpoint-url`` on the command line sets ``AWS_ENDPOINT_URL`` for the process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

RETRIES = {"mode": "adaptive", "max_attempts": 10}

#: temporary credentials (from STS AssumeRole) every new ``Aws`` without a profile uses; see ``assumed``
_DEFAULT_CREDENTIALS: Mapping[str, str] | None = None


@contextmanager
def assumed(credentials: Mapping[str, str] | None) -> Iterator[None]:
    """Within the block, every ``Aws()`` built without a profile or credentials uses ``credentials``.

    ``credentials`` is the ``Credentials`` mapping of an STS AssumeRole answer. Process-wide (worker threads
    included): playbooks run one account at a time.
    """
    global _DEFAULT_CREDENTIALS
    before, _DEFAULT_CREDENTIALS = _DEFAULT_CREDENTIALS, credentials
    try:
        yield
    finally:
        _DEFAULT_CREDENTIALS = before


@dataclass
class Aws:
    """A lazily-built session plus cached clients."""

    profile: str | None = None
    region: str | None = None
    _session: Any = field(default=None, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _account: str | None = None
    #: temporary credentials (``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``), e.g. from AssumeRole
    credentials: Mapping[str, str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.credentials is None and self.profile is None and self._session is None:
            self.credentials = _DEFAULT_CREDENTIALS

    @property
    def session(self) -> Any:
        if self._session is None:
            if self.credentials is not None:  # AWS_ENDPOINT_URL* still honoured by botocore
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
        return r or "us-east-1"

    def client(self, service: str) -> Any:
        c = self._clients.get(service)
        if c is None:
            c = self.session.client(
                service,
                region_name=self.region_name,
                config=BotoConfig(retries=RETRIES, connect_timeout=10, read_timeout=60),
            )
            if os.environ.get("SECRETS_MIGRATE_TEST_FAULTS"):  # test-only, guarded inside
                from migrate.faults import attach_from_env

                attach_from_env(c)
            self._clients[service] = c
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
    import re

    resp = getattr(exc, "response", None)
    text = str(resp.get("Error", {}).get("Message", "")) if isinstance(resp, dict) else ""
    m = re.search(r"perform: ([a-z0-9-]{2,40}:[A-Za-z0-9*]{2,80})(?![^\s])", text)
    return m.group(1) if m else ""
