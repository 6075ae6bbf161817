"""The planner: store choice by size, grouping, clashes, sharing, IAM grants; all pure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrate.commands.common import scan
from migrate.errors import PlanError
from migrate.plan.actions import CreateSecret, PutParameter, PutRolePolicy, RewriteFile
from migrate.plan.model import Plan, PlanSettings
from migrate.plan.planner import make_plan

ROLE = "arn:aws:iam::123456789012:role/exec"


def _td(path: Path, family: str, env: dict[str, str], role: str | None = ROLE) -> None:
    td = {"family": family, "containerDefinitions": [{"name": "app", "image": "x",
                                                      "environment": [{"name": k, "value": v} for k, v in env.items()]}]}
    if role:
        td["executionRoleArn"] = role
    path.write_text(json.dumps(td, indent=2))


def _plan(tmp_path: Path, settings: PlanSettings | None = None) -> Plan:
    o = scan([str(tmp_path)])
    return Plan.from_json(make_plan(o.loaded, o.findings, settings or PlanSettings()).to_json())


def test_auto_store_picks_by_size(tmp_path: Path) -> None:
    _td(tmp_path / "a.json", "a", {"DB_PASSWORD": "Kq7-short-secret-9x", "CERT_PRIVATE_KEY": "Zk9" + "q" * 5000,
                                   "SIGNING_SECRET": "Mv3" + "w" * 9000})
    p = _plan(tmp_path)
    kinds = {a.values[0].name: (type(a).__name__, getattr(a, "tier", None)) for a in p.store_actions}  # type: ignore[attr-defined]
    assert kinds["DB_PASSWORD"] == ("PutParameter", "Standard")
    assert kinds["CERT_PRIVATE_KEY"] == ("PutParameter", "Advanced")
    assert kinds["SIGNING_SECRET"] == ("CreateSecret", None)
    assert p.cost["monthly_usd"] == pytest.approx(0.45)


def test_ssm_refuses_values_over_8k(tmp_path: Path) -> None:
    _td(tmp_path / "a.json", "a", {"SIGNING_SECRET": "Mv3" + "w" * 9000, "DB_PASSWORD": "Kq7-short-secret-9x"})
    p = _plan(tmp_path, PlanSettings(store="ssm"))
    (b,) = p.blocked  # that value only: the other one is planned
    assert b.kind == "store-limit" and "8 KiB" in b.reason and b.name == "SIGNING_SECRET" and "--store" in b.fix
    assert [v.name for a in p.store_actions for v in a.values] == ["DB_PASSWORD"]
    assert "Mv3" not in p.to_json()


def test_per_unit_needs_secrets_manager() -> None:
    with pytest.raises(PlanError, match="per-unit"):
        PlanSettings(store="ssm", group="per-unit")


def test_name_clash_with_different_values_blocks_the_second_entry(tmp_path: Path) -> None:
    _td(tmp_path / "a.json", "web", {"DB_PASSWORD": "Kq7-first-secret-9x"})
    (tmp_path / "b").mkdir()
    _td(tmp_path / "b" / "a.json", "web", {"DB_PASSWORD": "Kq7-other-secret-9x"})
    p = _plan(tmp_path)
    (b,) = p.blocked
    assert b.kind == "name-clash" and "name clash" in b.reason and "/web/app/DB_PASSWORD" in b.reason
    assert "{file}" in b.fix
    assert len(p.store_actions) == 1 and len(p.rewrites) == 1  # the first file is planned, the second stays
    assert "Kq7" not in p.to_json()


def test_same_name_same_value_shares_one_entry(tmp_path: Path) -> None:
    _td(tmp_path / "a.json", "web", {"DB_PASSWORD": "Kq7-same-secret-9x"})
    (tmp_path / "b").mkdir()
    _td(tmp_path / "b" / "a.json", "web", {"DB_PASSWORD": "Kq7-same-secret-9x"})
    p = _plan(tmp_path)
    assert len(p.store_actions) == 1 and len(p.store_actions[0].values) == 2  # type: ignore[attr-defined]
    assert len(p.rewrites) == 2


def test_share_identical_merges_within_a_group(tmp_path: Path) -> None:
    _td(tmp_path / "a.json", "web", {"DB_PASSWORD": "Kq7-dup-secret-9x", "ADMIN_PASSWORD": "Kq7-dup-secret-9x"})
    assert len(_plan(tmp_path).store_actions) == 2
    assert len(_plan(tmp_path, PlanSettings(share_identical=True)).store_actions) == 1


def test_iam_grants_per_role_and_plan_orders_actions(tmp_path: Path) -> None:
    _td(tmp_path / "a.json", "a", {"DB_PASSWORD": "Kq7-a-secret-9x"})
    _td(tmp_path / "b.json", "b", {"API_TOKEN": "tok_9Zq81mXv0Lp3"}, role="arn:aws:iam::123456789012:role/other")
    p = _plan(tmp_path)
    pols = p.policies
    assert sorted(x.role_arn.rsplit("/", 1)[1] for x in pols) == ["exec", "other"]
    assert all(isinstance(x, PutRolePolicy) and len(x.ssm_actions) == 1 for x in pols)
    order = [type(a) for a in p.actions]
    assert order == sorted(order, key=lambda t: {PutParameter: 0, CreateSecret: 0, PutRolePolicy: 1, RewriteFile: 2}[t])


def test_missing_execution_role_is_refused_or_filled(tmp_path: Path) -> None:
    _td(tmp_path / "a.json", "a", {"DB_PASSWORD": "Kq7-a-secret-9x"}, role=None)
    _td(tmp_path / "b.json", "b", {"API_TOKEN": "tok_9Zq81mXv0Lp3"})
    blocked = _plan(tmp_path)
    (b,) = blocked.blocked  # a.json only: b.json names its role and is planned
    assert b.kind == "execution-role" and b.path.endswith("a.json") and "--execution-role" in b.reason + b.fix
    assert [r.display.rsplit("/", 1)[1] for r in blocked.rewrites] == ["b.json"]
    assert [v.name for a in blocked.store_actions for v in a.values] == ["API_TOKEN"]
    p = _plan(tmp_path, PlanSettings(execution_role=ROLE))
    from migrate.plan.render import diffs

    shown = diffs(p)
    assert "executionRoleArn" in shown[next(iter(shown))]


def test_plan_diff_is_redacted(tmp_path: Path) -> None:
    _td(tmp_path / "a.json", "a", {"DB_PASSWORD": "Kq7-redact-me-9x", "LOG_LEVEL": "info"})
    p = _plan(tmp_path)
    text = p.to_json()
    assert "Kq7-redact-me-9x" not in text and "DB_PASSWORD" in text
    from migrate.plan.render import diffs

    shown = "".join(diffs(p).values())  # rendered from the edits: no diff text is stored in the plan
    assert "Kq7-redact-me-9x" not in shown and "-" in shown and "••••••" in shown
