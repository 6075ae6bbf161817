"""Issue 13 point 2: files several inputs write (``ecs-params.yml`` of a compose folder) are one
merged action, preflight refuses an artifact another plan wrote, and plans over one folder roll
back cleanly in reverse order. Compose projects are named the way Compose names them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import boto3
import pytest
from support.testing import run_cli

from migrate.errors import RewriteError
from migrate.rewrite.edits import TextEdit
from migrate.sources.base import FileChange, merge_shared, read_source
from migrate.sources.compose import ComposeSource
from migrate.sources.compose.model import ecs_params_name, folder_project, project_of

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
BASE = "services:\n  api:\n    image: api:1\n    environment:\n      DB_PASSWORD: CANARY-base-db-3f9a1c\n" \
       "  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: CANARY-base-pg-77e0d2\n"
OVERRIDE = "services:\n  api:\n    environment:\n      JWT_SECRET: CANARY-override-jwt-0b4c9e\n"
PROD = "name: shop-prod\nservices:\n  api:\n    image: api:1\n    environment:\n" \
       "      DB_PASSWORD: CANARY-prod-db-a81f55\n"


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _shop(tmp_path: Path) -> Path:
    d = tmp_path / "defs" / "shop"
    d.mkdir(parents=True)
    (d / "docker-compose.yml").write_text(BASE)
    (d / "docker-compose.override.yml").write_text(OVERRIDE)
    (d / "docker-compose.prod.yml").write_text(PROD)
    return d


# --- project identity --------------------------------------------------------------------------


def test_project_names_follow_compose(tmp_path: Path) -> None:
    d = _shop(tmp_path)
    assert folder_project(d) == "shop"
    assert project_of("", d / "docker-compose.override.yml") == "shop"
    assert project_of("shop-prod", d / "docker-compose.prod.yml") == "shop-prod"
    assert ecs_params_name("shop", d / "docker-compose.yml") == "ecs-params.yml"
    assert ecs_params_name("shop-prod", d / "docker-compose.prod.yml") == "ecs-params.shop-prod.yml"
    (d / "docker-compose.yml").write_text("name: Web_Shop\n" + BASE)  # the base's name: is the override's too
    assert project_of("", d / "docker-compose.override.yml") == "web_shop"
    assert folder_project(d) == "web_shop"


def test_loaded_file_and_entries_carry_the_project(tmp_path: Path) -> None:
    d = _shop(tmp_path)
    src = ComposeSource()
    for name, project in (("docker-compose.yml", "shop"), ("docker-compose.override.yml", "shop"),
                          ("docker-compose.prod.yml", "shop-prod")):
        lf = src.load(read_source(d / name, f"shop/{name}"))
        assert lf.project == project
        assert {e.group for e in lf.entries} == {project}


def test_stacks_folder_gives_each_project_its_own_params_file() -> None:
    stacks = Path(__file__).resolve().parents[2] / "fixtures" / "monorepo" / "stacks"
    if not stacks.is_dir():
        pytest.skip("monorepo fixture not present")
    names = {ecs_params_name(ComposeSource().load(read_source(p, p.name)).project, p) for p in stacks.glob("*.yml")}
    assert len(names) == len(list(stacks.glob("*.yml"))) and "ecs-params.yml" not in names


# --- merge_shared --------------------------------------------------------------------------------


def test_merge_shared_merges_splices_and_refuses_conflicts() -> None:
    a = FileChange("x.env", (TextEdit(0, 4, "", "A=1\n"),), entries=("k1",))
    b = FileChange("x.env", (TextEdit(0, 4, "", "A=1\n"), TextEdit(8, 12, "", "C=3\n")), entries=("k2",))
    (m,) = merge_shared([a, b])
    assert [(e.start, e.end) for e in m.edits] == [(0, 4), (8, 12)] and m.entries == ("k1", "k2")
    with pytest.raises(RewriteError, match="x.env"):
        merge_shared([a, FileChange("x.env", (TextEdit(2, 6, "", "=1\nB"),))])
    with pytest.raises(RewriteError, match="new.yml"):
        merge_shared([FileChange("new.yml", (TextEdit(0, 0, "a", ""),), create=True),
                      FileChange("new.yml", (TextEdit(0, 0, "b", ""),), create=True)])


# --- end to end ----------------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str, expect: int = 0) -> str:
    r = run_cli(list(args), cwd=tmp_path)
    assert r.returncode == expect, (args, r.returncode, r.stderr[-2000:])
    return r.stdout + r.stderr


def test_one_folder_several_compose_files_one_action_per_file(server_env: str, tmp_path: Path) -> None:
    d = _shop(tmp_path)
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
    before = _tree(tmp_path / "defs")
    _cli(tmp_path, "plan", "defs", "--execution-role", ROLE, "-o", "plan.json")
    plan = json.loads((tmp_path / "plan.json").read_text())
    paths = [a["display"] for a in plan["actions"] if a["kind"] == "file.rewrite"]
    assert len(paths) == len(set(paths)), paths
    assert sum(p.endswith("/ecs-params.yml") for p in paths) == 1
    assert sum(p.endswith("/ecs-params.shop-prod.yml") for p in paths) == 1
    _cli(tmp_path, "apply", "plan.json", "--yes")
    params = (d / "ecs-params.yml").read_text()
    assert "DB_PASSWORD" in params and "JWT_SECRET" in params and "POSTGRES_PASSWORD" in params
    assert "DB_PASSWORD" in (d / "ecs-params.shop-prod.yml").read_text()
    r = run_cli(["verify", "plan.json", "--format", "json"], cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True, r.stderr[-2000:]
    _cli(tmp_path, "rollback", "plan.json", "--yes")
    assert _tree(tmp_path / "defs") == before
    assert boto3.client("ssm").describe_parameters()["Parameters"] == []


def test_two_plans_one_folder_preflight_refuses_then_merge_and_reverse_rollback(server_env: str,
                                                                               tmp_path: Path) -> None:
    d = _shop(tmp_path)
    (d / "docker-compose.prod.yml").unlink()
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
    before = _tree(tmp_path / "defs")
    base, override = "defs/shop/docker-compose.yml", "defs/shop/docker-compose.override.yml"
    _cli(tmp_path, "plan", base, "--execution-role", ROLE, "-o", "a.json")
    _cli(tmp_path, "plan", override, "--execution-role", ROLE, "-o", "b.json")
    _cli(tmp_path, "apply", "a.json", "--yes")
    after_a = _tree(tmp_path / "defs")
    out = _cli(tmp_path, "apply", "b.json", "--yes", expect=4)
    assert "ecs-params.yml" in out and "nothing was changed" in out
    assert _tree(tmp_path / "defs") == after_a
    names = {p["Name"] for p in boto3.client("ssm").describe_parameters()["Parameters"]}
    assert not any("JWT_SECRET" in n for n in names)
    # planned again now: plan b updates the ecs-params.yml plan a created
    _cli(tmp_path, "plan", override, "--execution-role", ROLE, "-o", "b.json")
    plan_b = json.loads((tmp_path / "b.json").read_text())
    ep = [a for a in plan_b["actions"] if a["kind"] == "file.rewrite" and a["display"].endswith("ecs-params.yml")]
    assert len(ep) == 1 and ep[0]["before_digest"] is not None  # a rewrite, not a creation (keyed fingerprint)
    _cli(tmp_path, "apply", "b.json", "--yes")
    assert "JWT_SECRET" in (d / "ecs-params.yml").read_text()
    _cli(tmp_path, "rollback", "b.json", "--yes")
    assert _tree(tmp_path / "defs") == after_a
    _cli(tmp_path, "rollback", "a.json", "--yes")
    assert _tree(tmp_path / "defs") == before
    assert boto3.client("ssm").describe_parameters()["Parameters"] == []


def test_rollback_in_the_wrong_order_names_the_later_plan(server_env: str, tmp_path: Path) -> None:
    d = _shop(tmp_path)
    (d / "docker-compose.prod.yml").unlink()
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
    _cli(tmp_path, "plan", "defs/shop/docker-compose.yml", "--execution-role", ROLE, "-o", "a.json")
    _cli(tmp_path, "apply", "a.json", "--yes")
    _cli(tmp_path, "plan", "defs/shop/docker-compose.override.yml", "--execution-role", ROLE, "-o", "b.json")
    _cli(tmp_path, "apply", "b.json", "--yes")
    r = run_cli(["rollback", "a.json", "--yes"], cwd=tmp_path)
    assert r.returncode != 0 and "roll back the later plan first" in r.stderr
    assert "version control" not in r.stderr
