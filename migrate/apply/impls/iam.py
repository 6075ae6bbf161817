"""Inline least-privilege read policies on task execution roles."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

from migrate.apply.checks import Check, Preflight, VerifyContext
from migrate.apply.env import Env
from migrate.apply.journal import ActionState
from migrate.arn import role_name, secret_pattern
from migrate.errors import PreconditionFailed
from migrate.plan.actions import PutRolePolicy
from migrate.plan.actions.iam import PolicyReceipt
from migrate.stores.aws import safe_aws_message


class IamImpl:
    def preflight(self, env: Env, a: PutRolePolicy, st: ActionState, out: Preflight) -> None:
        if not env.iam.role_exists(a.role_arn):
            out.problems.append(f"execution role {a.role_arn} does not exist")
        elif st.phase == "pending" and a.policy_name in env.iam.list_policies(a.role_arn):
            out.problems.append(f"role {a.role_arn} already has an inline policy named {a.policy_name}")

    def apply(self, env: Env, a: PutRolePolicy, st: ActionState) -> None:
        doc = policy_document(env, a)
        env.journal.append("intent", a.id, a.kind)
        env.iam.put_policy(a.role_arn, a.policy_name, doc)
        env.journal.append("applied", a.id, a.kind, receipt=PolicyReceipt(created=True, role_arn=a.role_arn,
                                                                  policy_name=a.policy_name))

    def check_revert(self, env: Env, a: PutRolePolicy, st: ActionState) -> None:
        return None

    def revert(self, env: Env, a: PutRolePolicy, st: ActionState) -> str:
        env.iam.delete_policy(a.role_arn, a.policy_name)
        return ""

    def verify(self, env: Env, actions: Sequence[PutRolePolicy], ctx: VerifyContext) -> list[Check]:
        return [c for p in actions for c in _check_policy(env, p, ctx.arns)]

    def finalize(self, env: Env, actions: Sequence[PutRolePolicy]) -> list[str]:
        return []


def policy_document(env: Env, a: PutRolePolicy) -> dict[str, Any]:
    stmts: list[dict[str, Any]] = []
    if a.ssm_actions:
        stmts.append({"Sid": "ReadParameters", "Effect": "Allow", "Action": ["ssm:GetParameters"],
                      "Resource": sorted(env.arn_of(i) for i in a.ssm_actions)})
    sm = sorted({secret_pattern(env.arn_of(i)) for i in a.sm_actions} | {secret_pattern(x) for x in a.existing_arns})
    if sm:
        stmts.append({"Sid": "ReadSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                      "Resource": sm})
    if a.kms_keys:
        stmts.append({"Sid": "DecryptWithCustomerKey", "Effect": "Allow", "Action": ["kms:Decrypt"],
                      "Resource": sorted(_kms_arn(env, k) for k in a.kms_keys)})
    return {"Version": "2012-10-17", "Statement": stmts}


def _kms_arn(env: Env, key: str) -> str:
    if key.startswith("arn:"):
        return key
    try:
        return str(env.aws.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"])
    except Exception as e:  # noqa: BLE001
        raise PreconditionFailed(f"KMS key {key} cannot be described ({safe_aws_message(e)})") from None


def _check_policy(env: Env, p: PutRolePolicy, arns: dict[str, str]) -> list[Check]:
    doc = env.iam.get_policy(p.role_arn, p.policy_name)
    role = role_name(p.role_arn)
    if doc is None:
        return [Check("iam", role, False, f"inline policy {p.policy_name} is missing")]
    grants: list[tuple[str, str]] = []
    for s in doc.get("Statement", []):
        if s.get("Effect") != "Allow":
            continue
        acts = s.get("Action", [])
        res = s.get("Resource", [])
        for act in [acts] if isinstance(acts, str) else acts:
            for r in [res] if isinstance(res, str) else res:
                grants.append((act, r))

    def covered(action: str, arn: str) -> bool:
        # IAM wildcards: * any run, ? one character -- the same as fnmatch for ARNs (no brackets in them)
        return any(fnmatch.fnmatchcase(action, ga) and fnmatch.fnmatchcase(arn, gr) for ga, gr in grants)

    out: list[Check] = []
    for aid in p.ssm_actions:
        arn = arns.get(aid, "")
        out.append(Check("iam", f"{role} -> {arn}", bool(arn) and covered("ssm:GetParameters", arn)))
    for aid in p.sm_actions:
        arn = arns.get(aid, "")
        out.append(Check("iam", f"{role} -> {arn}", bool(arn) and covered("secretsmanager:GetSecretValue", arn)))
    return out


IAM = IamImpl()
