"""The tool-owned read policy of an execution role: merge, compress and size. Pure (no AWS calls).

Design (issue 13 part 5, issue 12 IAM ownership):

* A role is its full ARN. One tool-owned inline policy per role (``TOOL_POLICY``), kept across plans.
* Every plan writes its grants as statements whose ``Sid`` starts with ``SecretsMigrate<plan id>``
  (``plan_sid``): one statement per action family (``Ssm``, ``Sm``, ``Kms``). A plan's statements are the
  union of the grants of its applied IAM actions on that role (their receipts record them), so one plan
  with 1,000 services sharing a role writes three statements, not 1,000 policies.
* Merging (``merge``) replaces only the statements of one plan and keeps every other plan's statements
  as they are: a rollback of plan A removes A's statements and leaves B's. A policy holding any
  statement without the ``SecretsMigrate`` prefix is not the tool's (``foreign_statements``): never written.
* Compression (``compress``): a resource whose entry name lies under one of the action's *scopes* (a
  name directory such as ``/prefix/app/``, chosen at plan time only when every entry of the plan under
  that directory goes to this role, and never above the tool's ``--prefix``) is granted as ``dir/*``.
  Level 1 uses the deepest such directory (``parameter/prefix/app/*``), level 2 the widest
  (``parameter/prefix/*``); the narrowest level that fits the size budget is used. When no level fits
  the role's inline budget, the plan's statements go to a customer-managed policy of its own
  (``managed_name``, 6,144 characters; ``migrate.apply.impls.iam``).
* Size (``policy_size``): AWS counts policy characters without whitespace: 10,240 for all inline
  policies of a role together, 6,144 per managed policy, 10 managed policies per role.
* Ownership: ``digest`` is a sha256 over the canonical document. Policy documents hold ARNs and
  patterns only, never values, so digests and before-images may be journaled.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from migrate.arn import Arn, secret_pattern
from migrate.plan.actions import Action, PutParameter, PutRolePolicy
from migrate.sandbox.limits import DEFAULT_QUOTAS, policy_chars

TOOL_POLICY = "secrets-migrate"  #: the inline policy name new plans write (old plans: secrets-migrate-<plan id>)
SID_PREFIX = "SecretsMigrate"
#: characters of inline policy per role, all policies together, whitespace excluded (AWS defaults, shared
#: with the sandbox emulator that enforces them: ``migrate.sandbox.limits``)
INLINE_TOTAL_MAX = DEFAULT_QUOTAS.role_inline_policy_chars  # 10,240
MANAGED_MAX = DEFAULT_QUOTAS.managed_policy_chars  #: characters per customer-managed policy: 6,144
MANAGED_PER_ROLE = DEFAULT_QUOTAS.managed_policies_per_role  # 10
VERSION = "2012-10-17"

#: grant family -> (IAM action, Sid suffix)
FAMILIES: dict[str, tuple[str, str]] = {
    "ssm": ("ssm:GetParameters", "Ssm"),
    "sm": ("secretsmanager:GetSecretValue", "Sm"),
    "kms": ("kms:Decrypt", "Kms"),
}

Doc = dict[str, Any]
Grants = dict[str, list[str]]  #: family -> sorted resources (ARNs or patterns)


def is_tool_policy_name(name: str) -> bool:
    return name == TOOL_POLICY or name.startswith(TOOL_POLICY + "-")


def managed_name(plan_id: str, role_arn: str) -> str:
    """The customer-managed policy one plan uses for one role when the role's inline policies are full."""
    return f"{TOOL_POLICY}-{re.sub(r'[^A-Za-z0-9]', '', plan_id)}-{hashlib.sha256(role_arn.encode()).hexdigest()[:8]}"


def plan_sid(plan_id: str) -> str:
    """The Sid prefix of one plan's statements (Sids are alphanumeric)."""
    return SID_PREFIX + re.sub(r"[^A-Za-z0-9]", "", plan_id)


def statements(doc: Doc | None) -> list[dict[str, Any]]:
    if not doc:
        return []
    st = doc.get("Statement", [])
    return [st] if isinstance(st, dict) else [s for s in st if isinstance(s, dict)]


def foreign_statements(doc: Doc | None) -> list[dict[str, Any]]:
    """Statements not written by the tool (no ``SecretsMigrate`` Sid): their policy is not ours."""
    return [s for s in statements(doc) if not str(s.get("Sid", "")).startswith(SID_PREFIX)]


def own_statements(doc: Doc | None, plan_id: str) -> list[dict[str, Any]]:
    sid = plan_sid(plan_id)
    return [s for s in statements(doc) if _owner(s) == sid]


def _owner(s: Mapping[str, Any]) -> str:
    sid = str(s.get("Sid", ""))
    for _, suffix in FAMILIES.values():
        if sid.endswith(suffix) and sid.startswith(SID_PREFIX):
            return sid[: -len(suffix)]
    return sid


def plan_statements(plan_id: str, grants: Mapping[str, Iterable[str]]) -> list[dict[str, Any]]:
    sid = plan_sid(plan_id)
    out: list[dict[str, Any]] = []
    for fam, (action, suffix) in FAMILIES.items():
        res = sorted(set(grants.get(fam, ())))
        if res:
            out.append({"Sid": sid + suffix, "Effect": "Allow", "Action": action,
                        "Resource": res[0] if len(res) == 1 else res})
    return out


def merge(current: Doc | None, plan_id: str, grants: Mapping[str, Iterable[str]]) -> Doc:
    """``current`` with this plan's statements replaced by ``grants`` (other statements kept, in order)."""
    sid = plan_sid(plan_id)
    keep = [s for s in statements(current) if _owner(s) != sid]
    return {"Version": VERSION, "Statement": keep + plan_statements(plan_id, grants)}


def union(grant_sets: Iterable[Mapping[str, Iterable[str]]]) -> Grants:
    out: dict[str, set[str]] = {f: set() for f in FAMILIES}
    for g in grant_sets:
        for fam in FAMILIES:
            out[fam].update(g.get(fam, ()))
    return {f: sorted(v) for f, v in out.items() if v}


def policy_size(doc: Doc | None) -> int:
    """Characters as AWS counts them: the JSON text without whitespace (ARNs hold none)."""
    if not doc:
        return 0
    return policy_chars(json.dumps(doc, separators=(",", ":")))


def digest(doc: Doc | None) -> str:
    if doc is None:
        return ""
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------
# compression
# ---------------------------------------------------------------------------------------------------


def resource_path(arn: str) -> tuple[str, str]:
    """(head, entry path): ``arn:..:parameter/a/b`` -> (``arn:..:parameter``, ``/a/b``);
    ``arn:..:secret:a/b-??????`` -> (``arn:..:secret:``, ``a/b-??????``); anything else -> (arn, '')."""
    for marker, keep in ((":parameter/", ":parameter"), (":secret:", ":secret:")):
        i = arn.find(marker)
        if i >= 0:
            head = arn[: i + len(keep)]
            return head, arn[len(head):]
    return arn, ""


def compress(resources: Iterable[str], scopes: Iterable[str], level: int) -> list[str]:
    """Resources -> patterns. Level 0: as given; 1: deepest scope directory; 2: widest scope directory.

    A directory pattern replaces a resource only when at least two resources share it (one entry alone
    stays exact: same size, narrower)."""
    res = sorted(set(resources))
    dirs = {d if d.endswith("/") else d + "/" for d in scopes if d.strip("/")}
    if level <= 0 or not dirs:
        return res
    chosen: dict[str, str] = {}
    for r in res:
        head, path = resource_path(r)
        # the path's own directories, shortest first (SSM paths and dirs start with /, SM ones do not)
        cuts = [i + 1 for i, ch in enumerate(path) if ch == "/"]
        fits = [path[:c] for c in cuts if path[:c] in dirs]
        if fits:
            chosen[r] = head + (fits[-1] if level == 1 else fits[0]) + "*"
    counts: dict[str, int] = {}
    for p in chosen.values():
        counts[p] = counts.get(p, 0) + 1
    return sorted({chosen[r] if r in chosen and counts[chosen[r]] > 1 else r for r in res})


def compress_grants(grants: Mapping[str, Sequence[str]], scopes: Iterable[str], level: int) -> Grants:
    sc = list(scopes)
    return {f: (compress(v, sc, level) if f in ("ssm", "sm") else sorted(set(v))) for f, v in grants.items() if v}


def fit(current: Doc | None, plan_id: str, grants: Mapping[str, Sequence[str]], scopes: Iterable[str],
        budget: int) -> tuple[Doc, int]:
    """The merged document at the narrowest compression level whose size fits ``budget``.

    Returns (document, level); level is -1 when even the widest level is over budget (the widest
    document is returned so the caller can report its size)."""
    sc = list(scopes)
    doc: Doc = {}
    for level in (1, 2):
        doc = merge(current, plan_id, compress_grants(grants, sc, level))
        if policy_size(doc) <= budget:
            return doc, level
    return doc, -1


def scopes_for(granted: Iterable[str], all_names: Iterable[str], floor: str) -> tuple[str, ...]:
    """Name directories safe to grant as ``dir/*`` for one role: every name of the plan under the
    directory is in ``granted``, and the directory is ``floor`` (the tool's prefix) or below it.

    Names are SSM (``/a/b/c``) or Secrets Manager (``a/b/c``) names; returned directories end in ``/``."""
    g = set(granted)
    others = [n for n in set(all_names) if n not in g]
    fl = floor.strip("/")
    out: set[str] = set()
    for name in g:
        parts = name.split("/")
        lead = "/" if name.startswith("/") else ""
        segs = [p for p in parts if p]
        for depth in range(1, len(segs)):
            d = lead + "/".join(segs[:depth]) + "/"
            rel = d.strip("/")
            if fl and not (rel == fl or rel.startswith(fl + "/")):
                continue  # above or beside the tool's prefix
            if any(o.startswith(d) for o in others):
                continue
            out.add(d)
    return tuple(sorted(out))


def size_line(role: str, size: int, budget: int = INLINE_TOTAL_MAX) -> str:
    pct = 100 * size // budget if budget else 100
    return f"{role}: policy {size:,} of {budget:,} characters ({pct}%)"


# ---------------------------------------------------------------------------------------------------
# plan-time estimate (no AWS): what ``show`` prints and what the planners warn about
# ---------------------------------------------------------------------------------------------------

PLACEHOLDER_ACCOUNT = "123456789012"  #: same length as every account id


def planned_arn(store: str, name: str, *, region: str, account: str, partition: str = "aws") -> str:
    """The ARN (SSM) or grant pattern (Secrets Manager, ``NAME-??????``) of an entry not created yet."""
    if store == "ssm":
        return f"arn:{partition}:ssm:{region}:{account}:parameter/{name.lstrip('/')}"
    return f"arn:{partition}:secretsmanager:{region}:{account}:secret:{name}-??????"


@dataclass(frozen=True)
class RoleSize:
    role_arn: str
    policy_name: str
    size: int  #: characters of this plan's policy alone, at ``level``
    level: int  #: -1: over the limit even at the widest pattern

    def line(self) -> str:
        over = "  OVER THE LIMIT" if self.level < 0 else ""
        return "IAM " + size_line(f"{self.role_arn} ({self.policy_name})", self.size) + over


def estimate_sizes(actions: Sequence[Action], *, plan_id: str, region: str | None) -> list[RoleSize]:
    """Each role's policy as this plan alone would write it (other plans and policies not counted)."""
    by_id = {a.id: a for a in actions}
    reg = region or "us-east-1"
    groups: dict[tuple[str, str], tuple[list[Grants], set[str]]] = {}
    for a in actions:
        if not isinstance(a, PutRolePolicy):
            continue
        acct = (Arn.parse(a.role_arn) or Arn("aws", "iam", "", PLACEHOLDER_ACCOUNT, "")).account or PLACEHOLDER_ACCOUNT
        names = [(i, getattr(by_id.get(i), "name", i)) for i in (*a.ssm_actions, *a.sm_actions)]
        ssm = [planned_arn("ssm", n, region=reg, account=acct) for i, n in names if isinstance(by_id.get(i), PutParameter)]
        sm = [planned_arn("secretsmanager", n, region=reg, account=acct) for i, n in names
              if not isinstance(by_id.get(i), PutParameter)] + [secret_pattern(x) for x in a.existing_arns]
        kms = [k if k.startswith("arn:") else f"arn:aws:kms:{reg}:{acct}:key/{'0' * 36}" for k in a.kms_keys]
        g, sc = groups.setdefault((a.role_arn, a.policy_name), ([], set()))
        g.append({"ssm": ssm, "sm": sm, "kms": kms})
        sc.update(a.scopes)
    out: list[RoleSize] = []
    for (role, policy), (g, sc) in sorted(groups.items()):
        doc, level = fit(None, plan_id, union(g), sc, INLINE_TOTAL_MAX)
        out.append(RoleSize(role, policy, policy_size(doc), level))
    return out


def size_warnings(actions: Sequence[Action], *, plan_id: str, region: str | None) -> list[str]:
    return [f"{r.role_arn}: its read grants need ~{r.size:,} characters even as the widest patterns; IAM allows "
            f"{INLINE_TOTAL_MAX:,} of inline policy per role, so apply will fail: use --prefix (the grants then "
            "compress to one pattern) or several execution roles"
            for r in estimate_sizes(actions, plan_id=plan_id, region=region) if r.level < 0]
