"""Extension point for action kinds defined outside file mode (live ECS registers here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

APPLIERS: dict[str, Callable[..., None]] = {}
REVERTERS: dict[str, Callable[..., str]] = {}


def apply_extra(rt: Any, a: Any, st: Any) -> None:
    fn = APPLIERS.get(a.kind)
    if fn is None:
        raise NotImplementedError(f"no executor for action kind {a.kind}")
    fn(rt, a, st)


def revert_extra(rt: Any, a: Any, st: Any) -> str:
    fn = REVERTERS.get(a.kind)
    if fn is None:
        raise NotImplementedError(f"no reverter for action kind {a.kind}")
    return fn(rt, a, st)

#: callables run by ``finalize`` (live mode deregisters and deletes old revisions here)
FINALIZERS: list[Callable[[Any], None]] = []
