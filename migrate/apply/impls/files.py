"""File rewrites: splice the edits in (atomic write); revert rebuilds the original bytes from the store.

Paths: a plan names files relative to its root; every path is checked again here (no absolute path, no
``..``) and its parent directories are opened below the root one at a time without following links
(``migrate.apply.fs.open_beneath``), so a hand-edited plan or a directory swapped for a link cannot send
a read or a write outside the project. The plan holds no offsets: each edit is found again in the
current file from its gap and its old text rendered with the values read now (``locate_edits``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from migrate.apply.checks import Check, Preflight, VerifyContext
from migrate.apply.env import Env
from migrate.apply.fs import UnsafeFileError, atomic_write, open_beneath, remove_file
from migrate.apply.journal import ActionState
from migrate.errors import MigrateError, PreconditionFailed, RewriteError, StalePlanError
from migrate.model import SecretValue
from migrate.plan.actions import RewriteFile, StoreAction, ValueSource
from migrate.plan.actions.files import RewriteReceipt
from migrate.plan.fingerprint import fingerprint, is_local
from migrate.plan.model import check_relpath
from migrate.rewrite.edits import apply_edits, encode, locate_edits, revert_edits
from migrate.sources.base import read_source

_NO_LIMIT = 1 << 40


class FileImpl:
    def preflight(self, env: Env, a: RewriteFile, st: ActionState, out: Preflight) -> None:
        # the stale check (``check_inputs``) covers every input file; a file this plan creates is no
        # input: refuse before any change when something else (another run or plan) wrote it
        same = [r for r in env.plan.rewrites if r.path == a.path]
        if len(same) > 1 and same[0] is a:
            out.problems.append(f"{a.display} is written by {len(same)} actions of this plan; re-run plan")
        cur = file_digest(confined(env, a.path)) if a.creates else None
        if cur is not None and cur != st.expect.get("after_sha256"):
            out.problems.append(f"{a.display} exists now (written by another run or plan); this plan expected to "
                                "create it")

    def apply(self, env: Env, a: RewriteFile, st: ActionState) -> None:
        path = confined(env, a.path)
        cur = file_digest(path)
        if st.phase == "intent" and cur is not None and cur == st.expect.get("after_sha256"):
            env.journal.append("applied", a.id, a.kind, receipt=RewriteReceipt(after_sha256=cur))
            return
        before: str | None = None
        if a.creates:
            if cur is not None:
                raise PreconditionFailed(f"{a.display} exists now; the plan expected to create it", hint="re-run plan")
            text, bom = "", False
            edits = locate_edits(text, a.edits, value=token_values(env, a))
        else:
            if cur is None:
                raise StalePlanError(f"{a.display} is gone since planning", hint="re-run plan")
            src = read_source(path, a.display, max_bytes=_NO_LIMIT)
            text, bom = src.text, src.bom
            before = fingerprint(src.encode(text))
            if is_local(a.key_id) and before != a.before_digest:
                raise StalePlanError(f"{a.display} changed since planning", hint="re-run plan")
            try:  # the structural binding: every edit's old text, with the values read now, where the plan says
                edits = locate_edits(text, a.edits, value=token_values(env, a))
            except RewriteError:
                raise StalePlanError(f"{a.display} does not match the plan (changed since planning)",
                                     hint="re-run plan") from None
        new_text = apply_edits(text, edits, ref=env.arn_of)
        data = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8")
        after = fingerprint(data)  # keyed: the file may still hold a refused value
        expect: dict[str, str] = {"after_sha256": after}
        if before is not None:
            expect["before_digest"] = before  # under this machine's key: rollback checks the rebuilt original
        env.journal.append("intent", a.id, a.kind, expect=expect)
        atomic_write(path, data)
        env.journal.append("applied", a.id, a.kind, receipt=RewriteReceipt(after_sha256=after))

    def check_revert(self, env: Env, a: RewriteFile, st: ActionState) -> None:
        """The file is in a known state and, when rewritten, its original rebuilds exactly from the store
        values (in memory): a rotated or deleted value stops rollback before any file is touched."""
        if file_state(env, a, st) == "after" and not a.creates:
            rebuild_original(env, a, st)

    def revert(self, env: Env, a: RewriteFile, st: ActionState) -> str:
        if file_state(env, a, st) == "before":
            return ""
        path = confined(env, a.path)
        if a.creates:
            remove_file(path)
            return ""
        atomic_write(path, rebuild_original(env, a, st))
        return ""

    def verify(self, env: Env, actions: Sequence[RewriteFile], ctx: VerifyContext) -> list[Check]:
        checks: list[Check] = []
        for a in actions:
            st = ctx.states.get(a.id)
            if st is None or st.phase != "applied":
                checks.append(Check("file", a.display, False, "rewrite not applied"))
                continue
            path = confined(env, a.path)
            cur = file_digest(path)
            if cur != st.receipt.get("after_sha256"):
                checks.append(Check("file", a.display, False, "changed since apply"))
                continue
            if a.creates:
                checks.append(Check("file", a.display, True, "created"))
                continue
            try:
                src = read_source(path, a.display, max_bytes=_NO_LIMIT)
                orig = revert_edits(src.text, a.edits, ref=env.arn_of, value=stored_values(env))
                data = (b"\xef\xbb\xbf" if a.bom else b"") + orig.encode("utf-8")
                ok = fingerprint(data) == before_digest(a, st)
                checks.append(Check("original-value", a.display, ok,
                                    "store values rebuild the original file exactly" if ok
                                    else "store values do not rebuild the original file (a value differs)"))
            except MigrateError as e:
                checks.append(Check("original-value", a.display, False, str(e)))
        return checks

    def finalize(self, env: Env, actions: Sequence[RewriteFile]) -> list[str]:
        return []


def confined(env: Env, rel: str) -> Path:
    """``root/rel`` for a plan path, refused unless it stays below the plan root: ``rel`` is a plain
    relative path and no parent directory below the root is a symbolic link (each is opened with
    ``open_beneath``). The file itself is opened with O_NOFOLLOW by the reader and refused by the writer."""
    check_relpath(rel, what="file path")
    root = env.plan.root_path()
    parent = PurePosixPath(rel).parent
    if str(parent) != ".":
        try:
            fd = open_beneath(root, str(parent), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except FileNotFoundError:
            pass  # a file the plan creates in a directory that does not exist yet
        except NotADirectoryError:
            link = next((q for q in (*reversed(parent.parents[:-1]), parent) if (root / q).is_symlink()), None)
            if link is not None:
                raise UnsafeFileError(root / rel, f"{link} is a symbolic link (not followed)") from None
            raise UnsafeFileError(root / rel, "a parent is not a directory") from None
        else:
            os.close(fd)
    return root / rel


def file_digest(path: Path) -> str | None:
    """Keyed digest of the file's bytes (the final component is not followed), None when it is missing.
    Never a plain hash: the file may still hold a value the plan refused to move (issue 12)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UnsafeFileError(path, f"cannot be opened safely ({e.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        return fingerprint(fh.read())


def before_digest(a: RewriteFile, st: ActionState) -> str | None:
    """The original file's keyed fingerprint under this machine's key: the one apply journaled, else
    the plan's when the plan was made here (a plan from another machine carries another key)."""
    got = st.expect.get("before_digest")
    if got:
        return str(got)
    return a.before_digest if is_local(a.key_id) else None


def token_values(env: Env, a: RewriteFile) -> Callable[[str, str], str]:
    """value token (entry key, encoding) -> the value re-read from the file now, encoded as written."""
    where = {v.key: v for v in a.values}

    def value(key: str, encoding: str) -> str:
        vs = where.get(key)
        if vs is None:
            raise RewriteError("an edit names a value the plan does not say where to read")
        return encode(encoding, env.value_of(vs).reveal())

    return value


def rebuild_original(env: Env, a: RewriteFile, st: ActionState) -> bytes:
    """The original bytes of a rewritten file, rebuilt from the file and the store values; RewriteError when
    they do not match the keyed fingerprint of the original (a value was rotated or changed since apply)."""
    src = read_source(confined(env, a.path), a.display, max_bytes=_NO_LIMIT)
    text = revert_edits(src.text, a.edits, ref=env.arn_of, value=stored_values(env))
    data = (b"\xef\xbb\xbf" if a.bom else b"") + text.encode("utf-8")
    if fingerprint(data) != before_digest(a, st):
        raise RewriteError(f"{a.display}: the original rebuilt from the store values does not match its fingerprint "
                           "(a value was changed or rotated since apply); nothing was rolled back",
                           hint="put the original values back in the store, or restore the files from version control")
    return data


def file_state(env: Env, a: RewriteFile, st: ActionState) -> str:
    """'before' | 'after' for a rewritten file; raises RewriteError when it is neither."""
    path = confined(env, a.path)
    cur = file_digest(path)
    after = st.receipt.get("after_sha256") or st.expect.get("after_sha256")
    if after is not None and cur == after:
        return "after"
    if a.creates:
        if cur is None:
            return "before"
        # it did not exist before this plan: version control has nothing to restore
        raise RewriteError(f"{a.display} (created by this plan) was changed after apply, e.g. by a later plan; "
                           "nothing was rolled back", hint="roll back the later plan first, then run rollback again")
    if cur is not None:
        bd = before_digest(a, st)
        if bd is None and after is None:
            return "before"  # no intent journaled: apply never wrote it (and the plan's key is not ours)
        src = read_source(path, a.display, max_bytes=_NO_LIMIT)
        if fingerprint(src.encode(src.text)) == bd:
            return "before"
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
