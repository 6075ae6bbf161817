"""Crash at every journal record of a file-mode apply (ECS JSON + compose + .env), with a real SIGKILL.

For every k: kill `apply` right after journal record k, then (a) `apply` again must reach exactly the
state of an uninterrupted run (same bytes, same entries, one revision each, same policy), and (b) from
the same killed state `rollback` must restore every file byte-identical and leave the account empty.
Children are forked from a pre-imported zygote (tests/proofs/_forkrun.py) so each run costs
milliseconds; they still are separate processes killed by the kernel.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_proofs_world", Path(__file__).with_name("_world.py"))
assert _spec and _spec.loader
W = sys.modules.setdefault("_proofs_world", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(W)

CRASH = {"SECRETS_MIGRATE_TEST_MODE": "i-know-this-kills-the-process"}


def _journal_lines(plan: Path) -> int:
    j = plan.with_name(plan.name + ".state") / "journal.jsonl"
    return len(j.read_bytes().splitlines()) if j.exists() else 0


def test_kill_at_every_journal_record_then_resume_or_rollback(server_env: str, tmp_path: Path) -> None:
    root = tmp_path / "w"
    defs, pristine, plan = root / "defs", tmp_path / "pristine", root / "plan.json"
    W.write_project(pristine)
    shutil.copytree(pristine, defs)
    runner = W.fork_runner(tmp_path)
    try:
        W.reset_moto(server_env)
        rc, _, err = runner.run(["plan", "defs", "--execution-role", W.ROLE, "-o", "plan.json"], cwd=root)
        assert rc == 0, err
        planned = plan.read_bytes()
        # the reference: one uninterrupted run
        rc, _, err = runner.run(["apply", "plan.json", "--yes"], cwd=root)
        assert rc == 0, err
        ref_files = {k: W.normalise(v) for k, v in W.tree_bytes(defs).items()}
        ref_store = W.store_snapshot()
        total = _journal_lines(plan)
        assert ref_files != {k: W.normalise(v) for k, v in W.tree_bytes(pristine).items()}
        assert len(ref_store["ssm"]) + len(ref_store["sm"]) >= 5 and ref_store["policies"]
        assert all(v[1] == 1 for v in ref_store["ssm"].values())
        assert total >= 12  # run-start, intent/applied per action, run-end
        killed = 0
        for k in range(1, total + 1):
            for branch in ("resume", "rollback"):
                W.reset_moto(server_env)
                W.restore(pristine, defs, plan)
                assert plan.read_bytes() == planned
                rc, _, err = runner.run(["apply", "plan.json", "--yes"], cwd=root,
                                        env={**CRASH, "SECRETS_MIGRATE_TEST_CRASH_AFTER_RECORD": str(k)})
                assert rc == -9, (k, rc, err[-500:])
                assert _journal_lines(plan) == k
                killed += 1
                if branch == "resume":
                    rc, _, err = runner.run(["apply", "plan.json", "--yes"], cwd=root)
                    assert rc == 0, (k, err[-800:])
                    got = {n: W.normalise(v) for n, v in W.tree_bytes(defs).items()}
                    assert got == ref_files, f"resume after kill at record {k}: files differ from a clean run"
                    assert W.store_snapshot() == ref_store, f"resume after kill at record {k}: store differs"
                else:
                    rc, _, err = runner.run(["rollback", "plan.json", "--yes"], cwd=root)
                    assert rc == 0, (k, err[-800:])
                    assert W.tree_bytes(defs) == W.tree_bytes(pristine), f"rollback after kill at {k}: files differ"
                    snap = W.store_snapshot()
                    assert snap == {"ssm": {}, "sm": {}, "policies": {}}, f"rollback after kill at {k} left {snap}"
        assert killed == 2 * total
    finally:
        runner.close()


def test_crash_switch_needs_the_guard(server_env: str, tmp_path: Path) -> None:
    """Without SECRETS_MIGRATE_TEST_MODE the crash variable alone does nothing."""
    root = tmp_path / "w"
    W.write_project(root / "defs")
    runner = W.fork_runner(tmp_path)
    try:
        W.reset_moto(server_env)
        assert runner.run(["plan", "defs", "--execution-role", W.ROLE, "-o", "plan.json"], cwd=root)[0] == 0
        rc, _, err = runner.run(["apply", "plan.json", "--yes"], cwd=root,
                                env={"SECRETS_MIGRATE_TEST_CRASH_AFTER_RECORD": "2",
                                     "SECRETS_MIGRATE_TEST_MODE": "yes"})
        assert rc == 0, err
        assert _journal_lines(root / "plan.json") > 2
    finally:
        runner.close()
