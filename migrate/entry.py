"""The ``secrets-migrate`` console entry point (also ``python -m migrate``).

A plain ``scan PATH... [options]`` (what :func:`migrate.commands.scan.quick_args` understands) runs
without importing the full command line (typer, click, rich, every command's options): that is most
of a small scan's start-up. Everything else (help, completion, every other command, any ``scan``
the quick parser declines) goes through :func:`migrate.cli.main` exactly as before.
"""

from __future__ import annotations

import sys


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["scan"]:
        from migrate.commands.scan import quick_main

        code = quick_main(argv)
        if code is not None:
            return code
    from migrate.cli import main as cli_main

    return cli_main()
