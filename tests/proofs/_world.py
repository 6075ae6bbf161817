"""Shared by the proof suites: a small file-mode project (ECS JSON + compose + .env), store snapshots,
ARN normalisation, canary encodings and the fork runner loader. Imported by file path (importlib mode)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import boto3

HERE = Path(__file__).resolve().parent
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
CANARIES = [
    "CANARY-proof-db-3e9d41c7",
    "CANARY-proof-sk_live_9fQ2mZ7xLp4R",
    "CANARY-proof-splunk-0b7e5a12",
    "CANARY-proof-compose-pg-c4d2",
    "CANARY-proof-dotenv-jwt-77ab",
]


def taskdef() -> dict[str, Any]:
    return {
        "family": "payments",
        "executionRoleArn": ROLE,
        "containerDefinitions": [{
            "name": "api",
            "image": "payments:1",
            "environment": [
                {"name": "PORT", "value": "8080"},
                {"name": "DB_PASSWORD", "value": CANARIES[0]},
                {"name": "STRIPE_SECRET_KEY", "value": CANARIES[1]},
            ],
            "logConfiguration": {"logDriver": "splunk",
                                 "options": {"splunk-url": "https://splunk.example.com:8088",
                                             "splunk-token": CANARIES[2]}},
        }],
    }


COMPOSE = f"""# legacy compose project
services:
  web:
    image: web:1
    environment:
      LOG_LEVEL: info
      POSTGRES_PASSWORD: {CANARIES[3]}   # rotate me
    env_file: app.env
"""
DOTENV = f"# app settings\r\nexport JWT_SECRET={CANARIES[4]}\r\nFEATURE_X=on\r\n"


def write_project(defs: Path) -> None:
    (defs / "compose").mkdir(parents=True)
    (defs / "payments.json").write_text(json.dumps(taskdef(), indent=2) + "\n")
    (defs / "compose" / "compose.yaml").write_text(COMPOSE)
    (defs / "compose" / "app.env").write_bytes(DOTENV.encode())


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


_SM_SUFFIX = re.compile(r"(:secret:[A-Za-z0-9/_+=.@-]+?)-[A-Za-z0-9]{6}(?=[:\"'\s]|$)")


def normalise(data: bytes) -> bytes:
    """Secrets Manager ARNs end in 6 random characters; everything else must be byte-equal."""
    return _SM_SUFFIX.sub(r"\1-XXXXXX", data.decode()).encode()


def reset_moto(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).read()
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")


def restore(pristine: Path, defs: Path, plan: Path) -> None:
    shutil.rmtree(defs)
    shutil.copytree(pristine, defs)
    shutil.rmtree(plan.with_name(plan.name + ".state"), ignore_errors=True)


def store_snapshot() -> dict[str, Any]:
    """Every entry in the account: names, values, tags, revision counts, inline policies."""
    ssm, sm = boto3.client("ssm"), boto3.client("secretsmanager")
    iam = boto3.client("iam")
    params = {}
    for p in ssm.describe_parameters()["Parameters"]:
        full = ssm.get_parameter(Name=p["Name"], WithDecryption=True)["Parameter"]
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=p["Name"])["TagList"]
        params[p["Name"]] = (full["Value"], full["Version"], sorted((t["Key"], t["Value"]) for t in tags))
    secrets = {}
    listed = sm.list_secrets()["SecretList"]
    for s in listed:
        versions = sm.list_secret_version_ids(SecretId=s["ARN"])["Versions"]
        secrets[s["Name"]] = (sm.get_secret_value(SecretId=s["ARN"])["SecretString"], len(versions),
                              sorted((t["Key"], t["Value"]) for t in s.get("Tags", [])))
    names = [s["Name"] for s in listed]
    assert len(names) == len(set(names)), "duplicate secrets"
    pols = {}
    for n in iam.list_role_policies(RoleName="ecsTaskExecutionRole")["PolicyNames"]:
        doc = iam.get_role_policy(RoleName="ecsTaskExecutionRole", PolicyName=n)["PolicyDocument"]
        pols[n] = normalise(json.dumps(doc, sort_keys=True).encode()).decode()
    return {"ssm": params, "sm": secrets, "policies": pols}


def encodings(v: str) -> list[str]:
    return [v, base64.b64encode(v.encode()).decode(), base64.urlsafe_b64encode(v.encode()).decode().rstrip("="),
            urllib.parse.quote(v, safe=""), urllib.parse.quote_plus(v), json.dumps(v)[1:-1],
            hashlib.sha256(v.encode()).hexdigest()]


def leaks(texts: dict[str, str], canaries: list[str] = CANARIES) -> list[str]:
    return [f"{where}: {enc!r}" for where, text in texts.items() for c in canaries for enc in encodings(c)
            if enc in text]


def fork_runner(scratch: Path) -> Any:
    spec = importlib.util.spec_from_file_location("_proofs_forkrun", HERE / "_forkrun.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_proofs_forkrun", mod)
    spec.loader.exec_module(mod)
    import os

    return mod.ForkRunner(dict(os.environ), scratch)


def load(name: str) -> Any:
    """Import a sibling helper module by path (the suite runs in importlib mode)."""
    key = f"_proofs_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[key] = mod
    spec.loader.exec_module(mod)
    return mod
