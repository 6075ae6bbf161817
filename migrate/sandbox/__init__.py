"""The built-in sandbox: a moto server on 127.0.0.1 that stands in for AWS.

Used by ``secrets-migrate sandbox`` (a long-running local endpoint), ``secrets-migrate demo``
(in-process, temporary) and the test suite. moto comes with the ``sandbox`` extra
(``pip install "secrets-migrate[sandbox]"``); without it these commands exit 2 with that hint.
Nothing here changes the process environment: callers get an ``AwsContext`` pointed at the sandbox.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from migrate.errors import UsageError
from migrate.sandbox.limits import Quotas
from migrate.stores.aws import AwsContext

SANDBOX_REGION = "us-east-1"
SANDBOX_CREDENTIALS = {"AccessKeyId": "sandbox", "SecretAccessKey": "sandbox"}
#: what a shell needs to point the tool (or the AWS CLI) at a running sandbox, besides AWS_ENDPOINT_URL
SANDBOX_ENV = {
    "AWS_ACCESS_KEY_ID": SANDBOX_CREDENTIALS["AccessKeyId"],
    "AWS_SECRET_ACCESS_KEY": SANDBOX_CREDENTIALS["SecretAccessKey"],
    "AWS_DEFAULT_REGION": SANDBOX_REGION,
    "AWS_REGION": SANDBOX_REGION,
}
SANDBOX_ACCOUNT = "123456789012"  # moto's account id
INSTALL_HINT = 'install the sandbox extra: pip install "secrets-migrate[sandbox]"'


def fixtures_dir() -> Path:
    """The shipped demo fixtures: package data ``migrate/data/fixtures`` in an installed copy, the
    repository's top-level ``fixtures/`` (the source of truth) in a source checkout."""
    shipped = resources.files("migrate") / "data" / "fixtures"
    if shipped.is_dir():
        return Path(str(shipped))
    checkout = Path(__file__).resolve().parents[2] / "fixtures"
    if checkout.is_dir():
        return checkout
    raise UsageError("no fixtures shipped with this installation", hint="pass --fixtures DIR")


class Sandbox:
    """moto's server behind the ECS task-start emulator and AWS limits (issue 15, :mod:`migrate.sandbox.emulator`).

    ``deploy_seconds``: how long a deployment stays IN_PROGRESS before it completes or fails;
    ``quotas``: the AWS limits to enforce (defaults: AWS's); ``emulate=False`` gives bare moto.
    """

    def __init__(self, port: int = 0, *, deploy_seconds: float = 0.0, quotas: Quotas | None = None,
                 emulate: bool = True) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise UsageError("the sandbox needs moto, which is not installed", hint=INSTALL_HINT) from None

        for name in ("werkzeug", "moto", "botocore", "urllib3"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self.emulator: Any = None
        if emulate:
            from migrate.sandbox.server import emulated_server

            self._srv, self.emulator = emulated_server(port, deploy_seconds=deploy_seconds, quotas=quotas or Quotas())
        else:
            self._srv = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
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

    def context(self) -> AwsContext:
        """An ``AwsContext`` on this sandbox: its endpoint and fake credentials, whatever the environment says."""
        return AwsContext(region=SANDBOX_REGION, credentials=SANDBOX_CREDENTIALS, endpoint_url=self.url)


@contextmanager
def running_sandbox(port: int = 0, *, quotas: Quotas | None = None, deploy_seconds: float = 0.0) -> Iterator[Sandbox]:
    """Start a sandbox for the duration of the block (``sb.context()`` talks to it).

    ``quotas`` default: AWS's own limits (IAM policy sizes included: the demo's grants fit since apply
    keeps one merged, compressed policy per role).
    """
    sb = Sandbox(port, quotas=quotas, deploy_seconds=deploy_seconds)
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()


def ensure_roles(aws: AwsContext, role_arns: list[str]) -> list[str]:
    """Sandbox only: create the execution roles a plan grants, as an account would already have them."""
    import json

    iam = aws.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    made = []
    for arn in role_arns:
        # a realistic execution role: trusted by ecs-tasks.amazonaws.com, no secret grants of its own (the plan's
        # IAM step adds those), so the emulator completes a deployment exactly when the plan granted enough
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
