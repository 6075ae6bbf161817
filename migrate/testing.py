"""Helpers for this project's tests (shipped like alembic.testing, so any test folder can use them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (inherits AWS_ENDPOINT_URL from the environment)."""
    full = dict(os.environ)
    full.update(env or {})
    full.setdefault("COLUMNS", "200")
    return subprocess.run([sys.executable, "-m", "migrate", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout, input=input)
