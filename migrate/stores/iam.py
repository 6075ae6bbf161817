"""Execution roles and their inline policies. A role is its full ARN: a bare name means the caller's account."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from migrate.arn import role_name
from migrate.errors import StoreError
from migrate.stores.aws import AwsContext, error_code, safe_aws_message

__all__ = ["Iam", "role_name"]


def _denied(e: ClientError, what: str, permission: str) -> StoreError:
    return StoreError(f"{what} ({safe_aws_message(e)})", hint=f"the caller needs {permission} on the execution role")


class Iam:
    def __init__(self, aws: AwsContext) -> None:
        self.aws = aws

    @property
    def _c(self) -> Any:
        return self.aws.client("iam")

    def role_arn(self, role: str) -> str | None:
        """The full ARN of the role named by ``role`` (an ARN or a bare name) in the caller's account, or None."""
        try:
            return str(self._c.get_role(RoleName=role_name(role))["Role"]["Arn"])
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                return None
            raise _denied(e, f"cannot read role {role_name(role)}", "iam:GetRole") from None

    def role_exists(self, role_arn: str) -> bool:
        found = self.role_arn(role_arn)
        return found is not None and (":role/" not in role_arn or found == role_arn)

    def get_policy(self, role_arn: str, policy: str) -> dict[str, Any] | None:
        try:
            doc = self._c.get_role_policy(RoleName=role_name(role_arn), PolicyName=policy)["PolicyDocument"]
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                return None
            raise _denied(e, f"cannot read policy {policy} on {role_name(role_arn)}", "iam:GetRolePolicy") from None
        return json.loads(doc) if isinstance(doc, str) else dict(doc)

    def list_policies(self, role_arn: str) -> list[str]:
        out: list[str] = []
        try:
            for page in self._c.get_paginator("list_role_policies").paginate(RoleName=role_name(role_arn)):
                out.extend(page.get("PolicyNames", []))
        except ClientError as e:
            raise _denied(e, f"cannot list policies of {role_name(role_arn)}", "iam:ListRolePolicies") from None
        return out

    def put_policy(self, role_arn: str, policy: str, document: dict[str, Any]) -> None:
        try:
            self._c.put_role_policy(RoleName=role_name(role_arn), PolicyName=policy,
                                    PolicyDocument=json.dumps(document, separators=(",", ":")))
        except ClientError as e:
            raise _denied(e, f"cannot write policy {policy} on {role_name(role_arn)}", "iam:PutRolePolicy") from None

    def delete_policy(self, role_arn: str, policy: str) -> bool:
        try:
            self._c.delete_role_policy(RoleName=role_name(role_arn), PolicyName=policy)
            return True
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                return False
            raise _denied(e, f"cannot delete policy {policy} on {role_name(role_arn)}", "iam:DeleteRolePolicy") from None

    # -- customer-managed policies (the fallback when a role's inline policies are full) ----------------
    MANAGED_PATH = "/secrets-migrate/"

    def managed_arn(self, name: str) -> str:
        return f"arn:{self.aws.partition}:iam::{self.aws.account}:policy{self.MANAGED_PATH}{name}"

    def attached(self, role_arn: str) -> list[str]:
        out: list[str] = []
        try:
            for page in self._c.get_paginator("list_attached_role_policies").paginate(RoleName=role_name(role_arn)):
                out.extend(p["PolicyArn"] for p in page.get("AttachedPolicies", []))
        except ClientError as e:
            raise _denied(e, f"cannot list the managed policies of {role_name(role_arn)}",
                          "iam:ListAttachedRolePolicies") from None
        return out

    def get_managed(self, arn: str) -> dict[str, Any] | None:
        """The default version's document of a customer-managed policy, or None."""
        try:
            ver = self._c.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            doc = self._c.get_policy_version(PolicyArn=arn, VersionId=ver)["PolicyVersion"]["Document"]
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                return None
            raise _denied(e, f"cannot read managed policy {arn}", "iam:GetPolicy and iam:GetPolicyVersion") from None
        if isinstance(doc, str):
            from urllib.parse import unquote

            doc = json.loads(unquote(doc) if doc.startswith("%") else doc)
        return dict(doc)

    def put_managed(self, role_arn: str, arn: str, document: dict[str, Any]) -> None:
        """Create the policy (or a new default version of it, pruning the oldest) and attach it to the role."""
        text = json.dumps(document, separators=(",", ":"))
        try:
            if self.get_managed(arn) is None:
                self._c.create_policy(PolicyName=arn.rsplit("/", 1)[-1], Path=self.MANAGED_PATH, PolicyDocument=text,
                                      Description="secrets-migrate read grants")
            else:
                self._prune(arn, keep=3)
                self._c.create_policy_version(PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
            if arn not in self.attached(role_arn):
                self._c.attach_role_policy(RoleName=role_name(role_arn), PolicyArn=arn)
        except ClientError as e:
            raise _denied(e, f"cannot write managed policy {arn}",
                          "iam:CreatePolicy, iam:CreatePolicyVersion and iam:AttachRolePolicy") from None

    def delete_managed(self, role_arn: str, arn: str) -> None:
        try:
            if arn in self.attached(role_arn):
                self._c.detach_role_policy(RoleName=role_name(role_arn), PolicyArn=arn)
            self._prune(arn, keep=0)
            self._c.delete_policy(PolicyArn=arn)
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                return
            raise _denied(e, f"cannot delete managed policy {arn}",
                          "iam:DetachRolePolicy, iam:DeletePolicyVersion and iam:DeletePolicy") from None

    def _prune(self, arn: str, *, keep: int) -> None:
        """Delete non-default versions, oldest first, until at most ``keep`` remain besides the default
        (IAM keeps 5 versions of a policy at most)."""
        vers = self._c.list_policy_versions(PolicyArn=arn)["Versions"]
        old = sorted((v for v in vers if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        for v in old[: max(0, len(old) - keep)]:
            self._c.delete_policy_version(PolicyArn=arn, VersionId=v["VersionId"])
