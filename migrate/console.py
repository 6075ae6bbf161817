"""Consoles. Created per command (never at import time: CliRunner and COLUMNS/FORCE_COLOR need that).

Markup, emoji and highlighting are off: Secrets Manager ARNs contain ``:secret:`` (an emoji code) and
names may contain ``[...]`` (rich markup). Reports go to stdout; progress and messages to stderr.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console


def out_console(no_color: bool = False) -> Console:
    con = Console(emoji=False, markup=False, highlight=False, soft_wrap=True, no_color=no_color)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con.width = 160  # piped output: no terminal to fit, keep table rows readable
    return con


def err_console(no_color: bool = False) -> Console:
    return Console(file=sys.stderr, emoji=False, markup=False, highlight=False, soft_wrap=True, no_color=no_color)
