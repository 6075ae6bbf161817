"""secrets-migrate report PLAN: self-contained HTML (and Markdown) for change review and audit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from migrate.commands.common import plan_state
from migrate.errors import EXIT_OK, InputError, UsageError


def _read_verify(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"no such file: {path}", hint="write it with `secrets-migrate verify PLAN --format json > verify.json`")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        raise InputError(str(path), "cannot read verify output") from None
    except json.JSONDecodeError as e:
        raise InputError(str(path), "verify output is not valid JSON", line=e.lineno,
                         hint="use the output of `secrets-migrate verify PLAN --format json`") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("checks"), list):
        raise InputError(str(path), "not the output of `secrets-migrate verify --format json`")
    return doc


def _write(path: Path, text: str) -> None:
    from migrate.apply.fs import atomic_write

    atomic_write(path, text, mode=0o644)


def report(plan_path: Path, *, html_path: Path | None = Path("report.html"), markdown_path: Path | None = None,
           verify_json: Path | None = None) -> int:
    from migrate import report as rp

    plan, journal = plan_state(plan_path)
    verify = _read_verify(verify_json) if verify_json is not None else None
    if verify is not None and verify.get("plan_id") not in (None, plan.id):
        raise UsageError(f"{verify_json} is the verify output of plan {verify.get('plan_id')}, not {plan.id}")
    data = rp.build(plan, list(journal.records), finalized=journal.finalized, verify=verify)
    data.digest = plan.digest(base=plan_path.absolute().parent)  # the one `show` prints, of this very read
    written = []
    if html_path is not None:
        _write(html_path, rp.to_html(data))
        written.append(str(html_path))
    if markdown_path is not None:
        _write(markdown_path, rp.to_markdown(data))
        written.append(str(markdown_path))
    sys.stderr.write(f"report of plan {data.plan_id} (digest {data.digest}, {data.state}) written to {' and '.join(written)}\n")
    return EXIT_OK
