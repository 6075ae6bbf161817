"""Secrets Manager secrets (SecretString only: ECS cannot inject SecretBinary)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from migrate.errors import StoreError
from migrate.model import SecretValue
from migrate.stores.aws import AwsContext, error_code, safe_aws_message
from migrate.stores.base import StoredEntry, description_for, marks_of


class SecretsManagerStore:
    kind = "secretsmanager"

    def __init__(self, aws: AwsContext) -> None:
        self.aws = aws

    @property
    def _c(self) -> Any:
        return self.aws.client("secretsmanager")

    def lookup(self, name: str) -> StoredEntry | None:
        try:
            d = self._c.describe_secret(SecretId=name)
        except ClientError as e:
            if error_code(e) == "ResourceNotFoundException":
                return None
            raise StoreError(f"cannot look up secret {name} ({safe_aws_message(e)})") from None
        return StoredEntry(
            name=d["Name"], arn=d["ARN"], tags={t["Key"]: t["Value"] for t in d.get("Tags", [])},
            pending_deletion=bool(d.get("DeletedDate")),
            marks=frozenset({*d.get("VersionIdsToStages", {}), *marks_of(d.get("Description"))}),
        )

    def read(self, name_or_arn: str) -> SecretValue | None:
        try:
            r = self._c.get_secret_value(SecretId=name_or_arn)
        except ClientError as e:
            if error_code(e) in ("ResourceNotFoundException", "InvalidRequestException"):
                return None
            raise StoreError(f"cannot read secret {name_or_arn} ({safe_aws_message(e)})") from None
        if "SecretString" not in r:
            return None
        return SecretValue(r["SecretString"])

    def create(self, name: str, value: SecretValue, *, tags: dict[str, str], kms_key: str | None,
               tier: str | None, token: str) -> StoredEntry:
        kw: dict[str, Any] = {
            "Name": name, "SecretString": value.reveal(), "ClientRequestToken": token,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            "Description": description_for(token),
        }
        if kms_key:
            kw["KmsKeyId"] = kms_key
        try:
            r = self._c.create_secret(**kw)
        except ClientError as e:
            code = error_code(e)
            if code == "ResourceExistsException" or (code == "InvalidRequestException" and "scheduled for deletion" in str(e)):
                raise StoreError(f"secret {name} already exists (or is scheduled for deletion); the tool never overwrites",
                                 hint="choose another --prefix or restore/force-delete the old secret yourself") from None
            raise StoreError(f"cannot create secret {name} ({safe_aws_message(e)})") from None
        finally:
            kw.clear()
        return StoredEntry(name=name, arn=r["ARN"], tags=dict(tags), version=str(r.get("VersionId", "")),
                           marks=frozenset({token, str(r.get("VersionId", ""))} - {""}))

    def delete(self, name: str) -> bool:
        try:
            self._c.describe_secret(SecretId=name)
        except ClientError as e:
            if error_code(e) == "ResourceNotFoundException":
                return False
            raise StoreError(f"cannot look up secret {name} ({safe_aws_message(e)})") from None
        try:
            self._c.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
            return True
        except ClientError as e:
            raise StoreError(f"cannot delete secret {name} ({safe_aws_message(e)})") from None
