"""Grants: an inline least-privilege read policy on a task execution role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypedDict

from migrate.arn import role_name
from migrate.plan.actions.base import Action, Category


@dataclass(frozen=True, kw_only=True)
class PutRolePolicy(Action):
    """Attach an inline least-privilege read policy to a task execution role."""

    kind: ClassVar[str] = "iam.put-role-policy"
    category: ClassVar[Category] = Category.CREATE
    role_arn: str
    policy_name: str
    ssm_actions: tuple[str, ...] = ()  #: store action ids whose parameter ARN is granted
    sm_actions: tuple[str, ...] = ()  #: store action ids whose secret is granted (NAME-??????)
    existing_arns: tuple[str, ...] = ()  #: existing secrets referenced as-is (CloudFormation resolve)
    kms_keys: tuple[str, ...] = ()

    def describe(self) -> str:
        n = len(self.ssm_actions) + len(self.sm_actions) + len(self.existing_arns)
        return (f"Grant {role_name(self.role_arn)} read access to {n} entr{'y' if n == 1 else 'ies'} "
                f"(inline policy {self.policy_name})")


class PolicyReceipt(TypedDict):
    created: bool
    role_arn: str
    policy_name: str
