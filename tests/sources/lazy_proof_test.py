"""``scan`` does not pay for the revert proof; ``load`` (plan) and ``prove`` still run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.sources import base
from migrate.sources.base import NOT_REVERTIBLE, read_source, unproven_loads
from migrate.sources.compose import ComposeSource

TEXT = "services:\n  web:\n    image: x\n    environment:\n      DB_PASSWORD: s3cr3t-FAKE-value-123\n"


def _trials(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    def counting(self, loaded, entries):  # type: ignore[no-untyped-def]
        calls.append(len(entries))
        return {e.key for e in entries}  # pretend nothing reverts

    monkeypatch.setattr(base.SourceBase, "_trial", counting)
    return calls


def test_unproven_loads_skip_the_trial_and_prove_runs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "compose.yaml").write_text(TEXT)
    calls = _trials(monkeypatch)
    src = ComposeSource()
    with unproven_loads():
        lf = src.load(read_source(tmp_path / "compose.yaml", "compose.yaml"))
    assert calls == [] and all(e.restorable for e in lf.entries)
    proven = src.prove(lf)
    assert calls and not proven.entries[0].restorable and NOT_REVERTIBLE in proven.entries[0].note
    # the default (plan) still proves at load, and the switch is restored after the block
    again = src.load(read_source(tmp_path / "compose.yaml", "compose.yaml"))
    assert not again.entries[0].restorable
