"""exec / env: references from an applied plan or from rewritten task definitions, batched reads,
JSON keys, exit code passed through, 0600 files, and no value in any output."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from support.testing import run_cli

from migrate.commands.exec_env import (
    SM_BATCH,
    SSM_BATCH,
    Ref,
    UnitId,
    _dotenv_quote,
    fetch,
    parse_value_from,
    render,
    select_unit,
)
from migrate.errors import StoreError, UsageError
from migrate.model import SecretValue

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
CANARIES = {"DB_PASSWORD": "CANARY-exec-db-3f9a1c77", "STRIPE_SECRET_KEY": "CANARY-exec-sk_live_Qw8Zr2Lk5Tn1",
            "splunk-token": "CANARY-exec-splunk-e4b1", "POSTGRES_PASSWORD": "CANARY-exec-pg-0b3c9d"}
TASKDEF = {
    "family": "payments", "executionRoleArn": ROLE, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
    "cpu": "256", "memory": "512",
    "containerDefinitions": [{
        "name": "api", "image": "payments:1",
        "environment": [{"name": "PORT", "value": "8080"},
                        {"name": "DB_PASSWORD", "value": CANARIES["DB_PASSWORD"]},
                        {"name": "STRIPE_SECRET_KEY", "value": CANARIES["STRIPE_SECRET_KEY"]}],
        "logConfiguration": {"logDriver": "splunk", "options": {"splunk-url": "https://splunk.example.com:8088",
                                                                "splunk-token": CANARIES["splunk-token"]}},
    }],
}
COMPOSE = f"services:\n  web:\n    image: web:1\n    environment:\n      POSTGRES_PASSWORD: {CANARIES['POSTGRES_PASSWORD']}\n"
#: the child checks its environment against hashes and reports only a yes/no via its exit code
CHILD = ("import hashlib,os,sys;"
         "want=dict(a.split('=',1) for a in sys.argv[1:]);"
         "got={k:hashlib.sha256(os.environ.get(k,'').encode()).hexdigest() for k in want};"
         "sys.exit(0 if got==want and 'splunk-token' not in os.environ else 5)")


def _want(*names: str) -> list[str]:
    return [f"{n}={hashlib.sha256(CANARIES[n].encode()).hexdigest()}" for n in names]


def _no_canary(*texts: str) -> None:
    for t in texts:
        for c in CANARIES.values():
            assert c not in t


# -- pure ------------------------------------------------------------------------------------------

def test_parse_value_from_shapes() -> None:
    assert parse_value_from("A", "/prod/db") == Ref("A", "ssm", "/prod/db")
    assert parse_value_from("A", "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db") == Ref("A", "ssm", "/prod/db")
    assert parse_value_from("A", "arn:aws:ssm:us-east-1:123456789012:parameter/flat") == Ref("A", "ssm", "flat")
    sm = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api-AbCdEf"
    assert parse_value_from("A", sm) == Ref("A", "secretsmanager", sm)
    r = parse_value_from("A", sm + ":DB_PASSWORD::")
    assert (r.id, r.json_key, r.version_stage, r.version_id) == (sm, "DB_PASSWORD", None, None)
    r = parse_value_from("A", sm + ":K:AWSPREVIOUS:")
    assert (r.json_key, r.version_stage) == ("K", "AWSPREVIOUS")


@pytest.mark.parametrize("value", ["plain", "it's", "a$b ${HOME}", "two\nlines", "it's $HOME", 'q"uote\\', "#hash x"])
def test_dotenv_quoting_round_trips_through_python_dotenv(value: str, tmp_path: Path) -> None:
    dotenv_values = pytest.importorskip("dotenv", reason="python-dotenv not installed").dotenv_values

    p = tmp_path / ".env"
    p.write_text(render({"K": SecretValue(value)}, "dotenv"))
    assert dotenv_values(p, interpolate=False)["K"] == value
    assert _dotenv_quote("x'y").startswith('"')


def test_select_unit_needs_one_match(tmp_path: Path) -> None:
    pay = UnitId("ecs/payments.json", "payments", "api", str(tmp_path / "ecs/payments.json"))
    ords = UnitId("ecs/orders.json", "orders", "api", str(tmp_path / "ecs/orders.json"))
    web = UnitId("compose/ecs-params.yml", "compose", "web", str(tmp_path / "compose/ecs-params.yml"))
    units = [pay, ords, web]
    assert select_unit("web", units) == web
    assert select_unit("payments/api", units) == pay
    assert select_unit("ecs/orders.json:api", units) == ords
    assert select_unit("./ecs//orders.json:api", units) == ords
    with pytest.raises(UsageError) as ei:
        select_unit("api", units)
    assert "2 places" in str(ei.value) and ei.value.hint == "one of: orders/api, payments/api"
    # same app name in two files: the PATH:UNIT form is suggested
    twin = UnitId("old/payments.json", "payments", "api", str(tmp_path / "old/payments.json"))
    with pytest.raises(UsageError) as ei:
        select_unit("payments/api", [pay, twin])
    assert ei.value.hint == "one of: ecs/payments.json:api, old/payments.json:api"
    with pytest.raises(UsageError, match="no secrets references for unit 'worker'") as ei:
        select_unit("worker", units)
    assert ei.value.hint == "units with references: api, web"


# -- batched reads (in-process moto) ----------------------------------------------------------------

class _Counting:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self._c: dict[str, object] = {}

    def __call__(self, service: str) -> object:
        real = self._c.setdefault(service, boto3.client(service))
        outer = self

        class Proxy:
            def __getattr__(self, name: str) -> object:
                fn = getattr(real, name)

                def call(**kw: object) -> object:
                    n = len(kw.get("Names") or kw.get("SecretIdList") or [1])  # type: ignore[arg-type]
                    outer.calls.append((name, n))
                    return fn(**kw)
                return call
        return Proxy()


def test_fetch_batches_and_json_keys(aws: None) -> None:
    ssm, sm = boto3.client("ssm"), boto3.client("secretsmanager")
    refs = []
    for i in range(12):
        ssm.put_parameter(Name=f"/t/p{i}", Value=f"CANARY-p{i}", Type="SecureString")
        refs.append(Ref(f"P{i}", "ssm", f"/t/p{i}"))
    for i in range(20):
        arn = sm.create_secret(Name=f"t/s{i}", SecretString=f"CANARY-s{i}")["ARN"]
        refs.append(Ref(f"S{i}", "secretsmanager", arn))
    jarn = sm.create_secret(Name="t/json", SecretString=json.dumps({"A": "CANARY-ja", "B": "CANARY-jb"}))["ARN"]
    refs += [Ref("JA", "secretsmanager", jarn, json_key="A"), Ref("JB", "secretsmanager", jarn, json_key="B")]
    client = _Counting()
    got = fetch(refs, client)
    assert {k: v.reveal() for k, v in got.items()} == {
        **{f"P{i}": f"CANARY-p{i}" for i in range(12)}, **{f"S{i}": f"CANARY-s{i}" for i in range(20)},
        "JA": "CANARY-ja", "JB": "CANARY-jb"}
    ssm_calls = [n for name, n in client.calls if name == "get_parameters"]
    sm_calls = [n for name, n in client.calls if name == "batch_get_secret_value"]
    assert ssm_calls == [10, 2] and max(ssm_calls) <= SSM_BATCH
    assert sorted(sm_calls, reverse=True) == [20, 1] and max(sm_calls) <= SM_BATCH
    assert "CANARY" not in repr(got)


def test_fetch_missing_entry_names_it_and_no_value(aws: None) -> None:
    boto3.client("ssm").put_parameter(Name="/t/here", Value="CANARY-here", Type="SecureString")
    with pytest.raises(StoreError) as ei:
        fetch([Ref("A", "ssm", "/t/here"), Ref("B", "ssm", "/t/gone")], boto3.client)
    assert "/t/gone" in str(ei.value) and "CANARY" not in str(ei.value) and ei.value.hint


def test_fetch_missing_json_key(aws: None) -> None:
    arn = boto3.client("secretsmanager").create_secret(Name="t/j", SecretString='{"A": "CANARY-x"}')["ARN"]
    with pytest.raises(StoreError, match="no JSON key B"):
        fetch([Ref("B", "secretsmanager", arn, json_key="B")], boto3.client)


# -- end to end through the CLI against a moto server ---------------------------------------------
# One plan is applied once for the module (apply against the server takes seconds); most commands
# then run in-process through typer's CliRunner, and the pass-through cases in a real subprocess.

@pytest.fixture(scope="module")
def applied(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10).read()
    env = {"AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "SECRETS_MIGRATE_LOG_DIR": str(tmp_path_factory.mktemp("logs")), "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    d = tmp_path_factory.mktemp("applied")
    (d / "payments.json").write_text(json.dumps(TASKDEF, indent=2) + "\n")
    (d / "compose.yaml").write_text(COMPOSE)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.delenv("AWS_PROFILE", raising=False)
        boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
        for args in (["plan", ".", "--execution-role", ROLE, "-o", "plan.json"], ["apply", "plan.json", "--yes"]):
            r = _cli(args, d, env)
            assert r.exit_code == 0, r.stderr[-2000:]
    yield d, env


def _cli(args: list[str], cwd: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from migrate.cli import app

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, args, env={**env, "AWS_PROFILE": None})
    finally:
        os.chdir(old)


def test_exec_from_plan_passes_values_and_exit_code(applied: tuple[Path, dict[str, str]]) -> None:
    d, env = applied
    r = _cli(["exec", "--plan", "plan.json", "--unit", "api", "--", sys.executable, "-c", CHILD,
              *_want("DB_PASSWORD", "STRIPE_SECRET_KEY")], d, env)
    assert r.exit_code == 0, r.stderr
    _no_canary(r.stdout, r.stderr)
    r = _cli(["exec", "plan.json", "--unit", "api", "--", sys.executable, "-c", "raise SystemExit(7)"], d, env)
    assert r.exit_code == 7
    # a real process: the child's own output passes through untouched; ours names no value
    p = run_cli(["exec", "--plan", "plan.json", "--unit", "api", "--", sys.executable, "-c", "print('child-ok')"],
                cwd=d, env=env)
    assert p.returncode == 0 and p.stdout.strip() == "child-ok" and "2 secret(s)" in p.stderr
    _no_canary(p.stdout, p.stderr)


def test_exec_from_rewritten_task_definition(applied: tuple[Path, dict[str, str]]) -> None:
    d, env = applied
    assert "valueFrom" in (d / "payments.json").read_text()
    r = _cli(["exec", "payments.json", "--unit", "api", "--", sys.executable, "-c", CHILD,
              *_want("DB_PASSWORD", "STRIPE_SECRET_KEY")], d, env)
    assert r.exit_code == 0, r.stderr
    _no_canary(r.stdout, r.stderr)


def test_exec_errors_carry_hints(applied: tuple[Path, dict[str, str]]) -> None:
    d, env = applied
    r = _cli(["exec", "--plan", "plan.json", "--unit", "nope", "--", "true"], d, env)
    assert r.exit_code == 2 and "no secrets references for unit" in r.stderr and "hint: units with references: api, web" in r.stderr
    r = _cli(["exec", "--plan", "plan.json", "--unit", "api", "--", "no-such-command-xyz"], d, env)
    assert r.exit_code == 2 and "command not found" in r.stderr
    r = _cli(["exec", "--plan", "plan.json", "--unit", "api"], d, env)
    assert r.exit_code == 2 and "hint:" in r.stderr


def test_exec_refuses_a_plan_not_applied(applied: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    _, env = applied
    (tmp_path / "payments.json").write_text(json.dumps(TASKDEF))
    assert _cli(["plan", "payments.json", "-o", "plan.json"], tmp_path, env).exit_code == 0
    r = _cli(["exec", "--plan", "plan.json", "--unit", "api", "--", "true"], tmp_path, env)
    assert r.exit_code == 4 and "not in the store" in r.stderr and "secrets-migrate apply" in r.stderr


def test_env_writes_0600_dotenv_with_warning(applied: tuple[Path, dict[str, str]]) -> None:
    d, env = applied
    out = d / ".env.local"
    r = _cli(["env", "--plan", "plan.json", "--unit", "api", "--format", "dotenv", "-o", str(out)], d, env)
    assert r.exit_code == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "warning:" in r.stderr and "0600" in r.stderr
    _no_canary(r.stdout, r.stderr)
    vals = dict(ln.split("=", 1) for ln in out.read_text().splitlines())
    vals = {k: v[1:-1] for k, v in vals.items() if v[0] == v[-1] == "'"}  # plain values: single-quoted
    assert vals == {"DB_PASSWORD": CANARIES["DB_PASSWORD"], "STRIPE_SECRET_KEY": CANARIES["STRIPE_SECRET_KEY"]}
    # an existing file is kept without --force; with it, a world-readable file ends 0600
    out.chmod(0o644)
    r = _cli(["env", "--plan", "plan.json", "--unit", "api", "--format", "json", "-o", str(out)], d, env)
    assert r.exit_code == 2 and "already exists" in r.stderr and "--force" in r.stderr
    assert out.read_text().startswith("DB_PASSWORD=") and stat.S_IMODE(out.stat().st_mode) == 0o644
    r = _cli(["env", "--plan", "plan.json", "--unit", "api", "--format", "json", "-o", str(out), "--force"], d, env)
    assert r.exit_code == 0 and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["DB_PASSWORD"] == CANARIES["DB_PASSWORD"]
    out.unlink()


def test_env_without_output_file_refuses(applied: tuple[Path, dict[str, str]]) -> None:
    d, env = applied
    r = _cli(["env", "--plan", "plan.json", "--unit", "api"], d, env)
    assert r.exit_code == 2 and "-o FILE" in r.stderr and "hint:" in r.stderr
    _no_canary(r.stdout, r.stderr)


def test_exec_compose_service_from_plan_and_from_ecs_params(applied: tuple[Path, dict[str, str]]) -> None:
    d, env = applied
    assert "value_from" in (d / "ecs-params.yml").read_text()
    for source in (["--plan", "plan.json"], ["ecs-params.yml"], ["."]):
        r = _cli(["exec", *source, "--unit", "web", "--", sys.executable, "-c", CHILD, *_want("POSTGRES_PASSWORD")],
                 d, env)
        assert r.exit_code == 0, (source, r.stderr)
        _no_canary(r.stdout, r.stderr)


def test_a_unit_in_several_definitions_of_a_plan_must_be_named(applied: tuple[Path, dict[str, str]],
                                                                tmp_path: Path) -> None:
    _, env = applied
    for fname, family, secret in (("a.json", "billing", "CANARY-exec-billing-71"), ("b.json", "orders", "CANARY-exec-orders-72")):
        td = json.loads(json.dumps(TASKDEF))
        td["family"] = family
        td["containerDefinitions"][0]["environment"] = [{"name": "DB_PASSWORD", "value": secret}]
        del td["containerDefinitions"][0]["logConfiguration"]
        (tmp_path / fname).write_text(json.dumps(td, indent=2) + "\n")
    for args in (["plan", ".", "--execution-role", ROLE, "-o", "plan.json"], ["apply", "plan.json", "--yes"]):
        r = _cli(args, tmp_path, env)
        assert r.exit_code == 0, r.stderr[-2000:]
    r = _cli(["env", "--plan", "plan.json", "--unit", "api", "-o", "x.env"], tmp_path, env)
    assert r.exit_code == 2 and "'api' is defined in 2 places" in r.stderr, r.stderr
    assert "hint: one of: billing/api, orders/api" in r.stderr and not (tmp_path / "x.env").exists()
    for spec, want in (("billing/api", "CANARY-exec-billing-71"), ("b.json:api", "CANARY-exec-orders-72"),
                       (f"{tmp_path / 'a.json'}:api", "CANARY-exec-billing-71")):
        r = _cli(["env", "--plan", "plan.json", "--unit", spec, "-o", "x.env", "--force"], tmp_path, env)
        assert r.exit_code == 0, (spec, r.stderr)
        assert (tmp_path / "x.env").read_text() == f"DB_PASSWORD='{want}'\n"
        assert "CANARY" not in r.stdout + r.stderr
