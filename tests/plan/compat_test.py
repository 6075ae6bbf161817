"""Plan file formats: format 1 is refused with a clear message; format 2 files round-trip.

tests/resources/plans/*_v1.json were written by the tool before the engine was split into families
(commit "Plan-format fixtures written by the current code"); describe.expected.json holds what each
action described then. Format 1 stored absolute paths, plain sha256 of every input and edit offsets
(issue 12, points 3 and 4), so it is refused: "plan format 1 is no longer supported: re-run plan".
*_v2.json were written by format 2 (file plans by `secrets-migrate plan` from a copy of
tests/resources; the live one is live_v1.json with its version bumped, its empty ``diffs`` dropped
and an empty ``root``: a live plan names no file, so nothing else differs); describe_v2.expected.json
holds their describe() lines, and the live plan's are the same as in format 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrate.errors import PlanError
from migrate.plan.actions import ACTION_TYPES, RegisterRevision, action_from_record
from migrate.plan.choices import Mode, StoreKind
from migrate.plan.model import Plan

PLANS = Path(__file__).resolve().parent.parent / "resources" / "plans"
EXPECTED_V1 = json.loads((PLANS / "describe.expected.json").read_text())
EXPECTED = json.loads((PLANS / "describe_v2.expected.json").read_text())
KINDS = {"ssm.put-parameter", "secretsmanager.create-secret", "iam.put-role-policy", "file.rewrite",
         "ecs.register-task-definition", "ecs.update-service", "ecs.wait-healthy"}


@pytest.mark.parametrize("name", sorted(EXPECTED_V1))
def test_format_1_files_are_refused_with_a_clear_message(name: str) -> None:
    with pytest.raises(PlanError, match=rf"^{name}: plan format 1 is no longer supported: re-run plan$"):
        Plan.from_json((PLANS / name).read_text(), where=name, base=PLANS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_plan_file_loads_describes_and_round_trips_byte_identical(name: str) -> None:
    text = (PLANS / name).read_text()
    plan = Plan.from_json(text, where=name, base=PLANS)
    assert [f"{a.category.value} {a.kind} {a.describe()}" for a in plan.actions] == EXPECTED[name]
    assert plan.to_json(base=PLANS) == text
    if plan.mode is Mode.FILE:
        assert plan.root == str(PLANS / "defs")


def test_live_plan_describes_as_in_format_1() -> None:
    assert EXPECTED["live_v2.json"] == EXPECTED_V1["live_v1.json"]


def test_modes_from_the_files() -> None:
    assert Plan.from_json((PLANS / "live_v2.json").read_text(), base=PLANS).mode is Mode.LIVE
    assert Plan.from_json((PLANS / "file_v2.json").read_text(), base=PLANS).mode is Mode.FILE
    live = Plan.from_json((PLANS / "live_v2.json").read_text(), base=PLANS)
    assert live.settings.store is StoreKind.SSM
    assert any(isinstance(a, RegisterRevision) for a in live.actions)


def test_every_serialized_kind_is_still_registered() -> None:
    assert set(ACTION_TYPES) == KINDS
    seen = {a["kind"] for name in EXPECTED for a in json.loads((PLANS / name).read_text())["actions"]}
    assert seen == KINDS


@pytest.mark.parametrize("kind,missing", [("ssm.put-parameter", "name"), ("iam.put-role-policy", "role_arn"),
                                          ("file.rewrite", "path"), ("ecs.update-service", "previous"),
                                          ("ecs.register-task-definition", "source_arn")])
def test_a_record_missing_a_required_field_is_refused(kind: str, missing: str) -> None:
    rec = next(a for name in EXPECTED for a in json.loads((PLANS / name).read_text())["actions"] if a["kind"] == kind)
    action_from_record(rec)  # the whole record loads
    broken = {k: v for k, v in rec.items() if k != missing}
    with pytest.raises(PlanError, match=f"malformed {kind} action"):
        action_from_record(broken)


def test_unknown_kind_and_bad_settings_are_refused() -> None:
    with pytest.raises(PlanError, match="unknown action kind"):
        action_from_record({"kind": "ecs.delete-cluster", "id": "a1"})
    doc = json.loads((PLANS / "file_v2.json").read_text())
    doc["settings"]["store"] = "vault"
    with pytest.raises(PlanError, match="--store must be ssm, secretsmanager or auto, not 'vault'"):
        Plan.from_json(json.dumps(doc), base=PLANS)


def test_settings_from_command_line_strings() -> None:
    from migrate.plan.model import PlanSettings

    s = PlanSettings.from_options(store="secretsmanager", group="per-unit", compose_target="compose-secrets", prefix="p")
    assert (s.store, s.group, s.compose_target, s.prefix) == ("secretsmanager", "per-unit", "compose-secrets", "p")
    with pytest.raises(PlanError, match="--group must be per-var or per-unit, not 'per-app'"):
        PlanSettings.from_options(group="per-app")
    with pytest.raises(PlanError, match="--group per-unit needs Secrets Manager"):
        PlanSettings.from_options(store="ssm", group="per-unit")
