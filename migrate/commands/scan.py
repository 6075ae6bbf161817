"""secrets-migrate scan: find plaintext secrets; table, JSON or SARIF; exit 0/1/3."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from migrate import __version__
from migrate.commands.common import ScanOutcome
from migrate.commands.common import scan as run_scan
from migrate.console import err_console, out_console
from migrate.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, UsageError
from migrate.model import FileStatus, Finding

JSON_VERSION = 1


def entry_record(f: Finding) -> dict[str, Any]:
    e = f.entry
    rec: dict[str, Any] = {
        "path": e.path, "line": e.line, "unit": e.unit, "location": e.location, "name": e.name,
        "verdict": f.verdict.value, "confidence": f.confidence.value, "value_kind": e.value_kind.value,
        "migratable": f.migratable, "reasons": list(f.reasons),
    }
    if e.value_path != e.path:
        rec["value_path"] = e.value_path
    if len(e.units) > 1:
        rec["units"] = list(e.units)
    if f.why_not:
        rec["why_not"] = f.why_not
    if e.source:
        rec["source"] = e.source
    return rec


def to_json(out: ScanOutcome, *, all_entries: bool) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "tool": {"name": "secrets-migrate", "version": __version__},
        "files": [{"path": f.path, "kind": f.kind, "status": f.status.value, "reason": f.reason,
                   **({"line": f.line} if f.line else {})} for f in out.files],
        "entries": [entry_record(f) for f in out.findings if all_entries or f.is_secret],
    }


def to_sarif(out: ScanOutcome) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    level = {"high": "error", "medium": "warning", "low": "note"}
    for f in out.findings:
        if not f.is_secret:
            continue
        e = f.entry
        rid = _rule_id(f)
        rules.setdefault(rid, {"id": rid, "name": rid.replace("/", "-"),
                               "shortDescription": {"text": f"Plaintext secret in ECS definition ({rid})"},
                               "helpUri": "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/specifying-sensitive-data.html",
                               "properties": {"tags": ["security", "secrets"]}})
        why = f" Not migratable: {f.why_not}." if f.why_not else ""
        results.append({
            "ruleId": rid, "level": level[f.confidence.value],
            "message": {"text": f"{e.unit}: {e.location} {e.name} holds a plaintext secret "
                                f"(confidence {f.confidence.value}; {', '.join(f.reasons)}).{why}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": e.value_path},
                                                "region": {"startLine": max(e.line, 1)}}}],
            "partialFingerprints": {"secretsMigrate/v1": f"{e.path}|{e.unit}|{e.location}|{e.name}"},
        })
    notifications = [{"level": "error", "message": {"text": f"{f.path}: {f.reason}"}} for f in out.errors]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "secrets-migrate", "version": __version__,
                                "informationUri": "https://github.com/secrets-migrate/secrets-migrate",
                                "rules": list(rules.values())}},
            "invocations": [{"executionSuccessful": not out.errors, "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }


def _rule_id(f: Finding) -> str:
    for r in f.reasons:
        if r.startswith("value:") or r.startswith("ds:"):
            return "plaintext-secret/" + r.split(":", 1)[1].lower().replace(" ", "-")
    return "plaintext-secret/" + (f.reasons[0].split(":", 1)[-1] if f.reasons else "name")


def exit_code(out: ScanOutcome) -> int:
    if out.errors:
        return EXIT_INPUT
    if any(f.is_secret for f in out.findings):
        return EXIT_FINDINGS
    return EXIT_OK


def scan(paths: Sequence[str], *, fmt: str = "table", all_entries: bool = False, output: Path | None = None,
         config_path: Path | None = None, max_file_size: int | None = None, no_color: bool = False,
         baseline: Path | None = None, update_baseline: Path | None = None) -> int:
    from migrate.config import load_config

    if fmt not in ("table", "json", "sarif"):
        raise UsageError(f"--format must be table, json or sarif, not {fmt!r}")
    cfg = load_config(Path(paths[0]) if paths else Path.cwd(), config_path)
    err = err_console(no_color)
    if fmt == "json" and baseline is None and update_baseline is None:
        return _scan_json_streaming(paths, cfg=cfg, err=err, all_entries=all_entries, output=output,
                                    max_file_size=max_file_size)
    out = run_scan(paths, config=cfg, console=err, max_file_size=max_file_size, keep_loaded=False,
                   keep_all=all_entries)
    baseline_summary = None
    if baseline is not None or update_baseline is not None:
        from migrate.commands.baseline import apply_baseline

        out, baseline_summary = apply_baseline(out, baseline=baseline, update=update_baseline, console=err)
    if fmt == "json":
        doc = to_json(out, all_entries=all_entries)
        if baseline_summary is not None:
            doc["baseline"] = baseline_summary
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "sarif":
        text = json.dumps(to_sarif(out), indent=2, ensure_ascii=False) + "\n"
    else:
        text = None
    if text is not None:
        if output:
            output.write_text(text, encoding="utf-8")
        else:
            print(text, end="")
    else:
        con = out_console(no_color) if output is None else None
        if output is not None:
            from rich.console import Console

            fh = output.open("w", encoding="utf-8")
            con = Console(file=fh, emoji=False, markup=False, highlight=False, width=200, no_color=True)
        assert con is not None
        print_table(out, con, all_entries=all_entries)
        if output is not None:
            fh.close()
    return exit_code(out)


def _scan_json_streaming(paths: Sequence[str], *, cfg: Any, err: Any, all_entries: bool, output: Path | None,
                         max_file_size: int | None) -> int:
    """JSON report written while scanning: entries are emitted per batch, so memory stays flat."""
    import sys

    fh = output.open("w", encoding="utf-8") if output else sys.stdout
    counts = {"secret": 0, "n": 0}
    try:
        fh.write('{\n  "version": %d,\n  "tool": %s,\n  "entries": [' % (
            JSON_VERSION, json.dumps({"name": "secrets-migrate", "version": __version__})))

        def emit(batch: list[Finding]) -> None:
            for f in batch:
                counts["secret"] += f.is_secret
                if not (all_entries or f.is_secret):
                    continue
                fh.write(("\n    " if counts["n"] == 0 else ",\n    ") + json.dumps(entry_record(f), ensure_ascii=False))
                counts["n"] += 1

        out = run_scan(paths, config=cfg, console=err, max_file_size=max_file_size, keep_loaded=False,
                       keep_all=all_entries, on_findings=emit)
        files = [json.dumps({"path": f.path, "kind": f.kind, "status": f.status.value, "reason": f.reason,
                             **({"line": f.line} if f.line else {})}, ensure_ascii=False) for f in out.files]
        fh.write("\n  ],\n  \"files\": [" + ",".join("\n    " + x for x in files) + "\n  ]\n}\n")
    finally:
        if output:
            fh.close()
    if out.errors:
        return EXIT_INPUT
    return EXIT_FINDINGS if counts["secret"] else EXIT_OK


def print_table(out: ScanOutcome, con: Any, *, all_entries: bool) -> None:
    rows = [f for f in out.findings if all_entries or f.is_secret]
    if rows:
        t = Table(title=None, show_lines=False, header_style="bold")
        for col in ("File:line", "Unit", "Location", "Name", "Verdict", "Conf.", "Migratable", "Reasons"):
            t.add_column(col, overflow="fold")
        for f in rows:
            e = f.entry
            mig = "yes" if f.migratable else f"no: {f.why_not}" if f.why_not else "no"
            t.add_row(Text(f"{e.value_path}:{e.line}"), Text(e.unit if len(e.units) == 1 else ",".join(e.units)),
                      Text(e.location), Text(e.name), Text(f.verdict.value,
                                                            style="red" if f.is_secret else "green"),
                      Text(f.confidence.value), Text(mig), Text(", ".join(f.reasons)))
        con.print(t)
    n_secret = sum(1 for f in out.findings if f.is_secret)
    n_mig = sum(1 for f in out.findings if f.is_secret and f.migratable)
    scanned = sum(1 for f in out.files if f.status is FileStatus.SCANNED)
    skipped = sum(1 for f in out.files if f.status is FileStatus.SKIPPED)
    con.print(Text(f"{n_secret} plaintext secret(s), {n_mig} migratable, in {scanned} definition file(s); "
                   f"{skipped} skipped, {len(out.errors)} error(s)",
                   style="bold red" if n_secret or out.errors else "bold green"))
    for f in out.errors:
        con.print(Text(f"error: {f.path}{':' + str(f.line) if f.line else ''}: {f.reason}", style="red"))
