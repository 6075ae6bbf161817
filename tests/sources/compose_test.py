from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from migrate.errors import InputError, RewriteError
from migrate.model import ValueKind
from migrate.rewrite.edits import apply_edits, encode, ref_token, revert_edits
from migrate.sources.base import Move, RewriteOptions, read_source
from migrate.sources.compose import ComposeSource, classify

SCHEMA = json.loads(Path("/work/shared/reference/compose-spec.schema.json").read_text())
CANARY = "CANARY-compose-91bd"
SRC = ComposeSource()
RESOURCES = Path(__file__).parent.parent / "resources" / "compose"


def ref(aid: str) -> str:
    return f"arn:aws:ssm:us-east-1:123456789012:parameter/{aid}"


def load(tmp_path: Path, compose: str, files: dict[str, str] | None = None, *, crlf: bool = False):
    for name, body in (files or {}).items():
        (tmp_path / name).write_bytes(body.encode())
    (tmp_path / "compose.yaml").write_bytes(compose.encode())
    return SRC.load(read_source(tmp_path / "compose.yaml", "app/compose.yaml"))


def migrate(tmp_path: Path, compose: str, names: list[str], files: dict[str, str] | None = None,
            target: str = "ecs-params") -> dict[str, str]:
    """Move ``names``; check the round trip and the Compose schema; return the new texts by path."""
    lf = load(tmp_path, compose, files)
    originals = {lf.path: lf.source.text} | {r.display: r.text for r in lf.related}
    values = {e.key: e.value.reveal() for e in lf.entries if e.value is not None}
    sel = [e for e in lf.entries if e.name in names]
    assert sorted({e.name for e in sel}) == sorted(set(names))
    moves = [Move(e, ref_token(f"a{i}")) for i, e in enumerate(sel)]
    changes = SRC.rewrite(lf, moves, RewriteOptions(compose_target=target))
    out: dict[str, str] = {}
    for ch in changes:
        orig = "" if ch.create else originals[ch.path]
        new = apply_edits(orig, ch.edits, ref=ref)
        out[ch.path] = new
        for e in ch.edits:
            for v in values.values():
                if len(v) > 3:
                    assert v not in e.old and v not in e.new  # plaintext never in edits
        back = revert_edits(new, ch.edits, ref=ref, value=lambda k, enc: encode(enc, values[k]))
        assert back == orig
    compose_new = out.get(lf.path, lf.source.text)
    jsonschema.Draft7Validator(SCHEMA).validate(YAML(typ="safe").load(compose_new))
    return out


def entries(tmp_path, compose, files=None):
    return {e.name: e for e in load(tmp_path, compose, files).entries}


# --- read ------------------------------------------------------------------------------------------

MAP = """services:
  web:
    image: nginx
    environment:
      # database
      DB_PASSWORD: "changeme"  # rotate me
      # about PORT
      PORT: 80
"""


def test_map_env_entries(tmp_path):
    es = entries(tmp_path, MAP)
    e = es["DB_PASSWORD"]
    assert (e.line, e.unit, e.location, e.pointer, e.value_kind) == (
        6, "web", "compose.environment", "/services/web/environment/DB_PASSWORD", ValueKind.LITERAL)
    assert e.value.reveal() == "changeme" and e.restorable and e.group == tmp_path.name.lower().replace(".", "")


def test_list_env_and_kinds(tmp_path):
    es = entries(tmp_path, """name: shop
services:
  web:
    environment:
      - A=1
      - FROM_SHELL
      - I=${VAR}
      - D=${VAR:-dflt}
      - E=${VAR-}
      - T=pre-${VAR}
      - ESC=a$$b
""")
    assert es["A"].value.reveal() == "1" and es["A"].pointer == "/services/web/environment/0"
    assert es["FROM_SHELL"].value_kind is ValueKind.INTERPOLATED and es["FROM_SHELL"].value is None
    assert es["I"].value_kind is ValueKind.INTERPOLATED
    assert es["D"].value_kind is ValueKind.LITERAL and es["D"].value.reveal() == "dflt" and es["D"].restorable
    assert es["E"].value_kind is ValueKind.EMPTY
    assert es["T"].value_kind is ValueKind.TEMPLATED
    assert es["ESC"].value.reveal() == "a$b" and not es["ESC"].restorable
    assert es["A"].group == "shop"


def test_classify():
    assert classify("${A:?need}").kind is ValueKind.INTERPOLATED
    assert classify("${A:+x}").kind is ValueKind.TEMPLATED
    assert classify("$A").value is None
    assert classify("${A:-${B}}").kind is ValueKind.TEMPLATED


ANCHORS = """x-common-env: &common-env
  SHARED_SECRET: s3cret-value
  LOG_LEVEL: debug
x-unused: &unused
  UNUSED_SECRET: nobody-uses
services:
  web:
    environment:
      <<: *common-env
      PORT: "80"
  worker:
    environment:
      <<: *common-env
      LOG_LEVEL: info
  other:
    environment: *common-env
"""


def test_anchor_reported_once_with_all_units(tmp_path):
    es = load(tmp_path, ANCHORS).entries
    shared = [e for e in es if e.name == "SHARED_SECRET"]
    assert len(shared) == 1
    assert shared[0].units == ("web", "worker", "other") and shared[0].unit == "web"
    assert shared[0].pointer == "/x-common-env/SHARED_SECRET" and shared[0].line == 2
    log = [e for e in es if e.name == "LOG_LEVEL"]
    assert [e.units for e in log] == [("web", "other"), ("worker",)]
    assert not [e for e in es if e.name == "UNUSED_SECRET"]


def test_anchor_rewritten_once(tmp_path):
    out = migrate(tmp_path, ANCHORS, ["SHARED_SECRET"])
    new = out["app/compose.yaml"]
    assert "SHARED_SECRET" not in new and new.count("<<: *common-env") == 2
    ep = YAML(typ="safe").load(out["app/ecs-params.yml"])
    for svc in ("web", "worker", "other"):
        assert ep["task_definition"]["services"][svc]["secrets"] == [
            {"value_from": ref("a0"), "name": "SHARED_SECRET"}]


def test_service_merge_and_x_block(tmp_path):
    text = """x-base: &base
  image: app
  environment:
    - TOKEN=tok_abc123
services:
  a:
    <<: *base
  b:
    <<: *base
    environment: [OTHER=1]
"""
    es = {e.name: e for e in load(tmp_path, text).entries}
    assert es["TOKEN"].units == ("a",) and es["TOKEN"].pointer == "/x-base/environment/0"
    out = migrate(tmp_path, text, ["TOKEN"])
    assert "environment: []" in out["app/compose.yaml"]


# --- rewrite: formats ------------------------------------------------------------------------------


def test_noop(tmp_path):
    lf = load(tmp_path, MAP)
    assert SRC.rewrite(lf, [], RewriteOptions()) == []


def test_map_keeps_comments_and_quotes(tmp_path):
    out = migrate(tmp_path, MAP, ["DB_PASSWORD"])
    assert out["app/compose.yaml"] == MAP.replace('      DB_PASSWORD: "changeme"  # rotate me\n', "")
    assert out["app/ecs-params.yml"] == (
        "version: 1\ntask_definition:\n  services:\n    web:\n      secrets:\n"
        f'        - value_from: "{ref("a0")}"\n          name: DB_PASSWORD\n')


@pytest.mark.parametrize("text,expect", [
    ("services:\n  web:\n    environment:\n      - A=1\n      - DB_PASSWORD=pw-123  # c\n      - B=2\n",
     "services:\n  web:\n    environment:\n      - A=1\n      - B=2\n"),
    ("services:\n    web:\n        environment:\n            DB_PASSWORD: 'it''s'\n            B: x\n",
     "services:\n    web:\n        environment:\n            B: x\n"),
    ("services:\n  web:\n    environment: {A: b, DB_PASSWORD: pw-123, C: d}\n",
     "services:\n  web:\n    environment: {A: b, C: d}\n"),
    ("services:\n  web:\n    environment: {A: b, DB_PASSWORD: \"pw-123\"}\n",
     "services:\n  web:\n    environment: {A: b}\n"),
    ("services:\n  web:\n    environment: [A=b, DB_PASSWORD=pw-123]\n",
     "services:\n  web:\n    environment: [A=b]\n"),
    ("services:\n  web:\n    environment: [\"DB_PASSWORD=pw-123\", A=b]\n",
     "services:\n  web:\n    environment: [A=b]\n"),
    ("services:\n  web:\n    environment: {DB_PASSWORD: pw-123}\n",
     "services:\n  web:\n    environment: {}\n"),
    ("services:\n  web:\n    environment:  # env\n      DB_PASSWORD: pw-123\n    image: x\n",
     "services:\n  web:\n    image: x\n"),  # emptied beside other keys: removed whole (issue 13)
    ("services:\n  web:\n    environment:\n      - DB_PASSWORD=pw-123\n",
     "services:\n  web:\n    environment: []\n"),
    ("services:\n  web:\n    environment:\n      A: b\n      DB_PASSWORD: pw-123",  # no trailing newline
     "services:\n  web:\n    environment:\n      A: b"),
    ("services:\r\n  web:\r\n    environment:\r\n      DB_PASSWORD: pw-123\r\n      A: b\r\n",
     "services:\r\n  web:\r\n    environment:\r\n      A: b\r\n"),
    ("services:\n  web:\n    environment:\n      DB_PASSWORD: ${DB_PW:-pw-123}\n      A: \"\\tb\"\n",
     "services:\n  web:\n    environment:\n      A: \"\\tb\"\n"),
    ("services:\n  web:\n    environment:\n      DB_PASSWORD:\n        \"pw-123\"\n      A: b\n",
     "services:\n  web:\n    environment:\n      A: b\n"),
])
def test_formats(tmp_path, text, expect):
    out = migrate(tmp_path, text, ["DB_PASSWORD"])
    assert out["app/compose.yaml"] == expect


def test_crlf_ecs_params_created_crlf(tmp_path):
    out = migrate(tmp_path, "services:\r\n  web:\r\n    environment:\r\n      DB_PASSWORD: pw-123\r\n", ["DB_PASSWORD"])
    assert out["app/ecs-params.yml"].count("\r\n") == out["app/ecs-params.yml"].count("\n") == 7


def test_bom_file(tmp_path):
    (tmp_path / "compose.yaml").write_bytes(b"\xef\xbb\xbfservices:\n  web:\n    environment:\n      DB_PASSWORD: pw\n")
    src = read_source(tmp_path / "compose.yaml", "compose.yaml")
    lf = SRC.load(src)
    assert src.bom and [e.name for e in lf.entries] == ["DB_PASSWORD"]


# --- env_file ----------------------------------------------------------------------------------------

DOTENV = "# top\nexport TOKEN='tok en $x'\nDB_PASSWORD=\"pw \\\"q\\\"\"  # c\nPLAIN=abc123 # tail\nEMPTY=\n"


@pytest.mark.parametrize("spec", [
    "env_file: .env",
    "env_file:\n      - .env\n      - path: ./missing.env\n        required: false",
    "env_file:\n      - path: .env\n        required: true",
])
def test_env_file_forms(tmp_path, spec):
    compose = f"services:\n  web:\n    image: x\n    {spec}\n  api:\n    env_file: [.env]\n"
    lf = load(tmp_path, compose, {".env": DOTENV})
    es = {e.name: e for e in lf.entries}
    assert set(es) == {"TOKEN", "DB_PASSWORD", "PLAIN", "EMPTY"}
    e = es["DB_PASSWORD"]
    assert (e.path, e.value_path, e.line, e.pointer, e.location) == ("app/compose.yaml", "app/.env", 3, "/DB_PASSWORD", "env_file")
    assert e.value.reveal() == 'pw "q"' and e.restorable and e.units == ("web", "api")
    assert es["TOKEN"].value.reveal() == "tok en $x" and es["PLAIN"].value.reveal() == "abc123"
    assert es["EMPTY"].value_kind is ValueKind.EMPTY
    assert lf.warnings == ()
    out = migrate(tmp_path, compose, ["TOKEN", "DB_PASSWORD", "PLAIN"], {".env": DOTENV})
    assert out["app/.env"] == "# top\nEMPTY=\n"
    ep = YAML(typ="safe").load(out["app/ecs-params.yml"])
    assert [s["name"] for s in ep["task_definition"]["services"]["api"]["secrets"]] == ["TOKEN", "DB_PASSWORD", "PLAIN"]


def test_env_file_missing_required_warns(tmp_path):
    lf = load(tmp_path, "services:\n  web:\n    env_file: nope.env\n")
    assert lf.entries == () and len(lf.warnings) == 1 and "not found" in lf.warnings[0]


def test_env_file_overridden_value_still_set_is_refused(tmp_path):
    compose = "services:\n  web:\n    env_file: .env\n    environment:\n      DB_PASSWORD: pw-1\n"
    lf = load(tmp_path, compose, {".env": "DB_PASSWORD=pw-2\n"})
    e = [e for e in lf.entries if e.location == "compose.environment"][0]
    with pytest.raises(RewriteError, match="still set"):
        SRC.rewrite(lf, [Move(e, ref_token("a"))], RewriteOptions())
    migrate(tmp_path, compose, ["DB_PASSWORD"], {".env": "DB_PASSWORD=pw-2\n"})


def test_dotenv_duplicates_not_restorable(tmp_path):
    lf = load(tmp_path, "services:\n  web:\n    env_file: .env\n", {".env": "A=1\nA=2\n"})
    (e,) = lf.entries
    assert e.value.reveal() == "2" and e.line == 2 and not e.restorable
    with pytest.raises(RewriteError):
        SRC.rewrite(lf, [Move(e, ref_token("a"))], RewriteOptions())


# --- ecs-params extension -------------------------------------------------------------------------


@pytest.mark.parametrize("existing,expect_tail", [
    ("version: 1\n", "task_definition:\n  services:\n    web:\n      secrets:\n"),
    ("version: 1\ntask_definition:\n  task_execution_role: r  # role\n",
     "  task_execution_role: r  # role\n  services:\n    web:\n"),
    ("version: 1\ntask_definition:\n    services:\n        web:\n            secrets:\n"
     "                -   value_from: old\n                    name: OLD\n        # trailing comment\n",
     "                    name: OLD\n                -   value_from: \""),
    ("version: 1\ntask_definition:\n  services:\n    other:\n      secrets: []\n", "    other:\n      secrets: []\n    web:\n"),
    ("version: 1\ntask_definition:\n  services:\n    web:\n      secrets: [{value_from: old, name: OLD}]\n",
     "secrets: [{value_from: old, name: OLD}, {value_from: \""),
])
def test_ecs_params_extended(tmp_path, existing, expect_tail):
    (tmp_path / "ecs-params.yml").write_text(existing)
    out = migrate(tmp_path, MAP, ["DB_PASSWORD"])
    new = out["app/ecs-params.yml"]
    assert new.startswith(existing.split("\n")[0]) and expect_tail in new
    doc = YAML(typ="safe").load(new)
    assert {"value_from": ref("a0"), "name": "DB_PASSWORD"} in doc["task_definition"]["services"]["web"]["secrets"]


def test_ecs_params_existing_name_refused(tmp_path):
    (tmp_path / "ecs-params.yml").write_text(
        "version: 1\ntask_definition:\n  services:\n    web:\n      secrets:\n        - value_from: x\n          name: DB_PASSWORD\n")
    lf = load(tmp_path, MAP)
    e = [e for e in lf.entries if e.name == "DB_PASSWORD"][0]
    with pytest.raises(RewriteError, match="already listed"):
        SRC.rewrite(lf, [Move(e, ref_token("a"))], RewriteOptions())


# --- compose-secrets --------------------------------------------------------------------------------


def test_compose_secrets_target(tmp_path):
    text = "services:\n  web:\n    environment:\n      DB_PASSWORD: pw-123\n      A: b\n  api:\n    environment: {DB_PASSWORD: other-pw}\n    secrets:\n      - existing\nsecrets:\n  existing:\n    file: ./x\n"
    out = migrate(tmp_path, text, ["DB_PASSWORD"], target="compose-secrets")
    assert set(out) == {"app/compose.yaml"}
    doc = YAML(typ="safe").load(out["app/compose.yaml"])
    assert doc["services"]["web"]["secrets"] == ["db_password"]
    assert doc["services"]["api"]["secrets"] == ["existing", "db_password_2"]
    assert doc["secrets"]["db_password"] == {"external": True, "name": ref("a0")}
    assert doc["secrets"]["existing"] == {"file": "./x"}
    assert "DB_PASSWORD" not in doc["services"]["web"]["environment"]


def test_compose_secrets_appended_without_trailing_newline(tmp_path):
    out = migrate(tmp_path, "services:\n  web:\n    environment:\n      DB_PASSWORD: pw-123\n      A: b",
                  ["DB_PASSWORD"], target="compose-secrets")
    assert not out["app/compose.yaml"].endswith("\n")


# --- sniff & bad input ------------------------------------------------------------------------------


def test_sniff():
    assert SRC.sniff(Path("compose.yaml"), MAP)
    assert SRC.sniff(Path("docker-compose.prod.yml"), MAP)
    assert not SRC.sniff(Path("t.yaml"), "AWSTemplateFormatVersion: x\nservices: {}\n")
    assert not SRC.sniff(Path("ecs-params.yml"), "task_definition:\n  services: {}\n")
    assert not SRC.sniff(Path("t.json"), MAP)
    assert not SRC.sniff(Path("k.yaml"), "kind: Deployment\n")


@pytest.mark.parametrize("text,reason", [
    (f"services:\n  web:\n    environment:\n      A: {CANARY}\n     B: [\n", "invalid YAML"),
    (f"services:\n  web:\n    environment:\n      A: !vault {CANARY}\n", "unsupported YAML tag"),
    (f"services:\n  web:\n    environment:\n      A: {CANARY}\n      A: {CANARY}\n", "duplicate mapping key"),
    ("", "empty file"),
    (f"x: *{CANARY}\nservices: {{}}\n", "invalid YAML"),
    (f"services:\r\n  web: {{environment: {{A: {CANARY}}}\r\n", "invalid YAML"),
    (f"\ufeffservices:\n  web:\n    environment:\n      A: {CANARY}\n   - x\n", "invalid YAML"),
    (f"services: [{CANARY}]\n", "no services mapping"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + chr(ord(c) - 1)] * 10)}]\n" for c in "bcdefghij") + "services: {}\n",
     "alias bomb"),
])
def test_bad_input(tmp_path, text, reason):
    (tmp_path / "compose.yaml").write_bytes(text.encode())
    with pytest.raises(InputError) as ei:
        SRC.load(read_source(tmp_path / "compose.yaml", "compose.yaml"))
    assert reason in str(ei.value) and CANARY not in str(ei.value)
    assert ei.value.path == "compose.yaml"


def test_resource_sample(tmp_path):
    text = (RESOURCES / "compose.yaml").read_text()
    lf = load(tmp_path, text, {".env": (RESOURCES / "app.env").read_text()})
    assert lf.entries
    names = [e.name for e in lf.entries if e.value_kind is ValueKind.LITERAL and e.restorable]
    migrate(tmp_path, text, sorted(set(names)), {".env": (RESOURCES / "app.env").read_text()})


def test_env_file_in_a_parent_directory_inside_the_tree_is_read_and_rewritten(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "shared.env").write_text(f"DB_PASSWORD={CANARY}\nPORT=80\n")
    (tmp_path / "app" / "compose.yaml").write_text("services:\n  web:\n    image: x\n    env_file: ../shared.env\n")
    src = read_source(tmp_path / "app" / "compose.yaml", "app/compose.yaml")
    with pytest.raises(InputError, match="outside the scanned tree"):  # the compose file's directory only
        SRC.load(src)
    lf = SRC.load(src, root=tmp_path)
    e = next(e for e in lf.entries if e.name == "DB_PASSWORD")
    assert e.restorable and e.value_path == "shared.env"
    changes = SRC.rewrite(lf, [Move(e, ref_token("a1"))], RewriteOptions())  # re-load checks use the same tree
    env_change = next(ch for ch in changes if ch.path == "shared.env")
    new = apply_edits((tmp_path / "shared.env").read_text(), env_change.edits, ref=ref)
    assert CANARY not in new and "PORT=80" in new
