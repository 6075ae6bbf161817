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
    for step in ("1/6", "2/6", "3/6", "4/6", "5/6", "6/6"):
        assert step in out
    assert "every file byte-identical to the original: yes" in out
    assert "entries left in the sandbox after rollback: 0" in out
    assert " 0 failed" in out
    assert _tree(REPO / "fixtures") == before
