"""An Environment item guarded on its own, ``- !If [C, {Name, Value}, !Ref AWS::NoValue]``, moves whole
to Secrets with its guard (the secret exists exactly when the variable did); the rewrite reverts byte
for byte (the load's revert proof keeps it movable). Anything else under ``Fn::If`` stays not migratable."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml.nodes import SequenceNode

from migrate.detect.engine import classify
from migrate.errors import RewriteError
from migrate.rewrite.edits import apply_edits, encode, ref_token, revert_edits
from migrate.sources.base import LoadedFile, Move, RewriteOptions, read_source
from migrate.sources.cloudformation import SOURCE
from migrate.sources.cloudformation.nodes import _compose, _get
from migrate.sources.cloudformation.parse import IN_CONDITION, _env_items, _if_args

ROLE = "arn:aws:iam::123456789012:role/r"
TOKEN = "ZAQOE0pradfOsFUIp6bW2hrFolRBiOSFAKECWGYn"
OTHER = "Zq8-KjLm2-vv91-PxR7-c0ffee"
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy" / "c8-conditional-flow"

HEAD = f"""\
Conditions:
  C: !Equals [a, a]
Resources:
  Td:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ExecutionRoleArn: {ROLE}
      ContainerDefinitions:
        - Name: gw
          Image: y
"""
YAML = HEAD + f"""\
          Environment:
            - Name: PORT
              Value: "8443"
            # the upstream token, only in C
            - !If [C, {{Name: UPSTREAM_TOKEN, Value: "{TOKEN}"}}, !Ref AWS::NoValue]
            - !If
              - C
              - !Ref AWS::NoValue
              - Name: OTHER_SECRET   # inline
                Value: {OTHER}
"""
JSON = f"""{{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Resources": {{
    "Td": {{
      "Type": "AWS::ECS::TaskDefinition",
      "Properties": {{
        "ExecutionRoleArn": "{ROLE}",
        "ContainerDefinitions": [
          {{
            "Name": "gw",
            "Image": "y",
            "Environment": [
              {{"Name": "PORT", "Value": "8443"}},
              {{"Fn::If": ["C", {{"Name": "UPSTREAM_TOKEN", "Value": "{TOKEN}"}}, {{"Ref": "AWS::NoValue"}}]}}
            ],
            "Secrets": [{{"Name": "OLD", "ValueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/old"}}]
          }}
        ]
      }}
    }}
  }}
}}
"""


def ref(aid: str) -> str:
    return f"arn:aws:ssm:us-east-1:123456789012:parameter/{aid}"


def _load(tmp_path: Path, text: str, name: str = "t.yaml") -> LoadedFile:
    (tmp_path / name).write_text(text)
    return SOURCE.load(read_source(tmp_path / name, name))  # load runs the revert proof


def _migrate(lf: LoadedFile, names: list[str]) -> str:
    """Move ``names``; assert no value in any edit and the byte-for-byte revert; the new text."""
    values = {e.key: e.value.reveal() for e in lf.entries if e.value is not None}
    sel = [e for e in lf.entries if e.name in names]
    assert sorted(set(e.name for e in sel)) == sorted(names)
    moves = [Move(e, ref_token(f"a{i}"), store="ssm", store_name=f"/x/{e.name}") for i, e in enumerate(sel)]
    (ch,) = SOURCE.rewrite(lf, moves, RewriteOptions(execution_role=ROLE))
    for ed in ch.edits:
        for v in values.values():
            assert len(v) < 6 or (v not in ed.old and v not in ed.new)
    new = apply_edits(lf.source.text, ch.edits, ref=ref)
    back = revert_edits(new, ch.edits, ref=ref, value=lambda k, enc: encode(enc, values[k]))
    assert back == lf.source.text
    return new


def _guards(text: str, key: str) -> list[tuple[str, bool, str]]:
    """(name, guarded, condition) of each item of ``key`` (Environment or Secrets) of the container."""
    root = _compose(text, "t")
    cds = _get(_get(_get(_get(root, "Resources"), "Td"), "Properties"), "ContainerDefinitions")
    assert isinstance(cds, SequenceNode)
    seq = _get(cds.value[0], key)
    assert isinstance(seq, SequenceNode)
    out = []
    for ei, item, _p, _cond in _env_items(seq, "", False):
        name = _get(item, "Name")
        if name is None:  # {"Ref": "AWS::NoValue"}
            continue
        args = _if_args(seq.value[ei])
        out.append((str(name.value), args is not None, str(args[0].value) if args is not None else ""))
    return out


def test_guarded_items_are_migratable_and_whole_list_conditions_are_not(tmp_path: Path) -> None:
    lf = _load(tmp_path, YAML)
    findings = {f.entry.name: f for f in classify(list(lf.entries))}
    for name in ("UPSTREAM_TOKEN", "OTHER_SECRET"):
        assert findings[name].is_secret and findings[name].migratable, findings[name].why_not
        assert findings[name].entry.restorable  # the load's revert proof held


def test_a_guarded_item_moves_whole_with_its_guard_yaml(tmp_path: Path) -> None:
    lf = _load(tmp_path, YAML)
    new = _migrate(lf, ["UPSTREAM_TOKEN", "OTHER_SECRET"])
    assert TOKEN not in new and OTHER not in new
    assert _guards(new, "Environment") == [("PORT", False, "")]
    assert _guards(new, "Secrets") == [("UPSTREAM_TOKEN", True, "C"), ("OTHER_SECRET", True, "C")]
    assert "# the upstream token, only in C\n            - !If [C, {Name: UPSTREAM_TOKEN, ValueFrom: !Sub " in new
    assert "              - !Ref AWS::NoValue\n              - Name: OTHER_SECRET   # inline\n" in new
    after = SOURCE.load(read_source(_write(tmp_path, "after.yaml", new), "after.yaml"))
    assert {e.name for e in after.entries} == {"PORT"}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path / name


def test_a_guarded_item_moves_into_an_existing_secrets_list_json(tmp_path: Path) -> None:
    lf = _load(tmp_path, JSON, "t.json")
    new = _migrate(lf, ["UPSTREAM_TOKEN"])
    assert TOKEN not in new
    assert _guards(new, "Secrets") == [("OLD", False, ""), ("UPSTREAM_TOKEN", True, "C")]
    assert '{"Fn::If": ["C", {"Name": "UPSTREAM_TOKEN", "ValueFrom": {"Fn::Sub": ' in new
    assert '{"Ref": "AWS::NoValue"}]}]' in new
    import json

    json.loads(new)


def test_only_guarded_items_rename_environment_in_place(tmp_path: Path) -> None:
    text = HEAD + f'          Environment:\n            - !If [C, {{Name: UPSTREAM_TOKEN, Value: "{TOKEN}"}}, !Ref AWS::NoValue]\n'
    new = _migrate(_load(tmp_path, text), ["UPSTREAM_TOKEN"])
    assert "Environment" not in new
    assert _guards(new, "Secrets") == [("UPSTREAM_TOKEN", True, "C")]


def test_the_legacy_fixture_plans_its_guarded_item(tmp_path: Path) -> None:
    lf = SOURCE.load(read_source(LEGACY / "cfn-if-item.yaml", "cfn-if-item.yaml"))
    (e,) = [e for e in lf.entries if e.name == "UPSTREAM_BASIC_AUTH"]
    assert e.restorable and IN_CONDITION not in e.note
    new = _migrate(lf, ["UPSTREAM_BASIC_AUTH"])
    assert "IlXjFAKE" not in new and "          Secrets:\n            - !If\n              - HasUpstreamAuth\n" in new


@pytest.mark.parametrize("item", [
    f'!If [C, {{Name: A, Value: "{TOKEN}"}}, {{Name: A, Value: "{OTHER}"}}]',  # a mapping in both branches
    f'!If [C, {{Name: A, Value: "{TOKEN}"}}, ""]',  # the other branch is not AWS::NoValue
    f'!If [!Equals [a, b], {{Name: A, Value: "{TOKEN}"}}, !Ref AWS::NoValue]',  # not a condition name
])
def test_other_guards_stay_not_migratable(tmp_path: Path, item: str) -> None:
    lf = _load(tmp_path, HEAD + f"          Environment:\n            - {item}\n")
    for e in lf.entries:
        assert not e.restorable and IN_CONDITION in e.note
        with pytest.raises(RewriteError):
            SOURCE.rewrite(lf, [Move(e, ref_token("a"))], RewriteOptions(execution_role=ROLE))


def test_a_guarded_item_inside_a_whole_list_condition_stays_not_migratable(tmp_path: Path) -> None:
    text = HEAD + (f"          Environment: !If\n            - D\n"
                   f'            - - !If [C, {{Name: A, Value: "{TOKEN}"}}, !Ref AWS::NoValue]\n'
                   "            - []\n")
    lf = _load(tmp_path, text)
    (e,) = lf.entries
    assert not e.restorable and IN_CONDITION in e.note


@pytest.mark.parametrize("secrets", [
    "          Secrets: !If\n            - C\n            - - Name: OLD\n                ValueFrom: arn:aws:ssm:us-east-1:1:parameter/o\n"
    "            - !Ref AWS::NoValue\n",
    "          Secrets: !If [C, [{Name: OLD, ValueFrom: o}], !Ref AWS::NoValue]\n",
    "          Secrets: {'Fn::If': [C, [{Name: OLD, ValueFrom: o}], {Ref: AWS::NoValue}]}\n",
])
def test_a_plain_item_never_goes_into_a_conditional_secrets(tmp_path: Path, secrets: str) -> None:
    """Appending to ``Secrets: !If [...]`` made a four-argument Fn::If (an invalid template): refused."""
    text = HEAD + secrets + f"          Environment:\n            - Name: PORT\n              Value: '1'\n" \
                            f"            - Name: DB_PASSWORD\n              Value: {OTHER}\n"
    lf = _load(tmp_path, text)
    (e,) = [e for e in lf.entries if e.name == "DB_PASSWORD"]
    assert not e.restorable and "Secrets is a CloudFormation condition" in e.note
    findings = {f.entry.name: f for f in classify(list(lf.entries))}
    assert findings["DB_PASSWORD"].is_secret and not findings["DB_PASSWORD"].migratable
    with pytest.raises(RewriteError):
        SOURCE.rewrite(lf, [Move(e, ref_token("a"))], RewriteOptions(execution_role=ROLE))


def test_a_log_option_never_goes_into_conditional_secret_options(tmp_path: Path) -> None:
    text = HEAD + (f"          LogConfiguration:\n            LogDriver: splunk\n            Options:\n"
                   f"              splunk-token: {OTHER}\n"
                   "            SecretOptions: !If [C, [{Name: a, ValueFrom: b}], !Ref AWS::NoValue]\n")
    lf = _load(tmp_path, text)
    (e,) = lf.entries
    assert not e.restorable and "SecretOptions is a CloudFormation condition" in e.note
    with pytest.raises(RewriteError):
        SOURCE.rewrite(lf, [Move(e, ref_token("a"))], RewriteOptions(execution_role=ROLE))


# --- Environment: !If [C, [...], [...]] (a condition around the whole list) -----------------------------

WHOLE = HEAD.replace("        - Name: gw\n          Image: y\n", "") + f"""\
        - Name: api
          Image: x
          Environment: !If
            - C
            - - Name: API_DB_PASSWORD   # first, on the condition's line
                Value: GjmyqlsmaqLguUBVFAKEZOBN
              - Name: MODE
                Value: managed
              # the token
              - Name: API_TOKEN
                Value: {TOKEN}
            - - Name: DB_PASSWORD
                Value: {OTHER}
          Memory: 256
        - Name: gw
          Image: y
          Environment: !If [C, [{{Name: PORT, Value: "1"}}, {{Name: GW_SECRET, Value: "{OTHER}-gw"}}], [{{Name: GW_SECRET, Value: "{OTHER}-g2"}}]]
"""
NO_VALUE = object()


def _resolve(n: object, truth: bool) -> object:
    """The value CloudFormation sees with every condition ``truth`` (Fn::If chosen, AWS::NoValue dropped)."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    from migrate.sources.cloudformation.parse import _is_no_value

    assert isinstance(n, (MappingNode, SequenceNode, ScalarNode))
    args = _if_args(n)
    if args is not None:
        return _resolve(args[1] if truth else args[2], truth)
    if _is_no_value(n):
        return NO_VALUE
    if isinstance(n, SequenceNode):
        return [x for x in (_resolve(v, truth) for v in n.value) if x is not NO_VALUE]
    if isinstance(n, MappingNode):
        return {str(k.value): x for k, v in n.value if (x := _resolve(v, truth)) is not NO_VALUE}
    return str(n.value)


def _effective(text: str, truth: bool) -> dict[str, tuple[list[str], list[str]]]:
    """Container -> (environment names, secret names) as deployed with every condition ``truth``."""
    cds = _get(_get(_get(_get(_compose(text, "t"), "Resources"), "Td"), "Properties"), "ContainerDefinitions")
    out = {}
    for c in _resolve(cds, truth):  # type: ignore[attr-defined]
        out[c["Name"]] = ([e["Name"] for e in c.get("Environment", [])], [s["Name"] for s in c.get("Secrets", [])])
    return out


@pytest.mark.parametrize("truth", [True, False])
def test_a_whole_list_condition_moves_each_branch_item_guarded_by_it(tmp_path: Path, truth: bool) -> None:
    lf = _load(tmp_path, WHOLE)
    moved = ["API_DB_PASSWORD", "API_TOKEN", "DB_PASSWORD", "GW_SECRET"]
    findings = {(f.entry.name, f.entry.line): f for f in classify(list(lf.entries))}
    assert all(f.migratable for (name, _l), f in findings.items() if name in moved)
    new = _migrate(lf, moved)  # GW_SECRET: both branches
    for v in ("GjmyqlsmaqLguUBVFAKEZOBN", TOKEN, OTHER):
        assert v not in new
    before, after = _effective(WHOLE, truth), _effective(new, truth)
    for unit, (env, _secrets) in before.items():  # the same names, each now where it belongs, per condition
        assert sorted(after[unit][0] + after[unit][1]) == sorted(env)
        assert sorted(after[unit][1]) == sorted(n for n in env if n in moved)
    assert "            - - Name: MODE\n                Value: managed\n            - []\n          Secrets:\n" in new
    assert "          Environment: !If [C, [{Name: PORT, Value: \"1\"}], []]\n" in new
    assert "            - !If [C, !Ref AWS::NoValue, {Name: DB_PASSWORD, ValueFrom: !Sub " in new
    assert new.endswith(", !Ref AWS::NoValue]\n            - !If [C, !Ref AWS::NoValue, {Name: GW_SECRET, "
                        'ValueFrom: !Sub "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/x/GW_SECRET"}]\n')
    assert "          Memory: 256\n" in new


def test_the_fixtures_whole_list_conditions(tmp_path: Path) -> None:
    import json

    mono = Path(__file__).resolve().parents[2] / "fixtures" / "monorepo" / "infra" / "cloudformation" / "flags.yaml"
    new = _migrate(SOURCE.load(read_source(mono, "flags.yaml")), ["LAUNCHDARKLY_SDK_KEY"])
    assert "sdk-36e8a43a" not in new and "- !If [IsProd, {Name: LAUNCHDARKLY_SDK_KEY, ValueFrom: " in new
    lf = SOURCE.load(read_source(LEGACY / "cfn-if-json.json", "cfn-if-json.json"))
    new = _migrate(lf, ["WORKER_API_TOKEN"])
    doc = json.loads(new)
    (c,) = doc["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert c["Environment"]["Fn::If"][1] == [{"Name": "WORKER_CONCURRENCY", "Value": "16"}]
    (s,) = c["Secrets"]
    assert s["Fn::If"][0] == "IsProd" and s["Fn::If"][1]["Name"] == "WORKER_API_TOKEN"
    assert s["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    # Secrets itself conditional: not migratable, with the reason
    lf = SOURCE.load(read_source(LEGACY / "cfn-if-environment.yaml", "cfn-if-environment.yaml"))
    (e,) = [e for e in lf.entries if e.name == "API_DB_PASSWORD"]
    assert not e.restorable and "Secrets is a CloudFormation condition" in e.note


def test_a_kept_item_with_a_comment_above_is_refused_when_the_first_item_moves(tmp_path: Path) -> None:
    text = HEAD + ("          Environment: !If\n            - C\n            - - Name: A_PASSWORD\n"
                   f"                Value: {OTHER}\n              # keep me\n              - Name: MODE\n"
                   "                Value: x\n            - []\n")
    lf = _load(tmp_path, text)
    (e,) = [e for e in lf.entries if e.name == "A_PASSWORD"]
    with pytest.raises(RewriteError, match="comment above a kept item"):
        SOURCE.rewrite(lf, [Move(e, ref_token("a"))], RewriteOptions(execution_role=ROLE))


def test_nested_conditions_stay_not_migratable(tmp_path: Path) -> None:
    text = HEAD + ("          Environment: !If\n            - C\n            - !If [D, [{Name: A_PASSWORD, Value: "
                   f'"{OTHER}"}}], []]\n            - []\n')
    lf = _load(tmp_path, text)
    (e,) = lf.entries
    assert not e.restorable and IN_CONDITION in e.note
