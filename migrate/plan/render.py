"""Human review of a plan: ``+ ~ -`` lines, counts, cost, and redacted diffs.

Everything shown is rendered from the actions ``apply`` executes; the plan stores no display text.
A diff is rendered from each edit's ``old`` template, where every moved value is a token located by
the source's parser (so JSON escapes, YAML block scalars, quotes, HCL strings and ``!Sub`` are all
masked the same way), and its ``new`` text, where store ARNs are references. Values the tool refused
are never inside an edit (the plan writer refuses a plan that would hold one), so never shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from migrate.iam_policy import estimate_sizes
from migrate.plan.actions import RewriteFile
from migrate.rewrite.edits import ref_preview, render

if TYPE_CHECKING:
    from migrate.plan.model import Plan

MASK = "••••••"
PROOF_OK = "will start"  #: the proof state of a service whose new tasks will start (``migrate.live.prove``)


def file_diff(plan: Plan, a: RewriteFile) -> str:
    """Redacted diff of one rewrite, rendered from its edits only (no file is read)."""
    names = {x.id: x.name for x in plan.store_actions}
    preview = ref_preview(names)
    out = [f"--- {'/dev/null' if a.creates else 'a/' + a.display}", f"+++ b/{a.display}"]
    for n, e in enumerate(a.edits, 1):
        old = render(e.old, value=lambda _k, _enc: MASK)
        new = render(e.new, ref=preview)
        out.append(f"@@ edit {n} of {len(a.edits)} @@")
        out += ["-" + ln for ln in old.splitlines()]
        out += ["+" + ln for ln in new.splitlines()]
    return "\n".join(ln.rstrip("\r") for ln in out) + "\n"


def diffs(plan: Plan) -> dict[str, str]:
    """display path -> redacted diff, for every file the plan rewrites or creates."""
    out: dict[str, str] = {}
    for a in plan.rewrites:
        out[a.display] = out.get(a.display, "") + file_diff(plan, a)
    return out


def print_plan(plan: Plan, console: Console, *, show_diffs: bool = True, digest: str = "") -> None:
    c = plan.counts()
    console.print(Text.assemble(("Plan ", "bold"), (plan.id, "bold cyan"), f"  (tool {plan.tool_version}, {plan.created})"))
    if digest:
        console.print(Text(f"  Digest: {digest}  (apply with --digest {digest} to apply exactly this plan)"))
    if plan.root:
        console.print(Text(f"  Root: {plan.root}"))
    console.print(Text(f"  {c['+']} to create, {c['~']} to rewrite, {c['-']} to delete; "
                       f"{len(plan.inputs)} input files; {len(plan.refused)} secrets not migratable"))
    cost = plan.cost
    if cost:
        console.print(Text(f"  Estimated storage cost: ${cost.get('monthly_usd', 0):.2f}/month "
                           f"({cost.get('secrets_manager_secrets', 0)} Secrets Manager secrets, "
                           f"{cost.get('ssm_standard_parameters', 0)} standard + "
                           f"{cost.get('ssm_advanced_parameters', 0)} advanced SSM parameters)"))
    for rs in estimate_sizes(plan.actions, plan_id=plan.id, region=plan.settings.region):
        console.print(Text("  " + rs.line()))
    console.print()
    style = {"+": "green", "~": "yellow", "-": "red"}
    for a in plan.actions:
        console.print(Text.assemble((f"  {a.category.value} ", style[a.category.value]), Text(a.describe())))
    print_proofs(plan, console)
    proved = {f"prove {p.key}: {p}" for p in plan.proofs}  # (plan --live also warns them: shown once, above)
    for w in plan.warnings:
        if w not in proved:
            console.print(Text.assemble(("  ! ", "yellow"), Text(w)))
    for r in plan.refused:
        console.print(Text.assemble(("  x ", "red"), Text(f"{r['path']}:{r['line']} {r['unit']}.{r['name']}: {r['reason']}")))
    if show_diffs and plan.rewrites:
        console.print()
        for diff in diffs(plan).values():
            print_diff(diff, console)


def print_proofs(plan: Plan, console: Console) -> None:
    """Live plans: per service, what ``plan --live`` proved about its new revision (issue 15 §4)."""
    if not plan.proofs:
        return
    fails = sum(1 for p in plan.proofs if p.state != PROOF_OK)
    console.print(Text(f"  Proofs (will each service's new tasks start?): {len(plan.proofs) - fails} will start"
                       + (f", {fails} to look at" if fails else "")))
    for p in plan.proofs:
        ok = p.state == PROOF_OK
        console.print(Text.assemble((f"    {'ok' if ok else '!!'} ", "green" if ok else "yellow"), Text(f"{p.key}: {p}")))


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
