"""verify: every reference resolves, holds the original value, is readable by the execution role,
and no plaintext secret is left in the rewritten files.

"Holds the original value" is checked without any copy of the original: the original file is
rebuilt in memory from the values now in the store and must hash to the sha256 recorded at plan time.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from migrate.apply.executor import Runtime, _value_resolver
from migrate.apply.fs import sha256_file
from migrate.errors import MigrateError
from migrate.plan.actions import CreateSecret, PutRolePolicy
from migrate.rewrite.edits import revert_edits
from migrate.sources.base import read_source


@dataclass(frozen=True)
class Check:
    kind: str  #: reference | original-value | iam | rescan | file
    subject: str
    ok: bool
    detail: str = ""

    def to_record(self) -> dict[str, object]:
        return {"kind": self.kind, "subject": self.subject, "ok": self.ok, "detail": self.detail}


def verify_plan(rt: Runtime) -> list[Check]:
    checks: list[Check] = []
    states = rt.journal.states()
    arns: dict[str, str] = {}
    for a in rt.plan.store_actions:
        st = states.get(a.id)
        name = a.name  # type: ignore[attr-defined]
        if st is None or st.phase != "applied":
            checks.append(Check("reference", name, False, f"not applied (state: {st.phase if st else 'pending'})"))
            continue
        arns[a.id] = str(st.receipt.get("arn", ""))
        store = rt.store_for(a)
        value = store.read(arns[a.id] or name)
        if value is None:
            checks.append(Check("reference", name, False, "does not resolve"))
            continue
        if isinstance(a, CreateSecret) and a.is_json:
            try:
                doc = json.loads(value.reveal())
                missing = [v.json_key for v in a.values if v.json_key not in doc]
            except ValueError:
                missing = ["(not JSON)"]
            if missing:
                checks.append(Check("reference", name, False, f"JSON keys missing: {', '.join(map(str, missing))}"))
                continue
        checks.append(Check("reference", name, True, arns[a.id]))

    for a in rt.plan.rewrites:
        st = states.get(a.id)
        if st is None or st.phase != "applied":
            checks.append(Check("file", a.display, False, "rewrite not applied"))
            continue
        cur = sha256_file(Path(a.path))
        if cur != st.receipt.get("after_sha256"):
            checks.append(Check("file", a.display, False, "changed since apply"))
            continue
        if a.creates:
            checks.append(Check("file", a.display, True, "created"))
            continue
        try:
            src = read_source(Path(a.path), a.display, max_bytes=1 << 40)
            orig = revert_edits(src.text, a.edits, ref=rt.arn_of, value=_value_resolver(rt))
            data = (b"\xef\xbb\xbf" if a.bom else b"") + orig.encode("utf-8")
            ok = hashlib.sha256(data).hexdigest() == a.before_sha256
            checks.append(Check("original-value", a.display, ok,
                                "store values rebuild the original file exactly" if ok
                                else "store values do not rebuild the original file (a value differs)"))
        except MigrateError as e:
            checks.append(Check("original-value", a.display, False, str(e)))

    for p in rt.plan.policies:
        checks.extend(_check_policy(rt, p, arns))

    checks.extend(_rescan(rt))
    if any(a.kind.startswith("ecs.") for a in rt.plan.actions):
        from migrate.live.verify import verify_live

        checks.extend(verify_live(rt))
    return checks


def _check_policy(rt: Runtime, p: PutRolePolicy, arns: dict[str, str]) -> list[Check]:
    doc = rt.iam.get_policy(p.role_arn, p.policy_name)
    role = p.role_arn.rsplit("/", 1)[-1]
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


def _rescan(rt: Runtime) -> list[Check]:
    from migrate.detect.engine import classify
    from migrate.sources.registry import SOURCES

    out: list[Check] = []
    defs = {(inp.path, inp.kind, inp.display) for inp in rt.plan.inputs if inp.kind in SOURCES}
    for path, kind, display in sorted(defs):
        try:
            lf = SOURCES[kind].load(read_source(Path(path), display, max_bytes=1 << 40))
        except MigrateError as e:
            out.append(Check("rescan", display, False, str(e)))
            continue
        left = [f for f in classify(lf.entries) if f.is_secret and f.migratable]
        moved = {k for a in rt.plan.rewrites for k in a.entries}
        still = [f for f in left if f.entry.key in moved]
        if still:
            out.append(Check("rescan", display, False,
                             "plaintext left: " + ", ".join(f"{f.entry.unit}.{f.entry.name}" for f in still)))
        elif left:
            out.append(Check("rescan", display, True,
                             f"{len(left)} other plaintext secret(s) not in this plan: "
                             + ", ".join(f"{f.entry.unit}.{f.entry.name}" for f in left[:5])))
        else:
            out.append(Check("rescan", display, True, "no plaintext secret left"))
    return out
