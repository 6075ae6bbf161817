"""SSM Parameter Store SecureString parameters."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from migrate.errors import StoreError
from migrate.model import SecretValue
from migrate.stores.aws import AwsContext, error_code, safe_aws_message
from migrate.stores.base import StoredEntry, description_for, marks_of


class SsmStore:
    kind = "ssm"

    def __init__(self, aws: AwsContext) -> None:
        self.aws = aws

    @property
    def _c(self) -> Any:
        return self.aws.client("ssm")

    def arn(self, name: str) -> str:
        return f"arn:{self.aws.partition}:ssm:{self.aws.region_name}:{self.aws.account}:parameter/{name.lstrip('/')}"

    def lookup(self, name: str) -> StoredEntry | None:
        try:
            p = self._c.get_parameter(Name=name, WithDecryption=False)["Parameter"]
        except ClientError as e:
            if error_code(e) == "ParameterNotFound":
                return None
            raise StoreError(f"cannot look up parameter {name} ({safe_aws_message(e)})") from None
        arn = p.get("ARN") or self.arn(name)
        try:
            tl = self._c.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList", [])
        except ClientError:
            tl = []  # tags are a second signal only; ownership is proven by the run token (below)
        marks: frozenset[str] | None
        why = ""
        try:
            found = self._c.describe_parameters(
                ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]).get("Parameters", [])
            marks = frozenset(marks_of(found[0].get("Description") if found else None))
        except ClientError as e:
            marks, why = None, f"ssm:DescribeParameters failed ({safe_aws_message(e)})"
        return StoredEntry(name=name, arn=arn, tags={t["Key"]: t["Value"] for t in tl}, version=str(p.get("Version", "")),
                           marks=marks, marks_error=why)

    def read(self, name_or_arn: str) -> SecretValue | None:
        try:
            p = self._c.get_parameter(Name=name_or_arn, WithDecryption=True)["Parameter"]
        except ClientError as e:
            if error_code(e) in ("ParameterNotFound", "ValidationException"):
                return None
            raise StoreError(f"cannot read parameter {name_or_arn} ({safe_aws_message(e)})") from None
        return SecretValue(p["Value"])

    def create(self, name: str, value: SecretValue, *, tags: dict[str, str], kms_key: str | None,
               tier: str | None, token: str) -> StoredEntry:
        kw: dict[str, Any] = {
            "Name": name, "Value": value.reveal(), "Type": "SecureString", "Overwrite": False,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            "Description": description_for(token),
        }
        if kms_key:
            kw["KeyId"] = kms_key
        if tier:
            kw["Tier"] = tier
        try:
            r = self._c.put_parameter(**kw)
        except ClientError as e:
            if error_code(e) == "ParameterAlreadyExists":
                raise StoreError(f"parameter {name} already exists; the tool never overwrites", hint="choose another --prefix or name template") from None
            raise StoreError(f"cannot create parameter {name} ({safe_aws_message(e)})") from None
        finally:
            kw.clear()
        return StoredEntry(name=name, arn=self.arn(name), tags=dict(tags), version=str(r.get("Version", "")),
                           marks=frozenset(marks_of(description_for(token))))

    def delete(self, name: str) -> bool:
        try:
            self._c.delete_parameter(Name=name)
            return True
        except ClientError as e:
            if error_code(e) == "ParameterNotFound":
                return False
            raise StoreError(f"cannot delete parameter {name} ({safe_aws_message(e)})") from None
