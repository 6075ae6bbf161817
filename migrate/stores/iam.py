"""Inline policies on task execution roles."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from migrate.errors import StoreError
from migrate.stores.aws import AwsContext, error_code, safe_aws_message


def role_name(role_arn: str) -> str:
    """``arn:aws:iam::123:role/path/name`` -> ``name`` (a bare name passes through)."""
    return role_arn.rsplit("/", 1)[-1] if ":role/" in role_arn else role_arn


class Iam:
    def __init__(self, aws: AwsContext) -> None:
        self.aws = aws

    @property
    def _c(self) -> Any:
        return self.aws.client("iam")

    def role_exists(self, role_arn: str) -> bool:
        try:
            self._c.get_role(RoleName=role_name(role_arn))
            return True
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                return False
            raise StoreError(f"cannot read role {role_name(role_arn)} ({safe_aws_message(e)})") from None

    def get_policy(self, role_arn: str, policy: str) -> dict[str, Any] | None:
        try:
            doc = self._c.get_role_policy(RoleName=role_name(role_arn), PolicyName=policy)["PolicyDocument"]
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                return None
            raise StoreError(f"cannot read policy {policy} on {role_name(role_arn)} ({safe_aws_message(e)})") from None
        return json.loads(doc) if isinstance(doc, str) else dict(doc)

    def list_policies(self, role_arn: str) -> list[str]:
        out: list[str] = []
        for page in self._c.get_paginator("list_role_policies").paginate(RoleName=role_name(role_arn)):
            out.extend(page.get("PolicyNames", []))
        return out

    def put_policy(self, role_arn: str, policy: str, document: dict[str, Any]) -> None:
        try:
            self._c.put_role_policy(RoleName=role_name(role_arn), PolicyName=policy, PolicyDocument=json.dumps(document))
        except ClientError as e:
            raise StoreError(f"cannot write policy {policy} on {role_name(role_arn)} ({safe_aws_message(e)})",
                             hint="the caller needs iam:PutRolePolicy on the execution role") from None

    def delete_policy(self, role_arn: str, policy: str) -> bool:
        try:
            self._c.delete_role_policy(RoleName=role_name(role_arn), PolicyName=policy)
            return True
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                return False
            raise StoreError(f"cannot delete policy {policy} on {role_name(role_arn)} ({safe_aws_message(e)})") from None
