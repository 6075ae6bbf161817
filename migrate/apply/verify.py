"""verify: every reference resolves, holds the original value, is readable by the execution role,
no plaintext secret is left in the rewritten files, and (live plans) every new revision references the
entries and every updated service runs it. One path for file and live plans. Every plaintext secret the
plan did not move (blocked, not migratable, not in the plan) is listed as remaining: verify passes only
for what the plan moved.

"Holds the original value" is checked without any copy of the original: the original file is
rebuilt in memory from the values now in the store and must hash to the sha256 recorded at plan time;
for a live revision the store value is compared in memory with the old revision's (still ACTIVE).
"""

from __future__ import annotations

from migrate.apply.checks import Check, VerifyContext
from migrate.apply.env import Env
from migrate.apply.impls.ecs import ECS
from migrate.apply.impls.files import FILES
from migrate.apply.impls.iam import IAM
from migrate.apply.impls.stores import STORES
from migrate.errors import MigrateError
from migrate.model import ValueKind
from migrate.sources.base import read_source

__all__ = ["Check", "verify_plan"]


def verify_plan(env: Env) -> list[Check]:
    ctx = VerifyContext(states=env.journal.states())
    checks = STORES.verify(env, env.plan.store_actions, ctx)
    checks += FILES.verify(env, env.plan.rewrites, ctx)
    checks += IAM.verify(env, env.plan.policies, ctx)  # needs the ARNs the store step found
    checks += _rescan(env)
    checks += ECS.verify(env, env.plan.ecs_actions, ctx)
    return checks


def _rescan(env: Env) -> list[Check]:
    """Re-read every definition: what the plan moved must be gone (FAIL otherwise); every other plaintext
    secret still there is reported as remaining, with why (blocked, not migratable, not in this plan)."""
    from migrate.detect.engine import classify
    from migrate.sources.registry import SOURCES

    out: list[Check] = []
    defs = {(inp.path, inp.kind, inp.display) for inp in env.plan.inputs if inp.kind in SOURCES}
    moved = {k for a in env.plan.rewrites for k in a.entries}
    # entry keys are positional (``.../Environment/1/Value``): after a rewrite another entry may take a moved
    # entry's key, so a left-over entry counts as "not moved" only when its unit and name match too
    moved_names = {(v.unit, v.name) for a in env.plan.store_actions for v in a.values if v.key in moved}
    blocked = {(b.path, b.unit, b.name): b for b in env.plan.blocked if b.name}
    blocked_files = {b.path: b for b in env.plan.blocked if not b.name}
    tally: dict[str, int] = {}
    for path, kind, display in sorted(defs):
        try:
            lf = SOURCES[kind].load(read_source(env.plan.root_path() / path, display, max_bytes=1 << 40))
        except MigrateError as err:
            out.append(Check("rescan", display, False, str(err)))
            continue
        left = [f for f in classify(lf.entries)
                if f.is_secret and f.entry.value_kind is ValueKind.LITERAL and not f.entry.resolves_to]
        still = [f for f in left if f.entry.key in moved and (f.entry.unit, f.entry.name) in moved_names]
        if still:
            out.append(Check("rescan", display, False, "plaintext left where this plan moved it: "
                             + ", ".join(f"{f.entry.unit}.{f.entry.name}" for f in still)))
        rest = [f for f in left if f not in still]
        if not rest:
            if not still:
                out.append(Check("rescan", display, True, "no plaintext secret left in this file"))
            continue
        if not still:
            out.append(Check("rescan", display, True, "every entry this plan moved is out of the file"))
        whys = []
        for f in rest:
            e = f.entry
            b = blocked.get((e.path, e.unit, e.name)) or blocked_files.get(lf.path)
            why = f"blocked: {b.kind}" if b else "not migratable" if not f.migratable else "not in this plan"
            tally[why.split(":")[0]] = tally.get(why.split(":")[0], 0) + 1
            whys.append(f"{e.unit}.{e.name} ({why})")
        out.append(Check("remaining", display, True, f"{len(rest)} plaintext secret(s) still here: " + ", ".join(whys)))
    for b in env.plan.blocked:
        if not b.name and b.path not in {d for _p, _k, d in defs}:  # never read (parse error): not rescanned
            tally["blocked"] = tally.get("blocked", 0) + 1
            out.append(Check("remaining", b.path, True, f"not migrated ({b.kind}: {b.reason}); "
                                                        "its secrets, if any, are still in plaintext"))
    if tally:
        parts = ", ".join(f"{n} {k}" for k, n in sorted(tally.items()))
        out.append(Check("remaining", "total", True, f"plaintext secrets remain outside this plan ({parts}); "
                                                    "verify vouches only for what the plan moved"))
    return out
