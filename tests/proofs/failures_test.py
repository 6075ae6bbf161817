"""Failures outside ClientError (issue 12.6): every failure during apply ends in a completed automatic
rollback or in a clear stop that states where things are and names the command that finishes the job;
rollback checks everything (every original file rebuilt from the store values) before it changes anything;
``show`` on a live plan with refused entries does not crash (issue 12.9)."""

from __future__ import annotations

import importlib.util
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from support.testing import LAUNCHER, run_cli

from migrate.apply.env import Env, make_env
from migrate.apply.executor import apply_plan, rollback_plan
from migrate.apply.journal import Journal, state_dir_for
from migrate.errors import ActionFailed
from migrate.model import SecretValue
from migrate.plan.actions import RewriteFile
from migrate.plan.model import Plan
from migrate.stores.aws import Aws
from migrate.stores.base import StoredEntry
from migrate.stores.ssm import SsmStore

_spec = importlib.util.spec_from_file_location("_proofs_world", Path(__file__).with_name("_world.py"))
assert _spec and _spec.loader
W = sys.modules.setdefault("_proofs_world", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(W)

EMPTY: dict[str, dict[str, object]] = {"ssm": {}, "sm": {}, "policies": {}}


@pytest.fixture
def project(server_env: str, tmp_path: Path) -> tuple[Path, Path]:
    W.reset_moto(server_env)
    defs = tmp_path / "defs"
    W.write_project(defs)
    r = run_cli(["plan", "defs", "--execution-role", W.ROLE, "-o", "plan.json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return defs, tmp_path / "plan.json"


class Broken(SsmStore):
    """SSM whose endpoint goes away (or whose user presses Ctrl-C) from the ``after``-th create on."""

    def __init__(self, aws: Aws, after: int, exc: type[BaseException], *, forever: bool) -> None:
        super().__init__(aws)
        self.after, self.exc, self.forever = after, exc, forever
        self.creates = 0
        self.down = False

    def _fail(self) -> None:
        if self.exc is EndpointConnectionError:
            raise EndpointConnectionError(endpoint_url="https://ssm.us-east-1.amazonaws.com")  # type: ignore[call-arg]  # botocore: keyword-only fields, untyped
        raise self.exc()

    def create(self, name: str, value: SecretValue, **kw: Any) -> StoredEntry:
        self.creates += 1
        if self.creates >= self.after:
            self.down = self.forever
            self._fail()
        return super().create(name, value, **kw)

    def lookup(self, name: str) -> StoredEntry | None:
        if self.down:
            self._fail()
        return super().lookup(name)

    def read(self, name_or_arn: str) -> SecretValue | None:
        if self.down:
            self._fail()
        return super().read(name_or_arn)

    def delete(self, name: str) -> bool:
        if self.down:
            self._fail()
        return super().delete(name)


def _rt(plan_path: Path, ssm: SsmStore | None = None) -> Env:
    plan = Plan.from_json(plan_path.read_text(), base=plan_path.parent)
    aws = Aws()
    return make_env(plan=plan, journal=Journal(state_dir_for(plan_path), plan.id), aws=aws, ssm=ssm)


@pytest.mark.parametrize("exc", [EndpointConnectionError, KeyboardInterrupt, PermissionError])
def test_a_failure_mid_apply_is_rolled_back_completely(project: tuple[Path, Path], exc: type[BaseException]) -> None:
    defs, plan_path = project
    before = W.tree_bytes(defs)
    rt = _rt(plan_path)
    rt.ssm = Broken(rt.aws, 3, exc, forever=False)
    with pytest.raises(ActionFailed) as info:
        apply_plan(rt)
    assert "everything this run did was rolled back" in str(info.value)
    assert W.tree_bytes(defs) == before and W.store_snapshot() == EMPTY


def test_endpoint_lost_for_good_stops_clearly_with_state_and_command(project: tuple[Path, Path]) -> None:
    defs, plan_path = project
    before = W.tree_bytes(defs)
    rt = _rt(plan_path)
    rt.plan_ref = "plan.json"
    rt.ssm = Broken(rt.aws, 3, EndpointConnectionError, forever=True)
    with pytest.raises(ActionFailed) as info:
        apply_plan(rt)
    msg, hint = str(info.value), str(info.value.hint)
    assert "automatic rollback did not complete" in msg and "EndpointConnectionError" in msg
    assert "state: " in msg and "2 applied" in msg
    assert "secrets-migrate rollback plan.json" in hint
    # the endpoint is back: the named command finishes the job
    rollback_plan(_rt(plan_path))
    assert W.tree_bytes(defs) == before and W.store_snapshot() == EMPTY


def _limit_file_size(limit: int) -> Any:
    def pre() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return pre


def test_file_size_limit_mid_apply_stops_clearly_then_rollback_finishes(project: tuple[Path, Path]) -> None:
    """``ulimit -f``: the journal cannot grow past ~2 KB, so an append fails with EFBIG part-way through."""
    defs, plan_path = project
    before = W.tree_bytes(defs)
    r = subprocess.run([sys.executable, str(LAUNCHER), "apply", "plan.json", "--yes"], cwd=plan_path.parent,
                       capture_output=True, text=True, timeout=120, preexec_fn=_limit_file_size(2048),
                       env={**__import__("os").environ, "COLUMNS": "200"})
    assert r.returncode == 4, r.stderr
    assert "Traceback" not in r.stderr and "state: " in r.stderr
    assert "secrets-migrate rollback plan.json" in r.stderr, r.stderr
    assert W.store_snapshot() != EMPTY  # a clear stop: the state is left for the named command
    ok = run_cli(["rollback", "plan.json", "--yes"], cwd=plan_path.parent)
    assert ok.returncode == 0, ok.stderr
    assert W.tree_bytes(defs) == before and W.store_snapshot() == EMPTY


def test_rotated_value_stops_rollback_before_any_file_changes(project: tuple[Path, Path]) -> None:
    defs, plan_path = project
    assert run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent).returncode == 0
    applied = W.tree_bytes(defs)
    plan = Plan.from_json(plan_path.read_text(), base=plan_path.parent)
    # rotate a value of the file reverted LAST (the first rewrite), so a rollback that does not check first
    # would already have restored the other files when it meets it
    first = next(a for a in plan.actions if isinstance(a, RewriteFile))
    target = next(s for s in plan.store_actions if any(Path(v.definition) == Path(first.path) for v in s.values))
    boto3.client("ssm").put_parameter(Name=target.name, Value="rotated-value-123", Type="SecureString",
                                      Overwrite=True)
    store = W.store_snapshot()
    r = run_cli(["rollback", "plan.json", "--yes"], cwd=plan_path.parent)
    assert r.returncode == 4, r.stderr
    assert "nothing was changed" in r.stderr and first.display in r.stderr
    assert W.tree_bytes(defs) == applied and W.store_snapshot() == store
    phases = [json.loads(x)["phase"] for x in (state_dir_for(plan_path) / "journal.jsonl").read_text().splitlines()]
    assert "reverting" not in phases and "reverted" not in phases


def test_show_on_a_live_plan_with_refused_entries_does_not_crash(server_env: str, tmp_path: Path) -> None:
    from migrate.live.seed import create_service, ensure_network, seed_synthetic

    W.reset_moto(server_env)
    seed_synthetic(1, cluster="c1")
    ecs = boto3.client("ecs")
    arn = ecs.register_task_definition(  # no execution role: its secret is refused by the live planner
        family="norole", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "app", "image": "nginx:1.27", "essential": True,
                               "environment": [{"name": "DB_PASSWORD", "value": "Xk9-norole-s3cr3t-Qz7"}]}],
    )["taskDefinition"]["taskDefinitionArn"]
    create_service(ecs, "c1", "norole", arn, ensure_network(boto3.client("ec2")), awsvpc=True)
    p = run_cli(["live", "plan", "--store", "ssm", "--cluster", "c1", "-o", "live.json"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "live.json").read_text())["refused"], "the seed must produce a refusal"
    r = run_cli(["show", "live.json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "norole" in r.stdout and "DB_PASSWORD" in r.stdout and "execution role" in r.stdout
    assert "Xk9-norole-s3cr3t-Qz7" not in r.stdout + r.stderr
