"""CDK data flow that is now migrated (issue 14 class 8): ``c.add_environment("K", "literal")`` ->
``c.add_secret``, and a dict literal bound once and passed once as ``environment=name`` -> its secret
keys move into that call's ``secrets=``. Plan + apply + rollback in file mode against moto, and every
shape that stays not migratable keeps its reason."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from support.testing import run_cli

from migrate.detect.engine import classify
from migrate.model import Finding
from migrate.rewrite.edits import apply_edits
from migrate.sources.base import Move, RewriteOptions, read_source
from migrate.sources.cdk_python import SOURCE

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
DB = "Xk9-lit-db-4f1c2e77aa"
API = "tok-lit-api-9b83d1c0e2"
STRIPE = "sk_live_bSlm5oCp5V6xH6fZFAKEJ5bj"
REDIS = "r3d1s-auth-FAKE-0c2b9a7d61"

APP = f'''\
#!/usr/bin/env python3
import os

import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs
from constructs import Construct


class ApiStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        task = ecs.FargateTaskDefinition(self, "Task", cpu=512, memory_limit_mib=1024)
        env = {{
            "LOG_LEVEL": "info",  # keep
            # the database
            "DB_PASSWORD": "{DB}",
            "GITHUB_TOKEN": os.getenv("GITHUB_TOKEN", "ghp_UKbsaPP4LIjz8UUCwb8DFAKEmchyqpCs9DwD"),
            "PORT": "8080",
        }}
        task.add_container(
            "app",
            image=ecs.ContainerImage.from_registry("ghcr.io/acme/api:7"),
            environment=env,  # built above
        )
        worker_env = {{"QUEUE": "jobs", "STRIPE_SECRET_KEY": "{STRIPE}"}}
        task.add_container("worker", image=ecs.ContainerImage.from_registry("w"), environment=worker_env,
                           secrets={{
                               "EXISTING": ecs.Secret.from_ssm_parameter(None),
                           }})
        c = task.add_container("cache", image=ecs.ContainerImage.from_registry("ghcr.io/acme/cache:1"),
                               memory_limit_mib=256)
        c.add_environment("MODE", "lru")
        c.add_environment(  # the token
            "API_TOKEN",
            "{API}",
        )
        c.add_environment("REDIS_AUTH_TOKEN", '{REDIS}')


app = cdk.App()
ApiStack(app, "ApiStack")
app.synth()
'''

REFUSED = f'''\
import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs

BASE = {{"SHARED_PASSWORD": "mod-level-{DB}"}}


class S(cdk.Stack):
    def __init__(self, scope, cid):
        super().__init__(scope, cid)
        task = ecs.FargateTaskDefinition(self, "T")
        e1 = {{"A_PASSWORD": "a-{DB}"}}
        e1 = {{"A_PASSWORD": "a2-{DB}"}}
        task.add_container("reassigned", image=None, environment=e1)
        e2 = {{"B_PASSWORD": "b-{DB}"}}
        e2.update({{"X": "1"}})
        task.add_container("updated", image=None, environment=e2)
        e3 = {{"C_PASSWORD": "c-{DB}"}}
        task.add_container("spread", image=None, environment={{**e3}})
        e4 = {{"D_PASSWORD": "d-{DB}"}}
        task.add_container("one", image=None, environment=e4)
        task.add_container("two", image=None, environment=e4)
        e5 = {{"E_PASSWORD": "e-{DB}"}}
        task.add_container("notdict", image=None, environment=e5, secrets=SECRETS)
        task.add_container("module", image=None, environment=BASE)
        e6 = {{"F_PASSWORD": "f-{DB}"}}
        e6["G_PASSWORD"] = "g-{DB}"
        task.add_container("mutated", image=None, environment=e6)
        c = task.add_container("twice", image=None)
        c.add_environment("H_PASSWORD", "h1-{DB}")
        c.add_environment("H_PASSWORD", "h2-{DB}")
        d = task.add_container("rebound", image=None)
        d = task.add_container("rebound2", image=None)
        d.add_environment("I_PASSWORD", "i-{DB}")
        e = task.add_container("both", image=None, environment={{"J_PASSWORD": "j1-{DB}"}})
        e.add_environment("J_PASSWORD", "j2-{DB}")
        for name, value in (("K_PASSWORD", "k-{DB}"),):
            e.add_environment(name, value)
'''


def _findings(path: Path) -> dict[tuple[str, str], Finding]:
    lf = SOURCE.load(read_source(path, path.name))
    return {(f.entry.unit, f.entry.name): f for f in classify(list(lf.entries))}


def test_flow_entries_are_migratable(tmp_path: Path) -> None:
    p = tmp_path / "app.py"
    p.write_text(APP)
    f = _findings(p)
    for k in (("app", "DB_PASSWORD"), ("worker", "STRIPE_SECRET_KEY"), ("cache", "API_TOKEN"),
              ("cache", "REDIS_AUTH_TOKEN")):
        assert f[k].is_secret and f[k].migratable and f[k].entry.restorable, k
    gh = f[("app", "GITHUB_TOKEN")]
    assert not gh.migratable and gh.why_not == "value only known at synth time (os.getenv)"


def test_refusals_keep_their_reason(tmp_path: Path) -> None:
    p = tmp_path / "app.py"
    p.write_text(REFUSED)
    f = _findings(p)
    built = "the environment is built before it reaches the container"
    expect = {("reassigned", "A_PASSWORD"): built, ("updated", "B_PASSWORD"): built,
              ("spread", "C_PASSWORD"): built, ("one", "D_PASSWORD"): built, ("module", "SHARED_PASSWORD"): built,
              ("mutated", "F_PASSWORD"): built, ("mutated", "G_PASSWORD"): built,
              ("notdict", "E_PASSWORD"): "secrets= of the container is not a dict literal",
              ("twice", "H_PASSWORD"): "add_environment(...) is called more than once for this name",
              ("rebound2", "I_PASSWORD"): "add_environment(...) calls are not rewritten",
              ("both", "K_PASSWORD"): "add_environment(...) calls are not rewritten"}
    for k, why in expect.items():
        got = f[k]
        assert got.is_secret and not got.migratable and why in got.why_not, (k, got.why_not)
        assert not got.entry.restorable, k
    assert f[("one", "D_PASSWORD")].entry.units == ("one", "two")
    # the same name from environment={...} and add_environment: the add_environment one is refused
    both = [x for x in classify(list(SOURCE.load(read_source(p, p.name)).entries)) if x.entry.name == "J_PASSWORD"]
    assert len(both) == 2 and not any(x.migratable for x in both)
    assert {x.entry.note for x in both} == {
        "not migratable: the container gets this name from more than one place, move it by hand into secrets"}
    # nothing to move: the splice of a refused entry is refused, never written
    lf = SOURCE.load(read_source(p, p.name))
    assert not [e.name for e in lf.entries if e.restorable]


def test_trial_rewrite_shapes(tmp_path: Path) -> None:
    """The rewrite in memory (what plan proves): formatting kept, the secret left its place."""
    p = tmp_path / "app.py"
    p.write_text(APP)
    lf = SOURCE.load(read_source(p, p.name))
    moves = [Move(entry=e, value_from=f"arn:aws:ssm:us-east-1:123456789012:parameter/app/{e.name}", store="ssm",
                  store_name=f"/app/{e.name}")
             for e in lf.entries if e.restorable and e.value_kind.value == "literal"
             and e.name in ("DB_PASSWORD", "STRIPE_SECRET_KEY", "API_TOKEN", "REDIS_AUTH_TOKEN")]
    assert len(moves) == 4
    ch = SOURCE.rewrite(lf, moves, RewriteOptions(execution_role=ROLE))
    new = apply_edits(lf.source.text, ch[0].edits, ref=lambda _a: "arn:x")
    compile(new, "app.py", "exec")
    for v in (DB, API, STRIPE, REDIS):
        assert v not in new
    assert '''            "LOG_LEVEL": "info",  # keep
            "GITHUB_TOKEN": os.getenv("GITHUB_TOKEN", "ghp_UKbsaPP4LIjz8UUCwb8DFAKEmchyqpCs9DwD"),
            "PORT": "8080",
        }''' in new
    assert '''            environment=env,  # built above
            secrets={
                # the database
                "DB_PASSWORD": ecs.Secret.from_ssm_parameter(''' in new
    assert 'worker_env = {"QUEUE": "jobs"}' in new
    assert '"EXISTING": ecs.Secret.from_ssm_parameter(None),\n' in new and '"STRIPE_SECRET_KEY": ecs.Secret' in new
    assert 'c.add_environment("MODE", "lru")' in new
    assert 'c.add_secret(  # the token\n            "API_TOKEN",\n            ecs.Secret.from_ssm_parameter(' in new
    assert 'c.add_secret("REDIS_AUTH_TOKEN", ecs.Secret.from_ssm_parameter(' in new
    assert "from aws_cdk import aws_ssm as ssm, aws_ecs as ecs\n" in new  # as the inline case adds it


def test_plan_apply_rollback_round_trip(server_env: str, tmp_path: Path) -> None:
    boto3.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")
    defs = tmp_path / "defs"
    defs.mkdir()
    app = defs / "app.py"
    app.write_text(APP)
    (defs / "refused.py").write_text(REFUSED)
    original = app.read_bytes()
    refused = (defs / "refused.py").read_bytes()

    def cli(*args: str, expect: int = 0) -> str:
        r = run_cli(list(args), cwd=tmp_path)
        assert r.returncode == expect, (args, r.returncode, r.stdout[-3000:], r.stderr[-1500:])
        return r.stdout + r.stderr

    out = cli("plan", "defs", "--execution-role", ROLE, "-o", "plan.json")
    plan = json.loads((tmp_path / "plan.json").read_text())
    text = json.dumps(plan)
    for v in (DB, API, STRIPE, REDIS):
        assert v not in text and v not in out
    cli("apply", "plan.json", "--yes")
    new = app.read_text()
    compile(new, "app.py", "exec")
    for v in (DB, API, STRIPE, REDIS):
        assert v not in new
    assert "c.add_secret(" in new and "secrets={" in new and '"LOG_LEVEL": "info",  # keep' in new
    assert (defs / "refused.py").read_bytes() == refused  # nothing of it was migratable
    names = {p["Name"] for p in boto3.client("ssm").describe_parameters()["Parameters"]}
    assert len(names) == 4, names
    after = _findings(app)
    assert not any(k in after for k in (("app", "DB_PASSWORD"), ("cache", "API_TOKEN")))
    assert ("app", "LOG_LEVEL") in after and ("cache", "MODE") in after
    cli("rollback", "plan.json", "--yes")
    assert app.read_bytes() == original
    assert (defs / "refused.py").read_bytes() == refused


SMALL = f'''\
from aws_cdk import aws_ecs as ecs


class S:
    def build(self, task, image):
        only = {{"DB_PASSWORD": "{DB}"}}
        task.add_container("one", image=image, environment=only)
        two = {{"MODE": "a", "API_TOKEN": "{API}", "Z": "z"}}
        ecs.ContainerDefinition(self, "two", task_definition=task, environment=two, logging=None)
        esc = {{"STRIPE_SECRET_KEY": "{STRIPE}\\\\n"}}
        task.add_container("esc", image=image, environment=esc)
'''


def test_single_line_calls_and_refused_escapes(tmp_path: Path) -> None:
    p = tmp_path / "app.py"
    p.write_bytes(SMALL.replace("\n", "\r\n").encode())
    lf = SOURCE.load(read_source(p, p.name))
    by = {e.name: e for e in lf.entries}
    assert not by["STRIPE_SECRET_KEY"].restorable and "escapes" in by["STRIPE_SECRET_KEY"].note
    moves = [Move(entry=by[n], value_from=f"arn:aws:secretsmanager:us-east-1:123456789012:secret:app/{n}-AbCdEf",
                  store="secretsmanager")
             for n in ("DB_PASSWORD", "API_TOKEN")]
    (ch,) = SOURCE.rewrite(lf, moves, RewriteOptions(execution_role=ROLE))
    new = apply_edits(lf.source.text, ch.edits, ref=lambda _a: "arn:x")
    compile(new, "app.py", "exec")
    assert DB not in new and API not in new and "\r\n" in new and "\n" not in new.replace("\r\n", "")
    assert "        only = {}\r\n" in new
    assert ('task.add_container("one", image=image, environment=only, secrets={"DB_PASSWORD": '
            'ecs.Secret.from_secrets_manager(secretsmanager.Secret.from_secret_complete_arn(self, "OneDbPasswordSecret"'
            in new)
    assert 'two = {"MODE": "a", "Z": "z"}\r\n' in new
    assert 'environment=two, secrets={"API_TOKEN": ecs.Secret.from_secrets_manager(' in new and "logging=None)" in new


def test_one_of_two_add_environment_calls_of_a_name_moves_alone(tmp_path: Path) -> None:
    """Two containers in one method, each with add_environment("API_TOKEN", ...): moving one
    leaves the other as it is (the re-load check tells them apart)."""
    p = tmp_path / "app.py"
    p.write_text(f'''\
from aws_cdk import aws_ecs as ecs


class S:
    def build(self, task):
        a = task.add_container("a", image=None)
        b = task.add_container("b", image=None)
        a.add_environment("API_TOKEN", "{API}")
        b.add_environment("API_TOKEN", "{DB}")
''')
    lf = SOURCE.load(read_source(p, p.name))
    ea = next(e for e in lf.entries if e.unit == "a")
    assert ea.restorable and all(e.restorable for e in lf.entries)
    (ch,) = SOURCE.rewrite(lf, [Move(entry=ea, value_from="arn:aws:ssm:us-east-1:1:parameter/a", store_name="/a")],
                           RewriteOptions(execution_role=ROLE))
    new = apply_edits(lf.source.text, ch.edits, ref=lambda _a: "arn:x")
    assert API not in new and f'b.add_environment("API_TOKEN", "{DB}")' in new and "a.add_secret(" in new
