"""Which account a live run belongs to (issue 15 §3): the record that lets ``verify``, ``rollback`` and
``finalize`` of a multi-account run re-assume that account's role without hand-set credentials.

The record sits in the plan's state folder (``<plan>.state/account.json``): account name, role ARN,
external id and regions. No credentials are ever written: they are obtained again through STS AssumeRole.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from migrate.errors import MigrateError

ACCOUNT_RECORD = "account.json"
STS_SESSION_NAME = "secrets-migrate"


@dataclass(frozen=True)
class AccountRecord:
    name: str
    role_arn: str | None = None
    external_id: str | None = None
    regions: tuple[str, ...] = ()


def _path(plan_path: Path) -> Path:
    from migrate.apply.journal import state_dir_for

    return state_dir_for(plan_path) / ACCOUNT_RECORD


def record_account(plan_path: Path, rec: AccountRecord) -> None:
    from migrate.apply.fs import atomic_write

    p = _path(plan_path)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(p, (json.dumps({**asdict(rec), "regions": list(rec.regions)}, indent=2) + "\n").encode("utf-8"))


def recorded_account(plan_path: Path) -> AccountRecord | None:
    p = _path(plan_path)
    if not p.exists():
        return None
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        return AccountRecord(str(doc["name"]), doc.get("role_arn"), doc.get("external_id"), tuple(doc.get("regions") or ()))
    except (OSError, ValueError, KeyError, TypeError):
        raise MigrateError(f"{p}: unreadable account record", hint="restore it or pass credentials explicitly") from None


def assume(role_arn: str, external_id: str | None, region: str | None, endpoint_url: str | None = None,
           *, label: str = "") -> dict[str, str]:
    """STS AssumeRole (session ``secrets-migrate``) with the caller's own credentials; returns the credentials."""
    from migrate.stores.aws import Aws, safe_aws_message

    kw: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": STS_SESSION_NAME}
    if external_id:
        kw["ExternalId"] = external_id
    try:
        got = Aws(region=region, endpoint_url=endpoint_url).client("sts").assume_role(**kw)
    except Exception as e:  # noqa: BLE001 - botocore errors: report code only
        raise MigrateError(f"account {label or role_arn}: cannot assume its role ({safe_aws_message(e)})") from None
    c = got["Credentials"]
    return {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"], "SessionToken": c["SessionToken"]}


def recorded_context(plan_path: Path, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """An ``AwsContext`` in the recorded account (its role re-assumed), or None when the run has no record or
    its account is the caller's own (no role)."""
    from migrate.stores.aws import Aws

    rec = recorded_account(plan_path)
    if rec is None or not rec.role_arn:
        return None
    region = region or (rec.regions[0] if rec.regions else None)
    creds = assume(rec.role_arn, rec.external_id, region, endpoint_url, label=rec.name)
    return Aws(region=region, credentials=creds, endpoint_url=endpoint_url)
