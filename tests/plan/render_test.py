"""plan/render.py: the diffs shown and stored in a plan never hold a secret value."""

from __future__ import annotations

from migrate.plan.render import MASK, redact, redacted_diff
from migrate.rewrite.edits import TextEdit, value_token

SECRET = "sk_live_51HxRenderTest00"
OTHER = "hunter2-other-secret"


def _edit(text: str, old_value: str, new: str, key: str = "k1") -> TextEdit:
    start = text.index(old_value)
    return TextEdit(start, start + len(old_value), new, value_token(key, "raw"))


def test_moved_value_is_masked_structurally_even_when_not_in_mask_values() -> None:
    text = f"API_KEY={SECRET}\nLOG_LEVEL=info\n"
    after = "API_KEY=arn:aws:ssm:us-east-1:123456789012:parameter/app/API_KEY\nLOG_LEVEL=info\n"
    diff = redacted_diff("app.env", text, after, [_edit(text, SECRET, "arn:...")], mask_values=[])
    assert SECRET not in diff
    assert f"-API_KEY={MASK}" in diff
    assert "+API_KEY=arn:aws:ssm:us-east-1:123456789012:parameter/app/API_KEY" in diff
    assert diff.startswith("--- a/app.env\n+++ b/app.env\n")


def test_other_known_values_are_masked_by_text_on_both_sides() -> None:
    text = f"A={SECRET}\n# old: {OTHER}\n"
    after = f"A=ref\n# old: {OTHER}\n"
    diff = redacted_diff("f.env", text, after, [_edit(text, SECRET, "ref")], mask_values=[OTHER, SECRET])
    assert OTHER not in diff and SECRET not in diff
    # an unchanged line holding a value is context: masked too
    assert f"# old: {MASK}" in diff


def test_created_file_diffs_from_dev_null() -> None:
    diff = redacted_diff("ecs-params.yml", "", "secrets:\n  - name: A\n", [], mask_values=[SECRET], created=True)
    assert diff.startswith("--- /dev/null\n+++ b/ecs-params.yml\n")
    assert "+secrets:" in diff


def test_redact_longest_first_and_ignores_very_short_values() -> None:
    # "abc123" inside "abc123456": the longer one must win, or a suffix of it would leak
    assert redact("x=abc123456 y=abc123", ["abc123", "abc123456"]) == f"x={MASK} y={MASK}"
    assert redact("a=ok", ["ok"]) == "a=ok"  # under 3 characters: not masked (would blank the diff)


def test_no_change_gives_empty_diff() -> None:
    assert redacted_diff("same.env", "A=1\n", "A=1\n", [], mask_values=[]) == ""
