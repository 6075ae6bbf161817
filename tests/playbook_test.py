from __future__ import annotations

from pathlib import Path

import pytest

from migrate.errors import InputError
from migrate.playbook import load_playbook

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["canary-then-rest.yaml", "sandbox.yaml"])
def test_shipped_playbooks_load(name):
    pb = load_playbook(REPO / "playbooks" / name)
    assert pb.waves[0].size == "1" and pb.clusters == ("legacy-prod",)


def test_errors_point_at_line_and_field(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("version: 1\ntargets:\n  clusters: [a]\nfailure_policy: explode\n")
    with pytest.raises(InputError) as e:
        load_playbook(p)
    assert e.value.line == 4 and "failure_policy" in str(e.value) and "explode" not in str(e.value)
    p.write_text("version: 1\ntargets:\n  clustrs: [a]\n")
    with pytest.raises(InputError) as e:
        load_playbook(p)
    assert e.value.line == 3 and "targets.clustrs" in str(e.value)


def test_run_plan_only_against_seeded_sandbox(server_env, tmp_path):
    from support.testing import run_cli

    from migrate.live.seed import seed_sandbox

    seed_sandbox()
    pb = tmp_path / "pb.yaml"
    pb.write_text((REPO / "playbooks" / "sandbox.yaml").read_text())
    r = run_cli(["run", str(pb), "--plan-only"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "pb.yaml.plan.json").exists()
    r = run_cli(["run", str(pb), "--apply", "--yes"], cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "migrated" in r.stdout and "Pa55w0rd" not in r.stdout + r.stderr


@pytest.mark.parametrize("name", ["multi-account.yaml", "compose-only.yaml"])
def test_new_shipped_playbooks_load(name):
    pb = load_playbook(REPO / "playbooks" / name)
    if name == "multi-account.yaml":
        assert [a.name for a in pb.accounts] == ["staging", "prod"]
        assert pb.accounts[1].external_id and pb.accounts[1].regions == ("us-east-1", "eu-west-1")
        assert pb.accounts[0].role_arn == "arn:aws:iam::111111111111:role/SecretsMigrate"
    else:
        assert pb.paths == ("docker-compose.yml",) and not pb.accounts


@pytest.mark.parametrize(("body", "line", "field"), [
    ("accounts:\n  - name: a\n    role_arn: nope\n", 4, "accounts[0].role_arn"),
    ("accounts:\n  - name: a\n  - name: b\n    regon: [x]\n", 5, "accounts[1].regon"),
    ("accounts:\n  - name: a\n  - name: a\n", 4, "accounts[1].name"),
    ("accounts:\n  - name: a\n    external_id: x\n", 4, "accounts[0].external_id"),
    ("accounts: []\n", 2, "accounts"),
    ("targets:\n  paths: [a]\n  clusters: [b]\n", 4, "targets.clusters"),
    ("targets:\n  paths: [a, 3]\n", 3, "targets.paths"),
])
def test_account_and_path_errors_point_at_line_and_field(tmp_path, body, line, field):
    p = tmp_path / "bad.yaml"
    p.write_text("version: 1\n" + body)
    with pytest.raises(InputError) as e:
        load_playbook(p)
    assert e.value.line == line and f"field {field}:" in str(e.value), str(e.value)


def test_waves_keep_their_own_concurrency(monkeypatch, tmp_path):
    from migrate.commands import live
    from migrate.playbook import run_playbook

    seen = {}
    monkeypatch.setattr(live, "apply_live", lambda plan, **kw: seen.update(kw) or 0)
    pb = tmp_path / "pb.yaml"
    pb.write_text((REPO / "playbooks" / "sandbox.yaml").read_text().replace("concurrency: 3\n  - size: rest\n    concurrency: 3",
                                                                         "concurrency: 2\n  - size: rest\n    concurrency: 7"))
    (tmp_path / "pb.yaml.plan.json").write_text("{}")  # already planned: go straight to apply
    assert run_playbook(pb, apply=True, yes=True) == 0
    assert [(w.size, w.concurrency) for w in seen["wave_specs"]] == [("1", 1), ("50%", 2), ("rest", 7)]


def _seed_as(monkeypatch, creds, cluster):
    import boto3

    from migrate.live.seed import seed_fixtures

    with monkeypatch.context() as m:
        m.setattr(boto3, "DEFAULT_SESSION", None)  # seed_fixtures uses boto3.client: pick up these credentials
        m.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
        m.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
        m.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])
        return seed_fixtures(cluster=cluster)


def test_accounts_assume_role_plan_and_apply_each(aws, monkeypatch, tmp_path, capsys):
    import json

    import boto3

    from migrate.playbook import Account, assume_role, run_playbook
    from migrate.stores.aws import Aws

    roles = {"one": "arn:aws:iam::111111111111:role/SecretsMigrate", "two": "arn:aws:iam::222222222222:role/SecretsMigrate"}
    creds = {n: assume_role(Account(n, arn), "us-east-1") for n, arn in roles.items()}
    assert Aws(credentials=creds["two"], region="us-east-1").account == "222222222222"
    assert "testing" not in repr(Aws(credentials=creds["two"]))  # credentials never in a repr
    assert Aws().account == "123456789012"  # without them: the caller's own credentials
    _seed_as(monkeypatch, creds["one"], "legacy-prod")
    _seed_as(monkeypatch, creds["two"], "legacy-prod")
    pb = tmp_path / "pb.yaml"
    pb.write_text(
        "version: 1\naccounts:\n"
        + "".join(f"  - name: {n}\n    role_arn: {arn}\n    external_id: x-{n}\n    regions: [us-east-1]\n"
                  for n, arn in roles.items())
        + "targets:\n  clusters: [legacy-prod]\n  services: [payments-api-svc]\nstore: ssm\nwaves:\n  - size: rest\n    concurrency: 4\n"
          "health:\n  mode: scripted\n  timeout: 30\n")
    assert run_playbook(pb, plan_only=True) == 0
    for n, acct in (("one", "111111111111"), ("two", "222222222222")):
        text = (tmp_path / f"pb.yaml.{n}.plan.json").read_text()
        other = "222222222222" if acct == "111111111111" else "111111111111"
        assert f":{acct}:task-definition/" in text and f":{other}:task-definition/" not in text
        assert json.loads(text)["actions"]
    assert not (tmp_path / "pb.yaml.plan.json").exists()
    capsys.readouterr()
    assert run_playbook(pb, apply=True, yes=True) == 0
    out = capsys.readouterr()
    assert "account one: migrated" in out.out and "account two: migrated" in out.out
    assert "Pa55w0rd" not in out.out + out.err
    for n in roles:
        ssm = boto3.client("ssm", region_name="us-east-1", aws_access_key_id=creds[n]["AccessKeyId"],
                           aws_secret_access_key=creds[n]["SecretAccessKey"], aws_session_token=creds[n]["SessionToken"])
        assert ssm.describe_parameters()["Parameters"], n
    assert not boto3.client("ssm", region_name="us-east-1").describe_parameters()["Parameters"]


def test_compose_only_playbook_plans_and_applies_files(aws, tmp_path):
    import shutil

    from migrate.playbook import run_playbook

    shutil.copytree(REPO / "fixtures" / "compose" / "shop", tmp_path / "shop")
    before = (tmp_path / "shop" / "docker-compose.yml").read_text()
    pb = tmp_path / "pb.yaml"
    pb.write_text("version: 1\ntargets:\n  paths: [shop]\nstore: ssm\nprefix: shop\n")
    assert run_playbook(pb, plan_only=True) == 0
    assert (tmp_path / "pb.yaml.plan.json").exists()
    assert (tmp_path / "shop" / "docker-compose.yml").read_text() == before  # plan only: nothing changed
    assert run_playbook(pb, apply=True, yes=True) == 0
    assert (tmp_path / "shop" / "docker-compose.yml").read_text() != before
    import boto3

    assert boto3.client("ssm", region_name="us-east-1").describe_parameters()["Parameters"]


def test_a_blocked_item_never_stalls_the_playbook(aws, tmp_path):
    """One broken file in the tree is listed as blocked (exit 5); the rest is still applied."""
    import shutil

    import boto3

    from migrate.playbook import run_playbook

    shutil.copytree(REPO / "fixtures" / "compose" / "shop", tmp_path / "tree" / "shop")
    broken = tmp_path / "tree" / "broken-taskdef.json"
    broken.write_text('{"family": "x", "containerDefinitions": [{"name": "app", "environment": [\n')
    before = (tmp_path / "tree" / "shop" / "docker-compose.yml").read_text()
    pb = tmp_path / "pb.yaml"
    pb.write_text("version: 1\ntargets:\n  paths: [tree]\nstore: ssm\nprefix: shop\n")
    assert run_playbook(pb, apply=True, yes=True) == 5
    assert (tmp_path / "tree" / "shop" / "docker-compose.yml").read_text() != before  # applied despite the block
    assert broken.read_text().startswith('{"family": "x"')
    assert boto3.client("ssm", region_name="us-east-1").describe_parameters()["Parameters"]


def test_accounts_run_concurrently_each_with_its_record_report_and_tags(aws, monkeypatch, tmp_path, capsys):
    """Issue 15 §3: two accounts at once (--accounts-concurrency 2), one organisation summary with links to
    each account's report; playbook tags on the created entries; rollback re-assumes the account's role from
    the run's record (no hand-set credentials)."""
    import json

    import boto3

    from migrate.commands.live import rollback_live
    from migrate.live.accounts import recorded_account
    from migrate.playbook import Account, assume_role, run_playbook

    roles = {"one": "arn:aws:iam::111111111111:role/SecretsMigrate", "two": "arn:aws:iam::222222222222:role/SecretsMigrate"}
    creds = {n: assume_role(Account(n, arn), "us-east-1") for n, arn in roles.items()}
    for n in roles:
        _seed_as(monkeypatch, creds[n], "legacy-prod")
    pb = tmp_path / "pb.yaml"
    pb.write_text(
        "version: 1\naccounts:\n"
        + "".join(f"  - name: {n}\n    role_arn: {arn}\n    regions: [us-east-1]\n" for n, arn in roles.items())
        + "targets:\n  clusters: [legacy-prod]\n  services: [payments-api-svc]\nstore: ssm\ntags:\n  team: payments\n"
          "waves:\n  - size: rest\n    concurrency: 4\nhealth:\n  mode: scripted\n  timeout: 30\n")
    with pytest.raises(Exception, match="needs --yes"):
        run_playbook(pb, apply=True, accounts_concurrency=2)
    capsys.readouterr()
    assert run_playbook(pb, apply=True, yes=True, accounts_concurrency=2) == 0
    out = capsys.readouterr()
    for n in roles:
        line = next(ln for ln in out.out.splitlines() if f"account {n}:" in ln)
        assert "migrated 1, rolled back 0, blocked 0, failed 0" in line and f"pb.yaml.{n}.report.json" in line
        rep = json.loads((tmp_path / f"pb.yaml.{n}.report.json").read_text())
        assert rep["summary"] == {"migrated": 1}
        assert recorded_account(tmp_path / f"pb.yaml.{n}.plan.json").role_arn == roles[n]
    assert "Pa55w0rd" not in out.out + out.err
    ssm = {n: boto3.client("ssm", region_name="us-east-1", aws_access_key_id=c["AccessKeyId"],
                           aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
           for n, c in creds.items()}
    for n in roles:
        params = ssm[n].describe_parameters()["Parameters"]
        assert params, n
        tags = ssm[n].list_tags_for_resource(ResourceType="Parameter", ResourceId=params[0]["Name"])["TagList"]
        assert {"Key": "team", "Value": "payments"} in tags
    # rollback of account two's run from its record: the caller's own credentials, no --profile, no creds
    assert rollback_live(tmp_path / "pb.yaml.two.plan.json", yes=True) == 0
    assert not ssm["two"].describe_parameters()["Parameters"]
    assert ssm["one"].describe_parameters()["Parameters"]  # the other account is untouched
