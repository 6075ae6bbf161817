"""Find definition files under the paths given on the command line, and load them.

Per-file problems are values (:class:`FileReport`), never exceptions, so one bad file does not stop
a scan. The walk is deterministic (sorted), skips tool and dependency directories, and never
follows a symbolic link: a link inside the tree is scanned at its real path, a link leading out
of the tree or into a loop is reported as skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from migrate.errors import InputError
from migrate.model import FileReport, FileStatus
from migrate.sources.base import _PROVE, DEFAULT_MAX_BYTES, LoadedFile, read_source
from migrate.sources.registry import NOT_A_DEFINITION, detect_source, unavailable_for

if TYPE_CHECKING:
    from migrate.sources.ecs_taskdef.fast import Light

#: file name endings that may hold a definition
CANDIDATE_SUFFIXES = (".json", ".yaml", ".yml", ".tf", ".tfvars", ".tpl", ".py", ".template", ".j2", ".hcl", ".nomad")
#: a Terraform file that is no definition itself: read with its module, and reported on its own
TF_MODULE_FILE = "Terraform file without a task definition (read with the definitions of its module)"
#: directories never entered
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".terraform",
                       "cdk.out", ".migrate", ".tox", ".mypy_cache", ".pytest_cache"})


@dataclass(frozen=True)
class Candidate:
    path: Path  #: path to open
    display: str  #: as given on the command line joined with the relative part
    explicit: bool  #: named on the command line: always tried
    root: Path  #: the directory the walk started from (the file's parent when explicit)


@dataclass(frozen=True)
class ScanResult:
    files: list[FileReport] = field(default_factory=list)
    loaded: list[LoadedFile] = field(default_factory=list, repr=False)


def _join(given: str, rel: str) -> str:
    if given in (".", "./", ""):
        return rel
    return given.rstrip("/\\") + "/" + rel


def _excluded(display: str, name: str, exclude: Sequence[str]) -> bool:
    return any(fnmatch(display, pat) or fnmatch(name, pat) or fnmatch(display, pat.rstrip("/") + "/*")
               for pat in exclude)


def _is_candidate(name: str) -> bool:
    return name.lower().endswith(CANDIDATE_SUFFIXES)


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def iter_candidates(paths: Sequence[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                    exclude: Sequence[str] = ()) -> Iterator[Candidate | FileReport]:
    """Candidate files under ``paths`` in sorted order, and reports for what was skipped on the way.

    ``max_bytes`` is checked when the file is read (``scan_paths``); it is accepted here so that
    callers pass one set of limits.
    """
    del max_bytes
    for given in paths:
        p = Path(given)
        if not os.path.lexists(p):
            yield FileReport(given, "unknown", FileStatus.ERROR, "no such file or directory")
            continue
        if not p.is_dir():
            if p.is_file():
                yield Candidate(p, given, True, p.parent)
            else:
                yield FileReport(given, "unknown", FileStatus.ERROR,
                                 "not a regular file" if not p.is_symlink() else "broken symbolic link")
            continue
        yield from _walk_dir(p, given, exclude)


def _walk_dir(top: Path, given: str, exclude: Sequence[str]) -> Iterator[Candidate | FileReport]:
    root = top.resolve()
    # iterative DFS over sorted entries: (directory path, relative posix prefix)
    stack: list[tuple[Path, str]] = [(top, "")]
    while stack:
        d, rel = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as err:
            yield FileReport(_join(given, rel.rstrip("/")) or given, "unknown", FileStatus.ERROR,
                             f"cannot list directory ({err.strerror or type(err).__name__})")
            continue
        if any(e.name == "pyvenv.cfg" for e in entries) and rel:
            continue  # a virtualenv
        subdirs: list[tuple[Path, str]] = []
        for e in entries:
            erel = rel + e.name
            display = _join(given, erel)
            if _excluded(display, e.name, exclude):
                continue
            try:
                is_link = e.is_symlink()
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_link:
                yield from _symlink_report(Path(e.path), display, e.name, root)
                continue
            if is_dir:
                if e.name in SKIP_DIRS:
                    continue
                subdirs.append((Path(e.path), erel + "/"))
                continue
            if _is_candidate(e.name) and e.is_file(follow_symlinks=False):
                yield Candidate(Path(e.path), display, False, top)
        stack.extend(reversed(subdirs))


def _symlink_report(link: Path, display: str, name: str, root: Path) -> Iterator[FileReport]:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: symlink loop on older Pythons
        yield FileReport(display, "unknown", FileStatus.SKIPPED, "broken symbolic link or symbolic link loop")
        return
    if target.is_dir():
        if not _within(target, root):
            reason = "symbolic link to a directory outside the scanned tree (not followed)"
        elif _within(link.parent.resolve(), target):
            reason = "symbolic link loop (points to a parent directory; not followed)"
        else:
            reason = "symbolic link to a directory inside the tree (scanned at its real path)"
        yield FileReport(display, "unknown", FileStatus.SKIPPED, reason)
        return
    if not _is_candidate(name):
        return
    if not _within(target, root):
        reason = "symbolic link to a file outside the scanned tree (not followed)"
    else:
        reason = "symbolic link to a file inside the tree (scanned at its real path)"
    yield FileReport(display, "unknown", FileStatus.SKIPPED, reason)


def scan_paths(paths: Sequence[str], *, max_bytes: int = DEFAULT_MAX_BYTES, exclude: Sequence[str] = (),
               on_file: Callable[[str], None] | None = None,
               on_loaded: Callable[[LoadedFile], None] | None = None) -> ScanResult:
    """Read, detect and load every candidate. Returns one FileReport per file looked at.

    With ``on_loaded`` each loaded file is handed over and not kept (streaming: memory stays flat).
    """
    result = ScanResult()
    seen: set[Path] = set()
    for c in iter_candidates(paths, max_bytes=max_bytes, exclude=exclude):
        if isinstance(c, FileReport):
            result.files.append(c)
            continue
        real = c.path.resolve()
        if real in seen:  # the same file named twice (overlapping arguments)
            continue
        seen.add(real)
        if on_file is not None:
            on_file(c.display)
        report, loaded = load_candidate(c, max_bytes=max_bytes)
        result.files.append(report)
        if loaded is not None:
            if on_loaded is not None:
                on_loaded(loaded)
            else:
                result.loaded.append(loaded)
    return result


def _compose_fragment(path: Path, text: str) -> str:
    if path.suffix.lower() not in (".yml", ".yaml"):
        return ""
    try:
        from migrate.sources.compose import fragment_reason
    except ImportError:  # the compose reader missing is reported by unavailable_for
        return ""
    return fragment_reason(path, text)


@overload
def load_candidate(c: Candidate, *, max_bytes: int = ..., light: Literal[False] = ...) -> tuple[FileReport, LoadedFile | None]: ...


@overload
def load_candidate(c: Candidate, *, max_bytes: int = ..., light: bool) -> tuple[FileReport, LoadedFile | Light | None]: ...


def load_candidate(c: Candidate, *, max_bytes: int = DEFAULT_MAX_BYTES,
                   light: bool = False) -> tuple[FileReport, LoadedFile | Light | None]:
    """Read, detect and load one candidate. Bad input becomes an ERROR report, never an exception.

    ``light=True`` (a scan, inside ``unproven_loads``): a task definition the C decoder reads comes back
    as :class:`~migrate.sources.ecs_taskdef.fast.Light`, its entries not built yet."""
    try:
        src = read_source(c.path, c.display, max_bytes=max_bytes)
    except InputError as e:
        return FileReport(c.display, "unknown", FileStatus.ERROR, e.reason, e.line), None
    source = detect_source(c.path, src.text)
    if source is None and c.path.name.lower().endswith((".tf", ".tfvars")):
        return _terraform_module_file(c.display, src.text), None
    if source is None:
        missing = unavailable_for(c.path, src.text)
        if missing:
            return FileReport(c.display, "unknown", FileStatus.ERROR, missing), None
        fragment = _compose_fragment(c.path, src.text)
        if fragment:
            return FileReport(c.display, "compose", FileStatus.SKIPPED, fragment), None
        from migrate.sources import unrecognised  # only for files no format claims (keeps start-up short)

        odd = unrecognised.read(src)
        if odd is not None:
            return FileReport(c.display, unrecognised.KIND, FileStatus.ERROR, odd.warnings[0],
                              odd.entries[0].line), odd
        return FileReport(c.display, "unknown", FileStatus.SKIPPED, NOT_A_DEFINITION), None
    try:
        loaded: LoadedFile | Light | None = None
        if light and source.kind == "ecs-taskdef" and not _PROVE[0]:
            from migrate.sources.ecs_taskdef import fast

            loaded = fast.decode(src, Path(c.display).name.split(".")[0] or c.display)
        if loaded is None:
            loaded = source.load(src, root=c.root)
    except InputError as e:
        return FileReport(c.display, source.kind, FileStatus.ERROR, e.reason, e.line), None
    return FileReport(c.display, source.kind, FileStatus.SCANNED), loaded


def _terraform_module_file(display: str, text: str) -> FileReport:
    """Every walked Terraform file is in the report: a broken one is an error under its own name
    and line (its module's definitions are still scanned without it), a good one is skipped."""
    from migrate.rewrite import hcl_spans as hs

    try:
        hs.parse_hcl(text)
    except hs.SpanError as e:
        return FileReport(display, "terraform", FileStatus.ERROR, f"invalid HCL: {e.reason}", e.line)
    return FileReport(display, "terraform", FileStatus.SKIPPED, TF_MODULE_FILE)
