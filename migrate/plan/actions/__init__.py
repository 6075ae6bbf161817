"""Plan actions: inert, serializable data. Execution lives in ``migrate.apply``.

Every action declares ``kind`` (the serialized discriminator: never renamed), a ``Category`` symbol,
whether it is reversible, and a one-line ``describe()``. None of them holds a value: store actions
point at the source entries by key and the value is re-read at apply time. One module per family:
stores, iam, files, ecs. ``ACTION_TYPES`` is the explicit registry the plan reader uses.
"""

from __future__ import annotations

from typing import Any

from migrate.errors import PlanError, RewriteError
from migrate.plan.actions.base import Action, Category, ValueSource
from migrate.plan.actions.ecs import EcsAction, EcsMove, RegisterRevision, UpdateService, WaitHealthy
from migrate.plan.actions.files import RewriteFile
from migrate.plan.actions.iam import PutRolePolicy
from migrate.plan.actions.stores import CreateSecret, PutParameter, StoreAction
from migrate.rewrite.edits import TextEdit

__all__ = [
    "ACTION_TYPES", "Action", "Category", "CreateSecret", "EcsAction", "EcsMove", "PutParameter", "PutRolePolicy",
    "RegisterRevision", "RewriteFile", "StoreAction", "UpdateService", "ValueSource", "WaitHealthy",
    "action_from_record",
]

#: kind (the serialized discriminator) -> class. Explicit: nothing registers itself on import.
ACTION_TYPES: dict[str, type[Action]] = {
    cls.kind: cls for cls in (PutParameter, CreateSecret, PutRolePolicy, RewriteFile,
                              RegisterRevision, UpdateService, WaitHealthy)
}


def action_from_record(r: dict[str, Any]) -> Action:
    """One plan-file action record -> its action. A record missing a required field is refused."""
    r = dict(r)
    kind = r.pop("kind", None)
    cls = ACTION_TYPES.get(str(kind))
    if cls is None:
        raise PlanError(f"unknown action kind {kind!r} in plan file")
    try:
        if "values" in r:
            r["values"] = tuple(ValueSource(**v) for v in r["values"])
        if "moves" in r:
            r["moves"] = tuple(EcsMove(**m) for m in r["moves"])
        if "edits" in r:
            r["edits"] = tuple(TextEdit.from_record(e) for e in r["edits"])
        for k, v in list(r.items()):
            if isinstance(v, list):
                r[k] = tuple(v)
        return cls(**r)
    except (TypeError, KeyError, AttributeError, ValueError, RewriteError) as e:
        raise PlanError(f"malformed {kind} action in plan file ({e})") from None
