"""Names are checked against the AWS rules before anything runs (moto does not enforce them)."""

from __future__ import annotations

import pytest

from migrate.errors import PlanError
from migrate.plan.naming import check_name, render_name, sm_name_problems, ssm_name_problems


@pytest.mark.parametrize("name", ["/prod/web/app/DB_PASSWORD", "/a.b-c_d/e", "plain_name"])
def test_valid_ssm_names(name: str) -> None:
    assert ssm_name_problems(name) == []


@pytest.mark.parametrize("name,problem", [
    ("/prod/web app/X", "only letters"),
    ("prod/web/X", "must start with /"),
    ("/aws/web/X", "aws or ssm"),
    ("/SSM-things/X", "aws or ssm"),
    ("/" + "/".join(["l"] * 16), "15 hierarchy levels"),
    ("/" + "x" * 1000, "longer than"),
])
def test_invalid_ssm_names(name: str, problem: str) -> None:
    assert any(problem in p for p in ssm_name_problems(name))


@pytest.mark.parametrize("name,problem", [
    ("prod/web/DB_PASSWORD-AbC123", "six characters"),
    ("prod/web/has space", "only letters"),
    ("x" * 513, "longer than 512"),
])
def test_invalid_secrets_manager_names(name: str, problem: str) -> None:
    assert any(problem in p for p in sm_name_problems(name))


def test_check_name_raises_plan_error_with_a_hint() -> None:
    with pytest.raises(PlanError) as info:
        check_name("/aws/x", "ssm")
    assert info.value.hint and "--prefix" in info.value.hint


def test_render_name_defaults_and_slugs() -> None:
    assert render_name("/{prefix}/{group}/{unit}/{name}", prefix="", group="web", unit="app", name="DB_PASSWORD",
                       store="ssm") == "/web/app/DB_PASSWORD"
    assert render_name("{prefix}/{group}/{unit}/{name}", prefix="prod", group="my app!", unit="api",
                       name="KEY", store="secretsmanager") == "prod/my-app/api/KEY"
    with pytest.raises(PlanError):
        render_name("/{nope}/{name}", prefix="", group="g", unit="u", name="n", store="ssm")


def test_project_and_file_fields() -> None:
    from migrate.plan.naming import DEFAULT_SSM_TEMPLATE, file_field, with_file

    assert "{project}" in DEFAULT_SSM_TEMPLATE
    assert render_name(DEFAULT_SSM_TEMPLATE, prefix="", group="TaskDefinition", project="ledger", unit="app",
                       name="DB_PASSWORD", store="ssm") == "/ledger/app/DB_PASSWORD"
    assert render_name(DEFAULT_SSM_TEMPLATE, prefix="", group="web", unit="app", name="X",  # project defaults to group
                       store="ssm") == "/web/app/X"
    assert file_field("/t/mono/apps/billing/compose.override.yaml", "/t/mono") == "apps-billing-compose.override"
    assert file_field("apps/web.json") == "web"
    assert file_field("/elsewhere/x.yml", "/t/mono") == "x"
    tmpl = with_file(DEFAULT_SSM_TEMPLATE)
    assert tmpl == "/{prefix}/{project}/{file}/{unit}/{name}" and with_file(tmpl) == tmpl
    assert render_name(tmpl, prefix="p", group="g", project="billing", file="apps-billing-compose.override", unit="api",
                       name="X", store="ssm") == "/p/billing/apps-billing-compose.override/api/X"
    with pytest.raises(PlanError) as info:
        render_name("/{nope}/{name}", prefix="", group="g", unit="u", name="n", store="ssm")
    assert info.value.hint and "{project}" in info.value.hint and "{file}" in info.value.hint
