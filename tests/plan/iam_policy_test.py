"""The pure policy logic: merge per plan, compress by scopes, size as AWS counts it."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from migrate import iam_policy as ip
from migrate.commands.common import scan
from migrate.plan.model import Plan, PlanSettings
from migrate.plan.planner import make_plan
from migrate.plan.render import print_plan

P = "arn:aws:ssm:us-east-1:123456789012:parameter"
S = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


def test_merge_replaces_only_this_plans_statements() -> None:
    a = ip.merge(None, "20260101-aaaa", {"ssm": [f"{P}/p/a/X"]})
    assert [s["Sid"] for s in a["Statement"]] == ["SecretsMigrate20260101aaaaSsm"]
    ab = ip.merge(a, "20260102-bbbb", {"ssm": [f"{P}/p/b/Y"], "kms": ["arn:aws:kms:us-east-1:1:key/k"]})
    assert [s["Sid"] for s in ab["Statement"]] == ["SecretsMigrate20260101aaaaSsm", "SecretsMigrate20260102bbbbSsm",
                                                   "SecretsMigrate20260102bbbbKms"]
    # a again with more grants: b untouched, a replaced
    ab2 = ip.merge(ab, "20260101-aaaa", {"ssm": [f"{P}/p/a/X", f"{P}/p/a/Z"]})
    assert ab2["Statement"][:2] == ab["Statement"][1:]  # b kept as it was; a rewritten after it
    assert ip.own_statements(ab2, "20260102-bbbb") == ab["Statement"][1:]
    assert ip.own_statements(ab2, "20260101-aaaa")[0]["Resource"] == [f"{P}/p/a/X", f"{P}/p/a/Z"]
    # removing a leaves exactly b
    only_b = ip.merge(ab2, "20260101-aaaa", {})
    assert only_b["Statement"] == ab["Statement"][1:]
    assert ip.statements(ip.merge(only_b, "20260102-bbbb", {})) == []


def test_foreign_statements_mark_a_policy_as_not_ours() -> None:
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "ProdAccess", "Effect": "Allow", "Action": "*",
                                                   "Resource": "*"}]}
    assert ip.foreign_statements(doc) == doc["Statement"]
    assert ip.foreign_statements(ip.merge(None, "x", {"ssm": ["a"]})) == []
    assert ip.foreign_statements({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})  # no Sid
    assert ip.is_tool_policy_name("secrets-migrate") and ip.is_tool_policy_name("secrets-migrate-2026-x")
    assert not ip.is_tool_policy_name("ProdAccess") and not ip.is_tool_policy_name("secrets-migrateX")


def test_size_is_counted_without_whitespace() -> None:
    doc = ip.merge(None, "p", {"ssm": [f"{P}/a/b"]})
    assert ip.policy_size(doc) == len(json.dumps(doc, separators=(",", ":")))
    assert ip.policy_size(doc) < len(json.dumps(doc, indent=2))
    assert ip.policy_size(None) == 0


def test_scopes_only_where_every_entry_of_the_plan_goes_to_the_role() -> None:
    mine = {"/p/app1/web/A", "/p/app1/web/B", "/p/app2/api/C"}
    other = {"/p/app2/worker/D"}
    sc = ip.scopes_for(mine, mine | other, "p")
    assert "/p/app1/" in sc and "/p/app1/web/" in sc and "/p/app2/api/" in sc
    assert "/p/app2/" not in sc and "/p/" not in sc  # another role's entry lives there
    assert ip.scopes_for(mine, mine, "p") == ("/p/", "/p/app1/", "/p/app1/web/", "/p/app2/", "/p/app2/api/")
    # never above the tool's prefix
    assert all(d.startswith("/p/") for d in ip.scopes_for({"/p/a/X", "/p/a/Y"}, {"/p/a/X", "/p/a/Y"}, "p"))
    assert ip.scopes_for({"/p/a/X"}, {"/p/a/X", "/q/b/Y"}, "p") == ("/p/", "/p/a/")


def test_compress_levels_narrowest_first() -> None:
    res = [f"{P}/p/app1/web/A", f"{P}/p/app1/web/B", f"{P}/p/app2/api/C", f"{P}/p/app2/api/D"]
    scopes = ip.scopes_for({r[len(P):] for r in res}, {r[len(P):] for r in res}, "p")
    assert ip.compress(res, scopes, 0) == sorted(res)
    assert ip.compress(res, scopes, 1) == [f"{P}/p/app1/web/*", f"{P}/p/app2/api/*"]
    assert ip.compress(res, scopes, 2) == [f"{P}/p/*"]
    # one entry under a directory stays exact; an entry outside every scope stays exact
    assert ip.compress([f"{P}/p/app1/web/A", f"{P}/other"], scopes, 1) == sorted([f"{P}/p/app1/web/A", f"{P}/other"])


def test_compress_secrets_manager_patterns() -> None:
    res = [f"{S}p/app/web/A-??????", f"{S}p/app/web/B-??????"]
    assert ip.compress(res, ("p/app/web/",), 1) == [f"{S}p/app/web/*"]
    assert ip.compress(res, ("/p/app/web/",), 1) == sorted(res)  # an SSM scope never applies to a secret


def test_fit_picks_the_narrowest_level_within_budget() -> None:
    names = [f"/p/app{i:04d}/web/VAR{j}" for i in range(300) for j in range(2)]
    res = [P + n for n in names]
    scopes = ip.scopes_for(set(names), set(names), "p")
    doc, level = ip.fit(None, "pid", {"ssm": res}, scopes, ip.INLINE_TOTAL_MAX)
    assert level == 2 and ip.own_statements(doc, "pid")[0]["Resource"] == f"{P}/p/*"
    small = res[:4]
    doc, level = ip.fit(None, "pid", {"ssm": small}, scopes, ip.INLINE_TOTAL_MAX)
    assert level == 1 and ip.policy_size(doc) < 400
    big, level = ip.fit(None, "pid", {"ssm": res}, (), ip.INLINE_TOTAL_MAX)
    assert level == -1 and ip.policy_size(big) > ip.INLINE_TOTAL_MAX


def test_digest_is_stable_and_order_insensitive_for_keys() -> None:
    a = {"Version": "2012-10-17", "Statement": []}
    b = {"Statement": [], "Version": "2012-10-17"}
    assert ip.digest(a) == ip.digest(b) != ip.digest(ip.merge(None, "x", {"ssm": ["r"]}))
    assert ip.digest(None) == ""


def _td(path: Path, family: str, env: dict[str, str], role: str) -> None:
    td = {"family": family, "executionRoleArn": role, "containerDefinitions": [
        {"name": "app", "image": "x", "environment": [{"name": k, "value": v} for k, v in env.items()]}]}
    path.write_text(json.dumps(td, indent=2))


def test_file_plan_one_grant_per_role_with_scopes_that_never_cross_roles(tmp_path: Path) -> None:
    exec_role, other = "arn:aws:iam::123456789012:role/exec", "arn:aws:iam::123456789012:role/other"
    _td(tmp_path / "a.json", "web", {"DB_PASSWORD": "Kq7-a-secret-9x", "API_TOKEN": "tok_9Zq81mXv0Lp3"}, exec_role)
    _td(tmp_path / "b.json", "worker", {"DB_PASSWORD": "Kq7-b-secret-9x"}, other)
    o = scan([str(tmp_path)])
    plan = Plan.from_json(make_plan(o.loaded, o.findings, PlanSettings(prefix="team")).to_json())
    by_role = {p.role_arn: p for p in plan.policies}
    assert {p.policy_name for p in plan.policies} == {ip.TOOL_POLICY}
    assert "/team/web/" in by_role[exec_role].scopes and "/team/" not in by_role[exec_role].scopes
    assert by_role[other].scopes == ("/team/worker/", "/team/worker/app/")
    sizes = {r.role_arn: r for r in ip.estimate_sizes(plan.actions, plan_id=plan.id, region=None)}
    assert sizes[exec_role].level == 1 and 0 < sizes[exec_role].size < ip.INLINE_TOTAL_MAX
    con = Console(record=True, width=300)
    print_plan(plan, con, show_diffs=False)
    out = con.export_text()
    assert f"IAM {exec_role} (secrets-migrate): policy {sizes[exec_role].size:,} of 10,240 characters" in out
    assert not [w for w in plan.warnings if "characters" in w]
