"""Audit / change-review report of a plan and its run, as self-contained HTML and as Markdown.

``build(plan, records, verify)`` gathers plain data (pure); ``to_html`` and ``to_markdown`` render it.
The HTML has inline CSS and an inline SVG chart, no script and no external asset: it works offline
and from an archive. Sources hold no value: the plan holds names and edit templates only (diffs are rendered from them), the journal
names and ARNs only, verify output names and check results only.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from migrate import __version__

STORE_LABEL = {"ssm": "SSM Parameter Store", "secretsmanager": "Secrets Manager", "existing": "existing secret",
               "refused": "not migrated", "blocked": "blocked"}
STORE_COLOR = {"ssm": "#2f7ed8", "secretsmanager": "#8e44ad", "existing": "#7f8c8d", "refused": "#c0392b",
               "blocked": "#e67e22"}


@dataclass
class ReportData:
    plan_id: str
    created: str
    tool_version: str
    settings: dict[str, Any]
    state: str
    digest: str = ""  #: the plan's canonical digest: what `show` prints and `apply --digest` checks
    findings: list[dict[str, str]] = field(default_factory=list)  #: unit, name, file, store, entry, phase
    entries: list[dict[str, str]] = field(default_factory=list)  #: name, store, arn, kms_key, phase, origin
    grants: list[dict[str, str]] = field(default_factory=list)
    files: list[dict[str, str]] = field(default_factory=list)  #: display, what, phase
    diffs: dict[str, str] = field(default_factory=dict)
    timeline: list[dict[str, str]] = field(default_factory=list)
    verify: dict[str, Any] | None = None
    rotate: list[str] = field(default_factory=list)
    cost: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    chart: dict[str, Counter[str]] = field(default_factory=dict)  #: unit -> store -> count
    proofs: list[dict[str, str]] = field(default_factory=list)  #: live plans: service, state, reason


def run_state(plan: Any, records: list[dict[str, Any]], finalized: bool) -> str:
    if finalized:
        return "finalized (rollback no longer possible)"
    phases: dict[str, str] = {}
    for r in records:
        if r.get("action_id"):
            phases[r["action_id"]] = r["phase"]
    if not phases:
        return "not applied"
    ids = [a.id for a in plan.actions]
    if all(phases.get(i) == "applied" for i in ids):
        return "applied (can be rolled back)"
    if all(phases.get(i, "reverted") == "reverted" for i in ids):
        return "rolled back"
    if any(p in ("failed", "intent", "reverting") for p in phases.values()):
        return "incomplete (a run failed or was interrupted: resume with apply or run rollback)"
    return "partially applied"


def build(plan: Any, records: list[dict[str, Any]], *, finalized: bool = False,
          verify: dict[str, Any] | None = None) -> ReportData:
    from migrate.plan.actions import CreateSecret, PutParameter, PutRolePolicy, RewriteFile
    from migrate.plan.render import diffs as render_diffs  # from the actions apply executes, nothing stored

    phases: dict[str, str] = {}
    receipts: dict[str, dict[str, Any]] = {}
    for r in records:
        aid = r.get("action_id")
        if aid:
            phases[aid] = r["phase"]
            if r["phase"] == "applied":
                receipts[aid] = dict(r.get("receipt") or {})
    d = ReportData(plan_id=plan.id, created=plan.created, tool_version=plan.tool_version,
                   settings={k: v for k, v in vars(plan.settings).items() if v not in (None, "")},
                   state=run_state(plan, records, finalized), diffs=render_diffs(plan), verify=verify,
                   cost=dict(plan.cost), warnings=list(plan.warnings))
    chart: dict[str, Counter[str]] = {}
    for a in plan.actions:
        phase = phases.get(a.id, "pending")
        if isinstance(a, (PutParameter, CreateSecret)):
            store = "ssm" if isinstance(a, PutParameter) else "secretsmanager"
            rc = receipts.get(a.id, {})
            d.entries.append({"name": a.name, "store": STORE_LABEL[store], "arn": str(rc.get("arn", "")),
                              "kms_key": a.kms_key or "AWS managed key",
                              "tier": getattr(a, "tier", "") or "",
                              "origin": "adopted (existed with the same value)" if rc.get("adopted") else
                              ("created" if rc.get("created") else ""),
                              "phase": phase})
            for v in a.values:
                d.findings.append({"unit": v.unit, "name": v.name, "file": v.display or v.definition_display,
                                   "store": STORE_LABEL[store], "entry": a.name + (f" : {v.json_key}" if v.json_key else ""),
                                   "phase": phase})
                chart.setdefault(v.unit or "(none)", Counter())[store] += 1
                d.rotate.append(f"{v.unit}.{v.name} ({a.name})")
        elif isinstance(a, PutRolePolicy):
            d.grants.append({"role": a.role_arn, "policy": a.policy_name, "describe": a.describe(), "phase": phase})
        elif isinstance(a, RewriteFile):
            d.files.append({"file": a.display, "what": a.describe(), "phase": phase})
    for r in plan.refused:
        d.findings.append({"unit": str(r.get("unit", "")), "name": str(r.get("name", "")),
                           "file": f"{r.get('path', '')}:{r.get('line', '')}", "store": STORE_LABEL["refused"],
                           "entry": f"not migrated: {r.get('reason', '')}", "phase": "-"})
        chart.setdefault(str(r.get("unit", "")) or "(none)", Counter())["refused"] += 1
    for b in getattr(plan, "blocked", ()):  # left as they are: reason and fix
        d.findings.append({"unit": b.unit, "name": b.name or "(whole file)", "file": f"{b.path}:{b.line or ''}",
                           "store": STORE_LABEL["blocked"], "phase": "-",
                           "entry": f"blocked ({b.kind}): {b.reason}" + (f"; fix: {b.fix}" if b.fix else "")})
        chart.setdefault(b.unit or "(none)", Counter())["blocked"] += 1
    d.chart = chart
    d.rotate = sorted(set(d.rotate))
    d.proofs = [{"service": p.key, "state": p.state, "reason": p.reason} for p in getattr(plan, "proofs", ())]
    by_id = plan.by_id()
    for r in records:
        a = by_id.get(r.get("action_id", ""))
        what = a.describe() if a is not None else r.get("phase", "")
        detail = str(r.get("error", "") or (r.get("receipt") or {}).get("note", ""))
        d.timeline.append({"seq": str(r.get("seq", "")), "ts": str(r.get("ts", "")), "phase": str(r.get("phase", "")),
                           "action": f"{r.get('action_id', '')} {what}".strip(), "detail": detail})
    return d


# -- chart ----------------------------------------------------------------------------------------

def svg_chart(chart: dict[str, Counter[str]]) -> str:
    """Horizontal stacked bars: findings per service (unit), coloured by store. Inline SVG."""
    units = sorted(chart)
    stores = [s for s in STORE_LABEL if any(chart[u][s] for u in units)]
    if not units:
        return '<p class="muted">No findings.</p>'
    bar_h, gap, label_w, width = 22, 8, 180, 640
    top = 10
    legend_h = 24
    height = top + len(units) * (bar_h + gap) + legend_h + 10
    most = max(sum(c.values()) for c in chart.values()) or 1
    scale = (width - label_w - 50) / most
    e = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="Findings by service and store">',
             '<title>Findings by service and store</title>']
    for i, u in enumerate(units):
        y = top + i * (bar_h + gap)
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" class="lbl">{e(u)}</text>')
        x = float(label_w)
        for s in stores:
            n = chart[u][s]
            if not n:
                continue
            w = n * scale
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{STORE_COLOR[s]}">'
                         f'<title>{e(u)}: {n} in {e(STORE_LABEL[s])}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + bar_h * 0.7:.1f}" class="lbl">{sum(chart[u].values())}</text>')
    ly = top + len(units) * (bar_h + gap) + 6
    lx = float(label_w)
    for s in stores:
        parts.append(f'<rect x="{lx:.1f}" y="{ly}" width="12" height="12" fill="{STORE_COLOR[s]}"/>')
        parts.append(f'<text x="{lx + 16:.1f}" y="{ly + 11}" class="lbl">{e(STORE_LABEL[s])}</text>')
        lx += 30 + 7.5 * len(STORE_LABEL[s])
    parts.append("</svg>")
    return "".join(parts)


# -- HTML -----------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f6f8}td.mono,code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
td.mono{word-break:break-all}pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.6em;overflow-x:auto}
.add{color:#1a7f37;background:#e6ffec;display:block}.del{color:#b42318;background:#ffebe9;display:block}.hunk{color:#6f42c1;display:block}
.ok{color:#1a7f37;font-weight:600}.fail{color:#b42318;font-weight:600}.muted{color:#777}
.state{display:inline-block;padding:2px 10px;border-radius:10px;background:#eef;border:1px solid #ccd}
.lbl{font:12px system-ui,sans-serif;fill:#333}dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px}dt{font-weight:600}
"""


def _table(rows: list[dict[str, str]], cols: list[tuple[str, str]], mono: set[str] | None = None) -> str:
    if not rows:
        return '<p class="muted">None.</p>'
    e = html.escape
    mono = mono or set()
    head = "".join(f"<th>{e(label)}</th>" for _k, label in cols)
    body = "".join("<tr>" + "".join(f'<td{" class=mono" if k in mono else ""}>{e(str(r.get(k, "")))}</td>'
                                    for k, _l in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _diff_html(diff: str) -> str:
    out = []
    for ln in diff.splitlines():
        cls = ("add" if ln.startswith("+") and not ln.startswith("+++") else
               "del" if ln.startswith("-") and not ln.startswith("---") else
               "hunk" if ln.startswith("@@") else "")
        t = html.escape(ln)
        out.append(f'<span class="{cls}">{t}</span>' if cls else t + "\n")
    return "<pre>" + "".join(out) + "</pre>"


def to_html(d: ReportData) -> str:
    e = html.escape
    s: list[str] = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
                    '<meta name="viewport" content="width=device-width, initial-scale=1">',
                    f"<title>secrets-migrate report {e(d.plan_id)}</title><style>{_CSS}</style></head><body>",
                    f"<h1>secrets-migrate report: plan {e(d.plan_id)}</h1>",
                    f'<p>Run state: <span class="state" id="state">{e(d.state)}</span></p>',
                    *([f'<p>Plan digest: <code id="digest">{e(d.digest)}</code> <span class="muted">(as printed by '
                       f"<code>secrets-migrate show</code>; <code>apply --digest</code> applies only this plan)</span></p>"]
                      if d.digest else []),
                    "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in
                                     [("plan created", d.created), ("plan made with", f"secrets-migrate {d.tool_version}"),
                                      ("report made with", f"secrets-migrate {__version__}"),
                                      *[(f"setting: {k}", v) for k, v in sorted(d.settings.items())]]) + "</dl>"]
    s.append('<h2 id="findings">Findings</h2>')
    s.append(f'<figure>{svg_chart(d.chart)}<figcaption class="muted">Findings by service (unit) and store.</figcaption></figure>')
    s.append(_table(d.findings, [("unit", "Service / unit"), ("name", "Variable"), ("file", "File"),
                                 ("store", "Store"), ("entry", "Entry"), ("phase", "State")], {"entry", "file"}))
    s.append('<h2 id="created">Created entries</h2>')
    s.append(_table(d.entries, [("name", "Name"), ("store", "Store"), ("arn", "ARN"), ("kms_key", "KMS key"),
                                ("origin", "Origin"), ("phase", "State")], {"name", "arn"}))
    s.append('<h2 id="grants">IAM grants</h2>')
    s.append(_table(d.grants, [("role", "Execution role"), ("policy", "Inline policy"), ("phase", "State")], {"role"}))
    if d.proofs:
        s.append('<h2 id="proofs">Deployment proofs</h2><p>Per service, asked of IAM when the plan was made: will '
                 "its new revision's tasks start? (<code>apply</code> asks again before deploying.)</p>")
        s.append(_table(d.proofs, [("service", "Service"), ("state", "Proof"), ("reason", "Reason")], {"service"}))
    s.append('<h2 id="diffs">Definition changes (values redacted)</h2>')
    s.append(_table(d.files, [("file", "File"), ("what", "Change"), ("phase", "State")], {"file"}))
    for path in sorted(d.diffs):
        s.append(f"<h3><code>{e(path)}</code></h3>{_diff_html(d.diffs[path])}")
    s.append('<h2 id="timeline">Journal timeline</h2>')
    s.append(_table(d.timeline, [("seq", "#"), ("ts", "Time (UTC)"), ("phase", "Phase"), ("action", "Action"),
                                 ("detail", "Detail")]))
    s.append('<h2 id="verify">Verify results</h2>')
    if d.verify is None:
        s.append('<p class="muted">Not included (pass <code>--verify-json</code> with the output of '
                 "<code>secrets-migrate verify PLAN --format json</code>).</p>")
    else:
        checks = d.verify.get("checks", [])
        failed = sum(1 for c in checks if not c.get("ok"))
        s.append(f'<p class="{"fail" if failed else "ok"}">{len(checks) - failed} passed, {failed} failed</p>')
        s.append(_table([{**{k: str(v) for k, v in c.items()}, "ok": "PASS" if c.get("ok") else "FAIL"} for c in checks],
                        [("ok", "Result"), ("kind", "Check"), ("subject", "Subject"), ("detail", "Detail")], {"subject"}))
    s.append('<h2 id="rollback">Rollback state</h2>')
    s.append(f"<p>{e(d.state)}.</p>")
    s.append('<h2 id="rotate">Values to rotate</h2><p>These values sat in plaintext in files, version control '
             "history and old task-definition revisions: rotate them after the migration.</p>")
    s.append("<ul>" + "".join(f"<li><code>{e(r)}</code></li>" for r in d.rotate) + "</ul>" if d.rotate
             else '<p class="muted">None.</p>')
    s.append('<h2 id="cost">Cost estimate</h2>')
    if d.cost:
        s.append("<dl>" + "".join(f"<dt>{e(k.replace('_', ' '))}</dt><dd>{e(str(v))}</dd>" for k, v in d.cost.items()) + "</dl>")
    else:
        s.append('<p class="muted">No estimate in the plan.</p>')
    if d.warnings:
        s.append('<h2 id="warnings">Warnings</h2><ul>' + "".join(f"<li>{e(w)}</li>" for w in d.warnings) + "</ul>")
    s.append("</body></html>\n")
    return "\n".join(s)


# -- Markdown -------------------------------------------------------------------------------------

def _md_cell(v: object) -> str:
    return str(v).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _md_table(rows: list[dict[str, str]], cols: list[tuple[str, str]]) -> str:
    if not rows:
        return "None.\n"
    out = ["| " + " | ".join(label for _k, label in cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(_md_cell(r.get(k, "")) for k, _l in cols) + " |" for r in rows]
    return "\n".join(out) + "\n"


def to_markdown(d: ReportData) -> str:
    s = [f"# secrets-migrate report: plan {d.plan_id}", "",
         f"- Run state: **{_md_cell(d.state)}**",
         *([f"- Plan digest: `{_md_cell(d.digest)}` (as printed by `secrets-migrate show`; "
            "`apply --digest` applies only this plan)"] if d.digest else []),
         f"- Plan created: {d.created} (secrets-migrate {d.tool_version})",
         *[f"- Setting {k}: `{_md_cell(v)}`" for k, v in sorted(d.settings.items())], ""]
    totals: Counter[str] = Counter()
    for c in d.chart.values():
        totals.update(c)
    s += ["## Findings", "", "By store: " + (", ".join(f"{STORE_LABEL[k]} {n}" for k, n in sorted(totals.items())) or "none"), "",
          _md_table(d.findings, [("unit", "Service / unit"), ("name", "Variable"), ("file", "File"), ("store", "Store"),
                                 ("entry", "Entry"), ("phase", "State")]),
          "## Created entries", "",
          _md_table(d.entries, [("name", "Name"), ("store", "Store"), ("arn", "ARN"), ("kms_key", "KMS key"),
                                ("origin", "Origin"), ("phase", "State")]),
          "## IAM grants", "", _md_table(d.grants, [("role", "Execution role"), ("policy", "Inline policy"), ("phase", "State")]),
          *(["## Deployment proofs", "", "Per service, asked of IAM when the plan was made: will its new revision's "
             "tasks start? (`apply` asks again before deploying.)", "",
             _md_table(d.proofs, [("service", "Service"), ("state", "Proof"), ("reason", "Reason")])] if d.proofs else []),
          "## Definition changes (values redacted)", "",
          _md_table(d.files, [("file", "File"), ("what", "Change"), ("phase", "State")])]
    for path in sorted(d.diffs):
        fence = "````" if "```" in d.diffs[path] else "```"
        s += [f"### {path}", "", f"{fence}diff", d.diffs[path].rstrip("\n"), fence, ""]
    s += ["## Journal timeline", "", _md_table(d.timeline, [("seq", "#"), ("ts", "Time (UTC)"), ("phase", "Phase"),
                                                            ("action", "Action"), ("detail", "Detail")]),
          "## Verify results", ""]
    if d.verify is None:
        s += ["Not included (pass `--verify-json`).", ""]
    else:
        checks = d.verify.get("checks", [])
        rows = [{**{k: str(v) for k, v in c.items()}, "ok": "PASS" if c.get("ok") else "FAIL"} for c in checks]
        s += [_md_table(rows, [("ok", "Result"), ("kind", "Check"), ("subject", "Subject"), ("detail", "Detail")])]
    s += ["## Rollback state", "", f"{d.state}.", "", "## Values to rotate", ""]
    s += [f"- `{_md_cell(r)}`" for r in d.rotate] or ["None."]
    s += ["", "## Cost estimate", ""]
    s += [f"- {k.replace('_', ' ')}: {v}" for k, v in d.cost.items()] or ["No estimate in the plan."]
    if d.warnings:
        s += ["", "## Warnings", ""] + [f"- {_md_cell(w)}" for w in d.warnings]
    return "\n".join(s).rstrip("\n") + "\n"
