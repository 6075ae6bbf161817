"""The README's main-job command: `secrets-migrate demo` must pass on the shipped fixtures."""

from __future__ import annotations

import hashlib
from pathlib import Path

from support.testing import run_cli

REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_demo_runs_the_whole_pipeline_and_leaves_fixtures_alone(tmp_path: Path) -> None:
    before = _tree(REPO / "fixtures")
    r = run_cli(["demo", "--fixtures", str(REPO / "fixtures"), "--no-color"], cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    for n in range(1, 11):
        assert f" {n}/10 " in out
    assert "every file byte-identical to the original: yes" in out
    # the batch review of the messy monorepo: one run, every blocked item with its reason and fix, exit 5
    assert "plan exit code 5 (5 = planned, with blocked items listed below)" in out
    assert "[parse-error]" in out and "[name-clash]" in out and "fix:" in out
    assert "entries left in the sandbox after rollback: 0" in out
    # the live part: the canary fails for ECS's own reason and the tool rolls it back; after the fix all move
    assert "canary rolled back by the tool, for ECS's own reason, the rest untouched: yes" in out
    assert "ECS was unable to assume the role" in out
    assert "services on their new revision after the fix: 10/10" in out
    assert "the proof warned before deploying: yes" in out
    assert " 0 failed" in out
    assert _tree(REPO / "fixtures") == before


def test_demo_and_sandbox_without_moto_exit_2_with_the_install_hint(monkeypatch, tmp_path: Path) -> None:
    import sys

    from typer.testing import CliRunner

    from migrate.cli import app

    monkeypatch.setitem(sys.modules, "moto.server", None)  # as if the sandbox extra were not installed
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    for args in (["demo", "--no-color"], ["sandbox", "--port", "0"]):
        r = CliRunner().invoke(app, args)
        text = r.output
        assert r.exit_code == 2, text
        assert 'pip install "secrets-migrate[sandbox]"' in text
        assert "Traceback" not in text
    assert list(tmp_path.iterdir()) == []  # the demo's temporary copy is gone too


def test_fixtures_ship_as_package_data(tmp_path: Path) -> None:
    """setup.py's build_py copies the top-level fixtures/ (the source of truth) into migrate/data/fixtures."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path),
                        "build_py", "--build-lib", str(tmp_path / "lib")], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    shipped = tmp_path / "lib" / "migrate" / "data" / "fixtures"
    assert _tree(shipped) == {k: v for k, v in _tree(REPO / "fixtures").items()
                              if not k.startswith("_make_") and "__pycache__" not in k}
    assert (shipped / "ecs").is_dir()


def test_fixtures_dir_is_the_checkout_in_a_source_tree() -> None:
    from migrate.sandbox import fixtures_dir

    assert fixtures_dir() == REPO / "fixtures"


def test_sandbox_seed_uses_the_shipped_fixtures_and_prints_its_endpoint(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import boto3
    from support.testing import LAUNCHER

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    proc = subprocess.Popen([sys.executable, str(LAUNCHER), "sandbox", "--port", "0", "--seed"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        exports: dict[str, str] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("export "):
                k, _, v = line[len("export "):].strip().partition("=")
                exports[k] = v
            if line.startswith("# Ctrl-C"):
                break
        assert exports.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1:"), exports
        ecs = boto3.client("ecs", endpoint_url=exports["AWS_ENDPOINT_URL"], region_name=exports["AWS_REGION"],
                           aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])
        arns = ecs.list_services(cluster="legacy-prod", maxResults=100)["serviceArns"]
        from migrate.live.seed import fixture_taskdefs

        assert len(arns) == len(fixture_taskdefs(REPO / "fixtures" / "ecs")) >= 5  # one service per fixture
    finally:
        proc.terminate()
        proc.wait(timeout=30)
