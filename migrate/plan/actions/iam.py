"""Grants: read access for a task execution role, merged into the role's tool-owned policy.

One ``PutRolePolicy`` per role (file plans) or per revision (live plans); every action of a plan on one
role writes into the same policy (``migrate.iam_policy``: statements ``SecretsMigrate<plan id>*``).
The serialized kind stays ``iam.put-role-policy``; plans written before ``scopes`` existed still load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NotRequired, TypedDict

from migrate.arn import role_name
from migrate.plan.actions.base import Action, Category


@dataclass(frozen=True, kw_only=True)
class PutRolePolicy(Action):
    """Grant a task execution role read access to the entries its services use."""

    kind: ClassVar[str] = "iam.put-role-policy"
    category: ClassVar[Category] = Category.CREATE
    role_arn: str
    policy_name: str
    ssm_actions: tuple[str, ...] = ()  #: store action ids whose parameter ARN is granted
    sm_actions: tuple[str, ...] = ()  #: store action ids whose secret is granted (NAME-??????)
    existing_arns: tuple[str, ...] = ()  #: existing secrets referenced as-is (CloudFormation resolve)
    kms_keys: tuple[str, ...] = ()
    #: entry-name directories (``/prefix/app/``) this role may be granted as ``dir/*``: every entry of the
    #: plan under them goes to this role (``migrate.iam_policy.scopes_for``)
    scopes: tuple[str, ...] = ()

    def describe(self) -> str:
        n = len(self.ssm_actions) + len(self.sm_actions) + len(self.existing_arns)
        return (f"Grant {role_name(self.role_arn)} read access to {n} entr{'y' if n == 1 else 'ies'} "
                f"(inline policy {self.policy_name})")

    def to_record(self) -> dict[str, Any]:
        d = super().to_record()
        if not self.scopes:
            del d["scopes"]  # plans written before scopes existed round-trip byte-identical
        return d


class PolicyReceipt(TypedDict):
    role_arn: str  #: the full ARN the role resolved to
    policy_name: str
    created: bool  #: the policy did not exist before this write
    grants: dict[str, list[str]]  #: this action's grants: family -> ARNs / patterns (never values)
    scopes: list[str]
    digest: str  #: sha256 of the document written
    size: int  #: its size as AWS counts it
    level: int  #: compression level used
    before: NotRequired[dict[str, Any] | None]  #: the document before this plan first wrote it
    managed_arn: NotRequired[str]  #: the plan's customer-managed policy (inline policies full)
