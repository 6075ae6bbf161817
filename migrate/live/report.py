"""The final report of a live run: one row per service, as a rich table, JSON or Markdown."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from rich.text import Text

from migrate.live.waves import RunReport

REPORT_VERSION = 1


def to_json(rep: RunReport) -> str:
    doc: dict[str, Any] = {"version": REPORT_VERSION, "plan_id": rep.plan_id, "policy": rep.policy, "ok": rep.ok,
                           "seconds": rep.seconds, "summary": rep.by_status(), "stopped_after_wave": rep.stopped_after_wave,
                           "waves": [len(w) for w in rep.waves], "services": [r.to_record() for r in rep.results]}
    return json.dumps(doc, indent=2) + "\n"


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def to_markdown(rep: RunReport) -> str:
    summary = ", ".join(f"{v} {k}" for k, v in sorted(rep.by_status().items()))
    lines = [f"# Live migration report: plan {rep.plan_id}", "",
             f"Failure policy `{rep.policy}`; {len(rep.waves)} wave(s); {summary}; {rep.seconds:.1f} s.", "",
             "| wave | service | status | seconds | proof before deploying | reason |", "|---:|---|---|---:|---|---|"]
    for r in rep.results:
        lines.append(f"| {r.wave} | {_md(r.key)} | {r.status} | {r.seconds:.1f} | {_md(r.proof or '-')} | {_md(r.reason)} |")
    return "\n".join(lines) + "\n"


_STYLE = {"migrated": "green", "rolled-back": "yellow", "failed": "bold red", "skipped": "dim",
          "registered-only": "cyan"}


def to_table(rep: RunReport) -> Table:
    t = Table(title=Text(f"Live run {rep.plan_id} (policy {rep.policy})"))
    proved = any(r.proof for r in rep.results)
    for col in ("wave", "service", "status", "s", *(("proof",) if proved else ()), "reason"):
        t.add_column(col, overflow="fold")
    for r in rep.results:
        proof = (Text(r.proof[:80] + ("..." if len(r.proof) > 80 else "")),) if proved else ()
        t.add_row(str(r.wave), Text(r.key), Text(r.status, style=_STYLE.get(r.status, "")), f"{r.seconds:.1f}",
                  *proof, Text(r.reason))
    return t
