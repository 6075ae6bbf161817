"""The journal: torn tails from a crash, a journal of another plan, corrupt lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrate.apply.journal import Journal
from migrate.errors import PlanError


def _write(j: Journal) -> None:
    j.append("run-start")
    j.append("intent", "a1", "ssm.put-parameter", expect={"name": "/app/A"})
    j.append("applied", "a1", "ssm.put-parameter", receipt={"arn": "arn:aws:ssm:us-east-1:1:parameter/app/A"})
    j.close()


def test_torn_last_line_is_ignored_on_load_and_truncated_on_next_append(tmp_path: Path) -> None:
    _write(Journal(tmp_path, "p1"))
    path = tmp_path / "journal.jsonl"
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"v": 1, "seq": 4, "plan_id": "p1", "action_id": "a2", "pha')  # crash mid-write

    j = Journal(tmp_path, "p1")
    assert [r["seq"] for r in j.records] == [1, 2, 3]
    assert j.states()["a1"].phase == "applied"
    assert "a2" not in j.states()

    j.append("intent", "a2", "file.rewrite")
    j.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # ends with a newline again
    recs = [json.loads(x) for x in lines[:-1]]  # every line parses: the torn tail was cut, not kept
    assert [r["seq"] for r in recs] == [1, 2, 3, 4]
    assert recs[-1]["action_id"] == "a2"
    assert path.read_bytes().startswith(whole)


def test_journal_of_another_plan_is_refused(tmp_path: Path) -> None:
    _write(Journal(tmp_path, "plan-A"))
    with pytest.raises(PlanError, match="belongs to plan plan-A, not plan-B"):
        Journal(tmp_path, "plan-B")


def test_corrupt_whole_line_is_an_error_not_skipped(tmp_path: Path) -> None:
    _write(Journal(tmp_path, "p1"))
    path = tmp_path / "journal.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"{not json"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(PlanError, match="journal line 2 is corrupt"):
        Journal(tmp_path, "p1")


def test_states_follow_the_last_record_and_uncertain_intent(tmp_path: Path) -> None:
    j = Journal(tmp_path, "p1")
    j.append("intent", "a1", "ssm.put-parameter")
    j.append("failed", "a1", "ssm.put-parameter", error="ssm.PutParameter: Throttling")
    j.append("intent", "a2", "file.rewrite", expect={"after_sha256": "x"})
    j.close()
    st = Journal(tmp_path, "p1").states()
    assert st["a1"].phase == "failed" and st["a1"].error == "ssm.PutParameter: Throttling"
    assert st["a2"].uncertain and st["a2"].expect == {"after_sha256": "x"}


def test_an_unknown_phase_for_an_action_is_refused(tmp_path: Path) -> None:
    j = Journal(tmp_path, "p1")
    j.append("half-done", "a1", "ssm.put-parameter")  # not a phase this tool writes for an action
    j.close()
    with pytest.raises(PlanError, match="unknown phase"):
        Journal(tmp_path, "p1").states()
