"""finalize: the point of no return, for file and live plans alike. Each action family deletes what
rollback needed (live: the old plaintext revisions); then the journal records ``finalized``."""

from __future__ import annotations

from migrate.apply.env import Env
from migrate.apply.registry import ActionImpl, impl_for
from migrate.plan.actions import Action


def finalize_plan(env: Env) -> list[str]:
    """Run every family's finalize, mark the run finalized. Returns what was deleted."""
    groups: dict[int, tuple[ActionImpl[Action], list[Action]]] = {}
    for a in env.plan.actions:
        impl = impl_for(a)
        groups.setdefault(id(impl), (impl, []))[1].append(a)
    done: list[str] = []
    for impl, actions in groups.values():
        done += impl.finalize(env, actions)
    env.journal.append("finalized")
    (env.journal.dir / "finalized").write_text(env.plan.id + "\n")
    env.journal.close()
    return done
