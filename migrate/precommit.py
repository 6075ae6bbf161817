"""Fast entry point for the pre-commit hook: ``secrets-migrate-precommit [--baseline F] FILE...``.

pre-commit passes the staged files that match the hook's ``files`` regex. Start-up matters (it runs
on every commit), so this module imports only the standard library until a file could hold a
definition: a cheap byte check skips the rest, and most commits then cost a few milliseconds. When a
file does qualify, it runs the ordinary ``scan`` (table output, exit 0 clean / 1 new secrets / 3 an
unreadable file). Like pre-commit itself: ``main()`` returns an int.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

#: same endings as the directory walker (migrate.sources.walk.CANDIDATE_SUFFIXES), kept here so the
#: hook need not import the sources
SUFFIXES = (".json", ".yaml", ".yml", ".tf", ".tpl", ".py", ".template")
#: a definition with something to report names one of these (task definitions, compose,
#: CloudFormation, CDK, Terraform); a file with none of them cannot produce a finding
_WORTH_SCANNING = re.compile(rb"(?i)environment|env_file|options|container_?definitions")


def worth_scanning(path: str, *, max_bytes: int = 5 * 1024 * 1024) -> bool:
    if not path.lower().endswith(SUFFIXES):
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(max_bytes + 1)
    except OSError:
        return True  # let scan report it (fail closed)
    return len(head) > max_bytes or _WORTH_SCANNING.search(head) is not None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="secrets-migrate-precommit",
                                description="pre-commit hook: scan the given definition files for plaintext secrets.")
    p.add_argument("files", nargs="*")
    p.add_argument("--baseline", help="baseline of known findings (see `secrets-migrate scan --baseline`)")
    p.add_argument("--config", help="config file (default: pyproject.toml or .secrets-migrate.toml)")
    p.add_argument("--format", default="table", choices=("table", "json", "sarif"))
    args = p.parse_args(argv)
    files = [f for f in args.files if worth_scanning(f)]
    if not files:
        return 0
    import typer

    from migrate.error_handler import error_handler

    try:
        with error_handler():
            return _scan(files, baseline=args.baseline, config=args.config, fmt=args.format)
    except typer.Exit as e:
        return int(e.exit_code)


def _scan(files: list[str], *, baseline: str | None, config: str | None, fmt: str) -> int:
    """Like ``secrets-migrate scan``, with one line per finding (``path:line: ...``) as hook output."""
    from pathlib import Path

    if fmt != "table":
        from migrate.commands.scan import scan

        return scan(files, fmt=fmt, config_path=Path(config) if config else None,
                    baseline=Path(baseline) if baseline else None)
    from migrate.commands.common import scan as run_scan
    from migrate.commands.scan import exit_code
    from migrate.config import load_config
    from migrate.console import err_console

    cfg = load_config(Path(files[0]), Path(config) if config else None)
    err = err_console(no_color=True)
    out = run_scan(files, config=cfg, console=None)
    if baseline:
        from migrate.commands.baseline import apply_baseline

        out, _ = apply_baseline(out, baseline=Path(baseline), update=None, console=err)
    lines = []
    for f in out.findings:
        if not f.is_secret:
            continue
        e = f.entry
        mig = "" if f.migratable else f"; not migratable: {f.why_not or 'see scan'}"
        lines.append(f"{e.value_path}:{e.line}: {e.unit} {e.location} {e.name}: plaintext secret "
                     f"(confidence {f.confidence.value}{mig})")
    for r in out.errors:
        lines.append(f"{r.path}{':' + str(r.line) if r.line else ''}: error: {r.reason}")
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    if any(f.is_secret for f in out.findings):
        sys.stdout.write("Move them with `secrets-migrate plan PATH -o plan.json`, or accept them in a baseline "
                         "(`secrets-migrate scan PATH --update-baseline FILE`).\n")
    return exit_code(out)

if __name__ == "__main__":
    raise SystemExit(main())
