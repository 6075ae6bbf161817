"""Live ECS actions: per task-definition family ``RegisterRevision``; per service ``UpdateService`` ->
``WaitHealthy``. The old revision stays ACTIVE until finalize, so a rollback never needs the plaintext."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NotRequired, TypedDict

from migrate.arn import short
from migrate.plan.actions.base import Action, Category


@dataclass(frozen=True, kw_only=True)
class EcsMove:
    """One value leaving a container definition: from ``environment`` (or log options) to ``secrets``."""

    container: int  #: index in containerDefinitions
    location: str  #: environment | logConfiguration.options
    name: str
    store_id: str  #: the store action whose entry it moves to
    json_key: str | None = None

    @property
    def suffix(self) -> str:
        """What follows the entry ARN in ``valueFrom`` (a JSON key selects one key of a secret)."""
        return f":{self.json_key}::" if self.json_key else ""


@dataclass(frozen=True, kw_only=True)
class RegisterRevision(Action):
    """Register a new revision of ``family``: the source revision with the moved values as references."""

    kind: ClassVar[str] = "ecs.register-task-definition"
    category: ClassVar[Category] = Category.CREATE
    family: str
    source_arn: str  #: the revision services run now (stays ACTIVE until finalize)
    region: str
    moves: tuple[EcsMove, ...]
    store_ids: tuple[str, ...] = ()
    policy_ids: tuple[str, ...] = ()
    execution_role: str = ""  #: set on the new revision when the source names none
    services: tuple[str, ...] = ()  #: cluster/service updated to it
    register_only: tuple[str, ...] = ()  #: CODE_DEPLOY / EXTERNAL services: revision registered, no UpdateService

    def describe(self) -> str:
        extra = (f"; {len(self.register_only)} service(s) deploy it themselves (CODE_DEPLOY/EXTERNAL)"
                 if self.register_only else "")
        return (f"Register {self.family} revision from {short(self.source_arn)} with {len(self.moves)} value(s) "
                f"as secrets (old revision stays ACTIVE until finalize){extra}")


@dataclass(frozen=True, kw_only=True)
class UpdateService(Action):
    kind: ClassVar[str] = "ecs.update-service"
    category: ClassVar[Category] = Category.REWRITE
    cluster: str  #: cluster ARN
    service: str
    region: str
    register_id: str
    previous: str  #: revision ARN at plan time

    def describe(self) -> str:
        return f"Update service {short(self.cluster)}/{self.service} from {short(self.previous)} to the new revision"


@dataclass(frozen=True, kw_only=True)
class WaitHealthy(Action):
    kind: ClassVar[str] = "ecs.wait-healthy"
    category: ClassVar[Category] = Category.REWRITE
    cluster: str
    service: str
    region: str
    update_id: str
    register_id: str
    timeout: float = 600.0

    def describe(self) -> str:
        return (f"Wait until {short(self.cluster)}/{self.service} runs the new revision (primary deployment "
                f"rolloutState COMPLETED, running == desired; timeout {self.timeout:g}s)")


EcsAction = RegisterRevision | UpdateService | WaitHealthy


class RegisterReceipt(TypedDict):
    arn: str  #: the new revision
    revision: NotRequired[int]
    adopted_after_crash: NotRequired[bool]


class UpdateReceipt(TypedDict):
    previous: str  #: the revision the service ran before (rollback restores it)
    new: str


class WaitReceipt(TypedDict):
    state: str
    seconds: float
