"""Execute a plan: preflight -> (intent, side effect, applied) per action -> compensate on failure.

Also the reverse (rollback) and the in-memory value plumbing. Values are read from the source
files at apply time and from the store at rollback time; neither is ever written to the journal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.apply.fs import atomic_write, remove_file, sha256_file
from migrate.apply.journal import ActionState, Journal
from migrate.errors import (
    ActionFailed,
    IrreversibleError,
    MigrateError,
    PreconditionFailed,
    RewriteError,
    StalePlanError,
    StoreError,
)
from migrate.model import SecretValue
from migrate.plan.actions import Action, CreateSecret, PutParameter, PutRolePolicy, RewriteFile, ValueSource
from migrate.plan.model import Plan
from migrate.rewrite.edits import apply_edits, encode, revert_edits
from migrate.sources.base import read_source
from migrate.stores.aws import Aws, safe_aws_message
from migrate.stores.base import StoredEntry
from migrate.stores.iam import Iam
from migrate.stores.secretsmanager import SecretsManagerStore
from migrate.stores.ssm import SsmStore

Progress = Callable[[str, Action], None]


@dataclass
class Runtime:
    """Injected effects: AWS clients, the plan, the journal. Tests build one against moto."""

    plan: Plan
    journal: Journal
    aws: Aws
    ssm: Any = None
    sm: Any = None
    iam: Any = None
    progress: Progress | None = None
    _values: dict[str, SecretValue] = field(default_factory=dict, repr=False)
    _loaded: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ssm = self.ssm or SsmStore(self.aws)
        self.sm = self.sm or SecretsManagerStore(self.aws)
        self.iam = self.iam or Iam(self.aws)

    def store_for(self, a: Action) -> Any:
        return self.ssm if isinstance(a, PutParameter) else self.sm

    # -- values at apply time: re-read from the source files ------------------------------------
    def value_of(self, vs: ValueSource) -> SecretValue:
        if vs.key not in self._values and vs.definition not in self._loaded:
            from migrate.sources.registry import SOURCES

            src = SOURCES.get(vs.source)
            if src is None:
                raise ActionFailed(f"unknown source kind {vs.source!r} in plan")
            loaded = src.load(read_source(Path(vs.definition), vs.definition_display or vs.definition))
            for e in loaded.entries:
                if e.value is not None:
                    self._values[e.key] = e.value
            self._loaded.add(vs.definition)
        v = self._values.get(vs.key)
        if v is None:
            raise ActionFailed(f"{vs.display}: {vs.unit}.{vs.name} is no longer in the file", hint="re-run plan")
        return v

    def payload(self, a: CreateSecret | PutParameter) -> SecretValue:
        if isinstance(a, CreateSecret) and a.is_json:
            doc = {v.json_key: self.value_of(v).reveal() for v in a.values}
            return SecretValue(json.dumps(doc, sort_keys=True))
        return self.value_of(a.values[0])

    # -- receipts --------------------------------------------------------------------------------
    def arn_of(self, action_id: str) -> str:
        st = self.journal.states().get(action_id)
        if st is None or "arn" not in st.receipt:
            raise ActionFailed(f"no ARN recorded for {action_id}; its store entry was not created")
        return str(st.receipt["arn"])


# ---------------------------------------------------------------------------------------------------
# stale check and preflight (read-only)
# ---------------------------------------------------------------------------------------------------


def check_inputs(rt: Runtime) -> None:
    """Refuse a stale plan: every input must hash as planned, unless this run already rewrote it."""
    states = rt.journal.states()
    rewritten = {a.path: states[a.id] for a in rt.plan.rewrites if a.id in states}
    stale: list[str] = []
    for inp in rt.plan.inputs:
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


def preflight(rt: Runtime) -> list[str]:
    """Check every target before any change. Returns notes (adoptions); raises PreconditionFailed."""
    notes: list[str] = []
    states = rt.journal.states()
    problems: list[str] = []
    for a in rt.plan.actions:
        if states.get(a.id, ActionState()).phase == "applied":
            continue
        if isinstance(a, (PutParameter, CreateSecret)):
            store = rt.store_for(a)
            found: StoredEntry | None = store.lookup(a.name)
            if found is None:
                continue
            if found.pending_deletion:
                problems.append(f"{a.name} exists and is scheduled for deletion")
                continue
            if found.created_by(rt.plan.id):
                continue  # ours, from an interrupted run: apply adopts it
            current = store.read(a.name)
            if current is not None and current == rt.payload(a):
                notes.append(f"{a.name} already exists with the same value: adopted (never deleted by rollback)")
            else:
                problems.append(f"{a.name} already exists with a different value")
        elif isinstance(a, PutRolePolicy):
            if not rt.iam.role_exists(a.role_arn):
                problems.append(f"execution role {a.role_arn} does not exist")
            elif a.id not in states and a.policy_name in rt.iam.list_policies(a.role_arn):
                problems.append(f"role {a.role_arn} already has an inline policy named {a.policy_name}")
    if problems:
        raise PreconditionFailed("preflight failed, nothing was changed: " + "; ".join(problems),
                                 hint="pick another --prefix/--name-template, or delete the clashing entries yourself")
    return notes


# ---------------------------------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------------------------------


def apply_plan(rt: Runtime, *, auto_rollback: bool = True) -> list[str]:
    """Apply every pending action in order. On failure revert what this run did (unless disabled)."""
    check_inputs(rt)
    notes = preflight(rt)
    rt.journal.append("run-start")
    for a in rt.plan.actions:
        st = rt.journal.states().get(a.id, ActionState())
        if st.phase == "applied":
            continue
        if rt.progress:
            rt.progress("apply", a)
        try:
            _apply_one(rt, a, st)
        except Exception as e:  # noqa: BLE001 - every failure is journaled then compensated
            msg = e.args[0] if isinstance(e, MigrateError) else safe_aws_message(e)
            rt.journal.append("failed", a.id, a.kind, error=msg)
            if auto_rollback:
                try:
                    rollback_plan(rt)
                except MigrateError as re:
                    raise ActionFailed(f"{a.describe()} failed ({msg}); automatic rollback also failed: {re}",
                                       hint="fix the cause, then run `secrets-migrate rollback` again") from None
                raise ActionFailed(f"{a.describe()} failed ({msg}); everything this run did was rolled back",
                                   hint=getattr(e, "hint", None) or "fix the cause and apply again") from None
            raise ActionFailed(f"{a.describe()} failed ({msg}); left as is (--no-rollback)",
                               hint="`secrets-migrate apply` resumes, `secrets-migrate rollback` undoes") from None
    rt.journal.append("run-end")
    return notes


def _apply_one(rt: Runtime, a: Action, st: ActionState) -> None:
    if isinstance(a, (PutParameter, CreateSecret)):
        _apply_store(rt, a)
    elif isinstance(a, PutRolePolicy):
        doc = policy_document(rt, a)
        rt.journal.append("intent", a.id, a.kind)
        rt.iam.put_policy(a.role_arn, a.policy_name, doc)
        rt.journal.append("applied", a.id, a.kind, receipt={"created": True, "role_arn": a.role_arn,
                                                             "policy_name": a.policy_name})
    elif isinstance(a, RewriteFile):
        _apply_rewrite(rt, a, st)
    else:
        from migrate.apply.registry import apply_extra

        apply_extra(rt, a, st)


def _apply_store(rt: Runtime, a: PutParameter | CreateSecret) -> None:
    store = rt.store_for(a)
    value = rt.payload(a)
    found = store.lookup(a.name)
    if found is not None:
        # preflight already refused foreign entries with other values; here: ours from a crash, or same value
        created = found.created_by(rt.plan.id)
        if not created and store.read(a.name) != value:
            raise PreconditionFailed(f"{a.name} appeared with a different value during apply")
        rt.journal.append("intent", a.id, a.kind)
        rt.journal.append("applied", a.id, a.kind, receipt={"arn": found.arn, "created": created,
                                                            "adopted": not created, "name": a.name})
        return
    rt.journal.append("intent", a.id, a.kind, expect={"name": a.name})
    try:
        made = store.create(a.name, value, tags=a.tags, kms_key=a.kms_key,
                            tier=getattr(a, "tier", None), token=_token(rt.plan.id, a.id))
    except StoreError:
        again = store.lookup(a.name)  # a timeout after the write reached AWS: adopt what exists
        if again is not None and again.created_by(rt.plan.id):
            made = again
        else:
            raise
    rt.journal.append("applied", a.id, a.kind, receipt={"arn": made.arn, "created": True, "name": a.name,
                                                        "version": made.version})


def _token(plan_id: str, action_id: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"secrets-migrate:{plan_id}:{action_id}"))


def policy_document(rt: Runtime, a: PutRolePolicy) -> dict[str, Any]:
    stmts: list[dict[str, Any]] = []
    if a.ssm_actions:
        stmts.append({"Sid": "ReadParameters", "Effect": "Allow", "Action": ["ssm:GetParameters"],
                      "Resource": sorted(rt.arn_of(i) for i in a.ssm_actions)})
    sm = sorted({_sm_pattern(rt.arn_of(i)) for i in a.sm_actions} | {_sm_pattern(x) for x in a.existing_arns})
    if sm:
        stmts.append({"Sid": "ReadSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                      "Resource": sm})
    if a.kms_keys:
        stmts.append({"Sid": "DecryptWithCustomerKey", "Effect": "Allow", "Action": ["kms:Decrypt"],
                      "Resource": sorted(_kms_arn(rt, k) for k in a.kms_keys)})
    return {"Version": "2012-10-17", "Statement": stmts}


def _sm_pattern(arn: str) -> str:
    """Secrets Manager ARNs end in -XXXXXX; grant NAME-?????? (facts §2: a partial ARN does not match)."""
    import re

    base = arn.split(":secret:", 1)
    if len(base) != 2:
        return arn
    name = base[1].split(":", 1)[0]
    name = re.sub(r"-[A-Za-z0-9]{6}$", "", name)
    return f"{base[0]}:secret:{name}-??????"


def _kms_arn(rt: Runtime, key: str) -> str:
    if key.startswith("arn:"):
        return key
    try:
        return str(rt.aws.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"])
    except Exception as e:  # noqa: BLE001
        raise PreconditionFailed(f"KMS key {key} cannot be described ({safe_aws_message(e)})") from None


def _apply_rewrite(rt: Runtime, a: RewriteFile, st: ActionState) -> None:
    path = Path(a.path)
    cur = sha256_file(path)
    if st.phase == "intent" and cur is not None and cur == st.expect.get("after_sha256"):
        rt.journal.append("applied", a.id, a.kind, receipt={"after_sha256": cur})
        return
    if a.creates:
        if cur is not None:
            raise PreconditionFailed(f"{a.display} exists now; the plan expected to create it", hint="re-run plan")
        text, bom = "", False
    else:
        if cur != a.before_sha256:
            raise StalePlanError(f"{a.display} changed since planning", hint="re-run plan")
        src = read_source(path, a.display, max_bytes=1 << 40)
        text, bom = src.text, src.bom
    new_text = apply_edits(text, a.edits, ref=rt.arn_of)
    data = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8")
    after = hashlib.sha256(data).hexdigest()
    rt.journal.append("intent", a.id, a.kind, expect={"after_sha256": after})
    atomic_write(path, data)
    rt.journal.append("applied", a.id, a.kind, receipt={"after_sha256": after})


# ---------------------------------------------------------------------------------------------------
# reverse
# ---------------------------------------------------------------------------------------------------


def rollback_plan(rt: Runtime, *, only: set[str] | None = None) -> list[str]:
    """Undo what this run did, newest first. Two-phase: check every revert is possible, then act.

    Returns notes. Idempotent: reverted actions are skipped; uncertain ones are handled both ways.
    """
    if rt.journal.finalized:
        from migrate.errors import FinalizedError

        raise FinalizedError("this run was finalized; rollback is no longer possible")
    states = rt.journal.states()
    todo = [a for a in rt.plan.reverse_order()
            if states.get(a.id, ActionState()).phase in ("intent", "applied", "failed", "reverting")
            and (only is None or a.id in only)]
    # phase 1: everything reversible and every file in a known state
    bad = [a.describe() for a in todo if not a.reversible]
    if bad:
        raise IrreversibleError("cannot roll back: irreversible actions were applied: " + "; ".join(bad))
    for a in todo:
        if isinstance(a, RewriteFile):
            _file_state(a, states[a.id])
    notes: list[str] = []
    for a in todo:
        st = states[a.id]
        if rt.progress:
            rt.progress("rollback", a)
        rt.journal.append("reverting", a.id, a.kind)
        note = _revert_one(rt, a, st)
        rt.journal.append("reverted", a.id, a.kind, receipt={"note": note} if note else None)
        if note:
            notes.append(note)
    return notes


def _file_state(a: RewriteFile, st: ActionState) -> str:
    """'before' | 'after' for a rewritten file; raises RewriteError when it is neither."""
    cur = sha256_file(Path(a.path))
    after = st.receipt.get("after_sha256") or st.expect.get("after_sha256")
    if cur == a.before_sha256:
        return "before"
    if after is not None and cur == after:
        return "after"
    raise RewriteError(f"{a.display} was changed after apply (it matches neither the original nor the rewrite); "
                       "nothing was rolled back", hint="restore it from version control, then run rollback again")


def _revert_one(rt: Runtime, a: Action, st: ActionState) -> str:
    if isinstance(a, RewriteFile):
        if _file_state(a, st) == "before":
            return ""
        path = Path(a.path)
        if a.creates:
            remove_file(path)
            return ""
        src = read_source(path, a.display, max_bytes=1 << 40)
        text = revert_edits(src.text, a.edits, ref=rt.arn_of, value=_value_resolver(rt))
        data = (b"\xef\xbb\xbf" if a.bom else b"") + text.encode("utf-8")
        if hashlib.sha256(data).hexdigest() != a.before_sha256:
            raise RewriteError(f"{a.display}: the rebuilt original does not match its planned sha256; file left as is",
                               hint="the store value may have been changed since apply")
        atomic_write(path, data)
        return ""
    if isinstance(a, (PutParameter, CreateSecret)):
        store = rt.store_for(a)
        if st.phase == "applied" and not st.receipt.get("created"):
            return f"{a.name} was adopted, not created: left in place"
        found = store.lookup(a.name)
        if found is None:
            return ""
        if not found.created_by(rt.plan.id):
            return f"{a.name} was not created by this run: left in place"
        store.delete(a.name)
        return ""
    if isinstance(a, PutRolePolicy):
        rt.iam.delete_policy(a.role_arn, a.policy_name)
        return ""
    from migrate.apply.registry import revert_extra

    return revert_extra(rt, a, st)


def _value_resolver(rt: Runtime) -> Callable[[str, str], str]:
    """entry key -> the value read back from the store, encoded as it was written in the file."""
    where: dict[str, tuple[Action, ValueSource]] = {}
    for a in rt.plan.store_actions:
        for v in a.values:  # type: ignore[attr-defined]
            where[v.key] = (a, v)
    cache: dict[str, SecretValue] = {}

    def resolve(key: str, encoding: str) -> str:
        if key not in where:
            raise RewriteError("a moved value has no store entry in the plan")
        a, vs = where[key]
        if a.id not in cache:
            got = rt.store_for(a).read(a.name)  # type: ignore[attr-defined]
            if got is None:
                raise RewriteError(f"{a.name} is gone from the store; cannot rebuild the original file")  # type: ignore[attr-defined]
            cache[a.id] = got
        raw = cache[a.id].reveal()
        if vs.json_key:
            try:
                raw = json.loads(raw)[vs.json_key]
            except (ValueError, KeyError, TypeError):
                raise RewriteError(f"{a.name} no longer holds key {vs.json_key}") from None  # type: ignore[attr-defined]
        return encode(encoding, raw)

    return resolve
