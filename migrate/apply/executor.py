"""Execute a plan: preflight -> (intent, side effect, applied) per action -> compensate on failure.

Also the reverse (rollback). One path for file and live plans: every action goes to the
implementation the registry (``migrate.apply.registry``) names for its type. Values are read through
the ``Env``'s value resolver at apply time and from the store at rollback time; neither is ever written
to the journal.
"""

from __future__ import annotations

from typing import NoReturn

from migrate.apply.checks import Preflight
from migrate.apply.env import Env, Progress, Runtime, make_env
from migrate.apply.fs import read_beneath
from migrate.apply.impls.files import confined, file_digest
from migrate.apply.journal import ActionState
from migrate.apply.registry import impl_for
from migrate.errors import (
    ActionFailed,
    FinalizedError,
    InputError,
    IrreversibleError,
    MigrateError,
    PreconditionFailed,
    StalePlanError,
)
from migrate.plan.actions import Action
from migrate.plan.fingerprint import fingerprint, is_local
from migrate.stores.aws import safe_aws_message

__all__ = ["Env", "Progress", "Runtime", "apply_plan", "check_inputs", "make_env", "preflight", "rollback_plan"]

# ---------------------------------------------------------------------------------------------------
# stale check and preflight (read-only)
# ---------------------------------------------------------------------------------------------------


def check_inputs(env: Env) -> None:
    """Refuse a stale plan: every input must match its keyed fingerprint, unless this run already rewrote it.

    Paths are read below the plan root only (``confined``). A fingerprint made with another machine's
    key cannot be checked here: such a plan is bound to its inputs structurally instead (each rewrite
    finds its edits' old text, with the values read now, exactly where the plan says, or refuses).
    """
    states = env.journal.states()
    rewritten = {a.path: states[a.id] for a in env.plan.rewrites if a.id in states}
    stale: list[str] = []
    for inp in env.plan.inputs:
        path = confined(env, inp.path)
        try:
            data = read_beneath(env.plan.root_path(), inp.path)
        except FileNotFoundError:
            stale.append(inp.display)
            continue
        if not is_local(inp.key_id) or fingerprint(data) == inp.digest:
            continue
        st = rewritten.get(inp.path)
        cur = file_digest(path)
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
    """Apply every pending action in order. On any failure (an exception of any kind, Ctrl-C, a full disk,
    a lost endpoint) revert what this run did (unless disabled); when that cannot complete, stop with the
    exact state and the command that finishes the job."""
    check_inputs(env)
    notes = preflight(env)
    env.journal.append("run-start")
    for a in env.plan.actions:
        st = env.journal.states().get(a.id, ActionState())
        if st.phase == "applied":
            continue
        lost = env.lease.lost if env.lease is not None else ""
        if lost:
            raise ActionFailed(f"stopped before {a.describe()}: {lost}; {state_summary(env)}",
                               hint=f"make sure no other run is active, then `secrets-migrate apply {env.plan_ref}` "
                                    f"resumes or `secrets-migrate rollback {env.plan_ref}` undoes")
        if env.progress:
            env.progress("apply", a)
        try:
            impl_for(a).apply(env, a, st)
        except BaseException as e:  # every failure, Ctrl-C included, is journaled then compensated or stopped clearly
            _after_failure(env, a, e, auto_rollback)
    env.journal.append("run-end")
    return notes


def describe_failure(e: BaseException) -> str:
    """One line, never quoting a value: MigrateError text, the AWS error code, the OS reason, or the class name."""
    from migrate.error_handler import classify

    if isinstance(e, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(e, MigrateError):
        return str(e.args[0]) if e.args else type(e).__name__
    f = classify(e)
    if f is not None:
        return f.message
    return safe_aws_message(e)


def state_summary(env: Env) -> str:
    """Where every action of the plan stands, from the journal (what a clear stop reports)."""
    try:
        states = env.journal.states()
    except MigrateError:
        return "the journal cannot be read"
    counts: dict[str, int] = {}
    left: list[str] = []
    for a in env.plan.actions:
        ph = str(states[a.id].phase) if a.id in states else "pending"
        counts[ph] = counts.get(ph, 0) + 1
        if ph in ("intent", "applied", "failed", "reverting"):
            left.append(a.describe())
    parts = ", ".join(f"{n} {ph}" for ph, n in sorted(counts.items()))
    shown = "; ".join(left[:5]) + (f" (+{len(left) - 5} more)" if len(left) > 5 else "")
    return f"state: {parts}" + (f"; still in place: {shown}" if left else "")


def _after_failure(env: Env, a: Action, e: BaseException, auto_rollback: bool) -> NoReturn:
    msg = describe_failure(e)
    ref = env.plan_ref
    try:
        env.journal.append("failed", a.id, a.kind, error=msg)
    except Exception as je:  # noqa: BLE001 - the journal itself cannot be written (disk full, file size limit)
        raise ActionFailed(f"{a.describe()} failed ({msg}) and the journal cannot be written ({describe_failure(je)}): "
                           f"stopped without rolling back, because every revert must be journaled first; "
                           f"{state_summary(env)}",
                           hint=f"fix the cause (free disk space, raise `ulimit -f`), then `secrets-migrate rollback {ref}` "
                                f"undoes or `secrets-migrate apply {ref}` resumes") from None
    if not auto_rollback:
        raise ActionFailed(f"{a.describe()} failed ({msg}); left as is (--no-rollback); {state_summary(env)}",
                           hint=f"`secrets-migrate apply {ref}` resumes, `secrets-migrate rollback {ref}` undoes") from None
    try:
        rollback_plan(env)
    except BaseException as re:  # noqa: BLE001 - a rollback that cannot complete stops clearly
        raise ActionFailed(f"{a.describe()} failed ({msg}); automatic rollback did not complete "
                           f"({describe_failure(re)}); {state_summary(env)}",
                           hint=f"fix the cause, then `secrets-migrate rollback {ref}` finishes the rollback "
                                f"(or `secrets-migrate apply {ref}` resumes)") from None
    hint = getattr(e, "hint", None) if isinstance(e, MigrateError) else None
    raise ActionFailed(f"{a.describe()} failed ({msg}); everything this run did was rolled back",
                       hint=hint or f"fix the cause and `secrets-migrate apply {ref}` again") from None


# ---------------------------------------------------------------------------------------------------
# reverse
# ---------------------------------------------------------------------------------------------------


def _nothing_changed(e: MigrateError) -> MigrateError:
    """``e`` (same class where its constructor allows) saying that rollback changed nothing."""
    msg = f"cannot roll back, nothing was changed: {e.args[0] if e.args else type(e).__name__}"
    if isinstance(e, InputError):
        return ActionFailed(msg, hint=e.hint)
    return type(e)(msg, hint=e.hint)


def rollback_plan(env: Env, *, only: set[str] | None = None) -> list[str]:
    """Undo what this run did, newest first. Two-phase, like Django's unapply: first check that every
    revert is possible (reversible actions, files in a known state, every original file rebuilt in memory
    from the store values, ownership of every uncertain entry proven) without changing anything; then act.

    Returns notes. Idempotent: reverted actions are skipped; uncertain ones are handled both ways. A failure
    in the second phase stops with the exact state and the command that finishes the job.
    """
    if env.journal.finalized:
        raise FinalizedError("this run was finalized; rollback is no longer possible")
    states = env.journal.states()
    todo = [a for a in env.plan.reverse_order()
            if states.get(a.id, ActionState()).phase in ("intent", "applied", "failed", "reverting")
            and (only is None or a.id in only)]
    # phase 1: everything reversible and every file in a known state; nothing changes here
    bad = [a.describe() for a in todo if not a.reversible]
    if bad:
        raise IrreversibleError("cannot roll back: irreversible actions were applied: " + "; ".join(bad))
    for a in todo:
        try:
            impl_for(a).check_revert(env, a, states[a.id])
        except MigrateError as e:
            raise _nothing_changed(e) from None
        except Exception as e:  # noqa: BLE001 - an AWS or OS failure while checking: nothing was changed
            raise ActionFailed(f"cannot roll back, nothing was changed: checking {a.describe()} failed "
                               f"({describe_failure(e)})",
                               hint=f"fix the cause, then `secrets-migrate rollback {env.plan_ref}`") from None
    notes: list[str] = []
    for i, a in enumerate(todo):
        st = states[a.id]
        if env.progress:
            env.progress("rollback", a)
        try:
            env.journal.append("reverting", a.id, a.kind)
            note = impl_for(a).revert(env, a, st)
            env.journal.append("reverted", a.id, a.kind, receipt={"note": note} if note else None)
        except BaseException as e:  # noqa: BLE001 - stop clearly: what is done, what is left, how to finish
            raise ActionFailed(f"rollback stopped at {a.describe()} ({describe_failure(e)}) after {i} of {len(todo)} "
                               f"revert(s); {state_summary(env)}",
                               hint=f"fix the cause, then `secrets-migrate rollback {env.plan_ref}` finishes it "
                                    "(reverts are idempotent)") from None
        if note:
            notes.append(note)
    return notes
