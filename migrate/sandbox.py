"""The built-in sandbox: a moto server on 127.0.0.1 that stands in for AWS.

Used by ``secrets-migrate sandbox`` (a long-running local endpoint), ``secrets-migrate demo``
(in-process, temporary) and the test suite.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SANDBOX_ENV = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
SANDBOX_ACCOUNT = "123456789012"  # moto's account id


class Sandbox:
    def __init__(self, port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        for name in ("werkzeug", "moto", "botocore", "urllib3"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self._srv: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.url = ""

    def start(self) -> str:
        self._srv.start()
        host, port = self._srv.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._srv.stop()

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()

    def env(self) -> dict[str, str]:
        return {**SANDBOX_ENV, "AWS_ENDPOINT_URL": self.url}


@contextmanager
def running_sandbox(port: int = 0) -> Iterator[Sandbox]:
    """Start a sandbox and point this process at it; restore the environment afterwards."""
    sb = Sandbox(port)
    sb.start()
    saved = {k: os.environ.get(k) for k in (*SANDBOX_ENV, "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN")}
    try:
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(k, None)
        os.environ.update(sb.env())
        yield sb
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        sb.stop()


def ensure_roles(role_arns: list[str]) -> list[str]:
    """Sandbox only: create the execution roles a plan grants, as an account would already have them."""
    import json

    import boto3

    iam = boto3.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    made = []
    for arn in role_arns:
        name = arn.rsplit("/", 1)[-1]
        path = "/"
        if ":role/" in arn:
            inner = arn.split(":role/", 1)[1]
            path = "/" + inner.rsplit("/", 1)[0] + "/" if "/" in inner else "/"
        try:
            iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust))
            made.append(name)
        except iam.exceptions.EntityAlreadyExistsException:
            pass
    return made
