"""secrets-migrate scan: find plaintext secrets; table, JSON or SARIF; exit 0/1/3."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from migrate import __version__
from migrate.commands.common import ScanOutcome
from migrate.commands.common import scan as run_scan
from migrate.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, UsageError
from migrate.model import FileStatus, Finding, Verdict
from migrate.sources.base import unproven_loads

JSON_VERSION = 1
#: ``json.dumps(x, ensure_ascii=False)`` without building an encoder per call
_encode = json.JSONEncoder(ensure_ascii=False).encode


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


def service_uri(region: str, cluster: str, service: str) -> str:
    """The stable address of a live service in reports: ``ecs://REGION/CLUSTER/SERVICE``."""
    return f"ecs://{region}/{cluster}/{service}"


def to_json_live(findings: Sequence[Finding], services: Sequence[Any], *, all_entries: bool,
                 warnings: Sequence[str] = ()) -> dict[str, Any]:
    """The v1 contract for a live scan: the same ``entries`` as a file scan (``path`` is the
    task-definition ARN, ``services`` the ``ecs://`` addresses of the services running it), no
    ``files``, and the live summary as extra keys (``services``, ``other_revisions``)."""
    running: dict[str, list[str]] = {}
    for s in services:
        running.setdefault(s.task_definition, []).append(service_uri(s.region, s.cluster, s.name))
    entries = []
    secrets: dict[str, int] = {}
    for f in findings:
        secrets[f.entry.path] = secrets.get(f.entry.path, 0) + f.is_secret
        if all_entries or f.is_secret:
            rec = entry_record(f)
            if running.get(f.entry.path):
                rec["services"] = running[f.entry.path]
            entries.append(rec)
    rows = [{"service": service_uri(s.region, s.cluster, s.name), "region": s.region, "cluster": s.cluster,
             "name": s.name, "controller": s.controller, "task_definition": s.task_definition,
             "secrets": secrets.get(s.task_definition, 0)} for s in services]
    other = sorted(a for a, n in secrets.items() if n and a not in running)
    return {
        "version": JSON_VERSION,
        "tool": {"name": "secrets-migrate", "version": __version__},
        "files": [],
        "entries": entries,
        "services": rows,
        "other_revisions": other,
        **({"warnings": list(warnings)} if warnings else {}),
    }


def to_sarif(out: ScanOutcome, *, baseline: bool = False) -> dict[str, Any]:
    """SARIF 2.1.0. With a baseline in use, every result is a finding the baseline does not know
    (known ones are filtered out before): ``baselineState`` is ``new``."""
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
                                                **({"region": {"startLine": e.line}} if e.line > 0 else {})}}],
            "partialFingerprints": {"secretsMigrate/v1": f"{e.path}|{e.unit}|{e.location}|{e.name}"},
            **({"baselineState": "new"} if baseline else {}),
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


def check_output(paths: Sequence[str], output: Path, *, exclude: Sequence[str] = (),
                 max_bytes: int = 10 * 1024 * 1024) -> None:
    """Refuse a report path that would destroy an input: one of the files named on the command line
    (also through a link), or a definition file the walk of a scanned directory would read. Writing
    the report into a scanned directory is fine otherwise (it is not a definition)."""
    if output.is_dir():
        raise UsageError(f"{output} is a directory", hint="name a file, e.g. -o scan-report.json")
    if not output.is_file():
        return  # new file, or a device/pipe such as /dev/stdout: nothing to destroy
    hint = "write the report elsewhere, e.g. -o scan-report.json"
    for given in paths:
        gp = Path(given)
        if gp.is_file() and os.path.samefile(gp, output):
            named = "" if os.path.normpath(given) == os.path.normpath(output) else f" ({given})"
            raise UsageError(f"{output} is one of the scanned inputs{named}; writing the report there would destroy it",
                             hint=hint)
    if _scanned_in_a_directory(paths, output, exclude) or os.stat(output).st_nlink > 1:
        from migrate.sources.registry import detect_source

        try:
            with output.open("rb") as fh:
                text = fh.read(max_bytes).decode("utf-8-sig", errors="replace")
        except OSError:
            return  # the write will say what is wrong
        if detect_source(output, text) is not None:
            raise UsageError(f"{output} is a definition file the scan reads; writing the report there would destroy it", hint=hint)


def _scanned_in_a_directory(paths: Sequence[str], output: Path, exclude: Sequence[str]) -> bool:
    """Would the walk of one of ``paths`` (directories) reach ``output``?"""
    from fnmatch import fnmatch

    from migrate.sources.walk import CANDIDATE_SUFFIXES, SKIP_DIRS

    if not output.name.lower().endswith(CANDIDATE_SUFFIXES):
        return False
    real = os.path.realpath(output)
    for given in paths:
        if not Path(given).is_dir():
            continue
        root = os.path.realpath(given)
        if os.path.commonpath([root, real]) != root:
            continue
        parts = Path(os.path.relpath(real, root)).parts
        display = given.rstrip("/\\") if given not in (".", "./", "") else ""
        hidden = False
        for i, name in enumerate(parts):
            display = f"{display}/{name}" if display else name
            if any(fnmatch(display, pat) or fnmatch(name, pat) or fnmatch(display, pat.rstrip("/") + "/*")
                   for pat in exclude) or (i < len(parts) - 1 and name in SKIP_DIRS):
                hidden = True
                break
        if not hidden:
            return True
    return False


class _Sink:
    """Where the report goes: stdout (a closed pipe ends the output quietly, the scan goes on so the
    exit code still tells findings) or a file written beside its final name and renamed at the end
    (an interrupted run leaves no half report, and a report being written is never scanned)."""

    def __init__(self, output: Path | None) -> None:
        self.output = output
        self.broken = False
        self._tmp: str | None = None
        if output is None:
            self.fh: IO[str] = sys.stdout
            return
        if output.exists() and not output.is_file():  # /dev/stdout, a FIFO: write straight through
            self.fh = output.open("w", encoding="utf-8")
            return
        import tempfile

        target = Path(os.path.realpath(output)) if output.is_symlink() else output
        fd, self._tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".secrets-migrate.tmp",
                                         dir=target.parent if str(target.parent) else ".")
        self._final = target
        self.fh = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, text: str) -> None:
        if self.broken:
            return
        try:
            self.fh.write(text)
        except BrokenPipeError:
            self._broke()

    def _broke(self) -> None:
        from migrate.error_handler import silence_stdout

        self.broken = True
        silence_stdout()

    def close(self, *, ok: bool) -> None:
        if self.output is None:
            try:
                if not self.broken:
                    self.fh.flush()
            except BrokenPipeError:
                self._broke()
            return
        if self._tmp is None:
            try:
                self.fh.close()
            except BrokenPipeError:  # a pipe named as the output (-o /dev/stdout) closed early
                self.broken = True
            return
        try:
            if not ok:  # already failing: drop the temp file without masking the first error
                raise _Abandon
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            mode = 0o666 & ~_umask()
            with contextlib.suppress(OSError):
                mode = stat.S_IMODE(os.stat(self._final).st_mode)
            os.chmod(self._tmp, mode)
            os.replace(self._tmp, self._final)
        except BaseException as e:
            with contextlib.suppress(OSError):
                self.fh.close()
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            if not isinstance(e, _Abandon):
                raise


class _Abandon(Exception):
    pass


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def _summary(output: Path, fmt: str, out: ScanOutcome, n_secret: int) -> None:
    scanned = sum(1 for f in out.files if f.status is FileStatus.SCANNED)
    sys.stderr.write(f"secrets-migrate: wrote the {fmt} report to {output}: {n_secret} plaintext secret(s) in "
                     f"{scanned} definition file(s), {len(out.errors)} error(s)\n")


def scan(paths: Sequence[str], *, fmt: str = "table", all_entries: bool = False, output: Path | None = None,
         config_path: Path | None = None, max_file_size: int | None = None, no_color: bool = False,
         baseline: Path | None = None, update_baseline: Path | None = None) -> int:
    from migrate.config import load_config

    if fmt not in ("table", "json", "sarif"):
        raise UsageError(f"--format must be table, json or sarif, not {fmt!r}")
    cfg = load_config(Path(paths[0]) if paths else Path.cwd(), config_path)
    if output is not None:
        check_output(paths, output, exclude=tuple(cfg.exclude))
    if fmt == "json" and baseline is None and update_baseline is None:
        # the console only shows progress on a terminal: none (and no rich) when stderr is none
        err = None
        if _stderr_may_be_terminal():
            from migrate.console import err_console

            err = err_console(no_color)
        return _scan_json_streaming(paths, cfg=cfg, err=err, all_entries=all_entries, output=output,
                                    max_file_size=max_file_size)
    from migrate.console import err_console, out_console

    err = err_console(no_color)
    with unproven_loads():  # scan reports, never rewrites: no trial rewrite (plan keeps the proof)
        out = run_scan(paths, config=cfg, console=err, max_file_size=max_file_size, keep_loaded=False,
                       keep_all=all_entries)
    baseline_summary = None
    if baseline is not None or update_baseline is not None:
        from migrate.commands.baseline import apply_baseline

        out, baseline_summary = apply_baseline(out, baseline=baseline, update=update_baseline, console=err)
    sink = _Sink(output)
    ok = False
    try:
        if fmt == "json":
            doc = to_json(out, all_entries=all_entries)
            if baseline_summary is not None:
                doc["baseline"] = baseline_summary
            sink.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        elif fmt == "sarif":
            sink.write(json.dumps(to_sarif(out, baseline=baseline_summary is not None), indent=2,
                                  ensure_ascii=False) + "\n")
        elif output is None:
            try:
                print_table(out, out_console(no_color), all_entries=all_entries)
            except BrokenPipeError:
                sink._broke()
        else:
            from rich.console import Console

            print_table(out, Console(file=sink.fh, emoji=False, markup=False, highlight=False, width=200,
                                     no_color=True), all_entries=all_entries)
        ok = True
    finally:
        sink.close(ok=ok)
    if output is not None:
        _summary(output, fmt, out, sum(1 for f in out.findings if f.is_secret))
    return exit_code(out)


def _scan_json_streaming(paths: Sequence[str], *, cfg: Any, err: Any, all_entries: bool, output: Path | None,
                         max_file_size: int | None) -> int:
    """JSON report written while scanning: entries are emitted per batch, so memory stays flat."""
    sink = _Sink(output)
    counts = {"secret": 0, "n": 0}
    ok = False
    try:
        tool = json.dumps({"name": "secrets-migrate", "version": __version__})
        sink.write(f'{{\n  "version": {JSON_VERSION},\n  "tool": {tool},\n  "entries": [')

        def emit(batch: list[tuple[bool, str]]) -> None:
            secret = sum(is_secret for is_secret, _ in batch)
            counts["secret"] += secret
            records = [r for is_secret, r in batch if all_entries or is_secret]
            if not records:
                return
            # one write per batch: the first record of the report opens the list, the others follow a comma
            sink.write(("\n    " if counts["n"] == 0 else ",\n    ") + ",\n    ".join(records))
            counts["n"] += len(records)

        with unproven_loads():
            out = run_scan(paths, config=cfg, console=err, max_file_size=max_file_size, keep_loaded=False,
                           keep_all=all_entries, on_findings=emit, render=_render)
        files = [json.dumps({"path": f.path, "kind": f.kind, "status": f.status.value, "reason": f.reason,
                             **({"line": f.line} if f.line else {})}, ensure_ascii=False) for f in out.files]
        sink.write("\n  ],\n  \"files\": [" + ",".join("\n    " + x for x in files) + "\n  ]\n}\n")
        ok = True
    finally:
        sink.close(ok=ok)
    if output is not None:
        _summary(output, "json", out, counts["secret"])
    if out.errors:
        return EXIT_INPUT
    return EXIT_FINDINGS if counts["secret"] else EXIT_OK


def _stderr_may_be_terminal() -> bool:
    """Whether rich could take stderr for a terminal (a tty, or the variables that force one)."""
    if any(k in os.environ for k in ("FORCE_COLOR", "TTY_COMPATIBLE", "FORCE_TERMINAL", "TTY_INTERACTIVE")):
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return True


class _Records:
    """Findings as the streaming JSON report writes them (in the worker that judged them): called with a
    Finding, or through :meth:`light` with a task-definition item and its judgement (no Entry, no Finding)."""

    def __call__(self, f: Finding) -> tuple[bool, str]:
        return f.is_secret, _encode(entry_record(f))

    @staticmethod
    def light(light: Any, item: Any, j: Any) -> tuple[bool, str]:
        """``self(finding)`` for the finding of a literal ``item`` of ``light`` (a
        :class:`~migrate.sources.ecs_taskdef.fast.Light`) judged ``j``: the record's fields after the
        name depend only on the judgement and whether the value is restorable, and are rendered once."""
        line, start, end = light.locate(item)
        restorable = light.restorable(item[5], start, end)
        rest = _LIGHT_TAILS.get((j, restorable))
        if rest is None:
            rest = _light_tail(j, restorable)
        return (j.verdict is Verdict.SECRET,
                f'{{"path": {_encode_str(light.src.display)}, "line": {line}, "unit": {_encode_str(item[2])}, '
                f'"location": {_encode_str(item[3])}, "name": {_encode_str(item[4])}{rest}')


#: ``json.dumps(s, ensure_ascii=False)`` of a str (what the encoder writes for a str)
_encode_str = json.encoder.encode_basestring
#: record text after the name, by (judgement, restorable), per process; bounded
_LIGHT_TAILS: dict[tuple[Any, bool], str] = {}


def _light_tail(j: Any, restorable: bool) -> str:
    """The text of :func:`entry_record` after ``"name": ...`` for a task-definition literal judged ``j``,
    taken from the record of a finding built the usual way (so it is the same text by construction)."""
    from migrate.detect.engine import Judge
    from migrate.model import LOC_ENVIRONMENT, Entry, ValueKind
    from migrate.sources.ecs_taskdef.model import KIND

    e = Entry(path="", line=0, unit="", location=LOC_ENVIRONMENT, name="", value=None, value_kind=ValueKind.LITERAL,
              source=KIND, restorable=restorable)
    rec = entry_record(Judge.make_finding(e, j))
    head = _encode({k: rec[k] for k in ("path", "line", "unit", "location", "name")})[:-1]
    full = _encode(rec)
    if not full.startswith(head):  # pragma: no cover - the record's first fields are these
        raise AssertionError("entry_record changed its field order")
    if len(_LIGHT_TAILS) >= 4096:
        _LIGHT_TAILS.clear()
    rest = _LIGHT_TAILS[(j, restorable)] = full[len(head):]
    return rest


_render = _Records()


def print_table(out: ScanOutcome, con: Any, *, all_entries: bool) -> None:
    from rich.table import Table
    from rich.text import Text

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
    for fr in out.errors:
        con.print(Text(f"error: {fr.path}{':' + str(fr.line) if fr.line else ''}: {fr.reason}", style="red"))


# -- the command line's quick way in ------------------------------------------------------------------

#: ``scan`` options the quick parser knows, each taking a value (the flags are --all and --no-color)
_VALUED = {"--format": "fmt", "-f": "fmt", "--output": "output", "-o": "output", "--config": "config_path",
           "--max-file-size": "max_file_size"}


def quick_args(argv: Sequence[str]) -> dict[str, Any] | None:
    """The :func:`scan` arguments of ``secrets-migrate scan PATH... [options]`` when every word is spelled
    plainly (paths, ``--all``, ``--no-color``, ``--format/-f``, ``--output/-o``, ``--config``,
    ``--max-file-size``, each at most once, a value as the next word or after ``=``); None for anything
    else (help, ``--live``, baselines, ``--``, an unknown option, a value that looks like an option,
    ``NO_COLOR`` or shell completion in the environment): the full command-line parser decides then."""
    if not argv or argv[0] != "scan" or "NO_COLOR" in os.environ or any(
            k.startswith("_SECRETS_MIGRATE_COMPLETE") for k in os.environ):
        return None
    out: dict[str, Any] = {}
    paths: list[str] = []
    words = list(argv[1:])
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if not w.startswith("-"):
            paths.append(w)
            continue
        name, eq, value = w.partition("=")
        if name in ("--all", "--no-color") and not eq:
            key = "all_entries" if name == "--all" else "no_color"
            if key in out:
                return None
            out[key] = True
            continue
        key = _VALUED.get(name, "")
        if not key or key in out or (eq and not name.startswith("--")):
            return None
        if not eq:
            if i >= len(words):
                return None
            value = words[i]
            i += 1
        if not value or value.startswith("-"):
            return None
        if key == "max_file_size":
            if not value.isascii() or not value.isdigit():
                return None
            out[key] = int(value)
        elif key in ("output", "config_path"):
            out[key] = Path(value)
        else:
            out[key] = value
    if not paths or any(not p for p in paths):
        return None
    return {"paths": paths, **out}


def quick_main(argv: Sequence[str]) -> int | None:
    """Run ``scan`` without building the full command line when :func:`quick_args` understands ``argv``
    (the same command, error handling and exit codes); None when it does not."""
    args = quick_args(argv)
    if args is None:
        return None
    paths = args.pop("paths")
    try:
        return scan(paths, **args)
    except BaseException as e:  # noqa: BLE001 - handed to error_handler, which decides (SystemExit goes on)
        return _handled(e)


def _handled(e: BaseException) -> int:
    """The exit code :func:`migrate.error_handler.error_handler` gives ``e`` (with its message, hint or
    log file); typer and the handler are imported only when a quick scan fails."""
    import typer

    from migrate.error_handler import error_handler

    try:
        with error_handler():
            raise e
    except typer.Exit as x:
        return int(x.exit_code)
    raise e  # not reached: the handler re-raises or exits
