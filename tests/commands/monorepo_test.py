"""Issue 13 acceptance: ONE `plan` over a copy of fixtures/monorepo plans everything migratable and
lists every blocked item (reason and fix), with the distinct exit code; no stall, no rerun loop.

Asserts on the mechanism, not on today's source coverage (other work improves the sources): every
migratable plaintext secret the scan sees is either planned or blocked, every unreadable file is a
blocked item, every name clash comes with a template that resolves it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.testing import run_cli

from migrate.commands.common import scan
from migrate.errors import EXIT_BLOCKED
from migrate.model import ValueKind
from migrate.plan.model import Plan
from migrate.plan.planner import check_plaintext

MONOREPO = Path(__file__).resolve().parents[2] / "fixtures" / "monorepo"
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


@pytest.fixture(scope="module")
def mono(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mono")
    shutil.copytree(MONOREPO, root / "mono")
    return root


def _plan(root: Path, out: str, *extra: str) -> tuple[int, str, Plan]:
    r = run_cli(["plan", "mono", "--execution-role", ROLE, "-o", out, "--no-color", *extra], cwd=root, timeout=300)
    assert "Traceback" not in r.stdout + r.stderr and "internal check failed" not in r.stderr, r.stderr[-800:]
    return r.returncode, r.stdout, Plan.from_json((root / out).read_text())


def test_one_plan_plans_everything_and_lists_every_blocked_item(mono: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, stdout, p = _plan(mono, "plan.json")
    assert code == EXIT_BLOCKED, stdout[-800:]
    assert p.blocked and all(b.reason and b.fix for b in p.blocked)
    assert f"Blocked ({len(p.blocked)})" in stdout and "fix:" in stdout

    monkeypatch.chdir(mono)
    o = scan(["mono"])
    # every file the scan could not read is a blocked item of its own
    assert {f.path for f in o.errors} == {b.path for b in p.blocked if b.kind == "parse-error"}
    # every migratable plaintext secret is planned or blocked: none is silently dropped
    planned = {v.key for a in p.store_actions for v in a.values}
    by_entry = {(b.path, b.unit, b.name) for b in p.blocked if b.name}
    by_file = {b.path for b in p.blocked if not b.name}
    lost = [f"{f.entry.path} {f.entry.unit}.{f.entry.name}" for f in o.findings
            if f.is_secret and f.migratable and f.entry.value_kind is ValueKind.LITERAL and not f.entry.resolves_to
            and f.entry.key not in planned and (f.entry.path, f.entry.unit, f.entry.name) not in by_entry
            and f.entry.path not in by_file]
    assert not lost
    # the bulk of the tree is planned in this one run (compose projects sharing one ecs-params.yml are blocked
    # but one until the sources merge it: two rewrites of one file would conflict at apply)
    assert len(planned) >= 25

    # the weak passwords equal to a service name are planned (no guard crash), with a rotate note
    photoprism = [v for a in p.store_actions for v in a.values if v.definition_display.endswith("photoprism/docker-compose.yml")]
    assert {v.name for v in photoprism} >= {"MYSQL_PASSWORD", "MARIADB_ROOT_PASSWORD"}
    assert any("photoprism.MYSQL_PASSWORD is a weak password" in w and "rotate" in w for w in p.warnings)
    # names are unique by construction: eleven projects in stacks/ each get their own db entry
    names = [a.name for a in p.store_actions]
    assert len(names) == len(set(names))
    assert "/gitea/db/POSTGRES_PASSWORD" in names
    # two definitions whose rewrites write one file (compose projects of one folder, each creating its
    # ecs-params.yml) would conflict at apply: all but one are blocked, never planned twice
    written = [r.display for r in p.rewrites]
    assert len(written) == len(set(written))
    # the written plan holds no plaintext value in any value position; other values nowhere at all
    check_plaintext(p, o.findings, o.loaded)
    text = (mono / "plan.json").read_text()
    idents = {x for lf in o.loaded for e in lf.entries for x in (e.unit, e.group, e.name, *Path(e.path).parts)}
    for f in o.findings:
        if f.is_secret and f.entry.value is not None:
            v = f.entry.value.reveal()
            if len(v) >= 6 and not any(v in i for i in idents):
                assert v not in text, f"{f.entry.path} {f.entry.unit}.{f.entry.name}"
    # compose consequence said in the plan
    assert any("secrets-migrate exec -- docker compose up" in w for w in p.warnings)


def test_the_clash_suggestions_resolve_every_clash(mono: Path) -> None:
    _, _, p = _plan(mono, "plan1.json")
    clashes = [b for b in p.blocked if b.kind == "name-clash"]
    assert clashes, "the fixture's override files clash with their base files"
    fixes = {b.fix for b in clashes}
    assert len(fixes) == 1 and "--name-template" in next(iter(fixes))
    template = next(iter(fixes)).split("'")[1]
    _, _, fixed = _plan(mono, "plan2.json", "--name-template", template)
    assert not [b for b in fixed.blocked if b.kind == "name-clash"]
    assert {b.path for b in fixed.blocked} <= {b.path for b in p.blocked}  # nothing new blocked
    names = [a.name for a in fixed.store_actions]
    assert len(names) == len(set(names))


def test_strict_refuses_the_monorepo_and_writes_nothing(mono: Path) -> None:
    r = run_cli(["plan", "mono", "--execution-role", ROLE, "-o", "strict.json", "--strict"], cwd=mono, timeout=300)
    assert r.returncode in (3, 4) and not (mono / "strict.json").exists()
    assert "--strict" in r.stderr and r.stderr.count("blocked: [") >= 2


def test_json_summary_lists_blocked(mono: Path) -> None:
    r = run_cli(["plan", "mono", "--execution-role", ROLE, "-o", "p3.json", "--format", "json"], cwd=mono,
                timeout=300)
    assert r.returncode == EXIT_BLOCKED
    doc = json.loads(r.stdout)
    assert doc["blocked"] and all({"kind", "path", "reason", "fix"} <= set(b) for b in doc["blocked"])


def test_apply_verify_rollback_finalize_say_what_is_true(server_env: str, tmp_path: Path) -> None:
    import boto3

    for part in ("apps/shop", "apps/billing", "ecs/payments"):
        shutil.copytree(MONOREPO / part, tmp_path / "mono" / part)
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")

    def cli(*args: str) -> tuple[int, str, str]:
        r = run_cli(list(args), cwd=tmp_path, timeout=300)
        assert "Traceback" not in r.stdout + r.stderr
        return r.returncode, r.stdout, r.stderr

    code, _, _ = cli("plan", "mono", "--execution-role", ROLE, "-o", "plan.json")
    assert code == EXIT_BLOCKED
    p = Plan.from_json((tmp_path / "plan.json").read_text())
    assert cli("apply", "plan.json", "--yes")[0] == 0  # blocked items never stop the rest
    code, out, _ = cli("verify", "plan.json", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    left = [c for c in doc["checks"] if c["kind"] == "remaining"]
    assert left and any("blocked: name-clash" in c["detail"] for c in left)
    assert not any("no plaintext secret left" in c["detail"] for c in doc["checks"]
                   if any(c["subject"].endswith(b.path.rsplit("/", 1)[-1]) for b in p.blocked))
    code, out, _ = cli("verify", "plan.json", "--no-color")
    assert code == 0 and "LEFT " in out and "remain outside this plan" in out
    assert "State: applied" in cli("status", "plan.json")[1]
    assert cli("rollback", "plan.json", "--yes")[0] == 0
    code, _, err = cli("rollback", "plan.json", "--yes")
    assert code == 0 and "already rolled back" in err
    code, _, err = cli("finalize", "plan.json", "--yes")
    assert code == 4 and "was rolled back" in err and "not applied" not in err
    assert "State: rolled back" in cli("status", "plan.json")[1]
