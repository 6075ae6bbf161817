"""verify: every reference resolves, holds the original value, is readable by the execution role,
no plaintext secret is left in the rewritten files, and (live plans) every new revision references the
entries and every updated service runs it. One path for file and live plans.

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
    from migrate.detect.engine import classify
    from migrate.sources.registry import SOURCES

    out: list[Check] = []
    defs = {(inp.path, inp.kind, inp.display) for inp in env.plan.inputs if inp.kind in SOURCES}
    moved = {k for a in env.plan.rewrites for k in a.entries}
    for path, kind, display in sorted(defs):
        try:
            lf = SOURCES[kind].load(read_source(env.plan.root_path() / path, display, max_bytes=1 << 40))
        except MigrateError as e:
            out.append(Check("rescan", display, False, str(e)))
            continue
        left = [f for f in classify(lf.entries) if f.is_secret and f.migratable]
        still = [f for f in left if f.entry.key in moved]
        if still:
            out.append(Check("rescan", display, False,
                             "plaintext left: " + ", ".join(f"{f.entry.unit}.{f.entry.name}" for f in still)))
        elif left:
            out.append(Check("rescan", display, True,
                             f"{len(left)} other plaintext secret(s) not in this plan: "
                             + ", ".join(f"{f.entry.unit}.{f.entry.name}" for f in left[:5])))
        else:
            out.append(Check("rescan", display, True, "no plaintext secret left"))
    return out
