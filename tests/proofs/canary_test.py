"""Leak canary across the whole tool: every output, file and error text, in common encodings."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from support.testing import run_cli

_spec = importlib.util.spec_from_file_location("_proofs_world", Path(__file__).with_name("_world.py"))
assert _spec and _spec.loader
W = sys.modules.setdefault("_proofs_world", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(W)

FAULTS = {"SECRETS_MIGRATE_TEST_MODE": "i-know-this-injects-faults",
          "SECRETS_MIGRATE_TEST_FAULTS": '[{"kind": "access-denied", "ops": ["ssm.PutParameter"], "at": [4]}]'}


def test_no_canary_anywhere(server_env: str, tmp_path: Path) -> None:
    W.reset_moto(server_env)
    defs = tmp_path / "defs"
    W.write_project(defs)
    texts: dict[str, str] = {}

    def cli(*args: str, expect: int = 0, env: dict[str, str] | None = None) -> None:
        r = run_cli(list(args), cwd=tmp_path, env=env)
        texts[f"{' '.join(args)} stdout"] = r.stdout
        texts[f"{' '.join(args)} stderr"] = r.stderr
        assert r.returncode == expect, (args, r.returncode, r.stderr[-800:])

    cli("scan", "defs", "--format", "json", "-o", "scan.json", expect=1)
    cli("scan", "defs", "--format", "sarif", "-o", "scan.sarif", expect=1)
    cli("scan", "defs", "--all", expect=1)
    cli("plan", "defs", "--execution-role", W.ROLE, "-o", "plan.json")
    cli("show", "plan.json")
    cli("show", "plan.json", "--format", "json")
    cli("apply", "plan.json", "--yes", expect=4, env=FAULTS)  # exception text of an auto-rolled-back apply
    cli("apply", "plan.json", "--yes")
    cli("verify", "plan.json", "--format", "json")
    cli("status", "plan.json", "--format", "json")
    cli("rollback", "plan.json", "--yes")
    cli("plan", "defs", "--execution-role", W.ROLE, "--group", "per-unit", "--store", "secretsmanager",
        "-o", "plan2.json")
    cli("apply", "plan2.json", "--yes")
    cli("verify", "plan2.json")
    cli("rollback", "plan2.json", "--yes")
    for p in tmp_path.rglob("*"):
        if p.is_file() and defs not in p.parents:
            texts[str(p)] = p.read_bytes().decode("utf-8", "replace")
    for p in Path(os.environ["SECRETS_MIGRATE_LOG_DIR"]).rglob("*"):
        if p.is_file():
            texts[str(p)] = p.read_bytes().decode("utf-8", "replace")
    assert any(k.endswith("journal.jsonl") for k in texts) and any(k.endswith("scan.sarif") for k in texts)
    assert W.leaks(texts) == []
    # the search itself works: the canaries are in the inputs
    assert all(c in "".join(W.tree_bytes(defs)[k].decode() for k in W.tree_bytes(defs)) for c in W.CANARIES)
