from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.errors import InputError, RewriteError
from migrate.model import LOC_LOG_OPTIONS, ValueKind
from migrate.rewrite.edits import apply_edits, encode, ref_token, revert_edits
from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions, read_source
from migrate.sources.cdk_python import SOURCE

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CDK = FIXTURES / "cdk"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app-AbCdEf"
CANARY = "CANARY-cfn-33c0"
SECRETS = {
    "plain_stack": {"DB_PASSWORD", "STRIPE_SECRET_KEY", "REDIS_AUTH_TOKEN", "SIDECAR_TOKEN"},
    "patterns_service": {"PAYMENT_API_SECRET"},
    "firelens_sidecar": {"apikey"},
}


def _load(path: Path, text: str | None = None) -> LoadedFile:
    if text is not None:
        path.write_text(text, newline="")
    return SOURCE.load(read_source(path, path.name))


def _moves(lf: LoadedFile, names: set[str]) -> list[Move]:
    out = []
    for e in lf.entries:
        if e.name not in names or e.value_kind is not ValueKind.LITERAL:
            continue
        if "KEY" in e.name.upper():
            out.append(Move(e, ref_token("sm1") + f":{e.name}::", store="secretsmanager", store_name="prod/app",
                            json_key=e.name))
        else:
            out.append(Move(e, ref_token(f"p-{e.name}"), store="ssm", store_name=f"/prod/app/{e.name}"))
    return out


def _rewrite(lf: LoadedFile, names: set[str]) -> tuple[FileChange, str]:
    changes = SOURCE.rewrite(lf, _moves(lf, names), RewriteOptions())
    assert len(changes) == 1
    return changes[0], apply_edits(lf.source.text, changes[0].edits, ref=lambda _a: ARN)


def _revert(lf: LoadedFile, change: FileChange, new: str) -> str:
    values = {e.key: e.value.reveal() for e in lf.entries if e.value is not None}
    return revert_edits(new, change.edits, ref=lambda _a: ARN, value=lambda k, enc: encode(enc, values[k]))


def test_sniff() -> None:
    assert SOURCE.sniff(Path("app.py"), (CDK / "plain_stack" / "app.py").read_text())
    assert not SOURCE.sniff(Path("app.py"), "import os\nenvironment = {}\n")
    assert not SOURCE.sniff(Path("app.txt"), (CDK / "plain_stack" / "app.py").read_text())


def test_load_entries() -> None:
    lf = SOURCE.load(read_source(CDK / "plain_stack" / "app.py", "app.py"))
    by = {(e.unit, e.name): e for e in lf.entries}
    db = by[("web", "DB_PASSWORD")]
    assert (db.value_kind, db.line, db.group) == (ValueKind.LITERAL, 24, "BillingStack")
    assert db.pointer == "/BillingStack/__init__/add_container:web/environment/DB_PASSWORD"
    assert by[("Sidecar", "SIDECAR_TOKEN")].pointer.startswith("/BillingStack/__init__/ContainerDefinition:Sidecar/")
    assert by[("cron", "DEPLOY_ENV")].value_kind is ValueKind.TEMPLATED
    assert "environment" in by[("cron", "DEPLOY_ENV")].note
    assert by[("cron", "FEATURE_FLAGS")].note == "CDK context lookup"
    assert ("worker", "API_KEY") not in by  # already a secret
    assert sum(1 for e in lf.entries if e.name == "DB_PASSWORD") == 1  # the dict(environment=...) decoy is ignored
    assert "Pg-s3cr3t" not in repr(lf)


def test_load_patterns_and_firelens() -> None:
    pat = SOURCE.load(read_source(CDK / "patterns_service" / "app.py", "p.py"))
    assert {(e.unit, e.name) for e in pat.entries} == {("web", "SHOP_CURRENCY"), ("web", "PAYMENT_API_SECRET")}
    fl = SOURCE.load(read_source(CDK / "firelens_sidecar" / "app.py", "f.py"))
    by = {(e.unit, e.name): e for e in fl.entries}
    assert by[("app", "apikey")].location == LOC_LOG_OPTIONS
    assert by[("log_router", "FLB_LOG_LEVEL")].value_kind is ValueKind.LITERAL


def test_labels_match_entries() -> None:
    labels = json.loads((CDK / "labels.json").read_text())
    found = set()
    for app in SECRETS:
        for e in SOURCE.load(read_source(CDK / app / "app.py", f"cdk/{app}/app.py")).entries:
            found.add((e.path, e.unit, e.location, e.name))
    assert {(x["path"], x["unit"], x["location"], x["name"]) for x in labels["entries"]} <= found


def test_noop() -> None:
    lf = SOURCE.load(read_source(CDK / "plain_stack" / "app.py", "app.py"))
    assert SOURCE.rewrite(lf, [], RewriteOptions()) == []


@pytest.mark.parametrize("app", sorted(SECRETS))
def test_rewrite_roundtrip_and_idempotent(app: str, tmp_path: Path) -> None:
    lf = _load(tmp_path / "app.py", (CDK / app / "app.py").read_text())
    change, new = _rewrite(lf, SECRETS[app])
    for e in lf.entries:
        if e.name in SECRETS[app]:
            assert e.value is not None and e.value.reveal() not in new
            assert e.value.reveal() not in json.dumps([ed.to_record() for ed in change.edits])
    compile(new, "app.py", "exec")
    again = _load(tmp_path / "again.py", new)
    assert _moves(again, SECRETS[app]) == []
    assert _revert(lf, change, new) == lf.source.text


def test_rewrite_plain_stack_layout(tmp_path: Path) -> None:
    lf = _load(tmp_path / "app.py", (CDK / "plain_stack" / "app.py").read_text())
    _, new = _rewrite(lf, SECRETS["plain_stack"])
    # comments stay with their entries: the moved one's comments move, LOG_LEVEL keeps its own
    assert '                # log level for the app\n                "LOG_LEVEL": \'debug\',\n            },\n' in new
    assert ('            secrets={\n                # database credentials (legacy)\n'
            '                "DB_PASSWORD": ecs.Secret.from_ssm_parameter(') in new
    assert '"WebDbPasswordParam", parameter_name="/prod/app/DB_PASSWORD")),  # rotate me' in new
    assert f'"{ARN}"), field="STRIPE_SECRET_KEY"),  # last, no trailing comma' in new
    # merged into the existing secrets= dict
    assert ('secrets={"API_KEY": ecs.Secret.from_ssm_parameter(api_param), "REDIS_AUTH_TOKEN": '
            'ecs.Secret.from_ssm_parameter(') in new
    # environment emptied -> replaced by secrets
    assert 'environment={"SIDECAR_TOKEN"' not in new and 'secrets={"SIDECAR_TOKEN"' in new
    # imports added once, existing aliases reused
    assert new.count("aws_secretsmanager as secretsmanager") == 1
    assert "from aws_cdk import aws_ssm as ssm\n" in new and new.count("aws_ssm as ssm") == 1
    assert 'other = dict(environment={"DB_PASSWORD": "keep"})' in new


def test_unique_construct_ids(tmp_path: Path) -> None:
    text = (CDK / "plain_stack" / "app.py").read_text().replace('"Task", cpu', '"WebDbPasswordParam", cpu')
    lf = _load(tmp_path / "app.py", text)
    _, new = _rewrite(lf, {"DB_PASSWORD"})
    assert '"WebDbPasswordParam2"' in new


def test_crlf_preserved(tmp_path: Path) -> None:
    text = (CDK / "plain_stack" / "app.py").read_text().replace("\n", "\r\n")
    lf = _load(tmp_path / "app.py", text)
    change, new = _rewrite(lf, SECRETS["plain_stack"])
    assert "\n" not in new.replace("\r\n", "")
    assert _revert(lf, change, new) == text


def test_non_literal_and_escaped_values_refused(tmp_path: Path) -> None:
    text = (CDK / "plain_stack" / "app.py").read_text().replace('"Pg-s3cr3t-pa55w0rd"', '"Pg\\x41-s3cr3t"')
    lf = _load(tmp_path / "app.py", text)
    by = {e.name: e for e in lf.entries}
    assert by["DB_PASSWORD"].restorable is False
    for name in ("DB_PASSWORD", "DEPLOY_ENV"):
        with pytest.raises(RewriteError):
            SOURCE.rewrite(lf, [Move(by[name], ref_token("x"), store="ssm", store_name="/x")], RewriteOptions())


def test_bad_python(tmp_path: Path) -> None:
    p = tmp_path / "app.py"
    p.write_text(f"from aws_cdk import aws_ecs as ecs\nx = dict(environment={{'A': '{CANARY}'\n")
    with pytest.raises(InputError) as ei:
        SOURCE.load(read_source(p, "app.py"))
    assert CANARY not in str(ei.value) and ei.value.line is not None


def _cfn_lint_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "cfn-lint"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cfnlint"]


def test_cdk_synth_of_rewritten_apps(tmp_path: Path) -> None:
    """Synthesize rewritten apps with the real aws-cdk-lib, then check Secrets and cfn-lint."""
    try:
        import aws_cdk  # noqa: F401
    except ImportError:
        pytest.skip("aws-cdk-lib is not installed (pip install aws-cdk-lib constructs)")
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    apps = ("plain_stack", "firelens_sidecar")
    for app in apps:
        d = tmp_path / app
        d.mkdir()
        lf = _load(d / "app.py", (CDK / app / "app.py").read_text())
        _, new = _rewrite(lf, SECRETS[app])
        (d / "app.py").write_text(new)
    # one interpreter (one jsii/node start-up) synthesizes both apps into the same cloud assembly
    runner = "import runpy, sys\nfor p in sys.argv[1:]:\n    runpy.run_path(p, run_name='__main__')\n"
    r = subprocess.run([sys.executable, "-c", runner, *[str(tmp_path / a / "app.py") for a in apps]],
                       env={**env, "CDK_OUTDIR": str(tmp_path / "out")}, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    containers = {}
    templates = []
    for t in sorted((tmp_path / "out").glob("*.template.json")):
        templates.append(str(t))
        for res in json.loads(t.read_text())["Resources"].values():
            if res["Type"] == "AWS::ECS::TaskDefinition":
                for c in res["Properties"]["ContainerDefinitions"]:
                    containers[c["Name"]] = c
    assert len(templates) == 2
    web = containers["web"]
    assert [e["Name"] for e in web["Environment"]] == ["PORT", "LOG_LEVEL"]
    vf = {s["Name"]: s["ValueFrom"] for s in web["Secrets"]}
    assert vf["STRIPE_SECRET_KEY"] == f"{ARN}:STRIPE_SECRET_KEY::"
    assert ":parameter/prod/app/DB_PASSWORD" in json.dumps(vf["DB_PASSWORD"])
    assert [s["Name"] for s in containers["worker"]["Secrets"]] == ["API_KEY", "REDIS_AUTH_TOKEN"]
    assert "Environment" not in containers["Sidecar"]
    assert containers["app"]["LogConfiguration"]["SecretOptions"] == [{"Name": "apikey", "ValueFrom": f"{ARN}:apikey::"}]
    assert "apikey" not in containers["app"]["LogConfiguration"]["Options"]
    dumped = json.dumps(containers)
    for app in apps:
        for e in SOURCE.load(read_source(CDK / app / "app.py", "x")).entries:
            if e.name in SECRETS[app]:
                assert e.value is not None and e.value.reveal() not in dumped
    r = subprocess.run([*_cfn_lint_cmd(), *templates], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


FLOW_APP = """\
from aws_cdk import App, Stack
from aws_cdk import aws_ecs as ecs
from constructs import Construct


class Orders(Stack):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        task = ecs.FargateTaskDefinition(self, "Task", cpu=256, memory_limit_mib=512)
        # the environment is built first, then handed to the container
        env = {
            "LOG_LEVEL": "info",
            # legacy: moved to a managed secret by secrets-migrate
            "DB_PASSWORD": "Xk9-orders-s3cr3t-Qz7",
        }
        app = task.add_container("app", image=ecs.ContainerImage.from_registry("nginx:1.27"),
                                 environment=env)
        app.add_environment("API_TOKEN", "tok-9f8e7d6c5b4a39281706f5e4")
        app.add_environment("PORT", "8080")


App_ = App()
Orders(App_, "orders-flow")
App_.synth()
"""


def test_cdk_synth_of_a_rewritten_data_flow_app(tmp_path: Path) -> None:
    """An environment dict built first and add_environment(...) calls, rewritten (secrets= / add_secret) and
    synthesized with the real aws-cdk-lib: the moved names are container Secrets, the rest stays Environment."""
    try:
        import aws_cdk  # noqa: F401
    except ImportError:
        pytest.skip("aws-cdk-lib is not installed (pip install aws-cdk-lib constructs)")
    lf = _load(tmp_path / "app.py", FLOW_APP)
    _, new = _rewrite(lf, {"DB_PASSWORD", "API_TOKEN"})
    assert "add_secret(\"API_TOKEN\"" in new and '"DB_PASSWORD": "Xk9' not in new
    (tmp_path / "app.py").write_text(new)
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "CDK_OUTDIR": str(tmp_path / "out")}
    r = subprocess.run([sys.executable, str(tmp_path / "app.py")], env=env, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    (t,) = (tmp_path / "out").glob("*.template.json")
    (td,) = [res for res in json.loads(t.read_text())["Resources"].values() if res["Type"] == "AWS::ECS::TaskDefinition"]
    (c,) = td["Properties"]["ContainerDefinitions"]
    assert [e["Name"] for e in c["Environment"]] == ["LOG_LEVEL", "PORT"]
    assert sorted(s["Name"] for s in c["Secrets"]) == ["API_TOKEN", "DB_PASSWORD"]
    assert "Xk9-orders" not in t.read_text() and "tok-9f8e" not in t.read_text()
