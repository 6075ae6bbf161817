"""plan/render.py: diffs are rendered from the actions apply executes and never hold a secret value.

There is no stored diff text any more: a diff is each edit's ``old`` template (moved values are tokens,
shown as MASK) against its ``new`` text (store ARNs as references). Text outside the edits (where a
value the tool did not move may sit) is never shown, so it cannot leak either.
"""

from __future__ import annotations

from migrate.plan.actions import PutParameter, RewriteFile
from migrate.plan.model import Plan, PlanSettings
from migrate.plan.render import MASK, diffs, file_diff
from migrate.rewrite.edits import TextEdit, ref_token, value_token

SECRET = "sk_live_51HxRenderTest00"
OTHER = "hunter2-other-secret"


def _plan(*rewrites: RewriteFile) -> Plan:
    put = PutParameter(id="a1", name="/app/API_KEY", values=(), tier="Standard")
    return Plan(id="p", created="", settings=PlanSettings(), inputs=(), actions=(put, *rewrites), root="/r")


def _rw(edits: tuple[TextEdit, ...], *, creates: bool = False, display: str = "app.env") -> RewriteFile:
    return RewriteFile(id="a2", path=display, display=display, before_digest=None if creates else "hmac-sha256:00",
                       edits=edits)


def test_moved_value_is_masked_structurally_and_refs_are_named() -> None:
    e = TextEdit(-1, -1, "API_KEY_ARN=" + ref_token("a1"), "API_KEY=" + value_token("app.env#/API_KEY", "raw"), 0)
    plan = _plan(_rw((e,)))
    diff = file_diff(plan, plan.rewrites[0])
    assert SECRET not in diff
    assert f"-API_KEY={MASK}" in diff
    assert "+API_KEY_ARN=<arn of /app/API_KEY>" in diff
    assert diff.startswith("--- a/app.env\n+++ b/app.env\n@@ edit 1 of 1 @@\n")


def test_every_encoding_is_one_token_so_masked_the_same_way() -> None:
    # a JSON-escaped value or a YAML block scalar is one value token in the template: whatever the
    # file held between the parser's span ends is never in the plan, so never in the diff
    olds = ['"K": "' + value_token("f#/K", "json") + '"', "K: '" + value_token("f#/K", "yaml-single") + "'",
            'k = "' + value_token("f#/k", "hcl") + '"']
    for old in olds:
        plan = _plan(_rw((TextEdit(-1, -1, "ref", old, 3),)))
        diff = file_diff(plan, plan.rewrites[0])
        assert MASK in diff and "\ue000" not in diff and "value|" not in diff


def test_created_file_diffs_from_dev_null() -> None:
    plan = _plan(_rw((TextEdit(-1, -1, "secrets:\n  - name: A\n", "", 0),), creates=True, display="ecs-params.yml"))
    diff = diffs(plan)["ecs-params.yml"]
    assert diff.startswith("--- /dev/null\n+++ b/ecs-params.yml\n")
    assert "+secrets:" in diff and "+  - name: A" in diff


def test_no_edit_gives_no_hunk() -> None:
    plan = _plan(_rw(()))
    assert "@@" not in file_diff(plan, plan.rewrites[0])
