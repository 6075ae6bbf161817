"""Where a value goes: store choice (by size and settings), entry name (template, checks) and the store
action that creates it. One place, used by the file planner and the live planner alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migrate.errors import PlanError
from migrate.plan import naming
from migrate.plan.actions import CreateSecret, PutParameter, StoreAction, ValueSource
from migrate.plan.choices import Group, StoreKind
from migrate.plan.model import PlanSettings

SSM_STANDARD_MAX = 4096
SSM_ADVANCED_MAX = 8192
SM_MAX = 65536


@dataclass(frozen=True)
class Placement:
    store: str  #: ssm | secretsmanager
    tier: str | None  #: SSM tier; None for Secrets Manager
    name: str
    json_key: str | None  #: key inside a per-unit JSON secret


def choose_store(settings: PlanSettings, size: int, path: str, name: str) -> tuple[str, str | None]:
    """(store, SSM tier) for a value of ``size`` bytes; PlanError when no allowed store can hold it."""
    if settings.store == StoreKind.SECRETSMANAGER or (settings.store == StoreKind.AUTO
                                                      and settings.group == Group.PER_UNIT):
        if size > SM_MAX:
            raise PlanError(f"{path}: {name} is over the 64 KiB Secrets Manager limit")
        return "secretsmanager", None
    if size <= SSM_STANDARD_MAX:
        return "ssm", "Standard"
    if size <= SSM_ADVANCED_MAX:
        return "ssm", "Advanced"
    if settings.store == StoreKind.SSM:
        raise PlanError(f"{path}: {name} is over the 8 KiB Parameter Store limit", hint="use --store secretsmanager or auto")
    if size > SM_MAX:
        raise PlanError(f"{path}: {name} is over the 64 KiB Secrets Manager limit")
    return "secretsmanager", None


def template_for(settings: PlanSettings, store: str) -> str:
    """The name template in force for ``store`` (the user's, or the default)."""
    if settings.group == Group.PER_UNIT:
        return settings.name_template or naming.DEFAULT_SM_UNIT_TEMPLATE
    return settings.name_template or (naming.DEFAULT_SSM_TEMPLATE if store == "ssm" else naming.DEFAULT_SM_TEMPLATE)


def place(settings: PlanSettings, *, size: int, where: str, group: str, unit: str, name: str,
          project: str | None = None, file: str = "") -> Placement:
    """Store, tier and checked entry name for one value (``where``: the file or revision, for errors).
    ``project`` defaults to ``group``; ``file`` is the ``{file}`` field (see :mod:`migrate.plan.naming`)."""
    store, tier = choose_store(settings, size, where, name)
    json_key: str | None = None
    if settings.group == Group.PER_UNIT:
        json_key = name
    tmpl = template_for(settings, store)
    entry = naming.render_name(tmpl, prefix=settings.prefix, group=group, unit=unit, name=name, store=store,
                               project=project, file=file)
    naming.check_name(entry, store)
    return Placement(store, tier, entry, json_key)


def store_action(action_id: str, store: str, name: str, tier: str | None, settings: PlanSettings,
                 tags: dict[str, str], values: Sequence[ValueSource]) -> StoreAction:
    """The action creating one entry: an SSM parameter or a Secrets Manager secret."""
    if store == "ssm":
        return PutParameter(id=action_id, name=name, tier=tier or "Standard", kms_key=settings.kms_key,
                            tags=dict(tags), values=tuple(values))
    return CreateSecret(id=action_id, name=name, kms_key=settings.kms_key, tags=dict(tags), values=tuple(values))
