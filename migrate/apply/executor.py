"""Execute a plan: preflight -> (intent, side effect, applied) per action -> compensate on failure.

Also the reverse (rollback). One path for file and live plans: every action goes to the
implementation the registry (``migrate.apply.registry``) names for its type. Values are read through
the ``Env``'s value resolver at apply time and from the store at rollback time; neither is ever written
to the journal.
"""

from __future__ import annotations

from pathlib import Path

from migrate.apply.checks import Preflight
from migrate.apply.env import Env, Progress, Runtime, make_env
from migrate.apply.fs import sha256_file
from migrate.apply.journal import ActionState
from migrate.apply.registry import impl_for
from migrate.errors import (
    ActionFailed,
    FinalizedError,
    IrreversibleError,
    MigrateError,
    PreconditionFailed,
    StalePlanError,
)
from migrate.stores.aws import safe_aws_message

__all__ = ["Env", "Progress", "Runtime", "apply_plan", "check_inputs", "make_env", "preflight", "rollback_plan"]

# ---------------------------------------------------------------------------------------------------
# stale check and preflight (read-only)
# ---------------------------------------------------------------------------------------------------


def check_inputs(env: Env) -> None:
    """Refuse a stale plan: every input must hash as planned, unless this run already rewrote it."""
    states = env.journal.states()
    rewritten = {a.path: states[a.id] for a in env.plan.rewrites if a.id in states}
    stale: list[str] = []
    for inp in env.plan.inputs:
        cur = sha256_file(Path(inp.path))
        if cur == inp.sha256:
            continue
        st = rewritten.get(inp.path)
        if st is not None and cur in (st.receipt.get("after_sha256"), st.expect.get("after_sha256")):
            continue
        stale.append(inp.display)
    if stale:
        raise StalePlanError(f"plan is stale: {len(stale)} input file(s) changed since planning: {', '.join(stale[:5])}",
                             hint="run `secrets-migrate plan` again")


def preflight(env: Env) -> list[str]:
    """Check every target before any change. Returns notes (adoptions); raises PreconditionFailed."""
    out = Preflight()
    states = env.journal.states()
    for a in env.plan.actions:
        st = states.get(a.id, ActionState())
        if st.phase == "applied":
            continue
        impl_for(a).preflight(env, a, st, out)
    if out.problems:
        raise PreconditionFailed("preflight failed, nothing was changed: " + "; ".join(out.problems),
                                 hint=preflight_hint(out.problems))
    return out.notes


def preflight_hint(problems: list[str]) -> str:
    """The fix for the problems preflight found, by cause (a missing role is no name clash)."""
    hints = []
    if any("does not exist" in p and "role" in p for p in problems):
        hints.append("create the execution role or plan again with the right --execution-role")
    if any("inline policy" in p for p in problems):
        hints.append("remove that inline policy from the role (or roll back the plan that created it)")
    if any("already exists" in p or "scheduled for deletion" in p for p in problems):
        hints.append("pick another --prefix/--name-template, or delete the clashing entries yourself")
    return "; ".join(hints) or "fix the problems above, then apply again"


# ---------------------------------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------------------------------


def apply_plan(env: Env, *, auto_rollback: bool = True) -> list[str]:
    """Apply every pending action in order. On failure revert what this run did (unless disabled)."""
    check_inputs(env)
    notes = preflight(env)
    env.journal.append("run-start")
    for a in env.plan.actions:
        st = env.journal.states().get(a.id, ActionState())
        if st.phase == "applied":
            continue
        if env.progress:
            env.progress("apply", a)
        try:
            impl_for(a).apply(env, a, st)
        except Exception as e:  # noqa: BLE001 - every failure is journaled then compensated
            msg = e.args[0] if isinstance(e, MigrateError) else safe_aws_message(e)
            env.journal.append("failed", a.id, a.kind, error=msg)
            if auto_rollback:
                try:
                    rollback_plan(env)
                except MigrateError as re:
                    raise ActionFailed(f"{a.describe()} failed ({msg}); automatic rollback also failed: {re}",
                                       hint="fix the cause, then run `secrets-migrate rollback` again") from None
                raise ActionFailed(f"{a.describe()} failed ({msg}); everything this run did was rolled back",
                                   hint=getattr(e, "hint", None) or "fix the cause and apply again") from None
            raise ActionFailed(f"{a.describe()} failed ({msg}); left as is (--no-rollback)",
                               hint="`secrets-migrate apply` resumes, `secrets-migrate rollback` undoes") from None
    env.journal.append("run-end")
    return notes


# ---------------------------------------------------------------------------------------------------
# reverse
# ---------------------------------------------------------------------------------------------------


def rollback_plan(env: Env, *, only: set[str] | None = None) -> list[str]:
    """Undo what this run did, newest first. Two-phase: check every revert is possible, then act.

    Returns notes. Idempotent: reverted actions are skipped; uncertain ones are handled both ways.
    """
    if env.journal.finalized:
        raise FinalizedError("this run was finalized; rollback is no longer possible")
    states = env.journal.states()
    todo = [a for a in env.plan.reverse_order()
            if states.get(a.id, ActionState()).phase in ("intent", "applied", "failed", "reverting")
            and (only is None or a.id in only)]
    # phase 1: everything reversible and every file in a known state
    bad = [a.describe() for a in todo if not a.reversible]
    if bad:
        raise IrreversibleError("cannot roll back: irreversible actions were applied: " + "; ".join(bad))
    for a in todo:
        impl_for(a).check_revert(env, a, states[a.id])
    notes: list[str] = []
    for a in todo:
        st = states[a.id]
        if env.progress:
            env.progress("rollback", a)
        env.journal.append("reverting", a.id, a.kind)
        note = impl_for(a).revert(env, a, st)
        env.journal.append("reverted", a.id, a.kind, receipt={"note": note} if note else None)
        if note:
            notes.append(note)
    return notes
