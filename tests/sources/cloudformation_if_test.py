"""CloudFormation ``Fn::If`` around an Environment list or one of its items (issue 14 class 8)."""

from __future__ import annotations

from pathlib import Path

from migrate.detect.engine import classify
from migrate.sources.base import read_source
from migrate.sources.cloudformation import SOURCE

LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy" / "c8-conditional-flow"
YAML = """\
Resources:
  Td:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: api
          Image: x
          Environment: !If
            - C
            - - Name: MODE
                Value: managed
            - - Name: API_DB_PASSWORD
                Value: GjmyqlsmaqLguUBVFAKEZOBN
        - Name: gw
          Image: y
          Environment:
            - Name: PORT
              Value: "8443"
            - !If [C, {Name: UPSTREAM_TOKEN, Value: "ZAQOE0pradfOsFUIp6bW2hrFolRBiOSFAKECWGYn"}, !Ref AWS::NoValue]
"""


def _load(tmp_path: Path, text: str, name: str = "t.yaml"):
    (tmp_path / name).write_text(text)
    return SOURCE.load(read_source(tmp_path / name, name))


def test_if_branches_are_read_and_migratable(tmp_path: Path) -> None:
    """Both shapes are read; a plain item of a branch of ``Environment: !If [C, [...], [...]]`` and an
    item guarded on its own with an ``AWS::NoValue`` other branch move to Secrets guarded by the same
    condition (cloudformation_if_move_test.py); other conditions stay not migratable (tested there)."""
    lf = _load(tmp_path, YAML)
    got = {(e.unit, e.name): e for e in lf.entries}
    assert set(got) == {("api", "MODE"), ("api", "API_DB_PASSWORD"), ("gw", "PORT"), ("gw", "UPSTREAM_TOKEN")}
    assert got[("gw", "PORT")].restorable
    findings = {f.entry.name: f for f in classify(list(lf.entries))}
    for name in ("API_DB_PASSWORD", "UPSTREAM_TOKEN"):
        assert findings[name].is_secret and findings[name].migratable, findings[name].why_not


def test_json_fn_if_whole_list() -> None:
    lf = SOURCE.load(read_source(LEGACY / "cfn-if-json.json", "cfn-if-json.json"))
    names = sorted(e.name for e in lf.entries)
    assert names == ["WORKER_API_TOKEN", "WORKER_CONCURRENCY", "WORKER_CONCURRENCY"]
    assert len({e.key for e in lf.entries}) == 3
