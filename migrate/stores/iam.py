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
