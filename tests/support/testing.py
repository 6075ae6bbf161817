"""Run the real CLI in a subprocess, through ``launcher.py`` so the test hooks can be switched on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LAUNCHER = Path(__file__).resolve().with_name("launcher.py")


def run_cli(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``secrets-migrate ARGS`` in a subprocess (inherits AWS_ENDPOINT_URL from the environment).

    ``env`` may carry the test switches read by ``launcher.install_hooks`` (fault injection, crash points)."""
    full = dict(os.environ)
    full.update(env or {})
    full.setdefault("COLUMNS", "200")
    return subprocess.run([sys.executable, str(LAUNCHER), *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout, input=input)
