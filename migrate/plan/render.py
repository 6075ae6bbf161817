"""Human review of a plan: ``+ ~ -`` lines, counts, cost, and redacted unified diffs."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from migrate.rewrite.edits import TextEdit, render

if TYPE_CHECKING:
    from migrate.plan.model import Plan

MASK = "••••••"
_MIN_MASK_LEN = 3


def redact(text: str, values: Sequence[str]) -> str:
    """Replace every occurrence of each value (longest first) by MASK."""
    for v in sorted({v for v in values if len(v) >= _MIN_MASK_LEN}, key=len, reverse=True):
        text = text.replace(v, MASK)
    return text


def redacted_diff(display: str, text: str, after: str, edits: Sequence[TextEdit], *, mask_values: Sequence[str],
                  created: bool = False) -> str:
    """Unified diff of ``text`` -> ``after`` with moved values (structurally) and every other known
    secret value (by text) masked. The result holds no plaintext value of a secret finding."""
    parts: list[str] = []
    pos = 0
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
        parts.append(text[pos:e.start])
        parts.append(render(e.old, value=lambda _k, _enc: MASK))
        pos = e.end
    parts.append(text[pos:])
    before = redact("".join(parts), mask_values)
    after = redact(after, mask_values)
    a = before.splitlines(keepends=True) if not created else []
    b = after.splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, fromfile=f"a/{display}" if not created else "/dev/null",
                                 tofile=f"b/{display}", n=2)
    out = []
    for ln in lines:
        ln = ln.rstrip("\r\n")
        out.append(ln)
    return "\n".join(out) + ("\n" if out else "")


def print_plan(plan: Plan, console: Console, *, diffs: bool = True) -> None:
    c = plan.counts()
    console.print(Text.assemble(("Plan ", "bold"), (plan.id, "bold cyan"), f"  (tool {plan.tool_version}, {plan.created})"))
    console.print(Text(f"  {c['+']} to create, {c['~']} to rewrite, {c['-']} to delete; "
                       f"{len(plan.inputs)} input files; {len(plan.refused)} secrets not migratable"))
    cost = plan.cost
    if cost:
        console.print(Text(f"  Estimated storage cost: ${cost.get('monthly_usd', 0):.2f}/month "
                           f"({cost.get('secrets_manager_secrets', 0)} Secrets Manager secrets, "
                           f"{cost.get('ssm_standard_parameters', 0)} standard + "
                           f"{cost.get('ssm_advanced_parameters', 0)} advanced SSM parameters)"))
    console.print()
    style = {"+": "green", "~": "yellow", "-": "red"}
    for a in plan.actions:
        console.print(Text.assemble((f"  {a.category.value} ", style[a.category.value]), Text(a.describe())))
    for w in plan.warnings:
        console.print(Text.assemble(("  ! ", "yellow"), Text(w)))
    for r in plan.refused:
        console.print(Text.assemble(("  x ", "red"), Text(f"{r['path']}:{r['line']} {r['unit']}.{r['name']}: {r['reason']}")))
    if diffs and plan.diffs:
        console.print()
        for diff in plan.diffs.values():
            print_diff(diff, console)


def print_diff(diff: str, console: Console) -> None:
    for ln in diff.splitlines():
        if ln.startswith(("+++", "---")):
            st = "bold"
        elif ln.startswith("@@"):
            st = "cyan"
        elif ln.startswith("+"):
            st = "green"
        elif ln.startswith("-"):
            st = "red"
        else:
            st = ""
        console.print(Text(ln, style=st))
