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
    def preflight(self, env: Env, a: StoreAction, st: ActionState, out: Preflight) -> None:
        store = env.store_for(a)
        found = store.lookup(a.name)
        if found is None:
            return
        if found.pending_deletion:
            out.problems.append(f"{a.name} exists and is scheduled for deletion")
            return
        if found.created_by(env.plan.id):
            return  # ours, from an interrupted run: apply adopts it
        current = store.read(a.name)
        if current is not None and current == env.payload(a):
            out.notes.append(f"{a.name} already exists with the same value: adopted (never deleted by rollback)")
        else:
            out.problems.append(f"{a.name} already exists with a different value")

    def apply(self, env: Env, a: StoreAction, st: ActionState) -> None:
        store = env.store_for(a)
        value = env.payload(a)
        found = store.lookup(a.name)
        if found is not None:
            # preflight already refused foreign entries with other values; here: ours from a crash, or same value
            created = found.created_by(env.plan.id)
            if not created and store.read(a.name) != value:
                raise PreconditionFailed(f"{a.name} appeared with a different value during apply")
            env.journal.append("intent", a.id, a.kind)
            env.journal.append("applied", a.id, a.kind, receipt=StoreReceipt(arn=found.arn, created=created,
                                                                     adopted=not created, name=a.name))
            return
        env.journal.append("intent", a.id, a.kind, expect={"name": a.name})
        tier = a.tier if isinstance(a, PutParameter) else None
        try:
            made = store.create(a.name, value, tags=a.tags, kms_key=a.kms_key, tier=tier,
                                token=_token(env.plan.id, a.id))
        except StoreError:
            again = store.lookup(a.name)  # a timeout after the write reached AWS: adopt what exists
            if again is not None and again.created_by(env.plan.id):
                made = again
            else:
                raise
        env.journal.append("applied", a.id, a.kind, receipt=StoreReceipt(arn=made.arn, created=True, name=a.name,
                                                                 version=made.version))

    def check_revert(self, env: Env, a: StoreAction, st: ActionState) -> None:
        return None

    def revert(self, env: Env, a: StoreAction, st: ActionState) -> str:
        store = env.store_for(a)
        if st.phase == "applied" and not st.receipt.get("created"):
            return f"{a.name} was adopted, not created: left in place"
        found = store.lookup(a.name)
        if found is None:
            return ""
        if not found.created_by(env.plan.id):
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


def _token(plan_id: str, action_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"secrets-migrate:{plan_id}:{action_id}"))


STORES = StoreImpl()
