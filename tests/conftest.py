"""Shared fixtures: AWS is always moto. Nothing here can reach a real AWS account.

* ``aws``: in-process ``mock_aws`` (every ``AWS_ENDPOINT_URL*`` removed first, or moto is bypassed).
* ``moto_server`` / ``server_env``: a moto server on 127.0.0.1 started by the tests themselves, reset
  per test, with ``AWS_ENDPOINT_URL`` pointing at it: subprocess runs of the CLI use it.

``tests/`` is put on ``sys.path`` so test modules import the shared helpers as ``support.*``
(``support.testing.run_cli``, ``support.faults``, ``support.launcher``); they never ship in the package.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
RESOURCES = Path(__file__).resolve().parent / "resources"

if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

#: the long proofs, marked ``slow`` here in one place: ``python -m pytest -m "not slow"`` is the quick loop
#: (under two minutes), CI runs everything. Whole files (relative to tests/), or "file::test-name prefix".
SLOW = (
    "proofs/crash_test.py",  # SIGKILL at every journal record, resume and rollback each time
    "proofs/live_crash_test.py",
    "proofs/fuzz_test.py",  # hypothesis, hundreds of examples
    "proofs/fuzz_iac_test.py",
    "proofs/concurrency_test.py",  # concurrent CLI processes with injected delays
    "proofs/canary_test.py",
    "proofs/faults_test.py",  # a moto server, injected faults, many subprocess runs
    "proofs/hostile_input_test.py",
    "live/batch_test.py",  # hundreds of seeded services, a crash mid-batch
    "live/ratelimit_quota_test.py",  # a quota proxy: waits out the quota on purpose
    "commands/demo_test.py::test_demo_runs_the_whole_pipeline",
    "commands/pipeline_test.py::test_full_pipeline_round_trip_and_no_leak",  # every command as a subprocess
    "playbook_test.py::test_run_plan_only_against_seeded_sandbox",  # seeds a whole sandbox account
    "sources/cdk_python_test.py::test_cdk_synth_of_rewritten_apps",  # runs `cdk synth` on every rewritten app
    "rewrite/json_spans_test.py::test_speed_at_least_5_mb_per_second",  # a benchmark
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = REPO / "tests"
    for item in items:
        rel = item.path.relative_to(tests).as_posix() if item.path.is_relative_to(tests) else ""
        node = f"{rel}::{item.name}"
        if any(node.startswith(s) if "::" in s else rel == s for s in SLOW):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fake credentials everywhere, no profile, logs out of $HOME."""
    for k in list(os.environ):
        if k.startswith("AWS_ENDPOINT_URL") or k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
                                                     "AWS_SHARED_CREDENTIALS_FILE"):
            monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("SECRETS_MIGRATE_LOG_DIR", str(tmp_path_factory.mktemp("logs")))
    monkeypatch.setenv("SECRETS_MIGRATE_STATE_DIR", str(tmp_path_factory.mktemp("state")))  # fingerprint key


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from migrate.sandbox import Sandbox

    sb = Sandbox(0)
    url = sb.start()
    yield url
    sb.stop()


@pytest.fixture
def server_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10).read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server
