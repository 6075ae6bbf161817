"""Build hook only (metadata lives in pyproject.toml): ship the demo fixtures as package data.

The top-level ``fixtures/`` folder stays the single source of truth (the tests read it); building the
package copies it to ``migrate/data/fixtures`` so ``secrets-migrate demo`` and ``sandbox --seed`` work
from any directory of an installed copy (``migrate.sandbox.fixtures_dir``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SKIP = shutil.ignore_patterns("node_modules", "cdk.out", "__pycache__", "*.pyc", "_make_*.py")


class BuildPyWithFixtures(build_py):
    def run(self) -> None:
        super().run()
        src = HERE / "fixtures"
        if not src.is_dir():  # building from an sdist made without them: nothing to ship
            return
        dst = Path(self.build_lib) / "migrate" / "data" / "fixtures"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, ignore=SKIP)


setup(cmdclass={"build_py": BuildPyWithFixtures})
