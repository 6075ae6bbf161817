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
    from migrate.live.seed import seed_sandbox
    from migrate.testing import run_cli

    seed_sandbox()
    pb = tmp_path / "pb.yaml"
    pb.write_text((REPO / "playbooks" / "sandbox.yaml").read_text())
    r = run_cli(["run", str(pb), "--plan-only"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "pb.yaml.plan.json").exists()
    r = run_cli(["run", str(pb), "--apply", "--yes"], cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "migrated" in r.stdout and "Pa55w0rd" not in r.stdout + r.stderr
