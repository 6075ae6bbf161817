"""The closed choice lists of plan settings, playbooks and live runs: one ``StrEnum`` each.

Typer options, playbook validation, ``PlanSettings`` and ``RunOptions`` all take these, so a choice is
spelled and checked in one place. Members are ``str``: they serialize as their value.
"""

from __future__ import annotations

import enum
from typing import TypeVar

E = TypeVar("E", bound=enum.StrEnum)


class StoreKind(enum.StrEnum):
    SSM = "ssm"
    SECRETSMANAGER = "secretsmanager"
    AUTO = "auto"


class Group(enum.StrEnum):
    PER_VAR = "per-var"
    PER_UNIT = "per-unit"


class ComposeTarget(enum.StrEnum):
    ECS_PARAMS = "ecs-params"
    COMPOSE_SECRETS = "compose-secrets"


class FailurePolicy(enum.StrEnum):
    ROLLBACK_SERVICE = "rollback-service"
    ROLLBACK_WAVE = "rollback-wave"
    ROLLBACK_ALL = "rollback-all"
    STOP = "stop"


class Phase(enum.StrEnum):
    """Journal phase of one action."""

    PENDING = "pending"
    INTENT = "intent"
    APPLIED = "applied"
    FAILED = "failed"
    REVERTING = "reverting"
    REVERTED = "reverted"


class Mode(enum.StrEnum):
    """How a plan is carried out: file rewrites, or live ECS services in waves."""

    FILE = "file"
    LIVE = "live"


def spelled(choice: type[enum.StrEnum]) -> str:
    """'a, b or c' for error messages."""
    vals = [m.value for m in choice]
    return ", ".join(vals[:-1]) + " or " + vals[-1]


def parse(choice: type[E], value: object, what: str) -> E:
    """``value`` as a member of ``choice``; ValueError naming ``what`` and the choices otherwise."""
    try:
        return choice(str(value))
    except ValueError:
        raise ValueError(f"{what} must be {spelled(choice)}, not {value!r}") from None
