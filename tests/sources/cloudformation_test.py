from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.errors import InputError, RewriteError
from migrate.model import LOC_ENVIRONMENT, LOC_LOG_OPTIONS, Entry, ValueKind
from migrate.rewrite.edits import apply_edits, encode, ref_token, revert_edits
from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions, read_source
from migrate.sources.cloudformation import SOURCE

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CFN = FIXTURES / "cloudformation"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app-AbCdEf"
CANARY = "CANARY-cfn-33c0"
SECRETS = {
    "api.yaml": {"DB_PASSWORD", "STRIPE_API_KEY", "JWT_SECRET", "ADMIN_TOKEN", "splunk-token", "SIDECAR_API_KEY"},
    "worker.json": {"REDIS_PASSWORD", "AWS_SECRET_ACCESS_KEY", "apikey", "FLB_API_TOKEN"},
    "billing.yaml": {"PAYPAL_CLIENT_SECRET"},
}


def _load(path: Path, text: str | None = None) -> LoadedFile:
    if text is not None:
        path.write_text(text, newline="")
    return SOURCE.load(read_source(path, path.name))


def _moves(lf: LoadedFile, names: set[str]) -> list[Move]:
    out = []
    for e in lf.entries:
        if e.name not in names:
            continue
        if e.value_kind is ValueKind.REFERENCE:
            out.append(Move(e, f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{e.resolves_to}:token::",
                            store="existing", json_key="token"))
        elif "KEY" in e.name.upper():
            out.append(Move(e, ref_token("sm1") + f":{e.name}::", store="secretsmanager", store_name="prod/app",
                            json_key=e.name))
        else:
            out.append(Move(e, ref_token(f"p-{e.name}"), store="ssm", store_name=f"/prod/app/{e.name}"))
    return out


def _rewrite(lf: LoadedFile, names: set[str], options: RewriteOptions | None = None) -> tuple[FileChange, str]:
    changes = SOURCE.rewrite(lf, _moves(lf, names), options or RewriteOptions())
    assert len(changes) == 1
    return changes[0], apply_edits(lf.source.text, changes[0].edits, ref=lambda _a: ARN)


def _revert(lf: LoadedFile, change: FileChange, new: str) -> str:
    values = {e.key: e.value.reveal() for e in lf.entries if e.value is not None}
    return revert_edits(new, change.edits, ref=lambda _a: ARN, value=lambda k, enc: encode(enc, values[k]))


def _container(text: str, tmp: Path, name: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """(env names, secret names, log option names, secret option names) of container ``name``."""
    from ruamel.yaml import YAML
    doc = YAML(typ="rt").load(text)
    for res in doc["Resources"].values():
        if res["Type"] != "AWS::ECS::TaskDefinition":
            continue
        for c in res["Properties"]["ContainerDefinitions"]:
            if c["Name"] == name:
                lc = c.get("LogConfiguration", {})
                return ([i["Name"] for i in c.get("Environment", [])], [i["Name"] for i in c.get("Secrets", [])],
                        list(lc.get("Options", {})), [i["Name"] for i in lc.get("SecretOptions", [])])
    raise AssertionError(name)


def test_sniff() -> None:
    assert SOURCE.sniff(Path("t.yaml"), (CFN / "api.yaml").read_text())
    assert SOURCE.sniff(Path("t.json"), (CFN / "worker.json").read_text())
    assert not SOURCE.sniff(Path("compose.yaml"), "services:\n  web:\n    image: x\n")
    assert not SOURCE.sniff(Path("app.py"), "AWSTemplateFormatVersion = 1\n")


def test_load_entries_yaml() -> None:
    lf = SOURCE.load(read_source(CFN / "api.yaml", "api.yaml"))
    by = {(e.unit, e.name): e for e in lf.entries}
    assert lf.units == ("api", "sidecar")
    assert by[("api", "STRIPE_API_KEY")].value_kind is ValueKind.LITERAL
    assert by[("api", "STRIPE_API_KEY")].pointer == "/Resources/ApiTaskDef/Properties/ContainerDefinitions/0/Environment/3/Value"
    assert by[("api", "STRIPE_API_KEY")].line == 55
    assert by[("api", "STRIPE_API_KEY")].group == "ApiTaskDef"
    db = by[("api", "DB_PASSWORD")]
    assert (db.value_kind, db.pointer, db.line) == (ValueKind.LITERAL, "/Parameters/DbPassword/Default", 8)
    assert by[("api", "JWT_SECRET")].value_kind is ValueKind.LITERAL  # !Sub without variables
    assert by[("api", "PUBLIC_URL")].value_kind is ValueKind.TEMPLATED
    adm = by[("api", "ADMIN_TOKEN")]
    assert (adm.value_kind, adm.resolves_to) == (ValueKind.REFERENCE, "prod/api/admin")
    assert "json key token" in adm.note
    assert by[("api", "QUEUE_URL")].value_kind is ValueKind.REFERENCE
    assert by[("api", "splunk-token")].location == LOC_LOG_OPTIONS
    assert by[("sidecar", "SIDECAR_API_KEY")].location == LOC_ENVIRONMENT
    assert all(e.source == "cloudformation" for e in lf.entries)
    assert "sk_live" not in repr(lf)


def test_load_entries_json() -> None:
    lf = SOURCE.load(read_source(CFN / "worker.json", "worker.json"))
    by = {(e.unit, e.name): e for e in lf.entries}
    assert by[("worker", "REDIS_PASSWORD")].line == 43
    assert by[("worker", "REGION")].value_kind is ValueKind.TEMPLATED
    assert by[("worker", "apikey")].pointer.endswith("/LogConfiguration/Options/apikey")
    assert by[("log_router", "FLB_API_TOKEN")].value is not None


def test_labels_match_entries() -> None:
    labels = json.loads((CFN / "labels.json").read_text())
    assert labels["version"] == 1
    found = set()
    files = sorted(p.name for p in CFN.iterdir() if p.name != "labels.json")
    assert len(files) == 4
    for f in files:
        for e in SOURCE.load(read_source(CFN / f, f"cloudformation/{f}")).entries:
            found.add((e.path, e.unit, e.location, e.name))
    want = {(x["path"], x["unit"], x["location"], x["name"]) for x in labels["entries"]}
    assert want <= found


def test_noop() -> None:
    lf = SOURCE.load(read_source(CFN / "api.yaml", "api.yaml"))
    assert SOURCE.rewrite(lf, [], RewriteOptions()) == []


@pytest.mark.parametrize("fname", sorted(SECRETS))
def test_rewrite_roundtrip(fname: str, tmp_path: Path) -> None:
    lf = _load(tmp_path / fname, (CFN / fname).read_text())
    change, new = _rewrite(lf, SECRETS[fname])
    assert new != lf.source.text
    for e in lf.entries:
        if e.name in SECRETS[fname] and e.value_kind is ValueKind.LITERAL:
            assert e.value is not None and e.value.reveal() not in new
            assert e.value.reveal() not in json.dumps([ed.to_record() for ed in change.edits])
    # reparse: moved names left Environment/Options and appear once under Secrets/SecretOptions
    after = _load(tmp_path / ("after-" + fname), new)
    assert not [e for e in after.entries if e.name in SECRETS[fname] and e.value_kind is ValueKind.LITERAL]
    assert _revert(lf, change, new) == lf.source.text


def test_rewrite_yaml_layout(tmp_path: Path) -> None:
    lf = _load(tmp_path / "api.yaml", (CFN / "api.yaml").read_text())
    change, new = _rewrite(lf, SECRETS["api.yaml"])
    env, sec, opts, sopts = _container(new, tmp_path, "api")
    assert env == ["PORT", "LOG_LEVEL", "PUBLIC_URL", "QUEUE_URL"]
    assert sec == ["DB_PASSWORD", "STRIPE_API_KEY", "JWT_SECRET", "ADMIN_TOKEN"]
    assert (opts, sopts) == (["splunk-url", "splunk-index"], ["splunk-token"])
    assert _container(new, tmp_path, "sidecar")[:2] == (["SIDECAR_MODE"], ["SIDECAR_API_KEY"])
    # comments travel with their entry, the next entry's comment stays put
    assert "            # database credentials (legacy)\n            - Name: DB_PASSWORD\n" in new
    assert "            # log level for the app\n            - Name: LOG_LEVEL\n" in new
    assert "ValueFrom: \"" + ARN + ":STRIPE_API_KEY::\"  # rotate me" in new
    assert "parameter/prod/app/DB_PASSWORD\"   # from the parameter" in new
    assert "secret:prod/api/admin:token::" in new  # dynamic reference -> same secret
    # the parameter that only fed the moved entry keeps its declaration, loses its Default
    assert "  DbPassword:\n" in new and "ImageTag:" in new
    assert "removed the Default of parameter DbPassword" in change.summary
    # the role in the same template gets the read statement
    assert "PolicyName: secrets-migrate-ApiTaskDef" in new and "ssm:GetParameters" in new
    assert "secret:prod/api/admin-??????" in new
    assert set(change.grants) == {m.entry.key for m in _moves(lf, SECRETS["api.yaml"])}
    # untouched lines are byte-identical
    assert new.startswith('AWSTemplateFormatVersion: "2010-09-09"\nDescription: Legacy API service')


def test_rewrite_appends_to_existing_secrets_without_grant(tmp_path: Path) -> None:
    lf = _load(tmp_path / "billing.yaml", (CFN / "billing.yaml").read_text())
    change, new = _rewrite(lf, {"PAYPAL_CLIENT_SECRET"})
    assert _container(new, tmp_path, "billing")[:2] == (["BILLING_MODE", "SESSION_SALT"], ["DB_URL", "PAYPAL_CLIENT_SECRET"])
    assert "        - Name: 'PAYPAL_CLIENT_SECRET'   # partner sandbox\n          ValueFrom: !Sub" in new
    assert change.grants == ()


def test_rewritten_templates_pass_cfn_lint(tmp_path: Path) -> None:
    paths = []
    for fname in sorted(SECRETS):
        lf = _load(tmp_path / fname, (CFN / fname).read_text())
        _, new = _rewrite(lf, SECRETS[fname])
        out = tmp_path / f"out-{fname}"
        out.write_text(new, newline="")
        paths.append(str(out))
    exe = Path(sys.executable).parent / "cfn-lint"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "cfnlint"]
    # W2001 (parameter not used): a parameter whose Default fed a moved value stays declared on
    # purpose (issue 13: deploy pipelines that pass it keep working); nothing else may be reported
    r = subprocess.run([*cmd, *paths, "--ignore-checks", "W2001"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([*cmd, *paths], capture_output=True, text=True, timeout=120)
    assert set(re.findall(r"^(\w\d+) ", r.stdout, re.M)) <= {"W2001"}, r.stdout


def test_idempotent(tmp_path: Path) -> None:
    lf = _load(tmp_path / "api.yaml", (CFN / "api.yaml").read_text())
    _, new = _rewrite(lf, SECRETS["api.yaml"])
    again = _load(tmp_path / "again.yaml", new)
    assert _moves(again, SECRETS["api.yaml"]) == []
    assert SOURCE.rewrite(again, [], RewriteOptions()) == []


def test_crlf_preserved(tmp_path: Path) -> None:
    text = (CFN / "api.yaml").read_text().replace("\n", "\r\n")
    lf = _load(tmp_path / "api.yaml", text)
    change, new = _rewrite(lf, SECRETS["api.yaml"])
    assert "\n" not in new.replace("\r\n", "")
    assert _revert(lf, change, new) == text


def test_all_entries_moved_renames_environment(tmp_path: Path) -> None:
    text = (CFN / "worker.json").read_text()
    lf = _load(tmp_path / "w.json", text)
    _, new = _rewrite(lf, {"FLB_API_TOKEN"})
    doc = json.loads(new)
    c = doc["Resources"]["WorkerTaskDef"]["Properties"]["ContainerDefinitions"][1]
    assert "Environment" not in c and c["Secrets"][0]["Name"] == "FLB_API_TOKEN"


def test_parameter_used_elsewhere_refuses(tmp_path: Path) -> None:
    text = (CFN / "api.yaml").read_text().replace("      Family: api\n", "      Family: !Ref DbPassword\n")
    lf = _load(tmp_path / "api.yaml", text)
    with pytest.raises(RewriteError, match="DbPassword"):
        _rewrite(lf, {"DB_PASSWORD"})


def test_missing_execution_role(tmp_path: Path) -> None:
    text = (CFN / "billing.yaml").read_text().replace(
        "      ExecutionRoleArn: arn:aws:iam::123456789012:role/ecsTaskExecutionRole\n", "")
    lf = _load(tmp_path / "b.yaml", text)
    with pytest.raises(RewriteError, match="ExecutionRoleArn"):
        _rewrite(lf, {"PAYPAL_CLIENT_SECRET"})
    role = "arn:aws:iam::123456789012:role/exec"
    change, new = _rewrite(lf, {"PAYPAL_CLIENT_SECRET"}, RewriteOptions(execution_role=role))
    assert f"ExecutionRoleArn: \"{role}\"" in new or f"ExecutionRoleArn: {role}" in new
    assert _revert(lf, change, new) == text


def test_templated_value_refused(tmp_path: Path) -> None:
    lf = _load(tmp_path / "api.yaml", (CFN / "api.yaml").read_text())
    e = next(e for e in lf.entries if e.name == "PUBLIC_URL")
    with pytest.raises(RewriteError):
        SOURCE.rewrite(lf, [Move(e, ref_token("x"), store="ssm", store_name="/x")], RewriteOptions())


@pytest.mark.parametrize("text", [
    "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  A: [" + CANARY + "\n",
    '{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"X": "' + CANARY + '",}}',
    '{"AWSTemplateFormatVersion": "2010-09-09", "A": "' + CANARY + '", "A": "x"}',
    "AWSTemplateFormatVersion: x\nA: " + CANARY + "\nA: y\n",
])
def test_bad_input(text: str, tmp_path: Path) -> None:
    p = tmp_path / ("bad.json" if text.startswith("{") else "bad.yaml")
    p.write_text(text)
    with pytest.raises(InputError) as ei:
        SOURCE.load(read_source(p, "bad"))
    assert CANARY not in str(ei.value) and CANARY not in repr(ei.value)
    assert ei.value.line is not None


def test_entry_repr_has_no_value() -> None:
    lf = SOURCE.load(read_source(CFN / "worker.json", "worker.json"))
    e: Entry = next(e for e in lf.entries if e.name == "REDIS_PASSWORD")
    assert "r3d1s" not in repr(e)


def test_shared_parameter_and_whole_blocks_moved(tmp_path: Path) -> None:
    lf = _load(tmp_path / "s.yaml", (CFN / "shared_param.yaml").read_text())
    tok = next(e for e in lf.entries if e.name == "TOKEN")
    assert tok.units == ("a", "b") and tok.pointer == "/Parameters/Tok/Default"
    change, new = _rewrite(lf, {"TOKEN", "splunk-token"})
    assert _container(new, tmp_path, "a") == ([], ["TOKEN"], [], ["splunk-token"])
    assert _container(new, tmp_path, "b")[:2] == (["MODE"], ["B_TOKEN"])
    assert "Parameters:\n  Tok:\n    Type: String\n" in new and "Default" not in new and "shared-T0ken" not in new
    assert "          Secrets:\n            - Name: TOKEN\n" in new  # Environment renamed in place
    assert _revert(lf, change, new) == lf.source.text
