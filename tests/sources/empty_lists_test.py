"""Issue 13 point 7: a list or map the tool empties is removed whole (key included, separators
right) and restored byte-identical on rollback, in every format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrate.rewrite.edits import apply_edits, encode, ref_token, revert_edits
from migrate.sources.base import Move, RewriteOptions, read_source
from migrate.sources.registry import SOURCES

ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/app/x"
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


def _round_trip(tmp_path: Path, kind: str, name: str, text: str, names: set[str]) -> str:
    p = tmp_path / name
    p.write_bytes(text.encode())
    src = SOURCES[kind]
    lf = src.load(read_source(p, name))
    moves = [Move(e, ref_token(f"a{i}"), store="ssm", store_name=f"/x/{e.name}")
             for i, e in enumerate(lf.entries) if e.name in names]
    assert {m.entry.name for m in moves} == names
    changes = [c for c in src.rewrite(lf, moves, RewriteOptions(execution_role=ROLE)) if c.path == name]
    (ch,) = changes
    values = {m.entry.key: m.entry.value.reveal() for m in moves if m.entry.value is not None}
    new = apply_edits(text, ch.edits, ref=lambda _a: ARN)
    back = revert_edits(new, ch.edits, ref=lambda _a: ARN, value=lambda k, enc: encode(enc, values[k]))
    assert back == text  # rollback restores the bytes
    for v in values.values():
        assert v not in new
    return new


TD = {"family": "f", "executionRoleArn": ROLE, "containerDefinitions": [{
    "name": "a", "image": "i",
    "environment": [{"name": "DB_PASSWORD", "value": "CANARY-pw-1"}, {"name": "API_KEY", "value": "CANARY-k-2"}],
    "logConfiguration": {"logDriver": "splunk", "options": {"splunk-token": "CANARY-tok-3"}},
    "memory": 512}]}


def test_taskdef_environment_and_options_emptied(tmp_path: Path) -> None:
    text = json.dumps(TD, indent=2) + "\n"
    new = _round_trip(tmp_path, "ecs-taskdef", "td.json", text, {"DB_PASSWORD", "API_KEY", "splunk-token"})
    got = json.loads(new)["containerDefinitions"][0]
    assert "environment" not in got and "options" not in got["logConfiguration"]
    assert [s["name"] for s in got["secrets"]] == ["DB_PASSWORD", "API_KEY"]
    assert got["logConfiguration"]["secretOptions"][0]["name"] == "splunk-token"
    assert "[\n    ]" not in new and "{\n      }" not in new and ",\n      ]" not in new


def test_taskdef_environment_emptied_beside_existing_secrets(tmp_path: Path) -> None:
    td = json.loads(json.dumps(TD))
    c = td["containerDefinitions"][0]
    del c["logConfiguration"]
    c["secrets"] = [{"name": "OLD", "valueFrom": ARN}]
    text = json.dumps(td, indent=2) + "\n"
    new = _round_trip(tmp_path, "ecs-taskdef", "td.json", text, {"DB_PASSWORD", "API_KEY"})
    got = json.loads(new)["containerDefinitions"][0]
    assert list(got) == ["name", "image", "memory", "secrets"]
    assert [s["name"] for s in got["secrets"]] == ["OLD", "DB_PASSWORD", "API_KEY"]


def test_taskdef_compact_single_line(tmp_path: Path) -> None:
    text = json.dumps(TD) + "\n"
    new = _round_trip(tmp_path, "ecs-taskdef", "td.json", text, {"DB_PASSWORD", "API_KEY"})
    assert '"environment"' not in new and json.loads(new)


@pytest.mark.parametrize(("text", "expect"), [
    ("services:\n  web:\n    image: x\n    environment:\n      DB_PASSWORD: CANARY-pw-1  # c\n    ports: [80]\n",
     "services:\n  web:\n    image: x\n    ports: [80]\n"),
    ("services:\n  web:\n    image: x\n    environment: {DB_PASSWORD: CANARY-pw-1}\n",
     "services:\n  web:\n    image: x\n"),
    ("services:\r\n  web:\r\n    environment:\r\n      - DB_PASSWORD=CANARY-pw-1\r\n    image: x\r\n",
     "services:\r\n  web:\r\n    image: x\r\n"),
    ("services:\n  web:\n    image: x\n    environment:\n      - DB_PASSWORD=CANARY-pw-1",  # no final newline
     "services:\n  web:\n    image: x"),
    # the only key of its service: kept as {} (a service must stay a mapping)
    ("services:\n  web:\n    environment:\n      DB_PASSWORD: CANARY-pw-1\n",
     "services:\n  web:\n    environment: {}\n"),
])
def test_compose_environment_emptied(tmp_path: Path, text: str, expect: str) -> None:
    assert _round_trip(tmp_path, "compose", "compose.yaml", text, {"DB_PASSWORD"}) == expect


def test_cloudformation_environment_emptied(tmp_path: Path) -> None:
    text = ("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  TD:\n    Type: AWS::ECS::TaskDefinition\n"
            "    Properties:\n      ExecutionRoleArn: " + ROLE + "\n      ContainerDefinitions:\n"
            "        - Name: a\n          Image: i\n          Environment:\n            - Name: DB_PASSWORD\n"
            "              Value: CANARY-pw-1\n          Memory: 512\n")
    new = _round_trip(tmp_path, "cloudformation", "t.yaml", text, {"DB_PASSWORD"})
    assert "Environment" not in new and "          Secrets:\n            - Name: DB_PASSWORD\n" in new
