"""Property tests over the CloudFormation, Terraform and CDK (Python) sources (issue 7).

Generated definitions -> scan -> classify -> plan -> rewrite -> reparse with the format's own parser
(moved names sit under secrets, not under environment; plain names stay) -> revert with the values ->
byte-identical. Arbitrary bytes given to ``load`` only ever raise InputError (a MigrateError).
See tests/proofs/fuzz_test.py for why names carry no English words and values never start with "/".
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import hcl2
import libcst
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from migrate.detect.engine import classify
from migrate.errors import InputError
from migrate.model import FileStatus
from migrate.plan.actions import RewriteFile
from migrate.plan.model import PlanSettings
from migrate.plan.planner import make_plan
from migrate.rewrite.edits import apply_edits, encode, revert_edits
from migrate.sources.base import read_source
from migrate.sources.registry import SOURCES
from migrate.sources.walk import scan_paths

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
REF = "arn:aws:ssm:us-east-1:123456789012:parameter/"
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

names = st.lists(st.from_regex(r"[A-Z][0-9]{2,8}", fullmatch=True), min_size=1, max_size=3, unique=True)
values = st.lists(st.from_regex(r"[A-Za-z0-9+_.-][A-Za-z0-9+/_.-]{11,29}", fullmatch=True),
                  min_size=4, max_size=4, unique=True)
# values a quoted literal must escape or keep verbatim: quotes, backslash, "${", "%{", "#", ": ", spaces
rich_values = st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 #:'\"\\${}%&*!@+/_.-]{11,29}", fullmatch=True),
                       min_size=4, max_size=4, unique=True)


def _json_body(v: str) -> str:
    return json.dumps(v)[1:-1]


def _yaml_lit(v: str, quote: str) -> str:
    return {"": v, "'": "'" + v.replace("'", "''") + "'", '"': '"' + _json_body(v) + '"'}[quote]


def _hcl_lit(v: str) -> str:
    return '"' + _json_body(v).replace("${", "$${").replace("%{", "%%{") + '"'


def _round_trip(tmp: Path, files: dict[str, str], secret_names: set[str], kept: set[str]) -> dict[str, str]:
    """Plan and rewrite ``files``; check plaintext gone and revert byte-identical. Returns the new texts."""
    for rel, text in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_bytes(text.encode())
    res = scan_paths([str(tmp)])
    assert [f.status for f in res.files] == [FileStatus.SCANNED] * len(files), res.files
    entries = [e for lf in res.loaded for e in lf.entries]
    plan = make_plan(res.loaded, classify(entries), PlanSettings(execution_role=ROLE))
    vals = {e.key: e.value.reveal() for e in entries if e.value is not None}
    moved = {e.name for lf in res.loaded for e in lf.entries if any(e.key in a.entries for a in plan.rewrites)}
    assert secret_names <= moved, (secret_names, moved)
    assert not (kept & moved), (kept, moved)
    def ref(aid: str) -> str:
        return REF + aid
    by_key = {v.key: v for a in plan.store_actions for v in a.values}  # type: ignore[attr-defined]
    out: dict[str, str] = {}
    for a in plan.rewrites:
        assert isinstance(a, RewriteFile)
        path = plan.root_path() / a.path  # plan paths are relative to the plan root
        old = "" if a.creates else read_source(path).text
        new = apply_edits(old, a.edits, ref=ref)
        for k in a.entries:  # plaintext left the file
            assert vals[k] not in new
        back = revert_edits(new, a.edits, ref=ref, value=lambda key, enc: encode(enc, vals[by_key[key].key]))
        assert back == old
        if "\r\n" in old:  # generated CRLF files are CRLF throughout, and stay so
            assert new.count("\n") == new.count("\r\n")
        out[str(path)] = new
    for p, new in out.items():
        Path(p).write_bytes(new.encode())
    kept_now = {e.name for lf in scan_paths([str(tmp)]).loaded for e in lf.entries}
    assert kept <= kept_now  # plain entries are never touched
    assert not (secret_names & kept_now)  # moved entries are no longer plaintext environment
    return out


# --- CloudFormation ------------------------------------------------------------------------------------

def _q(s: str, quote: str) -> str:
    return f"{quote}{s}{quote}"


def _cfn_yaml(env: list[tuple[str, str]], param: tuple[str, str] | None, *, ind: int, seq_ind: bool, quote: str,
              comments: bool, secrets: bool, role_in_template: bool, nl: str, value_first: bool = False,
              final_nl: bool = True, flow: bool = False) -> str:
    i = " " * ind
    d = (i if seq_ind else "")  # block sequences indented under their key, or not

    lines = ["AWSTemplateFormatVersion: '2010-09-09'"]
    if comments:
        lines.append("# generated template")
    if param:
        lines += ["Parameters:", f"{i}{param[0]}:", f"{i}{i}Type: String", f"{i}{i}NoEcho: true",
                  f"{i}{i}Default: {_yaml_lit(param[1], quote)}"]
    lines.append("Resources:")
    if role_in_template:
        lines += [f"{i}ExecRole:", f"{i}{i}Type: AWS::IAM::Role", f"{i}{i}Properties:",
                  f"{i}{i}{i}AssumeRolePolicyDocument:", f"{i}{i}{i}{i}Version: '2012-10-17'",
                  f"{i}{i}{i}{i}Statement:", f"{i}{i}{i}{i}{d}- Effect: Allow",
                  f"{i}{i}{i}{i}{d}  Principal: {{Service: ecs-tasks.amazonaws.com}}",
                  f"{i}{i}{i}{i}{d}  Action: sts:AssumeRole"]
    p3 = i * 3
    lines += [f"{i}TaskDef:", f"{i}{i}Type: AWS::ECS::TaskDefinition", f"{i}{i}Properties:", f"{p3}Family: web",
              f"{p3}ExecutionRoleArn: " + ("!GetAtt ExecRole.Arn" if role_in_template else ROLE),
              f"{p3}ContainerDefinitions:"]
    c = p3 + d  # "- " of the container
    k = c + "  "  # keys of the container
    lines += [f"{c}- Name: app", f"{k}Image: nginx:1", f"{k}Environment:"]
    if flow:  # Environment: [{Name: A, Value: b}, ...] (one line, no comments inside)
        lines[-1] += " [" + ", ".join(f"{{Name: {_q(nm, quote)}, Value: {v}}}" for nm, v in env) + "]"
        env = []
    for n, (name, value) in enumerate(env):
        if comments and n % 2 == 0:
            lines.append(f"{k}{d}# about {name}")
        tail = "  # inline" if comments and n % 2 == 1 else ""
        pair = [f"Name: {_q(name, quote)}", f"Value: {value}{tail}"]
        if value_first:
            pair.reverse()
        lines += [f"{k}{d}- {pair[0]}", f"{k}{d}  {pair[1]}"]
    if secrets:
        lines += [f"{k}Secrets:", f"{k}{d}- Name: EXISTING_ONE", f"{k}{d}  ValueFrom: {REF}existing"]
    if comments:
        lines.append("# end")
    return nl.join(lines) + (nl if final_nl else "")


def _cfn_container(doc: dict) -> dict:
    return doc["Resources"]["TaskDef"]["Properties"]["ContainerDefinitions"][0]


def _check_cfn_structure(c: dict, secret_names: set[str], plain: set[str]) -> None:
    env = {i["Name"] for i in c.get("Environment") or []}
    sec = {i["Name"] for i in c.get("Secrets") or []}
    assert secret_names <= sec and not (secret_names & env), (env, sec)
    assert plain <= env


@FUZZ
@given(secret=names, plain=names, vals=values, ind=st.sampled_from([2, 4]), seq_ind=st.booleans(),
       quote=st.sampled_from(["", "'", '"']), comments=st.booleans(), secrets=st.booleans(),
       role_in_template=st.booleans(), crlf=st.booleans(), use_param=st.booleans(), rich=rich_values,
       value_first=st.booleans(), final_nl=st.booleans(), flow=st.booleans(), sub=st.booleans())
def test_cloudformation_yaml_round_trip(tmp_path_factory, secret, plain, vals, ind, seq_ind, quote, comments,  # type: ignore[no-untyped-def]
                                        secrets, role_in_template, crlf, use_param, rich, value_first,
                                        final_nl, flow, sub) -> None:
    if quote:  # quoted scalars may hold anything; plain ones only the safe alphabet
        vals = rich
    secret_names = sorted({f"{n}_PASSWORD" for n in secret})
    plain_names = sorted({f"{n}_PORT" for n in plain})
    env = [(n, _yaml_lit(vals[j % 4], quote)) for j, n in enumerate(secret_names)]
    param = None
    if use_param:  # the first secret comes from a parameter Default (!Ref), a plain one from a !Sub literal
        param = ("P" + secret_names[0].replace("_", ""), vals[3] + "x")
        env[0] = (secret_names[0], f"!Ref {param[0]}")
    if sub and quote:  # the last secret is a !Sub of a literal (no ${...}: "$" is kept out of it)
        env[-1] = (env[-1][0], "!Sub " + _yaml_lit(vals[(len(env) - 1) % 4].replace("$", "") + "Sub", quote))
        assume(env[-1][0] != secret_names[0] or not use_param)
    env += [(n, f"!Sub {_q('8080', quote)}" if use_param and j == 0 else _q("8080", quote))
            for j, n in enumerate(plain_names)]
    text = _cfn_yaml(env, param, ind=ind, seq_ind=seq_ind, quote=quote, comments=comments, secrets=secrets,
                     role_in_template=role_in_template, nl="\r\n" if crlf else "\n", value_first=value_first,
                     final_nl=final_nl, flow=flow)
    tmp = tmp_path_factory.mktemp("cfn")
    out = _round_trip(tmp, {"stack.yaml": text}, set(secret_names), set(plain_names))
    new = out[str(tmp / "stack.yaml")]
    doc = YAML(typ="rt").load(new)
    _check_cfn_structure(_cfn_container(doc), set(secret_names), set(plain_names))
    if secrets:
        assert "EXISTING_ONE" in {i["Name"] for i in _cfn_container(doc)["Secrets"]}
    assert ("# about" in new) == (comments and not flow)  # comments above moved items move with them


@pytest.mark.parametrize("shape", ["no-final-newline", "flow-env-block-secrets"])
def test_cloudformation_yaml_found_cases(tmp_path, shape) -> None:  # type: ignore[no-untyped-def]
    """Shapes the property found: Secrets inserted at an unterminated last line used to be glued onto
    it; flow Environment items appended to a block Secrets list used to land as flow text."""
    env = [("A12_PASSWORD", "v1v2v3v4v5v6v7"), ("C12_PORT", "8080")]
    if shape == "no-final-newline":
        text = _cfn_yaml(env, None, ind=2, seq_ind=False, quote="", comments=False, secrets=False,
                         role_in_template=False, nl="\n", final_nl=False)
    else:
        text = _cfn_yaml(env, None, ind=4, seq_ind=True, quote="", comments=False, secrets=True,
                         role_in_template=False, nl="\n", flow=True)
    new = _round_trip(tmp_path, {"stack.yaml": text}, {"A12_PASSWORD"}, {"C12_PORT"})[str(tmp_path / "stack.yaml")]
    _check_cfn_structure(_cfn_container(YAML(typ="rt").load(new)), {"A12_PASSWORD"}, {"C12_PORT"})
    assert new.endswith("\n") == text.endswith("\n")


@FUZZ
@given(secret=names, plain=names, vals=values, indent=st.sampled_from([None, 2, 4]), secrets=st.booleans(),
       role_in_template=st.booleans(), crlf=st.booleans(), rich=st.booleans(), rvals=rich_values,
       use_param=st.booleans())
def test_cloudformation_json_round_trip(tmp_path_factory, secret, plain, vals, indent, secrets,  # type: ignore[no-untyped-def]
                                        role_in_template, crlf, rich, rvals, use_param) -> None:
    vals = rvals if rich else vals
    secret_names = sorted({f"{n}_PASSWORD" for n in secret})
    plain_names = sorted({f"{n}_PORT" for n in plain})
    env = [{"Name": n, "Value": vals[j % 4]} for j, n in enumerate(secret_names)]
    env += [{"Name": n, "Value": "8080"} for n in plain_names]
    top: dict = {"AWSTemplateFormatVersion": "2010-09-09"}
    if use_param:  # the first secret is {"Ref": P} with a literal Default
        top["Parameters"] = {"P0": {"Type": "String", "NoEcho": True, "Default": vals[3] + "x"}}
        env[0]["Value"] = {"Ref": "P0"}  # type: ignore[assignment]
    cdef: dict = {"Name": "app", "Image": "nginx:1", "Environment": env}
    if secrets:
        cdef["Secrets"] = [{"Name": "EXISTING_ONE", "ValueFrom": REF + "existing"}]
    res: dict = {}
    if role_in_template:
        res["ExecRole"] = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                   "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}}}
    res["TaskDef"] = {"Type": "AWS::ECS::TaskDefinition", "Properties": {
        "Family": "web", "ExecutionRoleArn": {"Fn::GetAtt": ["ExecRole", "Arn"]} if role_in_template else ROLE,
        "ContainerDefinitions": [cdef]}}
    text = json.dumps({**top, "Resources": res}, indent=indent) + "\n"
    if crlf:
        text = text.replace("\n", "\r\n")
    tmp = tmp_path_factory.mktemp("cfnj")
    out = _round_trip(tmp, {"stack.template": text}, set(secret_names), set(plain_names))
    doc = json.loads(out[str(tmp / "stack.template")])
    _check_cfn_structure(_cfn_container(doc), set(secret_names), set(plain_names))


# --- Terraform -----------------------------------------------------------------------------------------

_TF_CD = re.compile(r"container_definitions\s*=")


def _tf(env: list[tuple[str, str]], variables: list[tuple[str, str]], *, ind: int, comments: bool, multiline: bool,
        nl: str, value_first: bool = False, final_nl: bool = True, one_line: bool = False) -> str:
    i = "\t" if ind == 0 else " " * ind
    lines = []
    if comments:
        lines.append("# generated")
    lines += ['resource "aws_ecs_task_definition" "app" {', f'{i}family             = "web"',
              f'{i}execution_role_arn = "{ROLE}"', "", f"{i}container_definitions = jsonencode(["]
    c = i * 2
    lines += [f"{c}{{", f'{c}{i}name  = "app"', f'{c}{i}image = "nginx:1"', f"{c}{i}environment = ["]
    e = c + i * 2
    if one_line:  # environment = [{ name = "A", value = "b" }, ...]
        lines[-1] += ", ".join(f'{{ name = "{nm}", value = {v} }}' for nm, v in env) + "]"
        env = []
    for n, (name, value) in enumerate(env):
        if comments and n % 2 == 0:
            lines.append(f"{e}# about {name}")
        pair = [f'name  = "{name}"', f"value = {value}"]
        if value_first:
            pair.reverse()
        if multiline:
            lines += [f"{e}{{", f"{e}{i}{pair[0]}", f"{e}{i}{pair[1]}", f"{e}}},"]
        else:
            lines.append(f"{e}{{ {pair[0]}, {pair[1]} }},")
    lines += ([] if one_line else [f"{c}{i}]"]) + [f"{c}}}", f"{i}])", "}"]
    for name, default in variables:
        lines += ["", f'variable "{name}" {{', f"{i}type    = string", f"{i}default = {_hcl_lit(default)}", "}"]
    return nl.join(lines) + (nl if final_nl else "")


def _tf_env_names(new: str) -> tuple[set[str], set[str]]:
    """(environment names, secrets names) of the container, reading python-hcl2's parse of the file."""
    d = hcl2.loads(new)
    res = d["resource"][0]
    body = next(iter(next(iter(res.values())).values()))
    expr = body["container_definitions"]
    assert isinstance(expr, str) and "jsonencode" in expr
    env_part, _, sec_part = expr.partition("secrets")
    if "secrets" in expr and expr.index("secrets") < expr.index("environment"):
        sec_part, _, env_part = expr.partition("environment")

    def find(s: str) -> set[str]:
        return set(re.findall(r"name\W+([A-Z][0-9]+_[A-Z]+)", s))

    return find(env_part), find(sec_part)


@FUZZ
@given(secret=names, plain=names, vals=values, ind=st.sampled_from([0, 2, 4]), comments=st.booleans(),  # 0: tabs
       multiline=st.booleans(), crlf=st.booleans(), use_var=st.booleans(), rich=st.booleans(), rvals=rich_values,
       value_first=st.booleans(), final_nl=st.booleans(), one_line=st.booleans())
def test_terraform_round_trip(tmp_path_factory, secret, plain, vals, ind, comments, multiline, crlf,  # type: ignore[no-untyped-def]
                              use_var, rich, rvals, value_first, final_nl, one_line) -> None:
    vals = rvals if rich else vals
    secret_names = sorted({f"{n}_PASSWORD" for n in secret})
    plain_names = sorted({f"{n}_PORT" for n in plain})
    env = [(n, _hcl_lit(vals[j % 4])) for j, n in enumerate(secret_names)]
    variables = []
    if use_var:  # the first secret is var.x with a literal default
        vname = secret_names[0].lower()
        env[0] = (secret_names[0], f"var.{vname}")
        variables.append((vname, vals[3] + "x"))
    env += [(n, '"8080"') for n in plain_names]
    text = _tf(env, variables, ind=ind, comments=comments, multiline=multiline, nl="\r\n" if crlf else "\n",
               value_first=value_first, final_nl=final_nl, one_line=one_line)
    tmp = tmp_path_factory.mktemp("tf")
    out = _round_trip(tmp, {"main.tf": text}, set(secret_names), set(plain_names))
    new = out[str(tmp / "main.tf")]
    env_now, sec_now = _tf_env_names(new)
    assert set(secret_names) <= sec_now and not (set(secret_names) & env_now), (env_now, sec_now)
    assert set(plain_names) <= env_now


# --- CDK (Python) --------------------------------------------------------------------------------------

def _cdk(env: list[tuple[str, str]], *, comments: bool, trailing: bool, one_line: bool, quote: str,
         env_last: bool = True, call_comma: bool = True) -> str:
    items = []
    for n, (name, value) in enumerate(env):
        lead = f"                # about {name}\n" if comments and n % 2 == 0 else ""
        tail = "  # inline" if comments and n % 2 == 1 else ""
        items.append((lead, f"{quote}{name}{quote}: {quote}{value}{quote}", tail))
    if one_line:
        body = "{" + ", ".join(i[1] for i in items) + (", " if trailing else "") + "}"
    else:
        rows = []
        for n, (lead, item, tail) in enumerate(items):
            comma = "," if n < len(items) - 1 or trailing else ""
            rows.append(f"{lead}                {item}{comma}{tail}\n")
        body = "{\n" + "".join(rows) + "            }"
    return (
        "import aws_cdk as cdk\n"
        "from aws_cdk import aws_ecs as ecs\n"
        "from constructs import Construct\n\n\n"
        "class WebStack(cdk.Stack):\n"
        "    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:\n"
        "        super().__init__(scope, construct_id, **kwargs)\n"
        "        task = ecs.FargateTaskDefinition(self, \"Task\", cpu=256, memory_limit_mib=512)\n"
        "        task.add_container(\n"
        "            \"web\",\n"
        + (f"            environment={body},\n" if not env_last else "")
        + "            image=ecs.ContainerImage.from_registry(\"nginx:1\")"
        + (f",\n            environment={body}" if env_last else "")
        + ("," if call_comma or not env_last else "") + "\n"
        "        )\n\n\n"
        "app = cdk.App()\n"
        "WebStack(app, \"WebStack\")\n"
        "app.synth()\n"
    )


def _cdk_kwargs(new: str) -> dict[str, set[str]]:
    """Keyword -> dict keys of the add_container call, read with ast."""
    for node in ast.walk(ast.parse(new)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_container":
            out = {}
            for kw in node.keywords:
                if isinstance(kw.value, ast.Dict):
                    out[kw.arg or ""] = {k.value for k in kw.value.keys if isinstance(k, ast.Constant)}
            return out
    raise AssertionError("add_container call not found")


@FUZZ
@given(secret=names, plain=names, vals=values, comments=st.booleans(), trailing=st.booleans(),
       one_line=st.booleans(), quote=st.sampled_from(['"', "'"]), rich=st.booleans(), rvals=rich_values,
       env_last=st.booleans(), call_comma=st.booleans())
def test_cdk_python_round_trip(tmp_path_factory, secret, plain, vals, comments, trailing, one_line,  # type: ignore[no-untyped-def]
                               quote, rich, rvals, env_last, call_comma) -> None:
    if rich:  # a literal with escapes is refused by design (restorable=False), so none are generated
        vals = [v.replace(quote, "").replace("\\", "") + "Zz" for v in rvals]
        assume(len(set(vals)) == 4)
    secret_names = sorted({f"{n}_PASSWORD" for n in secret})
    plain_names = sorted({f"{n}_PORT" for n in plain})
    env = [(n, vals[j % 4]) for j, n in enumerate(secret_names)] + [(n, "8080") for n in plain_names]
    text = _cdk(env, comments=comments and not one_line, trailing=trailing, one_line=one_line, quote=quote,
                env_last=env_last, call_comma=call_comma)
    tmp = tmp_path_factory.mktemp("cdk")
    out = _round_trip(tmp, {"app.py": text}, set(secret_names), set(plain_names))
    new = out[str(tmp / "app.py")]
    libcst.parse_module(new)
    kw = _cdk_kwargs(new)
    assert set(secret_names) <= kw.get("secrets", set()), kw
    assert not (set(secret_names) & kw.get("environment", set()))
    assert set(plain_names) <= kw.get("environment", set())


# --- garbage in ----------------------------------------------------------------------------------------

_SEEDS = {
    "cloudformation": [
        b"AWSTemplateFormatVersion: x\nResources: [",
        (b"AWSTemplateFormatVersion: 1\nResources:\n"
         b"  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions: 3\n"),
        b'{"AWSTemplateFormatVersion": "x", "Resources": {"T": {"Type": "AWS::ECS::TaskDefinition"',
        b"AWSTemplateFormatVersion: x\nA: 1\nA: 2\n", b"AWSTemplateFormatVersion: !Ref\n",
        (b"AWSTemplateFormatVersion: x\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n"
         b"      ContainerDefinitions:\n      - Environment: [{Name: A, Value: *x}]\n")],
    "terraform": [
        b'resource "aws_ecs_task_definition" "x" {\n  container_definitions = jsonencode([\n',
        (b'resource "aws_ecs_task_definition" "x" {\n  container_definitions = jsonencode([{environment='
         b'[{name=1}]}])\n}\n'),
        b'variable "x" { default = }\n', b'resource "a" "b" { x = "${" }\n'],
    "cdk-python": [
        b"from aws_cdk import aws_ecs as ecs\ntask.add_container('w', environment={\n",
        b"import aws_cdk\nx.add_container(environment={**a, 1: 2})\n", b"import aws_cdk\ndef (:\n",
        b"\xff\xfeimport aws_cdk\n"],
}
_FILE = {"cloudformation": "stack.yaml", "terraform": "main.tf", "cdk-python": "app.py"}
_HEAD = {"cloudformation": b"AWSTemplateFormatVersion: '2010-09-09'\n",
         "terraform": b'resource "aws_ecs_task_definition" "x" {\n', "cdk-python": b"import aws_cdk\n"}


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(kind=st.sampled_from(sorted(_FILE)), head=st.booleans(), data=st.data())
def test_garbage_only_raises_migrate_errors(tmp_path_factory, kind, head, data) -> None:  # type: ignore[no-untyped-def]
    body = data.draw(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                               st.sampled_from(_SEEDS[kind])))
    if head:  # past sniffing: garbage after a header the source claims
        body = _HEAD[kind] + body
    p = tmp_path_factory.mktemp("bad") / _FILE[kind]
    p.write_bytes(body)
    try:
        SOURCES[kind].load(read_source(p))
    except InputError as e:  # one-line reason, never a quoted line of the input
        lines = [ln.strip() for ln in body.decode("utf-8", "replace").splitlines() if len(ln.strip()) >= 8]
        assert not [ln for ln in lines if ln in str(e)]
