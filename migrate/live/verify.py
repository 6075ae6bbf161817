"""verify for live plans: each new revision references the store entries (and no longer carries the
values in plain text), each entry holds the value the old revision had (compared in memory: the old
revision stays ACTIVE until finalize), and each updated service runs the new revision."""

from __future__ import annotations

from typing import Any

from migrate.apply.verify import Check
from migrate.errors import MigrateError
from migrate.live.actions import RegisterRevision, UpdateService, _ecs, _short
from migrate.model import LOC_LOG_OPTIONS


def verify_live(rt: Any) -> list[Check]:
    checks: list[Check] = []
    states = rt.journal.states()
    stores = {a.id: a for a in rt.plan.store_actions}
    for a in rt.plan.actions:
        st = states.get(a.id)
        if isinstance(a, RegisterRevision):
            if st is None or st.phase != "applied":
                continue  # rolled back or not applied: file-mode checks already report the store side
            new_arn = str(st.receipt.get("arn", ""))
            try:
                td = _ecs(rt, a.region).describe_task_definition(taskDefinition=new_arn)["taskDefinition"]
            except Exception as e:  # noqa: BLE001
                checks.append(Check("revision", _short(new_arn), False, f"cannot describe ({type(e).__name__})"))
                continue
            checks.extend(_check_revision(rt, a, td, stores, states))
        elif isinstance(a, UpdateService) and st is not None and st.phase == "applied":
            want = str(st.receipt.get("new", ""))
            svc = _ecs(rt, a.region).describe_services(cluster=a.cluster, services=[a.service]).get("services") or []
            cur = str(svc[0].get("taskDefinition", "")) if svc else ""
            ok = _short(cur) == _short(want)
            checks.append(Check("service", f"{_short(a.cluster)}/{a.service}", ok,
                                f"runs {_short(cur)}" + ("" if ok else f", expected {_short(want)}")))
    return checks


def _check_revision(rt: Any, a: RegisterRevision, td: dict[str, Any], stores: dict[str, Any],
                    states: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    conts = td.get("containerDefinitions", [])
    for m in a.moves:
        c = conts[int(m["container"])] if int(m["container"]) < len(conts) else {}
        name = str(m["name"])
        subject = f"{_short(td.get('taskDefinitionArn', ''))} {c.get('name', '?')}.{name}"
        if m["location"] == LOC_LOG_OPTIONS:
            lc = c.get("logConfiguration") or {}
            plain = name in (lc.get("options") or {})
            refs = {s["name"]: s["valueFrom"] for s in lc.get("secretOptions") or []}
        else:
            plain = any(e.get("name") == name for e in c.get("environment") or [])
            refs = {s["name"]: s["valueFrom"] for s in c.get("secrets") or []}
        sa = stores.get(m["store_id"])
        arn = str(states[sa.id].receipt.get("arn", "")) if sa is not None and sa.id in states else ""
        want = arn + (f":{m['json_key']}::" if m.get("json_key") else "")
        if plain or refs.get(name) != want:
            out.append(Check("revision", subject, False, "still plaintext" if plain else "reference missing or wrong"))
            continue
        try:
            vs = next(v for v in sa.values if v.name == name)
            held = rt.store_for(sa).read(arn)
            original = rt.value_of(vs)
            if held is not None and vs.json_key:
                import json

                held_text = json.loads(held.reveal()).get(vs.json_key)
                same = held_text == original.reveal()
            else:
                same = held is not None and held == original
        except (MigrateError, StopIteration, ValueError, AttributeError) as e:
            out.append(Check("original-value", subject, False, f"cannot compare ({type(e).__name__})"))
            continue
        out.append(Check("original-value", subject, same,
                         "store holds the old revision's value" if same else "store value differs from the old revision"))
    return out
