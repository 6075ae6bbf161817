from __future__ import annotations

import codecs
import json
from pathlib import Path

import botocore.session
import botocore.validate
import pytest

from migrate.errors import InputError, PlanError, RewriteError
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, ValueKind
from migrate.rewrite import json_spans as js
from migrate.rewrite.edits import apply_edits, encode, ref_token, revert_edits
from migrate.sources.base import LoadedFile, Move, RewriteOptions, SourceText, read_source, sha256_bytes
from migrate.sources.ecs_taskdef import READ_ONLY_KEYS, SOURCE, shape_of

RES = Path(__file__).parent.parent / "resources" / "ecs"
CANARY = "CANARY-ecs-7f3a"
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


def arn(action_id: str) -> str:
    return f"arn:aws:ssm:us-east-1:123456789012:parameter/app/{action_id}"


_INPUT_SHAPE = None


def assert_registrable(td: dict) -> None:  # type: ignore[type-arg]
    """botocore's own RegisterTaskDefinition validation, plus the executionRoleArn rule AWS enforces."""
    global _INPUT_SHAPE
    if _INPUT_SHAPE is None:
        model = botocore.session.get_session().get_service_model("ecs")
        _INPUT_SHAPE = model.operation_model("RegisterTaskDefinition").input_shape
    report = botocore.validate.ParamValidator().validate(td, _INPUT_SHAPE)
    assert not report.has_errors(), report.generate_report()
    if any(c.get("secrets") or (c.get("logConfiguration") or {}).get("secretOptions")
           for c in td["containerDefinitions"]):
        assert td.get("executionRoleArn")
    for c in td["containerDefinitions"]:
        names = [s["name"] for s in c.get("secrets") or []]
        assert len(names) == len(set(names))
        assert not set(names) & {e["name"] for e in c.get("environment") or []}


def src_of(text: str, name: str = "taskdef.json", bom: bool = False) -> SourceText:
    raw = (codecs.BOM_UTF8 if bom else b"") + text.encode()
    return SourceText(path=Path(name), display=f"defs/{name}", text=text, bom=bom, sha256=sha256_bytes(raw))


def load(text: str, name: str = "taskdef.json") -> LoadedFile:
    return SOURCE.load(src_of(text, name))


def moves_for(lf: LoadedFile, *names: str) -> list[Move]:
    out = []
    for i, e in enumerate(lf.entries):
        if e.name in names and not e.managed:
            out.append(Move(e, ref_token(f"a{i}")))
    assert len(out) >= len(names)
    return out


_DEFAULT_OPTIONS = RewriteOptions()


def roundtrip(lf: LoadedFile, moves: list[Move], options: RewriteOptions = _DEFAULT_OPTIONS) -> str:
    """Apply, check it parses, revert with the original values, check byte-identical. Returns new text."""
    changes = SOURCE.rewrite(lf, moves, options)
    assert len(changes) == 1
    ch = changes[0]
    assert ch.path == lf.path
    assert set(ch.entries) == {m.entry.key for m in moves}
    text = lf.source.text
    new = apply_edits(text, ch.edits, ref=arn)
    assert new != text
    values = {e.key: e.value.reveal() for e in lf.entries if e.value is not None}
    for e in ch.edits:  # no plaintext in what the plan stores (short values may match by chance)
        for v in (values[m.entry.key] for m in moves):
            if len(v) >= 5:
                assert v not in e.new and v not in e.old
    back = revert_edits(new, ch.edits, ref=arn, value=lambda k, enc: encode(enc, values[k]))
    assert back == text
    return new


BASE = {
    "family": "web",
    "executionRoleArn": ROLE,
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{
        "name": "app",
        "image": "nginx:1.25",
        "essential": True,
        "environment": [
            {"name": "APP_ENV", "value": "prod"},
            {"name": "DB_PASSWORD", "value": CANARY},
            {"name": "API_KEY", "value": "k-123"},
        ],
        "logConfiguration": {"logDriver": "splunk",
                             "options": {"splunk-url": "https://s:8088", "splunk-token": "tok-9"}},
    }],
}


def variants() -> dict[str, str]:
    two = json.dumps(BASE, indent=2) + "\n"
    return {
        "2-space": two,
        "4-space": json.dumps(BASE, indent=4) + "\n",
        "tabs": json.dumps(BASE, indent="\t") + "\n",
        "crlf": two.replace("\n", "\r\n"),
        "compact": json.dumps(BASE, separators=(",", ":")),
        "one-line-spaced": json.dumps(BASE),
        "no-trailing-newline": two.rstrip("\n"),
    }


# --- load ---------------------------------------------------------------------------------------


def test_register_shape_entries_lines_and_pointers() -> None:
    src = read_source(RES / "register_web.json", "fixtures/register_web.json")
    lf = SOURCE.load(src)
    assert lf.kind == "ecs-taskdef" and lf.group == "web" and lf.units == ("app", "worker")
    by = {(e.unit, e.name): e for e in lf.entries}
    pw = by["app", "DB_PASSWORD"]
    assert pw.location == LOC_ENVIRONMENT and pw.pointer == "/containerDefinitions/0/environment/2/value"
    assert pw.line == 18 and '"CANARY-ecs-7f3a"' in src.text.splitlines()[pw.line - 1]
    assert pw.value is not None and pw.value.reveal() == CANARY and pw.value_kind is ValueKind.LITERAL
    assert pw.key == "fixtures/register_web.json#/containerDefinitions/0/environment/2/value"
    assert pw.path == "fixtures/register_web.json" and pw.group == "web" and pw.source == "ecs-taskdef"
    tok = by["app", "splunk-token"]
    assert tok.location == LOC_LOG_OPTIONS
    assert tok.pointer == "/containerDefinitions/0/logConfiguration/options/splunk-token" and tok.line == 28
    managed = by["app", "SESSION_SECRET"]
    assert managed.managed and managed.value is None and managed.value_kind is ValueKind.REFERENCE
    assert managed.line == 22
    assert by["worker", "EMPTY_ONE"].value_kind is ValueKind.EMPTY
    missing = by["worker", "MISSING_VALUE"]
    assert missing.value_kind is ValueKind.EMPTY and missing.value is None and missing.line == 41
    assert lf.execution_roles == (("app", ROLE), ("worker", ROLE))
    assert CANARY not in repr(lf) and CANARY not in repr(lf.entries)


def test_describe_shape() -> None:
    lf = SOURCE.load(read_source(RES / "describe_billing.json"))
    assert lf.group == "billing"
    e = next(e for e in lf.entries if e.name == "BILLING_DB_PASSWORD")
    assert e.pointer == "/taskDefinition/containerDefinitions/0/environment/0/value" and e.line == 14
    # \u00e9 escapes cannot be rebuilt from the decoded value: the planner must refuse to move it
    assert not e.restorable
    assert e.value is not None and e.value.reveal() == "hunter2-été"
    apikey = next(e for e in lf.entries if e.name == "apikey")
    assert apikey.restorable and apikey.line == 27


def test_bare_container_list_uses_file_stem_as_group() -> None:
    lf = SOURCE.load(read_source(RES / "api_containers.json", "x/api_containers.json"))
    assert lf.group == "api_containers"
    e = next(e for e in lf.entries if e.name == "HTTP_Passwd")
    assert e.pointer == "/0/logConfiguration/options/HTTP_Passwd" and e.line == 15 and e.unit == "api"
    assert e.group == "api_containers"


def test_list_of_task_definitions() -> None:
    lf = SOURCE.load(read_source(RES / "list_compact.json"))
    assert lf.group == "jobs,mailer"
    e = next(e for e in lf.entries if e.name == "SMTP_PASSWORD")
    assert e.pointer == "/1/containerDefinitions/0/environment/0/value" and e.line == 1 and e.group == "mailer"


def test_non_string_values_are_literal_with_their_json_text() -> None:
    lf = load('{"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "environment": '
              '[{"name": "PORT", "value": 8080}, {"name": "ON", "value": true}, {"name": "N", "value": null}]}]}')
    got = {e.name: (e.value_kind, e.value.reveal() if e.value else None) for e in lf.entries}
    assert got == {"PORT": (ValueKind.LITERAL, "8080"), "ON": (ValueKind.LITERAL, "true"), "N": (ValueKind.EMPTY, None)}


def test_pointer_escapes_option_names() -> None:
    lf = load('{"containerDefinitions": [{"name": "a", "image": "i", "logConfiguration": '
              '{"logDriver": "x", "options": {"a/b~c": "v"}}}]}')
    assert lf.entries[0].pointer == "/containerDefinitions/0/logConfiguration/options/a~1b~0c"


@pytest.mark.parametrize("text,expected", [
    ('{"containerDefinitions": []}', True),
    ('{"taskDefinition": {"containerDefinitions": [{"name": "a"}]}, "tags": []}', True),
    ('[{"name": "a", "image": "b"}]', True),
    ('[{"family": "a", "containerDefinitions": []}]', True),
    ('{"name": "pkg", "version": "1.0.0", "dependencies": {}}', False),
    ('{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"T": {"Type": "AWS::ECS::TaskDefinition",'
     ' "Properties": {"ContainerDefinitions": []}}}}', False),
    ('[{"name": "a"}, {"image": "b"}]', False),
    ('{"containerDefinitions": [', True),  # broken but clearly meant: load reports the error
    ("services:\n  web:\n    image: x\n", False),
    ("", False),
])
def test_sniff(text: str, expected: bool) -> None:
    assert SOURCE.sniff(Path("f.json"), text) is expected


def test_shape_of() -> None:
    assert shape_of(js.parse('{"containerDefinitions": []}')) == "register"
    assert shape_of(js.parse("[]")) is None


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text,reason,line", [
    ('{\n  "containerDefinitions": [\n    {"name": "a",}\n  ]\n}', "trailing comma in object", 3),
    ('{\n  "containerDefinitions": [],\n  "containerDefinitions": []\n}', "duplicate key in object", 3),
    ("", "empty document", 1),
    ('{"containerDefinitions": [{"name": "a", "environment": [{"name": "X", "value": "CANARY-ecs-7f3a"'
     '}, {"name": "Y", "value": "CANARY-ecs-7f3a\x01"}]}]}', "control character", 1),
    ("[" * 300 + "]" * 300, "nesting deeper than 200", 1),
    ('{"containerDefinitions": [{"name": "a", "environment": {"X": "CANARY-ecs-7f3a"}}]}', "environment of", 1),
    ('{"containerDefinitions": [{"name": "a", "environment": [{"value": "CANARY-ecs-7f3a"}]}]}', "no string name", 1),
    ('{"containerDefinitions": ["CANARY-ecs-7f3a"]}', "container definition 0 is not an object", 1),
    ('{"containerDefinitions": [{"name": "a", "environment": [{"name": "X", "value": ["CANARY-ecs-7f3a"]}]}]}',
     "is not a string", 1),
    ('{"family": "x"}', "not an ECS task definition", None),
])
def test_bad_input_gives_one_input_error_without_values(text: str, reason: str, line: int | None) -> None:
    with pytest.raises(InputError) as ei:
        load(text)
    assert reason in ei.value.reason
    assert ei.value.line == line
    assert ei.value.path == "defs/taskdef.json"
    assert CANARY not in str(ei.value)


def test_bom_and_crlf_files_load(tmp_path: Path) -> None:
    text = variants()["crlf"]
    p = tmp_path / "td.json"
    p.write_bytes(codecs.BOM_UTF8 + text.encode())
    src = read_source(p)
    assert src.bom and src.text == text
    lf = SOURCE.load(src)
    e = next(e for e in lf.entries if e.name == "DB_PASSWORD")
    assert src.text.split("\r\n")[e.line - 1].strip().startswith('"value": "CANARY')
    new = roundtrip(lf, moves_for(lf, "DB_PASSWORD"))
    assert "\r\n" in new and new.count("\n") == new.count("\r\n")
    assert src.encode(new).startswith(codecs.BOM_UTF8)


@pytest.mark.parametrize("data,reason", [
    (b'{"containerDefinitions": [{"name": "\xff\xfe"}]}', "invalid UTF-8"),
    (b'\x00\x01\x02{"containerDefinitions": []}', "binary file"),
])
def test_unreadable_bytes(tmp_path: Path, data: bytes, reason: str) -> None:
    p = tmp_path / "td.json"
    p.write_bytes(data)
    with pytest.raises(InputError) as ei:
        read_source(p)
    assert reason in ei.value.reason


# --- rewrite ------------------------------------------------------------------------------------


def test_noop() -> None:
    lf = load(variants()["2-space"])
    assert SOURCE.rewrite(lf, [], RewriteOptions()) == []


@pytest.mark.parametrize("variant", sorted(variants()))
def test_rewrite_roundtrip_and_layout(variant: str) -> None:
    text = variants()[variant]
    lf = load(text)
    new = roundtrip(lf, moves_for(lf, "DB_PASSWORD", "API_KEY", "splunk-token"))
    td = json.loads(new)
    assert_registrable(td)
    c = td["containerDefinitions"][0]
    assert c["environment"] == [{"name": "APP_ENV", "value": "prod"}]
    assert [s["name"] for s in c["secrets"]] == ["DB_PASSWORD", "API_KEY"]
    assert c["secrets"][0]["valueFrom"].startswith("arn:aws:ssm:")
    assert c["logConfiguration"]["options"] == {"splunk-url": "https://s:8088"}
    assert [s["name"] for s in c["logConfiguration"]["secretOptions"]] == ["splunk-token"]
    assert CANARY not in new
    # layout: the inserted text uses the file's newline, indentation and spacing
    if variant == "compact":
        assert "\n" not in new and ": " not in new
    elif variant == "one-line-spaced":
        assert "\n" not in new
    else:
        nl = "\r\n" if variant == "crlf" else "\n"
        assert new.count("\n") == new.count(nl)
        unit = {"4-space": "    ", "tabs": "\t"}.get(variant, "  ")
        assert f"{nl}{unit * 3}\"secrets\": [{nl}" in new
        assert f"{nl}{unit * 4}\"secretOptions\": [{nl}{unit * 5}{{" in new
    assert new.endswith("\n") == text.endswith("\n")


def test_emptied_environment_is_removed_whole() -> None:
    text = json.dumps({"family": "f", "executionRoleArn": ROLE, "containerDefinitions": [
        {"name": "a", "image": "i", "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]},
        indent=2)
    lf = load(text)
    new = roundtrip(lf, moves_for(lf, "A", "B"))
    # issue 13: the emptied list goes with its key (renamed to secrets in place), no "environment": []
    assert '"environment"' not in new and '"image": "i",\n      "secrets": [\n        {\n          "name": "A",' in new
    assert_registrable(json.loads(new))


def test_remove_first_middle_and_last_items_keep_commas_right() -> None:
    env = [{"name": f"V{i}", "value": f"v{i}"} for i in range(6)]
    text = json.dumps({"executionRoleArn": ROLE, "family": "f",
                       "containerDefinitions": [{"name": "a", "image": "i", "environment": env}]}, indent=2)
    lf = load(text)
    new = roundtrip(lf, moves_for(lf, "V0", "V2", "V3", "V5"))
    c = json.loads(new)["containerDefinitions"][0]
    assert [e["name"] for e in c["environment"]] == ["V1", "V4"]
    assert [s["name"] for s in c["secrets"]] == ["V0", "V2", "V3", "V5"]


def test_appends_to_existing_secrets_in_their_layout() -> None:
    lf = SOURCE.load(read_source(RES / "register_web.json"))
    new = roundtrip(lf, moves_for(lf, "DB_PASSWORD", "WORKER_TOKEN"))
    lines = new.splitlines()
    i = lines.index('      "secrets": [')
    assert lines[i + 1].startswith('        { "name": "SESSION_SECRET"')
    assert lines[i + 2].startswith('        { "name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:')
    assert lines[i + 3] == "      ],"
    assert_registrable(json.loads(new))


def test_existing_empty_or_null_secret_lists() -> None:
    for empty in ("[]", "null"):
        text = ('{\n  "family": "f",\n  "executionRoleArn": "' + ROLE + '",\n  "containerDefinitions": [\n    {\n'
                '      "name": "a",\n      "image": "i",\n      "secrets": ' + empty + ',\n      "environment": [\n'
                '        {"name": "K", "value": "v"}\n      ]\n    }\n  ]\n}\n')
        lf = load(text)
        new = roundtrip(lf, moves_for(lf, "K"))
        assert '      "secrets": [\n        {"name": "K", "valueFrom": "arn:' in new
        assert_registrable(json.loads(new))


def test_log_options_into_existing_empty_secret_options() -> None:
    lf = SOURCE.load(read_source(RES / "describe_billing.json"))
    new = roundtrip(lf, moves_for(lf, "apikey"))
    doc = json.loads(new)
    assert doc["taskDefinition"]["containerDefinitions"][0]["logConfiguration"]["secretOptions"][0]["name"] == "apikey"
    td = {k: v for k, v in doc["taskDefinition"].items() if k not in READ_ONLY_KEYS}
    td["tags"] = doc["tags"]
    assert_registrable(td)


def test_bare_container_list_and_task_list() -> None:
    lf = SOURCE.load(read_source(RES / "api_containers.json"))
    new = roundtrip(lf, moves_for(lf, "NEW_RELIC_LICENSE_KEY", "HTTP_Passwd"))
    assert "\t\t\"secrets\": [\n\t\t\t{\"name\": \"NEW_RELIC_LICENSE_KEY\"" in new
    assert_registrable({"family": "api", "executionRoleArn": ROLE, "containerDefinitions": json.loads(new)})
    lf = SOURCE.load(read_source(RES / "list_compact.json"))
    new = roundtrip(lf, moves_for(lf, "API_TOKEN", "SMTP_PASSWORD"), RewriteOptions(execution_role=ROLE))
    for td in json.loads(new):
        assert td["executionRoleArn"] == ROLE
        assert_registrable(td)


def test_missing_execution_role_is_an_error_or_inserted() -> None:
    doc = dict(BASE)
    del doc["executionRoleArn"]
    text = json.dumps(doc, indent=2) + "\n"
    lf = load(text)
    with pytest.raises(PlanError) as ei:
        SOURCE.rewrite(lf, moves_for(lf, "DB_PASSWORD"), RewriteOptions())
    msg = str(ei.value)
    assert "web" in msg and "--execution-role" in msg and "\n" not in msg and CANARY not in msg
    new = roundtrip(lf, moves_for(lf, "DB_PASSWORD"), RewriteOptions(execution_role=ROLE))
    assert f'  "family": "web",\n  "executionRoleArn": "{ROLE}",\n' in new
    assert_registrable(json.loads(new))
    # null is filled in; with no family/taskRoleArn the member goes first
    lf = load('{"executionRoleArn": null, "containerDefinitions": [{"name": "a", "image": "i", '
              '"environment": [{"name": "K", "value": "v"}]}]}')
    assert json.loads(roundtrip(lf, moves_for(lf, "K"), RewriteOptions(execution_role=ROLE)))["executionRoleArn"] == ROLE
    lf = load('{"containerDefinitions": [{"name": "a", "image": "i", "environment": [{"name": "K", "value": "v"}]}]}')
    new = roundtrip(lf, moves_for(lf, "K"), RewriteOptions(execution_role=ROLE))
    assert new.startswith(f'{{"executionRoleArn": "{ROLE}", "containerDefinitions"')


def test_name_already_in_secrets_is_refused() -> None:
    text = json.dumps({"executionRoleArn": ROLE, "containerDefinitions": [{
        "name": "a", "image": "i", "environment": [{"name": "K", "value": CANARY}],
        "secrets": [{"name": "K", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/k"}]}]})
    lf = load(text)
    with pytest.raises(RewriteError) as ei:
        SOURCE.rewrite(lf, moves_for(lf, "K"), RewriteOptions())
    assert CANARY not in str(ei.value) and "K" in str(ei.value)


def test_entry_without_value_or_foreign_entry_is_refused() -> None:
    lf = SOURCE.load(read_source(RES / "register_web.json"))
    with pytest.raises(RewriteError):
        SOURCE.rewrite(lf, moves_for(lf, "MISSING_VALUE"), RewriteOptions())
    other = SOURCE.load(read_source(RES / "list_compact.json"))
    with pytest.raises(RewriteError):
        SOURCE.rewrite(lf, moves_for(other, "SMTP_PASSWORD"), RewriteOptions())


def test_number_value_roundtrip() -> None:
    lf = load('{"executionRoleArn": "r", "containerDefinitions": [{"name": "a", "image": "i", '
              '"environment": [{"name": "PIN", "value": 1.50e3}]}]}')
    new = roundtrip(lf, moves_for(lf, "PIN"))
    assert json.loads(new)["containerDefinitions"][0]["secrets"][0]["name"] == "PIN"


def test_json_key_suffix_in_value_from() -> None:
    lf = load(variants()["2-space"])
    e = next(e for e in lf.entries if e.name == "DB_PASSWORD")
    ch = SOURCE.rewrite(lf, [Move(e, ref_token("s1") + ":DB_PASSWORD::", store="secretsmanager",
                                  json_key="DB_PASSWORD")], RewriteOptions())
    new = apply_edits(lf.source.text, ch[0].edits, ref=lambda a: "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf")
    vf = json.loads(new)["containerDefinitions"][0]["secrets"][0]["valueFrom"]
    assert vf == "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf:DB_PASSWORD::"
    assert ch[0].summary.startswith("web: app/DB_PASSWORD")


def test_post_check_catches_a_wrong_rewrite(monkeypatch: pytest.MonkeyPatch) -> None:
    from migrate.sources.ecs_taskdef import edits

    monkeypatch.setattr(edits, "_deletions", lambda *a: [])  # "forget" to remove from environment
    lf = load(variants()["2-space"])
    with pytest.raises(RewriteError) as ei:
        SOURCE.rewrite(lf, moves_for(lf, "DB_PASSWORD"), RewriteOptions())
    assert "intended structure" in str(ei.value) and CANARY not in str(ei.value)
