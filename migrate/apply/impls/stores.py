"""SSM parameters and Secrets Manager secrets: create (or adopt), delete what this run created."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from migrate.apply.checks import Check, Preflight, VerifyContext
from migrate.apply.env import Env
from migrate.apply.journal import ActionState
from migrate.errors import PreconditionFailed, StoreError
from migrate.plan.actions import CreateSecret, PutParameter, StoreAction
from migrate.plan.actions.stores import StoreReceipt


class StoreImpl:
    """Ownership comes from receipts, never from tags.

    Each create is journaled first as an ``intent`` carrying a fresh random run token (a UUID, in the
    intent's ``expect``); the entry is created with that token in its description (Secrets Manager: also as
    its ``ClientRequestToken``, so its first version id *is* the token). An entry is this run's only when
    this run's journal holds either its ``applied`` receipt (ARN and version) or an ``intent`` whose token
    the entry carries (a run killed between the create and its receipt). The token is random per intent
    and lives only in this journal, so no other run, copy of the plan or second checkout can match it;
    no creation-time check is needed on top. Tags (``managed-by``, ``plan-id``) are written for people
    and IAM conditions, and are never taken as proof: a second runner of the same plan carries the same
    tags. When the token cannot be read (``ssm:DescribeParameters`` denied) an uncertain entry is an error
    naming the permission, never "reverted".
    """

    def preflight(self, env: Env, a: StoreAction, st: ActionState, out: Preflight) -> None:
        store = env.store_for(a)
        found = store.lookup(a.name)
        if found is None:
            return
        if found.pending_deletion:
            out.problems.append(f"{a.name} exists and is scheduled for deletion")
            return
        token = _intent_token(st)
        if token:
            try:
                if found.holds(token):
                    return  # ours, created by this run before it was interrupted: apply records it
            except StoreError as e:
                out.problems.append(str(e.args[0]))
                return
        current = store.read(a.name)
        if current is not None and current == env.payload(a):
            out.notes.append(f"{a.name} already exists with the same value: adopted (never deleted by rollback)")
        else:
            out.problems.append(f"{a.name} already exists with a different value")

    def apply(self, env: Env, a: StoreAction, st: ActionState) -> None:
        store = env.store_for(a)
        value = env.payload(a)
        found = store.lookup(a.name)
        token = _intent_token(st)
        if found is not None:
            # preflight refused foreign entries with other values; here: ours from a crash, or the same value
            created = bool(token) and found.holds(token)
            if not created and store.read(a.name) != value:
                raise PreconditionFailed(f"{a.name} appeared with a different value during apply")
            env.journal.append("intent", a.id, a.kind, expect={"name": a.name, "token": token} if created else None)
            env.journal.append("applied", a.id, a.kind, receipt=StoreReceipt(arn=found.arn, created=created,
                                                                     adopted=not created, name=a.name,
                                                                     version=found.version))
            return
        token = token or str(uuid.uuid4())
        env.journal.append("intent", a.id, a.kind, expect={"name": a.name, "token": token})
        tier = a.tier if isinstance(a, PutParameter) else None
        try:
            made = store.create(a.name, value, tags=a.tags, kms_key=a.kms_key, tier=tier, token=token)
        except StoreError:
            again = store.lookup(a.name)  # a timeout after the write reached AWS: ours only if it holds our token
            if again is not None and again.holds(token):
                made = again
            else:
                raise
        env.journal.append("applied", a.id, a.kind, receipt=StoreReceipt(arn=made.arn, created=True, name=a.name,
                                                                 version=made.version))

    def check_revert(self, env: Env, a: StoreAction, st: ActionState) -> None:
        """Prove ownership of every uncertain entry before rollback changes anything (permission errors here)."""
        if st.phase == "applied":
            return
        found = env.store_for(a).lookup(a.name)
        token = _intent_token(st)
        if found is not None and token:
            found.holds(token)  # raises StoreError naming the missing permission

    def revert(self, env: Env, a: StoreAction, st: ActionState) -> str:
        store = env.store_for(a)
        if st.phase == "applied" and not st.receipt.get("created"):
            return f"{a.name} was adopted, not created: left in place"
        found = store.lookup(a.name)
        if found is None:
            return ""
        token = _intent_token(st)
        if st.phase == "applied":
            # the receipt proves this run created an entry under that name; the token (when readable)
            # proves it is still that entry and not one made by someone else after it was deleted
            if token and found.marks is not None and not found.holds(token):
                return f"{a.name} was replaced since this run created it: left in place"
            store.delete(a.name)
            return ""
        if not token:
            return f"{a.name}: no run token in the journal, cannot prove this run created it: left in place"
        if not found.holds(token):  # raises StoreError naming the permission when it cannot tell
            return f"{a.name} was not created by this run: left in place"
        store.delete(a.name)
        return ""

    def verify(self, env: Env, actions: Sequence[StoreAction], ctx: VerifyContext) -> list[Check]:
        checks: list[Check] = []
        for a in actions:
            st = ctx.states.get(a.id)
            name = a.name
            if st is None or st.phase != "applied":
                checks.append(Check("reference", name, False, f"not applied (state: {st.phase if st else 'pending'})"))
                continue
            ctx.arns[a.id] = str(st.receipt.get("arn", ""))
            value = env.store_for(a).read(ctx.arns[a.id] or name)
            if value is None:
                checks.append(Check("reference", name, False, "does not resolve"))
                continue
            if isinstance(a, CreateSecret) and a.is_json:
                try:
                    doc = json.loads(value.reveal())
                    missing = [v.json_key for v in a.values if v.json_key not in doc]
                except ValueError:
                    missing = ["(not JSON)"]
                if missing:
                    checks.append(Check("reference", name, False, f"JSON keys missing: {', '.join(map(str, missing))}"))
                    continue
            checks.append(Check("reference", name, True, ctx.arns[a.id]))
        return checks

    def finalize(self, env: Env, actions: Sequence[StoreAction]) -> list[str]:
        return []


def _intent_token(st: ActionState) -> str:
    """The run token of this action's last intent in this journal ('' when there is none)."""
    return str(st.expect.get("token", "")) if st.phase != "pending" else ""


STORES = StoreImpl()
