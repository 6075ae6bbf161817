"""Issue 13: the grant goes to the role the task really uses. Every source resolves the execution
role each definition names (``ExecutionRoleRef``); the planner uses ``--execution-role`` only for
definitions that name none; a CloudFormation parameter moved out keeps its declaration, and one
that other resources use blocks only that entry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from migrate.commands.common import scan
from migrate.plan.actions import PutRolePolicy
from migrate.plan.model import PlanSettings
from migrate.plan.planner import make_plan
from migrate.rewrite.edits import apply_edits, encode, ref_token, revert_edits
from migrate.sources.base import Move, RewriteOptions, RoleKind, read_source
from migrate.sources.cdk_python import SOURCE as CDK
from migrate.sources.cloudformation import SOURCE as CFN
from migrate.sources.terraform import TerraformSource

MONO = Path(__file__).resolve().parents[2] / "fixtures" / "monorepo" / "infra"
FALLBACK = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  RoleArnParam:
    Type: String
    Default: arn:aws:iam::123456789012:role/from-param
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}
  TD:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ExecutionRoleArn: {role}
      ContainerDefinitions:
        - Name: app
          Image: x
          Environment:
            - Name: DB_PASSWORD
              Value: CANARY-cfn-pw-7e1d
"""


def _mono() -> Path:
    if not MONO.is_dir():
        pytest.skip("monorepo fixture not present")
    return MONO


@pytest.mark.parametrize(("role", "kind", "arn", "lid"), [
    ("!GetAtt Role.Arn", RoleKind.SAME_TEMPLATE, None, "Role"),
    ("!GetAtt [Role, Arn]", RoleKind.SAME_TEMPLATE, None, "Role"),
    ("{'Fn::GetAtt': [Role, Arn]}", RoleKind.SAME_TEMPLATE, None, "Role"),
    ("!Ref RoleArnParam", RoleKind.LITERAL_ARN, "arn:aws:iam::123456789012:role/from-param", None),
    ("!ImportValue shared-role", RoleKind.IMPORTED, None, None),
    ("!Sub 'arn:aws:iam::${AWS::AccountId}:role/x'", RoleKind.UNRESOLVABLE, None, None),
    ("!Sub 'arn:aws:iam::123456789012:role/subbed'", RoleKind.LITERAL_ARN, "arn:aws:iam::123456789012:role/subbed", None),
    ("arn:aws:iam::123456789012:role/lit", RoleKind.LITERAL_ARN, "arn:aws:iam::123456789012:role/lit", None),
    ("!Ref Nowhere", RoleKind.UNRESOLVABLE, None, None),
])
def test_cloudformation_role_forms(tmp_path: Path, role: str, kind: RoleKind, arn: str | None,
                                   lid: str | None) -> None:
    p = tmp_path / "t.yaml"
    p.write_text(TEMPLATE.replace("{role}", role))
    ref = CFN.load(read_source(p, "t.yaml")).execution_role_ref("app")
    assert (ref.kind, ref.arn, ref.logical_id) == (kind, arn, lid)
    assert ref.grants_in_source is (kind is RoleKind.SAME_TEMPLATE)
    if kind is RoleKind.SAME_TEMPLATE:
        assert ref.file == "t.yaml"


def test_cloudformation_monorepo_roles() -> None:
    cfn = _mono() / "cloudformation"
    got = {f.name: CFN.load(read_source(f, f.name)) for f in cfn.glob("*.yaml")}
    assert got["ledger.yaml"].execution_role_ref("ledger").kind is RoleKind.SAME_TEMPLATE
    assert got["mailer.yaml"].execution_role_ref("worker").kind is RoleKind.IMPORTED
    bridge = got["partner-bridge.yaml"].execution_role_ref("bridge")
    assert (bridge.kind, bridge.arn) == (RoleKind.LITERAL_ARN, "arn:aws:iam::210987654321:role/partner-bridge-execution")


def test_terraform_monorepo_roles(tmp_path: Path) -> None:
    tf = _mono() / "terraform"
    prod = TerraformSource().load(read_source(tf / "envs" / "prod" / "main.tf", "prod/main.tf"))
    refs = dict(prod.role_refs)
    kinds = {r.kind for r in refs.values()}
    assert RoleKind.IMPORTED in kinds  # module.iam.execution_role_arn
    lit = [r for r in refs.values() if r.kind is RoleKind.LITERAL_ARN]
    assert lit and all(r.expression == "var.execution_role_arn" and r.arn and r.arn.startswith("arn:aws:iam::")
                       for r in lit)
    mod = TerraformSource().load(read_source(tf / "modules" / "ecs-service" / "main.tf", "m/main.tf"))
    (ref,) = {r for _u, r in mod.role_refs}
    assert (ref.kind, ref.logical_id, ref.file) == (RoleKind.SAME_TEMPLATE, "aws_iam_role.ecs_task_execution_role",
                                                    "m/main.tf")


def test_terraform_same_module_grant_is_iac_and_reverts(tmp_path: Path) -> None:
    d = tmp_path / "svc"
    shutil.copytree(_mono() / "terraform" / "modules" / "ecs-service", d)
    lf = TerraformSource().load(read_source(d / "main.tf", "svc/main.tf"))
    moves = [Move(e, ref_token(f"a{i}"), store="ssm") for i, e in enumerate(lf.entries)
             if e.value is not None and e.restorable]
    (ch,) = TerraformSource().rewrite(lf, moves, RewriteOptions())
    assert set(ch.grants) == {m.entry.key for m in moves}
    text = (d / "main.tf").read_text()
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/svc/x"
    new = apply_edits(text, ch.edits, ref=lambda _a: arn)
    assert 'resource "aws_iam_role_policy" "secrets_migrate_this"' in new
    assert "role = aws_iam_role.ecs_task_execution_role.id" in new and f'Resource = ["{arn}"' in new
    values = {m.entry.key: m.entry.value.reveal() for m in moves if m.entry.value is not None}
    assert revert_edits(new, ch.edits, ref=lambda _a: arn, value=lambda k, enc: encode(enc, values[k])) == text


def test_cdk_grant_comes_from_the_construct(tmp_path: Path) -> None:
    p = tmp_path / "app.py"
    p.write_text("from aws_cdk import aws_ecs as ecs\n\n\nclass S:\n    def f(self, td, extra):\n"
                 "        td.add_container(\"web\", image=None, environment={\"DB_PASSWORD\": \"CANARY-cdk-pw-33a1\"})\n"
                 "        td.add_container(\"side\", image=None, environment={\"MODE\": \"a\",\n"
                 "                                                        **extra})\n"
                 "        td.default_container.add_environment(\"API_KEY\", \"x\")\n")
    lf = CDK.load(read_source(p, "app.py"))
    ref = lf.execution_role_ref("web")
    assert ref.kind is RoleKind.SAME_TEMPLATE and ref.grants_in_source
    assert any(w.startswith("app.py:8:") and "**" in w for w in lf.warnings), lf.warnings
    e = next(e for e in lf.entries if e.name == "DB_PASSWORD")
    (ch,) = CDK.rewrite(lf, [Move(e, ref_token("a1"), store="ssm", store_name="/x")], RewriteOptions())
    assert ch.grants == (e.key,)


def _plan(root: Path, execution_role: str | None = FALLBACK) -> tuple[list[PutRolePolicy], list[str], list[dict]]:
    o = scan([str(root)])
    p = make_plan(o.loaded, o.findings, PlanSettings(execution_role=execution_role))
    return [a for a in p.actions if isinstance(a, PutRolePolicy)], list(p.warnings), [dict(r) for r in p.refused]


def test_planner_grants_the_named_role_never_the_fallback(tmp_path: Path) -> None:
    for name in ("ledger.yaml", "mailer.yaml", "partner-bridge.yaml"):
        shutil.copy(_mono() / "cloudformation" / name, tmp_path / name)
    policies, warnings, _ = _plan(tmp_path)
    roles = {p.role_arn for p in policies}
    assert roles == {"arn:aws:iam::210987654321:role/partner-bridge-execution"}  # ledger: in the template
    assert FALLBACK not in roles
    assert any("mailer.yaml" in w and "ImportValue" in w for w in warnings), warnings


def test_parameter_used_elsewhere_blocks_that_entry_only(tmp_path: Path) -> None:
    t = TEMPLATE.replace("{role}", "!GetAtt Role.Arn").replace("Value: CANARY-cfn-pw-7e1d", "Value: !Ref DbPw")
    t = t.replace("Parameters:\n", "Parameters:\n  DbPw:\n    Type: String\n    NoEcho: true\n"
                                   "    Default: CANARY-cfn-pw-7e1d\n")
    t = t.replace("            - Name: DB_PASSWORD\n", "            - Name: OTHER_TOKEN\n              Value: CANARY-tok-91aa\n"
                                                        "            - Name: DB_PASSWORD\n")
    t += "  Db:\n    Type: AWS::RDS::DBInstance\n    Properties:\n      MasterUserPassword: !Ref DbPw\n"
    (tmp_path / "t.yaml").write_text(t)
    lf = CFN.load(read_source(tmp_path / "t.yaml", "t.yaml"))
    db = next(e for e in lf.entries if e.name == "DB_PASSWORD")
    assert "DbPw is used elsewhere" in db.blocked
    _policies, _warnings, refused = _plan(tmp_path)
    assert [r["name"] for r in refused] == ["DB_PASSWORD"] and "used elsewhere" in str(refused[0]["reason"])


def test_parameter_keeps_its_declaration(tmp_path: Path) -> None:
    t = TEMPLATE.replace("{role}", "!GetAtt Role.Arn").replace("Value: CANARY-cfn-pw-7e1d", "Value: !Ref DbPw")
    t = t.replace("Parameters:\n", "Parameters:\n  DbPw:\n    Type: String\n    NoEcho: true\n"
                                   "    Default: CANARY-cfn-pw-7e1d   # legacy\n")
    (tmp_path / "t.yaml").write_text(t)
    lf = CFN.load(read_source(tmp_path / "t.yaml", "t.yaml"))
    e = next(e for e in lf.entries if e.name == "DB_PASSWORD")
    (ch,) = CFN.rewrite(lf, [Move(e, ref_token("a1"), store="ssm", store_name="/x")], RewriteOptions())
    new = apply_edits(t, ch.edits, ref=lambda _a: "arn:aws:ssm:us-east-1:1:parameter/x")
    assert "  DbPw:\n    Type: String\n    NoEcho: true\n  RoleArnParam:" in new and "CANARY" not in new
    assert revert_edits(new, ch.edits, ref=lambda _a: "arn:aws:ssm:us-east-1:1:parameter/x",
                        value=lambda k, enc: encode(enc, e.value.reveal() if e.value else "")) == t


@pytest.mark.parametrize("indent", [None, 2])
def test_json_parameter_keeps_its_declaration(tmp_path: Path, indent: int | None) -> None:
    import json

    doc = {"AWSTemplateFormatVersion": "2010-09-09",
           "Parameters": {"P0": {"Type": "String", "NoEcho": True, "Default": "CANARY-json-pw-5d2c"}},
           "Resources": {"TD": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
               "ExecutionRoleArn": FALLBACK, "ContainerDefinitions": [
                   {"Name": "app", "Image": "x", "Environment": [{"Name": "DB_PASSWORD", "Value": {"Ref": "P0"}}]}]}}}}
    text = json.dumps(doc, indent=indent) + "\n"
    (tmp_path / "t.json").write_text(text)
    lf = CFN.load(read_source(tmp_path / "t.json", "t.json"))
    e = next(e for e in lf.entries if e.name == "DB_PASSWORD")
    (ch,) = CFN.rewrite(lf, [Move(e, ref_token("a1"), store="ssm", store_name="/x")], RewriteOptions())
    arn = "arn:aws:ssm:us-east-1:1:parameter/x"
    new = apply_edits(text, ch.edits, ref=lambda _a: arn)
    assert json.loads(new)["Parameters"] == {"P0": {"Type": "String", "NoEcho": True}}
    assert revert_edits(new, ch.edits, ref=lambda _a: arn,
                        value=lambda k, enc: encode(enc, e.value.reveal() if e.value else "")) == text
