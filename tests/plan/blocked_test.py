"""Issue 13: a batch never stalls on one item. Every problem of every file and entry is collected,
everything else is planned, blocked items are listed with reason and fix; honest messages."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from migrate.apply.env import Env
from migrate.apply.executor import preflight_hint
from migrate.apply.journal import ActionState
from migrate.apply.verify import _rescan
from migrate.commands.common import finalize_refusal, scan, state_line
from migrate.commands.plan import plan as plan_cmd
from migrate.commands.plan import show
from migrate.errors import EXIT_BLOCKED, EXIT_FAILED, EXIT_INPUT, EXIT_OK, PlanError, RewriteError
from migrate.plan.choices import Phase
from migrate.plan.model import Plan, PlanSettings
from migrate.plan.planner import check_plaintext, make_plan, path_once
from migrate.rewrite.edits import TextEdit, apply_edits, encode, locate_edits
from migrate.sources.base import FileChange, LoadedFile, RewriteOptions
from migrate.sources.registry import SOURCES

ROLE = "arn:aws:iam::123456789012:role/exec"
#: compose-secrets keeps each compose file's rewrite in that file (ecs-params.yml would be one file written by
#: the base and the override alike: see test_two_rewrites_of_one_file_block_the_later_definition)
SETTINGS = PlanSettings(execution_role=ROLE, compose_target="compose-secrets")


def _td(path: Path, family: str, env: dict[str, str], role: str | None = ROLE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    td: dict[str, Any] = {"family": family, "containerDefinitions": [
        {"name": "app", "image": "x", "environment": [{"name": k, "value": v} for k, v in env.items()]}]}
    if role:
        td["executionRoleArn"] = role
    path.write_text(json.dumps(td, indent=2))


def _compose(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "docker-compose.yml").write_text(
        "services:\n  api:\n    image: x\n    environment:\n"
        "      JWT_SECRET: Kq7-base-jwt-secret-9x\n      DB_PASSWORD: Zr4-db-password-77aa\n")
    (d / "docker-compose.override.yml").write_text(
        "services:\n  api:\n    environment:\n"
        "      JWT_SECRET: Kq7-dev-jwt-secret-1y\n      API_TOKEN: tok_9Zq81mXv0Lp3QwXX\n")


def _make(tmp_path: Path, settings: PlanSettings = SETTINGS) -> Plan:
    o = scan([str(tmp_path)])
    return Plan.from_json(make_plan(o.loaded, o.findings, settings, errors=o.errors).to_json())


def _moved(p: Plan) -> set[str]:
    return {v.name for a in p.store_actions for v in a.values}


# --- per-item isolation ------------------------------------------------------------------------------


def test_every_problem_is_listed_in_one_run_and_the_rest_is_planned(tmp_path: Path) -> None:
    _td(tmp_path / "good.json", "good", {"DB_PASSWORD": "Kq7-good-secret-9x"})
    (tmp_path / "broken.json").write_text('{"family": "x", "containerDefinitions": [ {"name": ')  # parse error
    _td(tmp_path / "norole.json", "norole", {"API_TOKEN": "tok_9Zq81mXv0Lp3"}, role=None)
    _td(tmp_path / "a" / "web.json", "web", {"DB_PASSWORD": "Kq7-first-secret-9x"})
    _td(tmp_path / "b" / "web.json", "web", {"DB_PASSWORD": "Kq7-other-secret-9x"})
    p = _make(tmp_path, PlanSettings())
    kinds = sorted(b.kind for b in p.blocked)
    assert kinds == ["execution-role", "name-clash", "parse-error"], p.blocked
    assert all(b.reason and b.fix for b in p.blocked)
    assert {r.display.rsplit("/", 2)[-1] for r in p.rewrites} == {"good.json", "web.json"}
    assert len(p.rewrites) == 2 and _moved(p) == {"DB_PASSWORD"}
    assert "Kq7" not in p.to_json() and "tok_9Z" not in p.to_json()
    assert Plan.from_json(p.to_json()).blocked == p.blocked  # typed, round-trips


def test_a_refused_rewrite_blocks_its_file_only_and_creates_nothing_for_it(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _td(tmp_path / "a.json", "a", {"DB_PASSWORD": "Kq7-a-secret-9x"})
    _td(tmp_path / "b.json", "b", {"API_TOKEN": "tok_9Zq81mXv0Lp3"})
    src = SOURCES["ecs-taskdef"]
    real = src.rewrite

    def flaky(loaded: LoadedFile, moves: Any, options: RewriteOptions) -> list[FileChange]:
        if loaded.path.endswith("b.json"):
            raise RewriteError(f"{loaded.path}: rewrite refused (test)", hint="migrate by hand")
        return real(loaded, moves, options)

    monkeypatch.setattr(src, "rewrite", flaky)
    p = _make(tmp_path)
    (b,) = p.blocked
    assert b.kind == "rewrite" and b.path.endswith("b.json") and b.fix == "migrate by hand"
    assert _moved(p) == {"DB_PASSWORD"}  # no store entry for the blocked file's value
    assert [x.display.rsplit("/", 1)[1] for x in p.rewrites] == ["a.json"]


def test_the_guard_blocks_the_file_whose_rewrite_would_write_a_value_and_names_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _td(tmp_path / "a.json", "a", {"DB_PASSWORD": "Kq7-a-secret-9x"})
    _td(tmp_path / "b.json", "b", {"API_TOKEN": "tok_9Zq81mXv0Lp3"})
    src = SOURCES["ecs-taskdef"]
    real = src.rewrite

    def leaky(loaded: LoadedFile, moves: Any, options: RewriteOptions) -> list[FileChange]:
        out = real(loaded, moves, options)
        if loaded.path.endswith("b.json"):  # a bug: the value written back as text
            ch = out[0]
            leak = TextEdit(0, 0, '"API_TOKEN": "tok_9Zq81mXv0Lp3"', "")
            out = [FileChange(path=ch.path, edits=(leak, *ch.edits), entries=ch.entries, summary=ch.summary)]
        return out

    monkeypatch.setattr(src, "rewrite", leaky)
    p = _make(tmp_path)
    (b,) = p.blocked
    assert b.kind == "plaintext-guard" and b.path.endswith("b.json") and b.name == "API_TOKEN"
    assert "tok_9Z" not in p.to_json() and _moved(p) == {"DB_PASSWORD"}


def test_check_plaintext_names_file_and_entry_never_the_value(tmp_path: Path) -> None:
    _td(tmp_path / "a.json", "a", {"DB_PASSWORD": "Kq7-a-secret-9x"})
    o = scan([str(tmp_path)])
    p = make_plan(o.loaded, o.findings, SETTINGS)
    check_plaintext(p, o.findings, o.loaded)  # clean
    bad = Plan.from_json(p.to_json().replace('"warnings": []', '"warnings": ["Kq7-a-secret-9x"]'))
    with pytest.raises(PlanError) as info:
        check_plaintext(bad, o.findings, o.loaded)
    msg = str(info.value)
    assert "a.json" in msg and "app.DB_PASSWORD" in msg and "Kq7" not in msg and "report" not in msg.split(";")[0]


def test_weak_password_equal_to_the_service_name_is_planned_with_a_rotate_note(tmp_path: Path) -> None:
    d = tmp_path / "photoprism"
    d.mkdir()
    (d / "docker-compose.yml").write_text(
        "services:\n  photoprism:\n    image: x\n    environment:\n      MYSQL_PASSWORD: photoprism\n"
        "  mariadb:\n    image: y\n    environment:\n      MARIADB_PASSWORD: photoprism\n")
    p = _make(tmp_path)
    assert not p.blocked and _moved(p) == {"MYSQL_PASSWORD", "MARIADB_PASSWORD"}
    notes = [w for w in p.warnings if "weak password" in w]
    assert len(notes) == 2 and all("rotate" in w and "docker-compose.yml" in w for w in notes)
    text = p.to_json()
    assert "MYSQL_PASSWORD: photoprism" not in text and "MARIADB_PASSWORD: photoprism" not in text


def test_blocked_entries_of_a_rewritten_file_stay_as_they_are(tmp_path: Path) -> None:
    _compose(tmp_path / "shop")
    p = _make(tmp_path)
    (b,) = p.blocked
    assert b.kind == "name-clash" and b.name == "JWT_SECRET" and b.path.endswith("docker-compose.override.yml")
    assert "overrides docker-compose.yml" in b.reason
    over = next(r for r in p.rewrites if r.display.endswith("docker-compose.override.yml"))
    text = (tmp_path / "shop" / "docker-compose.override.yml").read_text()
    values = {e.key: e.value.reveal() for lf in scan([str(tmp_path)]).loaded for e in lf.entries if e.value}
    located = locate_edits(text, over.edits, value=lambda key, enc: encode(enc, values[key]))
    after = apply_edits(text, located, ref=lambda _i: "arn:aws:ssm:x")
    assert "JWT_SECRET: Kq7-dev-jwt-secret-1y" in after and "tok_9Zq81" not in after
    assert _moved(p) == {"JWT_SECRET", "DB_PASSWORD", "API_TOKEN"}


def test_the_clash_suggestion_resolves_the_clash(tmp_path: Path) -> None:
    _compose(tmp_path / "shop")
    _td(tmp_path / "a" / "web.json", "web", {"DB_PASSWORD": "Kq7-first-secret-9x"})
    _td(tmp_path / "b" / "web.json", "web", {"DB_PASSWORD": "Kq7-other-secret-9x"})
    p = _make(tmp_path)
    fixes = {b.fix for b in p.blocked}
    assert len(p.blocked) == 2 and len(fixes) == 1, p.blocked  # both clashes listed in one run
    template = next(iter(fixes)).split("'")[1]
    assert "{file}" in template
    fixed = _make(tmp_path, PlanSettings(execution_role=ROLE, name_template=template, compose_target="compose-secrets"))
    assert not fixed.blocked
    names = sorted(a.name for a in fixed.store_actions)
    assert len(names) == len(set(names)) == 6
    assert "/shop/shop-docker-compose.override/api/JWT_SECRET" in names and "/web/a-web/app/DB_PASSWORD" in names


# --- command: exit codes, --strict, messages ---------------------------------------------------------


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *, strict: bool = False,
         out: Path | None = None) -> tuple[int, str, str]:
    code = plan_cmd([str(tmp_path)], out_path=out, settings=SETTINGS, no_color=True, show_diff=False, strict=strict)
    c = capsys.readouterr()
    return code, c.out, c.err


def test_blocked_items_give_exit_5_and_are_listed_in_plan_and_show(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "in"
    _compose(d / "shop")
    (d / "broken.json").write_text('{"family": "x", "containerDefinitions": [ {"name": ')
    out = tmp_path / "plan.json"
    code, stdout, _ = _run(d, capsys, out=out)
    assert code == EXIT_BLOCKED == 5
    assert "Blocked (2)" in stdout and "[name-clash]" in stdout and "[parse-error]" in stdout and "fix:" in stdout
    assert "2 item(s) are blocked" in stdout and f"secrets-migrate apply {out}" in stdout
    assert len(Plan.from_json(out.read_text()).blocked) == 2
    assert show(out, no_color=True) == EXIT_OK
    shown = capsys.readouterr().out
    assert "[name-clash]" in shown and "State: not applied" in shown


def test_strict_refuses_the_whole_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "in"
    _compose(d / "shop")
    out = tmp_path / "plan.json"
    code, _, err = _run(d, capsys, strict=True, out=out)
    assert code == EXIT_FAILED and not out.exists()
    assert "name-clash" in err and "--strict" in err and "Kq7" not in err
    (d / "shop" / "docker-compose.override.yml").unlink()
    (d / "broken.json").write_text('{"family": "x", "containerDefinitions": [ {"name": ')
    _td(d / "ok.json", "ok", {"DB_PASSWORD": "Kq7-ok-secret-9x"})
    code, _, err = _run(d, capsys, strict=True, out=out)
    assert code == EXIT_INPUT and "parse-error" in err and not out.exists()
    code, _, _ = _run(d, capsys, out=out)
    assert code == EXIT_BLOCKED and out.exists()


def test_clean_plan_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _td(tmp_path / "a.json", "a", {"DB_PASSWORD": "Kq7-a-secret-9x"})
    code, stdout, _ = _run(tmp_path, capsys)
    assert code == EXIT_OK and "Blocked" not in stdout and "Dry run" in stdout


def test_nothing_to_migrate_exits_0_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _td(tmp_path / "a.json", "a", {"LOG_LEVEL": "info"})
    out = tmp_path / "plan.json"
    code, stdout, _ = _run(tmp_path, capsys, out=out)
    assert code == EXIT_OK and "Nothing to migrate: no plaintext secret found" in stdout
    assert "nothing to apply" in stdout and "secrets-migrate apply" not in stdout


def test_nothing_migratable_exits_0_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_ecs_task_definition" "t" {\n  family = "t"\n'
        '  container_definitions = jsonencode([{ name = "a", image = "x",\n'
        '    environment = [{ name = "DB_PASSWORD", value = "Kq7-${var.suffix}-secret-9x" }] }])\n}\n')
    code, stdout, _ = _run(tmp_path, capsys)
    assert code == EXIT_OK and "Nothing to migrate" in stdout and "secrets-migrate apply" not in stdout


def test_empty_tree_warns_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("hello\n")
    out = tmp_path / "plan.json"
    code, stdout, err = _run(tmp_path / "in", capsys, out=out)
    assert code == EXIT_OK and "no definition file found" in err and "apply" not in stdout + err
    assert not out.exists()


def test_two_rewrites_of_one_file_are_merged_or_the_later_definition_is_blocked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _compose(tmp_path / "shop")
    p = _make(tmp_path, PlanSettings(execution_role=ROLE))  # both write shop/ecs-params.yml: merged into one
    written = [r.display for r in p.rewrites]
    assert len(written) == len(set(written)) and sum(w.endswith("ecs-params.yml") for w in written) == 1
    assert [b.kind for b in p.blocked] == ["name-clash"]
    assert _moved(p) == {"JWT_SECRET", "DB_PASSWORD", "API_TOKEN"}
    src = SOURCES["compose"]
    real = src.rewrite

    def unmergeable(loaded: LoadedFile, moves: Any, options: RewriteOptions) -> list[FileChange]:
        return [FileChange(path=ch.path, edits=ch.edits, create=ch.create, entries=ch.entries, summary=ch.summary,
                           grants=ch.grants) for ch in real(loaded, moves, options)]  # no artifact: cannot merge

    monkeypatch.setattr(src, "rewrite", unmergeable)
    p = _make(tmp_path, PlanSettings(execution_role=ROLE))
    (b,) = (b for b in p.blocked if b.kind == "rewrite")
    assert b.path.endswith("docker-compose.override.yml") and "ecs-params.yml" in b.reason and b.fix
    written = [r.display for r in p.rewrites]
    assert len(written) == len(set(written))
    assert _moved(p) == {"JWT_SECRET", "DB_PASSWORD"}  # the base file is planned; the override waits


def test_compose_plan_says_plain_compose_no_longer_gets_the_values(tmp_path: Path) -> None:
    _compose(tmp_path / "shop")
    (tmp_path / "shop" / "docker-compose.override.yml").unlink()
    p = _make(tmp_path, PlanSettings(execution_role=ROLE))
    assert any("docker compose up" in w and "secrets-migrate exec -- docker compose up" in w for w in p.warnings)


def test_warnings_say_the_path_once() -> None:
    assert path_once("/t/a.yml", "a.yml: env_file missing") == "/t/a.yml: env_file missing"
    assert path_once("/t/a.yml", "/t/a.yml: env_file missing") == "/t/a.yml: env_file missing"
    assert path_once("/t/a.yml", "env_file missing") == "/t/a.yml: env_file missing"


# --- state messages, preflight hints, verify --------------------------------------------------------


def _states(p: Plan, *phases: Phase) -> dict[str, ActionState]:
    return {a.id: ActionState(phase=ph) for a, ph in zip(p.actions, phases, strict=False)}


def test_finalize_and_status_messages_match_the_state(tmp_path: Path) -> None:
    _td(tmp_path / "a.json", "a", {"DB_PASSWORD": "Kq7-a-secret-9x"})
    p = _make(tmp_path)
    n = len(p.actions)
    assert n == 3
    assert finalize_refusal(p, {}) == "cannot finalize: this plan was never applied; run `apply` first"
    assert "rolled back" in (finalize_refusal(p, _states(p, *[Phase.REVERTED] * n)) or "")
    assert "not applied" not in (finalize_refusal(p, _states(p, *[Phase.REVERTED] * n)) or "")
    assert "1 of 3" in (finalize_refusal(p, _states(p, Phase.APPLIED, Phase.APPLIED)) or "")
    assert "interrupted" in (finalize_refusal(p, _states(p, Phase.APPLIED, Phase.INTENT)) or "")
    assert finalize_refusal(p, _states(p, *[Phase.APPLIED] * n)) is None
    assert state_line(p, {}, False) == "State: not applied"
    assert "rolled back" in state_line(p, _states(p, *[Phase.REVERTED] * n), False)
    assert "applied (3/3" in state_line(p, _states(p, *[Phase.APPLIED] * n), False)
    assert "finalized" in state_line(p, _states(p, *[Phase.APPLIED] * n), True)


def test_preflight_hint_matches_the_cause() -> None:
    role = preflight_hint([f"execution role {ROLE} does not exist"])
    assert "--execution-role" in role and "clash" not in role and "name-template" not in role
    assert "name-template" in preflight_hint(["/a/b already exists with a different value"])


def test_verify_reports_every_plaintext_secret_left(tmp_path: Path) -> None:
    _compose(tmp_path / "shop")
    (tmp_path / "main.tf").write_text(
        'resource "aws_ecs_task_definition" "t" {\n  family = "t"\n  execution_role_arn = "' + ROLE + '"\n'
        '  container_definitions = jsonencode([{ name = "a", image = "x",\n'
        '    environment = [{ name = "DB_PASSWORD", value = "Kq7-${var.suffix}-secret-9x" }] }])\n}\n')
    p = _make(tmp_path)
    checks = _rescan(cast(Env, SimpleNamespace(plan=p)))  # not applied: moved entries are still there
    by = {(c.kind, c.subject.rsplit("/", 1)[-1]): c for c in checks}
    assert not by[("rescan", "docker-compose.yml")].ok  # what the plan moved is checked, and fails here
    over = by[("remaining", "docker-compose.override.yml")]
    assert over.ok and "api.JWT_SECRET (blocked: name-clash)" in over.detail
    total = by[("remaining", "total")]
    assert "1 blocked" in total.detail and "vouches only for what the plan moved" in total.detail
    assert all("no plaintext secret left" not in c.detail for c in checks if c.subject.endswith(".yml"))
    assert "Kq7" not in json.dumps([c.to_record() for c in checks])


def test_report_lists_blocked_items(tmp_path: Path) -> None:
    from migrate.report import build

    _compose(tmp_path / "shop")
    d = build(_make(tmp_path), [])
    rows = [f for f in d.findings if f["store"] == "blocked"]
    assert len(rows) == 1 and "name-clash" in rows[0]["entry"] and "fix:" in rows[0]["entry"]



def test_entries_with_no_execution_role_are_blocked_not_planned(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_ecs_task_definition" "t" {\n  family = "t"\n'
        '  container_definitions = jsonencode([{ name = "api", image = "x",\n'
        '    environment = [{ name = "DB_PASSWORD", value = "Kq7-tf-secret-9x" }] }])\n}\n')
    _td(tmp_path / "a.json", "a", {"API_TOKEN": "tok_9Zq81mXv0Lp3"})  # names its role: planned
    _compose(tmp_path / "shop")  # compose runs without ECS too: a missing role is a warning there
    (tmp_path / "shop" / "docker-compose.override.yml").unlink()
    p = _make(tmp_path, PlanSettings(compose_target="compose-secrets"))
    (b,) = [b for b in p.blocked if b.kind == "execution-role"]
    assert b.name in ("DB_PASSWORD", "") and b.path.endswith("main.tf")  # the entry, or the file when the format refuses
    assert "--execution-role" in b.reason + b.fix
    assert _moved(p) == {"API_TOKEN", "JWT_SECRET", "DB_PASSWORD"}  # compose's DB_PASSWORD, not main.tf's
    assert "main.tf" not in " ".join(r.display for r in p.rewrites)
    assert any("no task execution role known" in w and "docker-compose.yml" in w for w in p.warnings)
