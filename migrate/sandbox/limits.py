"""AWS limits that moto does not enforce, as pure checks (issue 15 §2).

Each check returns ``None`` (within the limit) or an :class:`AwsError` with the code, message and
HTTP status AWS answers with. No moto, no boto3: the sandbox emulator enforces them on requests and the
planner can reuse them on what it is about to create. Messages never carry a value, only names and sizes
of names/documents that are not secret (policy documents, task definitions are not plaintext holders here:
a size is reported only for a task definition, which AWS itself reports).

Sources: ``/work/shared/reference/ecs-secrets-facts.md`` §1.4, §3, §4, §9 and the botocore models.
Wordings marked UNCONFIRMED are the closest AWS form found, not a captured response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AwsError:
    code: str
    message: str
    status: int = 400

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Quotas:
    """AWS defaults; the sandbox can lower them (a test cannot create 10,000 parameters cheaply)."""

    role_inline_policy_chars: int = 10_240
    managed_policy_chars: int = 6_144
    managed_policies_per_role: int = 10
    task_definition_bytes: int = 65_536
    ssm_standard_value_chars: int = 4_096
    ssm_advanced_value_chars: int = 8_192
    ssm_standard_parameters: int = 10_000
    ssm_advanced_parameters: int = 100_000
    ssm_hierarchy_levels: int = 15
    ssm_name_chars: int = 1_011
    secret_value_bytes: int = 65_536
    secret_name_chars: int = 512


DEFAULT_QUOTAS = Quotas()

# --- IAM -------------------------------------------------------------------------------------------


def policy_chars(document: str) -> int:
    """IAM counts policy size without whitespace."""
    return sum(1 for c in document if not c.isspace())


def check_role_inline_policies(role: str, existing: Mapping[str, str], name: str, document: str,
                               q: Quotas = DEFAULT_QUOTAS) -> AwsError | None:
    """PutRolePolicy: all inline policies of a role together (``name`` replaces one of the same name)."""
    total = policy_chars(document) + sum(policy_chars(d) for n, d in existing.items() if n != name)
    if total > q.role_inline_policy_chars:
        return AwsError("LimitExceeded", f"Maximum policy size of {q.role_inline_policy_chars} bytes exceeded for role {role}", 409)
    return None


def check_managed_policy_size(document: str, q: Quotas = DEFAULT_QUOTAS) -> AwsError | None:
    """CreatePolicy / CreatePolicyVersion."""
    if policy_chars(document) > q.managed_policy_chars:
        return AwsError("LimitExceeded", f"Cannot exceed quota for PolicySize: {q.managed_policy_chars}", 409)
    return None


def check_attach_role_policy(attached: Collection[str], policy_arn: str, q: Quotas = DEFAULT_QUOTAS) -> AwsError | None:
    """AttachRolePolicy: re-attaching an attached policy is a no-op in AWS."""
    if policy_arn not in attached and len(attached) >= q.managed_policies_per_role:
        return AwsError("LimitExceeded", f"Cannot exceed quota for PoliciesPerRole: {q.managed_policies_per_role}", 409)
    return None


# --- ECS -------------------------------------------------------------------------------------------


def task_definition_bytes(task_definition: Mapping[str, Any]) -> int:
    return len(json.dumps(task_definition, separators=(",", ":")).encode())


def check_task_definition_size(task_definition: Mapping[str, Any], q: Quotas = DEFAULT_QUOTAS) -> AwsError | None:
    """RegisterTaskDefinition: 64 KiB of JSON. Wording UNCONFIRMED (ClientException is certain)."""
    size = task_definition_bytes(task_definition)
    if size > q.task_definition_bytes:
        return AwsError("ClientException", f"Actual task definition size ({size} bytes) exceeds the limit of "
                                           f"{q.task_definition_bytes} bytes.")
    return None


_SSM_SELECTOR = re.compile(r"^(?!arn:)[^:]+:[^:]+$")


def _secret_refs(container: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    yield from container.get("secrets") or []
    yield from (container.get("logConfiguration") or {}).get("secretOptions") or []


def check_task_definition_rules(task_definition: Mapping[str, Any]) -> AwsError | None:
    """The registration rules of facts §1.2/§1.4 that moto skips (all ``ClientException``)."""
    role = task_definition.get("executionRoleArn")
    for c in task_definition.get("containerDefinitions") or []:
        refs = list(_secret_refs(c))
        if refs and not role:
            return AwsError("ClientException", "When you are specifying container secrets, you must also specify a "
                                               "value for 'executionRoleArn'.")
        if (c.get("repositoryCredentials") or {}).get("credentialsParameter") and not role:
            return AwsError("ClientException", "Private repository authentication requires that the task definition "
                                               "specify a value for executionRoleArn.")
        names = [str(s.get("name", "")) for s in c.get("secrets") or []]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            return AwsError("ClientException", f"Duplicate secret names found: {', '.join(dup)}. Each secret name must be unique.")
        env = {str(e.get("name", "")) for e in c.get("environment") or []}
        clash = next((n for n in names if n in env), None)
        if clash:
            return AwsError("ClientException", "The secret name must be unique and not shared with any new or existing "
                                               f"environment variables set on the container, such as '{clash}'.")
        for s in c.get("secrets") or []:
            if _SSM_SELECTOR.match(str(s.get("valueFrom", ""))):
                return AwsError("ClientException", f"The Systems Manager parameter name specified for secret {s.get('name')} "
                                                   "is invalid. The parameter name can be up to 2048 characters and include "
                                                   "the following letters and symbols: a-zA-Z0-9_.-,")
    return None


# --- SSM Parameter Store -----------------------------------------------------------------------------

_SSM_NAME = re.compile(r"^[a-zA-Z0-9_.\-/]+$")
SSM_NAME_MESSAGE = ('Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it '
                    "can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, "
                    "numbers and the following 3 symbols .-_")


def check_ssm_name(name: str, q: Quotas = DEFAULT_QUOTAS) -> AwsError | None:
    """PutParameter takes names only (facts §4); characters, reserved prefixes, hierarchy, length."""
    bare = name.lstrip("/")
    if not _SSM_NAME.match(name) or bare.lower().startswith(("aws", "ssm")) or "//" in name:
        return AwsError("ValidationException", SSM_NAME_MESSAGE)
    if "/" in bare and not name.startswith("/"):
        return AwsError("ValidationException", "Parameter name must be a fully qualified name.")
    if len(name) > q.ssm_name_chars:
        return AwsError("ValidationException", "Parameter name must be a fully qualified name.")
    if bare.count("/") + 1 > q.ssm_hierarchy_levels:
        return AwsError("HierarchyLevelLimitExceededException",
                        f"Parameter name hierarchy level exceeds the limit of {q.ssm_hierarchy_levels}.")
    return None


def check_ssm_value(value: str, tier: str | None, q: Quotas = DEFAULT_QUOTAS) -> AwsError | None:
    """Standard 4 KB, Advanced 8 KB; Intelligent-Tiering picks Advanced when the value needs it."""
    n = len(value)
    if (tier or "Standard") == "Standard" and n > q.ssm_standard_value_chars:
        return AwsError("ValidationException", f"Standard tier parameters support a maximum parameter value of "
                                               f"{q.ssm_standard_value_chars} characters. To create a larger parameter "
                                               "value, upgrade the parameter to use the advanced-parameter tier. For more "
                                               "information, see https://docs.aws.amazon.com/systems-manager/latest/"
                                               "userguide/parameter-store-advanced-parameters.html")
    if n > q.ssm_advanced_value_chars:
        return AwsError("ValidationException", f"Advanced tier parameters support a maximum parameter value of "
                                               f"{q.ssm_advanced_value_chars} characters.")
    return None


def effective_tier(value: str, tier: str | None, q: Quotas = DEFAULT_QUOTAS) -> str:
    if tier == "Intelligent-Tiering":
        return "Advanced" if len(value) > q.ssm_standard_value_chars else "Standard"
    return tier or "Standard"


def check_ssm_parameter_count(count_in_tier: int, tier: str, q: Quotas = DEFAULT_QUOTAS) -> AwsError | None:
    """A new parameter in a region that already holds ``count_in_tier`` parameters of ``tier``."""
    limit = q.ssm_advanced_parameters if tier == "Advanced" else q.ssm_standard_parameters
    if count_in_tier >= limit:
        return AwsError("ParameterLimitExceeded", "You have exceeded the number of parameters for this AWS account. "
                                                  "Delete unnecessary parameters and try again.")
    return None


# --- Secrets Manager -----------------------------------------------------------------------------------

_SM_NAME = re.compile(r"^[a-zA-Z0-9/_+=.@\-]+$")


def check_secret_name(name: str, q: Quotas = DEFAULT_QUOTAS) -> AwsError | None:
    if len(name) > q.secret_name_chars:
        return AwsError("ValidationException", "1 validation error detected: Value at 'name' failed to satisfy "
                                               f"constraint: Member must have length less than or equal to {q.secret_name_chars}")
    if not _SM_NAME.match(name):
        return AwsError("ValidationException", "Invalid name. Must be a valid name containing alphanumeric characters, "
                                               "or any of the following: -/_+=.@!")
    return None


def check_secret_value(secret_string: str | None, secret_binary_b64: str | None = None,
                       q: Quotas = DEFAULT_QUOTAS) -> AwsError | None:
    """SecretString / SecretBinary: 1-65,536 bytes (binary measured decoded: base64 is 4/3 of it)."""
    if secret_string is not None and len(secret_string.encode()) > q.secret_value_bytes:
        field = "secretString"
    elif (secret_binary_b64 is not None
          and len(secret_binary_b64) * 3 // 4 - secret_binary_b64[-2:].count("=") > q.secret_value_bytes):
        field = "secretBinary"
    else:
        return None
    return AwsError("ValidationException", f"1 validation error detected: Value at '{field}' failed to satisfy "
                                           f"constraint: Member must have length less than or equal to {q.secret_value_bytes}")
