"""Issue 12 point 2: a value written in any syntax (JSON escapes, YAML folded/block scalars, quotes,
HCL strings and escapes, CloudFormation ``!Sub``, .env quotes) never reaches any output, whether the
tool moves it or refuses it; and issue 12 point 4: edit records hold no offsets or lengths.

Every output of a whole run is collected (plan stdout/stderr, plan.json, show text and JSON, apply,
verify, report HTML and Markdown, rollback, the journal, the logs, scan JSON and SARIF) and searched
for each canary as written in its file, decoded, and in every form of ``migrate.plan.leaks.forms_of``
(each syntax's escaping, URL-encoding, base64, hex, sha256/sha1/md5 hex).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from support.testing import run_cli

from migrate.plan.leaks import forms_of

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"

#: (as written in the file, decoded value)
CANARIES: list[tuple[str, str]] = [
    (r"CANARY-enc\/slash-a1b2", "CANARY-enc/slash-a1b2"),  # JSON \/ escape
    (r"CANARY-enc-\u0041uni-c3d4", "CANARY-enc-Auni-c3d4"),  # JSON \u escape
    ("CANARY-enc-plain-e5f6", "CANARY-enc-plain-e5f6"),  # JSON plain (moved)
    ("CANARY-enc-folded-g7h8", "CANARY-enc-folded-g7h8"),  # YAML folded scalar
    ("CANARY-enc-block-i9j0", "CANARY-enc-block-i9j0\n"),  # YAML literal block scalar
    ("CANARY-enc-sq''k1l2", "CANARY-enc-sq'k1l2"),  # YAML single-quoted with an escaped quote (moved)
    (r"CANARY-enc-dq\u0042-m3n4", "CANARY-enc-dqB-m3n4"),  # YAML double-quoted escape
    ("CANARY-enc-yplain-w3x4", "CANARY-enc-yplain-w3x4"),  # YAML plain (moved)
    ("CANARY-enc-hcl-o5p6", "CANARY-enc-hcl-o5p6"),  # HCL string (moved)
    (r"CANARY-enc-hcl\u0043-q7r8", "CANARY-enc-hclC-q7r8"),  # HCL escape
    ("CANARY-enc-sub-s9t0", "CANARY-enc-sub-s9t0"),  # CloudFormation !Sub without variables (moved)
    (r"CANARY-enc-cdq\x44-y5z6", "CANARY-enc-cdqD-y5z6"),  # YAML \x escape in CloudFormation
    ("CANARY-enc-dotenv-u1v2", "CANARY-enc-dotenv-u1v2"),  # .env double quotes
    ("CANARY-enc-dsq-a7b8", "CANARY-enc-dsq-a7b8"),  # .env single quotes
]

WEB_JSON = f"""{{
  "family": "enc",
  "executionRoleArn": "{ROLE}",
  "containerDefinitions": [
    {{
      "name": "app",
      "image": "nginx:1.25",
      "essential": true,
      "environment": [
        {{"name": "SLASH_PASSWORD", "value": "{CANARIES[0][0]}"}},
        {{"name": "UNI_SECRET_KEY", "value": "{CANARIES[1][0]}"}},
        {{"name": "PLAIN_API_KEY", "value": "{CANARIES[2][0]}"}}
      ]
    }}
  ]
}}
"""

COMPOSE = f"""services:
  web:
    image: nginx:1.25
    env_file: app.env
    environment:
      FOLDED_PASSWORD: >-
        {CANARIES[3][0]}
      BLOCK_SECRET: |
        {CANARIES[4][0]}
      SQ_PASSWORD: '{CANARIES[5][0]}'
      DQ_TOKEN: "{CANARIES[6][0]}"
      PLAIN_DB_PASSWORD: {CANARIES[7][0]}
"""

MAIN_TF = f"""resource "aws_ecs_task_definition" "app" {{
  family             = "enctf"
  execution_role_arn = "{ROLE}"

  container_definitions = jsonencode([
    {{
      name      = "app"
      image     = "nginx:1.25"
      essential = true
      environment = [
        {{ name = "HCL_PASSWORD", value = "{CANARIES[8][0]}" }},
        {{ name = "HCL_ESC_TOKEN", value = "{CANARIES[9][0]}" }},
      ]
    }}
  ])
}}
"""

CFN = f"""AWSTemplateFormatVersion: "2010-09-09"
Resources:
  EncTaskDef:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: enccfn
      ExecutionRoleArn: {ROLE}
      ContainerDefinitions:
        - Name: api
          Image: nginx:1.25
          Environment:
            - Name: SUB_PASSWORD
              Value: !Sub '{CANARIES[10][0]}'
            - Name: DQ_API_KEY
              Value: "{CANARIES[11][0]}"
"""

DOTENV = f"DOTENV_PASSWORD=\"{CANARIES[12][0]}\"\nQUOTED_SECRET='{CANARIES[13][0]}'\n"


def write_encodings_project(defs: Path) -> None:
    (defs / "tf").mkdir(parents=True)
    (defs / "web.json").write_text(WEB_JSON)
    (defs / "compose.yaml").write_text(COMPOSE)
    (defs / "app.env").write_text(DOTENV)
    (defs / "tf" / "main.tf").write_text(MAIN_TF)
    (defs / "cfn.yaml").write_text(CFN)


def all_forms() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for written, decoded in CANARIES:
        forms = forms_of(decoded) | forms_of(written) | {written, decoded.strip()}
        out[decoded.strip()] = forms
    return out


def make_role() -> None:
    import boto3

    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")


def test_no_encoding_of_any_value_reaches_any_output(server_env: str, tmp_path: Path) -> None:
    make_role()
    defs = tmp_path / "defs"
    write_encodings_project(defs)
    before = {p: p.read_bytes() for p in defs.rglob("*") if p.is_file()}
    # the canaries are really in the inputs, as written
    assert all(w in "".join(b.decode() for b in before.values()) for w, _ in CANARIES)
    texts: dict[str, str] = {}

    def cli(*args: str, expect: int | None = 0) -> str:
        r = run_cli(list(args), cwd=tmp_path)
        texts[f"{' '.join(args)} stdout"] = r.stdout
        texts[f"{' '.join(args)} stderr"] = r.stderr
        if expect is not None:
            assert r.returncode == expect, (args, r.returncode, r.stderr[-1500:])
        return str(r.stdout)

    cli("scan", "defs", "--format", "json", "-o", "scan.json", expect=None)
    cli("scan", "defs", "--format", "sarif", "-o", "scan.sarif", expect=None)
    cli("scan", "defs", "--all", expect=None)
    cli("plan", "defs", "--execution-role", ROLE, "-o", "plan.json")
    cli("plan", "defs", "--execution-role", ROLE, "--format", "json")  # the plan on stdout, not written
    cli("show", "plan.json")
    cli("show", "plan.json", "--format", "json")
    cli("report", "plan.json", "-o", "before.html", "--markdown", "before.md")
    cli("apply", "plan.json", "--yes")
    # rewritten files still hold the values the plan refused: no plain hash of them may reach an artifact
    applied_hashes = {hashlib.new(h, p.read_bytes()).hexdigest(): str(p) for p in defs.rglob("*") if p.is_file()
                      for h in ("sha256", "sha1", "md5")}
    (tmp_path / "verify.json").write_text(cli("verify", "plan.json", "--format", "json", expect=None))
    cli("verify", "plan.json")
    cli("report", "plan.json", "-o", "after.html", "--markdown", "after.md", "--verify-json", "verify.json")
    cli("rollback", "plan.json", "--yes")
    assert {p: p.read_bytes() for p in defs.rglob("*") if p.is_file()} == before  # rolled back byte-identical

    plan = json.loads((tmp_path / "plan.json").read_text())
    moved = {v["name"] for a in plan["actions"] for v in a.get("values", ()) if a["kind"].startswith(("ssm", "secrets"))}
    refused = {r["name"] for r in plan["refused"]}
    # the project exercises both sides: values moved and values refused, across every source kind
    assert {"PLAIN_API_KEY", "SQ_PASSWORD", "PLAIN_DB_PASSWORD", "HCL_PASSWORD", "SUB_PASSWORD"} <= moved
    assert {"SLASH_PASSWORD", "UNI_SECRET_KEY", "FOLDED_PASSWORD", "BLOCK_SECRET"} <= refused | moved
    for p in tmp_path.rglob("*"):
        if p.is_file() and defs not in p.parents:
            texts[str(p)] = p.read_bytes().decode("utf-8", "replace")
    for p in Path(os.environ["SECRETS_MIGRATE_LOG_DIR"]).rglob("*"):
        if p.is_file():
            texts[str(p)] = p.read_bytes().decode("utf-8", "replace")
    for needed in ("journal.jsonl", "scan.sarif", "scan.json", "after.html", "after.md", "plan.json"):
        assert any(k.endswith(needed) for k in texts), needed
    found = [f"{where}: {name}: {form!r}" for where, text in texts.items()
             for name, forms in all_forms().items() for form in forms if form in text]
    assert found == []
    hashed = [f"{where}: plain hash of {f}" for where, text in texts.items() for h, f in applied_hashes.items() if h in text]
    assert hashed == []

    # edit records: addressed by gap and templates only, never by offsets or lengths
    for a in plan["actions"]:
        for e in a.get("edits", ()):
            assert set(e) == {"gap", "new", "old"}
    assert all(not str(i["path"]).startswith("/") for i in plan["inputs"])
    assert all(str(i["digest"]).startswith("hmac-sha256:") and "sha256" not in i for i in plan["inputs"])
