"""File rewrites: splice the edits in (atomic write); revert rebuilds the original bytes from the store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from migrate.apply.checks import Check, Preflight, VerifyContext
from migrate.apply.env import Env
from migrate.apply.fs import atomic_write, remove_file, sha256_file
from migrate.apply.journal import ActionState
from migrate.errors import MigrateError, PreconditionFailed, RewriteError, StalePlanError
from migrate.model import SecretValue
from migrate.plan.actions import RewriteFile, StoreAction, ValueSource
from migrate.plan.actions.files import RewriteReceipt
from migrate.rewrite.edits import apply_edits, encode, revert_edits
from migrate.sources.base import read_source

_NO_LIMIT = 1 << 40


class FileImpl:
    def preflight(self, env: Env, a: RewriteFile, st: ActionState, out: Preflight) -> None:
        # the stale check (``check_inputs``) covers every input file; a file this plan creates is no
        # input: refuse before any change when something else (another run or plan) wrote it
        same = [r for r in env.plan.rewrites if r.path == a.path]
        if len(same) > 1 and same[0] is a:
            out.problems.append(f"{a.display} is written by {len(same)} actions of this plan; re-run plan")
        cur = sha256_file(Path(a.path)) if a.creates else None
        if cur is not None and cur != st.expect.get("after_sha256"):
            out.problems.append(f"{a.display} exists now (written by another run or plan); this plan expected to "
                                "create it")

    def apply(self, env: Env, a: RewriteFile, st: ActionState) -> None:
        path = Path(a.path)
        cur = sha256_file(path)
        if st.phase == "intent" and cur is not None and cur == st.expect.get("after_sha256"):
            env.journal.append("applied", a.id, a.kind, receipt=RewriteReceipt(after_sha256=cur))
            return
        if a.creates:
            if cur is not None:
                raise PreconditionFailed(f"{a.display} exists now; the plan expected to create it", hint="re-run plan")
            text, bom = "", False
        else:
            if cur != a.before_sha256:
                raise StalePlanError(f"{a.display} changed since planning", hint="re-run plan")
            src = read_source(path, a.display, max_bytes=_NO_LIMIT)
            text, bom = src.text, src.bom
        new_text = apply_edits(text, a.edits, ref=env.arn_of)
        data = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8")
        after = hashlib.sha256(data).hexdigest()
        env.journal.append("intent", a.id, a.kind, expect={"after_sha256": after})
        atomic_write(path, data)
        env.journal.append("applied", a.id, a.kind, receipt=RewriteReceipt(after_sha256=after))

    def check_revert(self, env: Env, a: RewriteFile, st: ActionState) -> None:
        """The file is in a known state and, when rewritten, its original rebuilds exactly from the store
        values (in memory): a rotated or deleted value stops rollback before any file is touched."""
        if file_state(a, st) == "after" and not a.creates:
            rebuild_original(env, a)

    def revert(self, env: Env, a: RewriteFile, st: ActionState) -> str:
        if file_state(a, st) == "before":
            return ""
        path = Path(a.path)
        if a.creates:
            remove_file(path)
            return ""
        atomic_write(path, rebuild_original(env, a))
        return ""

    def verify(self, env: Env, actions: Sequence[RewriteFile], ctx: VerifyContext) -> list[Check]:
        checks: list[Check] = []
        for a in actions:
            st = ctx.states.get(a.id)
            if st is None or st.phase != "applied":
                checks.append(Check("file", a.display, False, "rewrite not applied"))
                continue
            cur = sha256_file(Path(a.path))
            if cur != st.receipt.get("after_sha256"):
                checks.append(Check("file", a.display, False, "changed since apply"))
                continue
            if a.creates:
                checks.append(Check("file", a.display, True, "created"))
                continue
            try:
                src = read_source(Path(a.path), a.display, max_bytes=_NO_LIMIT)
                orig = revert_edits(src.text, a.edits, ref=env.arn_of, value=stored_values(env))
                data = (b"\xef\xbb\xbf" if a.bom else b"") + orig.encode("utf-8")
                ok = hashlib.sha256(data).hexdigest() == a.before_sha256
                checks.append(Check("original-value", a.display, ok,
                                    "store values rebuild the original file exactly" if ok
                                    else "store values do not rebuild the original file (a value differs)"))
            except MigrateError as e:
                checks.append(Check("original-value", a.display, False, str(e)))
        return checks

    def finalize(self, env: Env, actions: Sequence[RewriteFile]) -> list[str]:
        return []


def rebuild_original(env: Env, a: RewriteFile) -> bytes:
    """The original bytes of a rewritten file, rebuilt from the file and the store values; RewriteError when
    they do not hash as planned (a value was rotated or changed since apply)."""
    src = read_source(Path(a.path), a.display, max_bytes=_NO_LIMIT)
    text = revert_edits(src.text, a.edits, ref=env.arn_of, value=stored_values(env))
    data = (b"\xef\xbb\xbf" if a.bom else b"") + text.encode("utf-8")
    if hashlib.sha256(data).hexdigest() != a.before_sha256:
        raise RewriteError(f"{a.display}: the original rebuilt from the store values does not match its planned "
                           "sha256 (a value was changed or rotated since apply); nothing was rolled back",
                           hint="put the original values back in the store, or restore the files from version control")
    return data


def file_state(a: RewriteFile, st: ActionState) -> str:
    """'before' | 'after' for a rewritten file; raises RewriteError when it is neither."""
    cur = sha256_file(Path(a.path))
    after = st.receipt.get("after_sha256") or st.expect.get("after_sha256")
    if cur == a.before_sha256:
        return "before"
    if after is not None and cur == after:
        return "after"
    if a.creates:  # it did not exist before this plan: version control has nothing to restore
        raise RewriteError(f"{a.display} (created by this plan) was changed after apply, e.g. by a later plan; "
                           "nothing was rolled back", hint="roll back the later plan first, then run rollback again")
    raise RewriteError(f"{a.display} was changed after apply (it matches neither the original nor the rewrite); "
                       "nothing was rolled back", hint="restore it from version control, then run rollback again")


def stored_values(env: Env) -> Callable[[str, str], str]:
    """entry key -> the value read back from the store, encoded as it was written in the file."""
    where: dict[str, tuple[StoreAction, ValueSource]] = {}
    for a in env.plan.store_actions:
        for v in a.values:
            where[v.key] = (a, v)
    cache: dict[str, SecretValue] = {}

    def resolve(key: str, encoding: str) -> str:
        if key not in where:
            raise RewriteError("a moved value has no store entry in the plan")
        a, vs = where[key]
        if a.id not in cache:
            got = env.store_for(a).read(a.name)
            if got is None:
                raise RewriteError(f"{a.name} is gone from the store; cannot rebuild the original file")
            cache[a.id] = got
        raw = cache[a.id].reveal()
        if vs.json_key:
            try:
                raw = json.loads(raw)[vs.json_key]
            except (ValueError, KeyError, TypeError):
                raise RewriteError(f"{a.name} no longer holds key {vs.json_key}") from None
        return encode(encoding, raw)

    return resolve


FILES = FileImpl()
