"""Ownership from receipts, never from tags (issue 12.5, store part).

An entry is this run's only when this run's journal holds its receipt, or an intent whose random run token
the entry carries. Tags are a second signal: with ``ssm:ListTagsForResource`` denied, rollback still deletes
exactly its own entries; when the proof itself cannot be read it fails naming the permission, never
"reverted" with orphans; a second journal on the same plan never claims the first's entries."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from support.faults import Rule, inject
from support.testing import run_cli

from migrate.apply.env import make_env
from migrate.apply.executor import apply_plan, rollback_plan
from migrate.apply.journal import Journal, state_dir_for
from migrate.errors import ActionFailed
from migrate.plan.model import Plan
from migrate.stores.aws import Aws

_spec = importlib.util.spec_from_file_location("_proofs_world", Path(__file__).with_name("_world.py"))
assert _spec and _spec.loader
W = sys.modules.setdefault("_proofs_world", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(W)

EMPTY: dict[str, dict[str, object]] = {"ssm": {}, "sm": {}, "policies": {}}
FAULTS = "SECRETS_MIGRATE_TEST_FAULTS"
GUARD = {"SECRETS_MIGRATE_TEST_MODE": "i-know-this-injects-faults"}
NO_TAGS = {"kind": "access-denied", "ops": ["ssm.ListTagsForResource"], "rate": 1.0}


@pytest.fixture
def project(server_env: str, tmp_path: Path) -> tuple[Path, Path]:
    W.reset_moto(server_env)
    defs = tmp_path / "defs"
    W.write_project(defs)
    r = run_cli(["plan", "defs", "--execution-role", W.ROLE, "-o", "plan.json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return defs, tmp_path / "plan.json"


def _records(plan_path: Path) -> list[dict[str, object]]:
    j = state_dir_for(plan_path) / "journal.jsonl"
    return [json.loads(x) for x in j.read_text().splitlines()] if j.exists() else []


def test_tags_unreadable_auto_rollback_deletes_exactly_its_own_entries(project: tuple[Path, Path]) -> None:
    defs, plan_path = project
    before = W.tree_bytes(defs)
    # tags denied throughout; the 4th entry create is denied, so three were created and must be removed
    rules = [NO_TAGS, {"kind": "access-denied", "ops": ["ssm.PutParameter"], "at": [5]}]
    r = run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent, env={**GUARD, FAULTS: json.dumps(rules)})
    assert r.returncode == 4 and "rolled back" in r.stderr, r.stderr
    assert "left in place" not in r.stderr
    assert W.tree_bytes(defs) == before and W.store_snapshot() == EMPTY


def test_tags_unreadable_rollback_command_deletes_exactly_its_own_entries(project: tuple[Path, Path]) -> None:
    defs, plan_path = project
    before = W.tree_bytes(defs)
    env = {**GUARD, FAULTS: json.dumps([NO_TAGS])}
    assert run_cli(["apply", "plan.json", "--yes"], cwd=plan_path.parent, env=env).returncode == 0
    r = run_cli(["rollback", "plan.json", "--yes"], cwd=plan_path.parent, env=env)
    assert r.returncode == 0, r.stderr
    assert "left in place" not in r.stderr
    assert W.tree_bytes(defs) == before and W.store_snapshot() == EMPTY


def test_proof_unreadable_for_an_uncertain_entry_fails_naming_the_permission(project: tuple[Path, Path],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A timeout after the create reached AWS leaves an entry the journal only has an intent for; with
    ``ssm:DescribeParameters`` denied its run token cannot be read: a clear failure, nothing marked reverted."""
    import botocore.retries.standard as std

    monkeypatch.setattr(std.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.01)
    defs, plan_path = project
    plan = Plan.from_json(plan_path.read_text(), base=plan_path.parent)
    aws = Aws()
    inject(aws, [Rule("timeout", ops=("ssm.PutParameter",), at=(2,)),
                 Rule("access-denied", ops=("ssm.DescribeParameters",), rate=1.0)])
    rt = make_env(plan=plan, journal=Journal(state_dir_for(plan_path), plan.id), aws=aws)
    with pytest.raises(ActionFailed) as info:
        apply_plan(rt)
    assert "ssm:DescribeParameters" in str(info.value)
    assert "rolled back" not in str(info.value).split(";")[0]
    uncertain = plan.store_actions[1].id
    phases = [r["phase"] for r in _records(plan_path) if r["action_id"] == uncertain]
    assert "reverted" not in phases and "reverting" not in phases, phases
    assert len(W.store_snapshot()["ssm"]) == 2  # nothing deleted while ownership was unproven
    # with the permission back, rollback proves ownership from the token and removes both
    rt2 = make_env(plan=plan, journal=Journal(state_dir_for(plan_path), plan.id), aws=Aws())
    rollback_plan(rt2)
    assert W.tree_bytes(defs) != {} and W.store_snapshot() == EMPTY


def test_a_second_journal_on_the_same_plan_never_claims_the_first_runs_entries(project: tuple[Path, Path],
                                                                              tmp_path: Path) -> None:
    """Even with every lock bypassed (another journal, same plan id, same tags), the second run's rollback
    leaves the first run's entries alone: it holds no receipt and no token for them."""
    import dataclasses

    defs, plan_path = project
    plan = Plan.from_json(plan_path.read_text(), base=plan_path.parent)
    # the first run is mid-way: its entries exist, its files are not rewritten yet
    stores_only = dataclasses.replace(plan, actions=tuple(plan.store_actions), inputs=())
    first = make_env(plan=stores_only, journal=Journal(state_dir_for(plan_path), plan.id), aws=Aws())
    apply_plan(first)
    made = W.store_snapshot()
    assert len(made["ssm"]) == len(plan.store_actions)
    aws = Aws()
    inject(aws, [Rule("access-denied", ops=("iam.PutRolePolicy",), rate=1.0)])
    other_dir = tmp_path / "elsewhere" / "plan.json.state"
    second = make_env(plan=plan, journal=Journal(other_dir, plan.id), aws=aws)
    with pytest.raises(ActionFailed):
        apply_plan(second)
    assert W.store_snapshot()["ssm"] == made["ssm"]
    rollback_plan(second)
    assert W.store_snapshot()["ssm"] == made["ssm"]
