"""apply -> verify -> rollback against in-process moto: the promises of file mode."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import boto3
import pytest

from migrate.apply.env import Env, make_env
from migrate.apply.executor import apply_plan, rollback_plan
from migrate.apply.journal import Journal, state_dir_for
from migrate.apply.verify import verify_plan
from migrate.detect.engine import classify
from migrate.errors import ActionFailed, PreconditionFailed, StalePlanError
from migrate.plan.choices import Group
from migrate.plan.model import Plan, PlanSettings
from migrate.plan.planner import make_plan
from migrate.sources.walk import scan_paths
from migrate.stores.aws import Aws

RES = Path(__file__).resolve().parent.parent / "resources"
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
CANARIES = ("CANARY-ecs-7f3a", "sk_live_51HxExampleExampleExample00", "wk-2f9c1e8b7a6d")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".state" not in str(p)}


def _setup(tmp_path: Path, settings: PlanSettings | None = None) -> tuple[Path, Path, Plan]:
    work = tmp_path / "defs"
    work.mkdir()
    shutil.copy(RES / "ecs" / "register_web.json", work / "web.json")
    res = scan_paths([str(work)])
    findings = classify([e for lf in res.loaded for e in lf.entries])
    plan = make_plan(res.loaded, findings, settings or PlanSettings(execution_role=ROLE))
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan.to_json())
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
    return work, plan_path, plan


def _rt(plan_path: Path) -> Env:
    plan = Plan.from_json(plan_path.read_text())
    return make_env(plan=plan, journal=Journal(state_dir_for(plan_path), plan.id), aws=Aws())


def _store_names() -> set[str]:
    ssm = {p["Name"] for p in boto3.client("ssm").describe_parameters()["Parameters"]}
    sm = {s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]}
    return ssm | sm


def test_plan_holds_no_value_and_orders_stores_first(aws: None, tmp_path: Path) -> None:
    _, plan_path, plan = _setup(tmp_path)
    text = plan_path.read_text()
    for c in CANARIES:
        assert c not in text
    kinds = [a.kind for a in plan.actions]
    assert kinds.index("file.rewrite") > max(i for i, k in enumerate(kinds) if k.startswith(("ssm.", "secretsmanager.")))
    assert "iam.put-role-policy" in kinds


def test_apply_verify_rollback_is_byte_identical(aws: None, tmp_path: Path) -> None:
    work, plan_path, plan = _setup(tmp_path)
    before = _hashes(work)
    rt = _rt(plan_path)
    apply_plan(rt)
    assert _hashes(work) != before
    rewritten = json.loads((work / "web.json").read_text())
    app = rewritten["containerDefinitions"][0]
    assert "DB_PASSWORD" not in {e["name"] for e in app["environment"]}
    assert any(s["name"] == "DB_PASSWORD" and s["valueFrom"].startswith("arn:aws:ssm:") for s in app["secrets"])
    created = _store_names()
    assert len(created) == len(plan.store_actions)
    value = boto3.client("ssm").get_parameter(Name=next(n for n in created if n.endswith("DB_PASSWORD")),
                                              WithDecryption=True)["Parameter"]["Value"]
    assert value == "CANARY-ecs-7f3a"
    checks = verify_plan(rt)
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    rollback_plan(rt)
    assert _hashes(work) == before
    assert _store_names() == set()
    assert boto3.client("iam").list_role_policies(RoleName="ecsTaskExecutionRole")["PolicyNames"] == []
    for c in CANARIES:
        assert c not in (state_dir_for(plan_path) / "journal.jsonl").read_text()


def test_second_apply_is_a_noop_and_rollback_is_idempotent(aws: None, tmp_path: Path) -> None:
    work, plan_path, _ = _setup(tmp_path)
    apply_plan(_rt(plan_path))
    after_first = _hashes(work)
    names = _store_names()
    rt = _rt(plan_path)
    n = len(rt.journal.records)
    apply_plan(rt)
    assert _hashes(work) == after_first and _store_names() == names
    assert [r["phase"] for r in rt.journal.records[n:]] == ["run-start", "run-end"]
    rollback_plan(_rt(plan_path))
    rollback_plan(_rt(plan_path))  # second rollback: nothing left to do, no error
    assert _store_names() == set()


def test_failure_mid_apply_rolls_back_everything(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work, plan_path, _ = _setup(tmp_path)
    before = _hashes(work)
    import migrate.apply.impls.files as ex  # where file rewrites are written

    def boom(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ex, "atomic_write", boom)
    with pytest.raises(ActionFailed) as info:
        apply_plan(_rt(plan_path))
    assert "rolled back" in str(info.value)
    assert _hashes(work) == before
    assert _store_names() == set()


def test_existing_entry_with_same_value_is_adopted_and_kept(aws: None, tmp_path: Path) -> None:
    work, plan_path, plan = _setup(tmp_path)
    target = next(a for a in plan.store_actions if a.values[0].name == "DB_PASSWORD")
    boto3.client("ssm").put_parameter(Name=target.name, Value="CANARY-ecs-7f3a", Type="SecureString")
    rt = _rt(plan_path)
    apply_plan(rt)
    rollback_plan(_rt(plan_path))
    assert _store_names() == {target.name}


def test_existing_entry_with_other_value_stops_before_any_change(aws: None, tmp_path: Path) -> None:
    work, plan_path, plan = _setup(tmp_path)
    before = _hashes(work)
    target = plan.store_actions[-1]
    boto3.client("ssm").put_parameter(Name=target.name, Value="someone-elses-value", Type="SecureString")
    with pytest.raises(PreconditionFailed) as info:
        apply_plan(_rt(plan_path))
    assert target.name in str(info.value)
    assert "someone-elses-value" not in str(info.value)
    assert _hashes(work) == before and _store_names() == {target.name}


def test_stale_plan_is_refused(aws: None, tmp_path: Path) -> None:
    work, plan_path, _ = _setup(tmp_path)
    p = work / "web.json"
    p.write_text(p.read_text() + " ")
    with pytest.raises(StalePlanError):
        apply_plan(_rt(plan_path))
    assert _store_names() == set()


def test_per_unit_grouping_uses_json_keys(aws: None, tmp_path: Path) -> None:
    work, plan_path, plan = _setup(tmp_path, PlanSettings(execution_role=ROLE, group=Group.PER_UNIT))
    before = _hashes(work)
    rt = _rt(plan_path)
    apply_plan(rt)
    app = json.loads((work / "web.json").read_text())["containerDefinitions"][0]
    refs = {s["name"]: s["valueFrom"] for s in app["secrets"]}
    assert refs["DB_PASSWORD"].startswith("arn:aws:secretsmanager:") and refs["DB_PASSWORD"].endswith(":DB_PASSWORD::")
    assert all(c.ok for c in verify_plan(rt))
    rollback_plan(rt)
    assert _hashes(work) == before and _store_names() == set()
