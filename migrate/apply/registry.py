"""The explicit registry: action type -> its implementation. Nothing registers itself on import."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, cast

from migrate.apply.checks import Check, Preflight, VerifyContext
from migrate.apply.env import Env
from migrate.apply.impls.ecs import ECS
from migrate.apply.impls.files import FILES
from migrate.apply.impls.iam import IAM
from migrate.apply.impls.stores import STORES
from migrate.apply.journal import ActionState
from migrate.plan.actions import (
    Action,
    CreateSecret,
    PutParameter,
    PutRolePolicy,
    RegisterRevision,
    RewriteFile,
    UpdateService,
    WaitHealthy,
)

A = TypeVar("A", bound=Action, contravariant=True)


class ActionImpl(Protocol[A]):
    """How one family of actions is carried out. Every method journals its own side effects."""

    def preflight(self, env: Env, a: A, st: ActionState, out: Preflight) -> None:
        """Read-only checks before any change; adds notes and problems to ``out``."""

    def apply(self, env: Env, a: A, st: ActionState) -> None:
        """Do it: journal ``intent``, act, journal ``applied`` with the receipt."""

    def check_revert(self, env: Env, a: A, st: ActionState) -> None:
        """Raise when the revert cannot be done (rollback checks every action before touching any)."""

    def revert(self, env: Env, a: A, st: ActionState) -> str:
        """Undo it (idempotent, handles an uncertain ``intent``). Returns a note or ''."""

    def verify(self, env: Env, actions: Sequence[A], ctx: VerifyContext) -> list[Check]:
        """Checks for the applied actions of this family."""

    def finalize(self, env: Env, actions: Sequence[A]) -> list[str]:
        """The point of no return (delete what rollback needed). Returns what was deleted."""


F = TypeVar("F", bound=Action)


def _family(impl: ActionImpl[F], *types: type[Action]) -> dict[type[Action], ActionImpl[Action]]:
    """Registry rows for one family. The cast erases the family: ``impl_for`` only ever hands an action to
    the implementation registered for its exact type (``registry_test`` checks every kind has one)."""
    return {t: cast("ActionImpl[Action]", impl) for t in types}


IMPLS: dict[type[Action], ActionImpl[Action]] = {
    **_family(STORES, PutParameter, CreateSecret),
    **_family(IAM, PutRolePolicy),
    **_family(FILES, RewriteFile),
    **_family(ECS, RegisterRevision, UpdateService, WaitHealthy),
}


def impl_for(a: Action) -> ActionImpl[Action]:
    impl = IMPLS.get(type(a))
    if impl is None:
        raise NotImplementedError(f"no implementation for action kind {a.kind}")
    return impl
