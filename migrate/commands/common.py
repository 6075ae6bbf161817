"""Shared command plumbing: scanning paths into findings, loading plans and their runtime."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate.config import Config, load_config
from migrate.errors import PlanError, UsageError
from migrate.model import FileReport, FileStatus, Finding, Verdict
from migrate.plan.choices import Mode
from migrate.sources.base import LoadedFile

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from migrate.apply.env import Env, HealthChecker
    from migrate.apply.journal import Journal
    from migrate.live.ratelimit import RateLimits
    from migrate.plan.model import Plan
    from migrate.stores.aws import AwsContext


@dataclass
class ScanOutcome:
    files: list[FileReport]
    loaded: list[LoadedFile]
    findings: list[Finding]

    @property
    def errors(self) -> list[FileReport]:
        return [f for f in self.files if f.status is FileStatus.ERROR]


def progress_bar(console: Console, *, enabled: bool = True) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not enabled)


def scan(paths: Sequence[str], *, config: Config | None = None, console: Console | None = None,
         max_file_size: int | None = None, keep_loaded: bool = True, keep_all: bool = True,
         on_findings: Callable[[list[Any]], None] | None = None, workers: int | None = None,
         render: Callable[[Finding], Any] | None = None) -> ScanOutcome:
    """Load and classify. ``keep_loaded=False`` streams: files are loaded and classified in chunks
    (in worker processes when there are many) and dropped; kept findings carry no value
    (``keep_all=False`` keeps only secret findings), so memory stays flat however many files there
    are. ``plan`` needs the loaded files; ``scan`` does not. With ``render`` (streaming only), each finding is
    handed over as ``render(finding)``, computed where it was judged (a worker: only that crosses back).
    With ``on_findings`` findings are handed
    over per chunk and not kept."""
    from migrate.detect.engine import classify
    from migrate.sources.walk import scan_paths

    for p in paths:
        if not os.path.lexists(p):
            raise UsageError(f"no such file or directory: {p}")
    cfg = config or load_config(Path(paths[0]) if paths else Path.cwd())
    max_bytes = max_file_size or cfg.max_file_size
    show = console is not None and console.is_terminal
    if not keep_loaded:
        return _scan_streaming(paths, cfg=cfg, max_bytes=max_bytes, keep_all=keep_all, on_findings=on_findings,
                               render=render,
                               console=console if show else None, workers=workers)
    if console is not None and show:
        with progress_bar(console) as prog:
            task = prog.add_task("Scanning", total=None)
            res = scan_paths(list(paths), max_bytes=max_bytes, exclude=tuple(cfg.exclude),
                             on_file=lambda _d: prog.advance(task))
    else:
        res = scan_paths(list(paths), max_bytes=max_bytes, exclude=tuple(cfg.exclude))
    loaded = dedupe(list(res.loaded))
    entries = [e for lf in loaded for e in lf.entries]
    return ScanOutcome(files=list(res.files), loaded=loaded, findings=classify(entries, cfg))


_CHUNK = 25  #: files per unit of work; chunks break only between directories below 4x this
_POOL_MIN_FILES = 400  #: fewer candidate files than this are scanned in this process


def _chunks(cands: list[Any]) -> list[list[Any]]:
    """Chunks of candidates that keep a directory together (a Terraform module and the JSON it reads
    through file() are deduplicated within one chunk) unless the directory is very large."""
    out: list[list[Any]] = []
    cur: list[Any] = []
    for c in cands:
        if cur and (len(cur) >= 4 * _CHUNK or (len(cur) >= _CHUNK and c.path.parent != cur[-1].path.parent)):
            out.append(cur)
            cur = []
        cur.append(c)
    if cur:
        out.append(cur)
    return out


#: the judge of this process's share of a streaming scan (set for the scan, in a worker for its life)
_JUDGE: list[Any] = [None]


def _scan_chunk(args: tuple[list[Any], int, Config, bool, Callable[[Finding], Any] | None]
                ) -> tuple[list[FileReport], list[Any]]:
    """Worker: :func:`_judge_chunk`, each finding rendered when a renderer is given."""
    return _judge_chunk(args[:4], args[4])


def _judge_chunk(args: tuple[list[Any], int, Config, bool], render: Callable[[Finding], Any] | None = None
                 ) -> tuple[list[FileReport], list[Any]]:
    """Worker: load, deduplicate and classify one chunk; return reports and value-free findings (each
    ``render(finding)`` when a renderer is given).

    Task definitions the C decoder reads are judged from their (name, value) pairs; an Entry is built
    only for what is reported, directly without its value; a renderer with a ``light(light, item,
    judgement)`` method renders a literal's finding from those without building it. A chunk that mixes
    formats (an entry may be read by two sources) or a config with rules takes the general path: every
    entry built, deduplicated and classified."""
    from migrate.detect.engine import Judge
    from migrate.sources.ecs_taskdef.fast import Light
    from migrate.sources.walk import load_candidate

    cands, max_bytes, cfg, keep_all = args
    judge = _JUDGE[0]
    own = judge is None
    if own:
        judge = Judge()
    try:
        reports: list[FileReport] = []
        got: list[Any] = []
        for c in cands:
            report, lf = load_candidate(c, max_bytes=max_bytes, light=True)
            reports.append(report)
            if lf is not None:
                got.append(lf)
        if cfg.ignore or cfg.force or not all(isinstance(x, Light) for x in got):
            loaded = [x.loaded() if isinstance(x, Light) else x for x in got]
            found = [dataclasses.replace(f, entry=dataclasses.replace(f.entry, value=None))
                     for f in (judge.finding(e, cfg) for lf in dedupe(loaded) for e in lf.entries)
                     if keep_all or f.is_secret]
            return reports, found if render is None else [render(f) for f in found]
        found = []
        never, judge_literal, make, secret = judge.never_secret, judge.judge_literal, Judge.make_finding, Verdict.SECRET
        rend = render or _same
        fast = getattr(render, "light", None)
        for light in got:
            entry = light.entry
            for item in light.items:
                value = item[5]
                if value is None:  # managed: never a secret
                    if keep_all:
                        found.append(rend(judge.finding(entry(item, keep_value=False))))
                    continue
                if not keep_all and never(item[4], value):
                    continue
                j = judge_literal(item[4], value, item[2], item[9])
                if keep_all or j.verdict is secret:
                    found.append(fast(light, item, j) if fast is not None else rend(make(entry(item, keep_value=False), j)))
        return reports, found
    finally:
        if own:
            judge.close()


def _same(f: Finding) -> Finding:
    return f


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cyclic garbage collector runs less often during a streaming scan: it allocates many small
    acyclic objects (decoded documents, judgements) that reference counting frees, and the objects that
    exist before it (modules) are set aside (``gc.freeze``) instead of being traversed again and again."""
    import gc

    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _no_progress(_n: int) -> None:
    pass


def _worker_init() -> None:
    from migrate.detect.engine import Judge

    _JUDGE[0] = Judge()


def _scan_streaming(paths: Sequence[str], *, cfg: Config, max_bytes: int, keep_all: bool,
                    on_findings: Callable[[list[Any]], None] | None, console: Console | None,
                    workers: int | None, render: Callable[[Finding], Any] | None = None) -> ScanOutcome:
    from migrate.detect.engine import Judge
    from migrate.sources.walk import iter_candidates

    files: list[FileReport] = []
    cands: list[Any] = []
    seen: set[Path] = set()
    order: dict[str, int] = {}  # walk order, for a deterministic report
    for c in iter_candidates(list(paths), max_bytes=max_bytes, exclude=tuple(cfg.exclude)):
        order.setdefault(c.path if isinstance(c, FileReport) else c.display, len(order))
        if isinstance(c, FileReport):
            files.append(c)
            continue
        if len(paths) > 1:  # the same file named twice (overlapping arguments); one walk names each once
            real = c.path.resolve()
            if real in seen:
                continue
            seen.add(real)
        cands.append(c)
    chunks = _chunks(cands)
    n = workers if workers is not None else min(os.cpu_count() or 1, 4)
    # a worker pool (fork, start-up, results crossing back) pays from a few hundred task definitions on
    # (measured: slower at 100, even at 300, faster at 1,000); an explicit worker count only needs 4 chunks
    use_pool = n > 1 and len(cands) >= (4 * _CHUNK if workers is not None else _POOL_MIN_FILES)
    findings: list[Any] = []
    jobs = [(ch, max_bytes, cfg, keep_all, render) for ch in chunks]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_fewer_collections())
        advance: Callable[[int], None] = _no_progress
        if console is not None:  # rich only for a terminal
            prog = stack.enter_context(progress_bar(console))
            task = prog.add_task("Scanning", total=len(cands))
            advance = functools.partial(prog.advance, task)
        if use_pool:
            # what every worker imports for its first chunk: once here, before the fork, not once per worker
            import migrate.sources.ecs_taskdef.fast  # noqa: F401

            for reports, found in _pool_map(jobs, n):
                _collect(reports, found, files, findings, on_findings)
                advance(len(reports))
        else:
            with Judge() as judge:
                _JUDGE[0] = judge
                try:
                    for job in jobs:
                        reports, found = _scan_chunk(job)
                        _collect(reports, found, files, findings, on_findings)
                        advance(len(reports))
                finally:
                    _JUDGE[0] = None
    files.sort(key=lambda f: order.get(f.path, len(order)))
    return ScanOutcome(files=files, loaded=[], findings=_dedupe_findings(findings))


def _pool_map(jobs: list[Any], n: int) -> Iterator[tuple[list[FileReport], list[Any]]]:
    """``map(_scan_chunk, jobs)`` in ``n`` worker processes, results in job order: forked workers where
    the system forks (:func:`_forked_map`), else a ``ProcessPoolExecutor``."""
    if hasattr(os, "fork") and hasattr(os, "waitpid"):
        yield from _forked_map(jobs, n)
        return
    from concurrent.futures import ProcessPoolExecutor  # pragma: no cover - systems without fork

    with ProcessPoolExecutor(max_workers=n, initializer=_worker_init) as pool:  # pragma: no cover
        yield from pool.map(_scan_chunk, jobs)


_FRAME = 8  #: a result's header: job number and length of the pickled result (little-endian uint32 each)
_FAILED = 0xFFFFFFFF  #: the job number of a worker's last message: its exception, pickled


def _forked_map(jobs: list[Any], n: int) -> Iterator[tuple[list[FileReport], list[Any]]]:
    """:func:`_pool_map` by ``os.fork``: the cheapest pool on Linux (no multiprocessing machinery, no
    manager thread, jobs not pickled: each worker holds them all from the fork).

    Each worker has two pipes: it reads job numbers from one and writes numbered, pickled results to the
    other. A worker is handed its next job as its answer starts to arrive (one job at a time: whoever is
    free takes the next, so the workers end together).
    A worker's exception ends it and is raised here; a worker that stops without answering is an error;
    on any exit (also Ctrl-C) the workers still running are ended and every worker is reaped."""
    # what the workers need too: imported once, before the fork
    import pickle  # noqa: F401
    import selectors  # noqa: F401
    import signal
    import struct  # noqa: F401

    pids: list[int] = []
    task_w: dict[int, int] = {}  # result pipe (read end) -> task pipe (write end) of the same worker
    finished = False
    try:
        _fork_workers(jobs, min(n, len(jobs)), pids, task_w)
        yield from _forked_results(jobs, task_w)
        finished = True
    finally:
        for t_w in task_w.values():  # no more jobs: a worker ends when it reads the end of its pipe
            with contextlib.suppress(OSError):
                os.close(t_w)
        for pid in pids:
            if not finished:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        for r_r in task_w:
            with contextlib.suppress(OSError):
                os.close(r_r)


def _fork_workers(jobs: list[Any], n: int, pids: list[int], task_w: dict[int, int]) -> None:
    """Fork ``n`` workers (their ids into ``pids``, their pipes' parent ends into ``task_w``); each worker
    keeps only its own two pipe ends."""
    pipes = [(os.pipe(), os.pipe()) for _ in range(n)]
    try:
        for k, ((t_r, t_w), (r_r, r_w)) in enumerate(pipes):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the worker (coverage does not follow a fork)
                code = 1
                try:
                    for j, ((a, b), (c, d)) in enumerate(pipes):
                        for fd in (b, c) if j == k else (a, b, c, d):
                            os.close(fd)
                    code = _forked_worker(jobs, t_r, r_w)
                finally:
                    os._exit(code)
            pids.append(pid)
            task_w[r_r] = t_w
    finally:
        for k, ((t_r, t_w), (r_r, r_w)) in enumerate(pipes):
            os.close(t_r)
            os.close(r_w)
            if k >= len(pids):  # not forked (a fork failed): nobody reads or writes these
                os.close(t_w)
                os.close(r_r)


def _forked_results(jobs: list[Any], task_w: dict[int, int]) -> Iterator[Any]:
    """The results of ``jobs`` in job order, handing out job numbers as workers answer."""
    import pickle
    import selectors
    import struct

    nxt = 0
    outstanding = dict.fromkeys(task_w, 0)

    def hand_out(fd: int) -> None:
        nonlocal nxt
        if nxt < len(jobs):
            try:
                os.write(task_w[fd], struct.pack("<I", nxt))
            except BrokenPipeError:  # the worker has ended: its last message (or its silence) tells why
                return
            nxt += 1
            outstanding[fd] += 1

    sel = selectors.DefaultSelector()
    bufs: dict[int, bytearray] = {}
    for fd in task_w:
        sel.register(fd, selectors.EVENT_READ)
        bufs[fd] = bytearray()
        hand_out(fd)
    done: dict[int, Any] = {}
    want = 0
    with sel:
        while want < len(jobs):
            if not sel.get_map():
                raise RuntimeError("the scan workers stopped before every job was done")
            for key, _ev in sel.select():
                fd = int(key.fd)
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    sel.unregister(fd)
                    if outstanding[fd]:
                        raise RuntimeError("a scan worker stopped before it answered")
                    continue
                if outstanding[fd] < 2:  # it is answering: its next job waits for it when it has sent
                    hand_out(fd)
                buf = bufs[fd]
                buf += chunk
                while len(buf) >= _FRAME:
                    num, size = struct.unpack_from("<II", buf)
                    if len(buf) < _FRAME + size:
                        break
                    obj = pickle.loads(buf[_FRAME:_FRAME + size])
                    del buf[:_FRAME + size]
                    if num == _FAILED:
                        raise obj
                    done[num] = obj
                    outstanding[fd] -= 1
            while want in done:
                yield done.pop(want)
                want += 1


def _forked_worker(jobs: list[Any], tasks: int, results: int) -> int:  # pragma: no cover - runs in a fork
    """A worker of :func:`_forked_map`: job numbers in, numbered pickled results out; 0 at the end of
    the jobs, 1 after an exception (sent as the last message)."""
    import pickle
    import struct

    def send(num: int, obj: Any) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(struct.pack("<II", num, len(data)) + data)
        while view:
            view = view[os.write(results, view):]

    try:
        _worker_init()
        while True:
            raw = b""
            while len(raw) < 4:
                got = os.read(tasks, 4 - len(raw))
                if not got:
                    return 0
                raw += got
            num = struct.unpack("<I", raw)[0]
            send(num, _scan_chunk(jobs[num]))
    except BaseException as e:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            send(_FAILED, e)
        except BaseException:  # noqa: BLE001 - unpicklable, or the parent is gone
            with contextlib.suppress(BaseException):
                send(_FAILED, RuntimeError(f"a scan worker failed ({type(e).__name__})"))
        return 1


def _collect(reports: list[FileReport], found: list[Any], files: list[FileReport], findings: list[Any],
             on_findings: Callable[[list[Any]], None] | None) -> None:
    files.extend(reports)
    if on_findings is not None:
        on_findings(found)
    else:
        findings.extend(found)


def _dedupe_findings(findings: list[Finding]) -> list[Finding]:
    best: dict[str, Finding] = {}
    for f in findings:
        cur = best.get(f.entry.key)
        if cur is None or _PRECEDENCE.get(f.entry.source, 9) < _PRECEDENCE.get(cur.entry.source, 9):
            best[f.entry.key] = f
    return [f for f in findings if best[f.entry.key] is f]


#: when two sources report the same entry (a JSON file that Terraform reads through file()),
#: the one that knows more context keeps it
_PRECEDENCE = {"terraform": 0, "cloudformation": 1, "cdk-python": 1, "compose": 2, "ecs-taskdef": 3}


def dedupe(loaded: list[LoadedFile]) -> list[LoadedFile]:
    import dataclasses

    owner: dict[str, int] = {}
    for i, lf in enumerate(loaded):
        for e in lf.entries:
            j = owner.get(e.key)
            if j is None or _PRECEDENCE.get(lf.kind, 9) < _PRECEDENCE.get(loaded[j].kind, 9):
                owner[e.key] = i
    out = []
    for i, lf in enumerate(loaded):
        keep = tuple(e for e in lf.entries if owner.get(e.key) == i)
        out.append(lf if len(keep) == len(lf.entries) else dataclasses.replace(lf, entries=keep))
    return out


def plan_state(plan_path: Path) -> tuple[Plan, Journal]:
    """(Plan, Journal) for a plan file."""
    from migrate.apply.journal import Journal, state_dir_for
    from migrate.plan.model import Plan

    if not plan_path.is_file():
        raise UsageError(f"no such plan file: {plan_path}", hint="create one with `secrets-migrate plan PATH -o plan.json`")
    try:
        text = plan_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PlanError(f"{plan_path}: cannot read plan file ({type(e).__name__})") from None
    plan = Plan.from_json(text, where=str(plan_path), base=plan_path.absolute().parent)
    return plan, Journal(state_dir_for(plan_path), plan.id)


def open_env(plan_path: Path, profile: str | None = None, region: str | None = None, *,
             health: HealthChecker | None = None, limits: RateLimits | None = None,
             health_timeout: float | None = None, credentials: Mapping[str, str] | None = None,
             endpoint_url: str | None = None, aws: AwsContext | None = None) -> Env:
    """The Env for a plan file. Live plans: values from the source revisions, a thread-safe journal,
    rate limits and a health checker; file plans: values from the files."""
    from migrate.apply.env import make_env
    from migrate.live.runtime import LockedJournal, live_env
    from migrate.stores.aws import Aws

    plan, journal = plan_state(plan_path)
    if aws is None and credentials is None and profile is None and plan.mode is Mode.LIVE:
        from migrate.live.accounts import recorded_context  # a multi-account run: re-assume its account's role

        aws = recorded_context(plan_path, region, endpoint_url)
    aws = aws or Aws(profile=profile or plan.settings.profile, region=region or plan.settings.region,
                     credentials=credentials, endpoint_url=endpoint_url)
    if plan.mode is Mode.LIVE:
        return live_env(plan=plan, journal=LockedJournal(journal.dir, plan.id), aws=aws, health=health, limits=limits,
                        health_timeout=health_timeout)
    return make_env(plan=plan, journal=journal, aws=aws)


def phase_counts(plan: Plan, states: Mapping[str, Any]) -> dict[str, int]:
    """Phase -> number of the plan's actions in it (``pending`` for actions with no journal record)."""
    out: dict[str, int] = {}
    for a in plan.actions:
        st = states.get(a.id)
        ph = str(st.phase) if st is not None else "pending"
        out[ph] = out.get(ph, 0) + 1
    return out


def finalize_refusal(plan: Plan, states: Mapping[str, Any]) -> str | None:
    """Why ``finalize`` cannot run now, in the words of the state the plan is in; None when it can."""
    n = phase_counts(plan, states)
    total = len(plan.actions)
    applied, reverted, pending = n.get("applied", 0), n.get("reverted", 0), n.get("pending", 0)
    broken = total - applied - reverted - pending
    if broken:
        return (f"cannot finalize: {broken} action(s) were interrupted or failed mid-way; run `apply` to finish "
                "them or `rollback` to undo the run")
    if reverted and not applied:
        return "cannot finalize: this plan was rolled back, nothing of it is in place (make a new plan to migrate again)"
    if reverted:
        return (f"cannot finalize: {reverted} action(s) were rolled back and {applied} are applied; run `rollback` "
                "to undo the rest, or make a new plan")
    if pending == total and total:
        return "cannot finalize: this plan was never applied; run `apply` first"
    if pending:
        return f"cannot finalize: {pending} of {total} action(s) are not applied yet; run `apply` to finish (or `rollback`)"
    return None


def state_line(plan: Plan, states: Mapping[str, Any], finalized: bool) -> str:
    """One line on where a plan stands (status, show): never applied, applied, rolled back, mixed."""
    if finalized:
        return "State: finalized (applied; rollback no longer possible)"
    n = phase_counts(plan, states)
    total = len(plan.actions)
    if not total:
        return "State: nothing to apply"
    if n.get("pending", 0) == total:
        return "State: not applied"
    if n.get("applied", 0) == total:
        return f"State: applied ({total}/{total} actions); next: verify, then finalize or rollback"
    if n.get("reverted", 0) + n.get("pending", 0) == total:
        return "State: rolled back (nothing of this plan is in place)"
    parts = ", ".join(f"{k} {v}" for k, v in sorted(n.items()))
    return f"State: partly applied ({parts}); run `apply` to finish or `rollback` to undo"


def confirm(question: str, yes: bool) -> bool:
    """True with ``--yes``; otherwise ask on the terminal (refuse when there is none)."""
    if yes:
        return True
    import sys

    from migrate.console import err_console

    if not sys.stdin.isatty():
        err_console().print("refusing to proceed without confirmation: pass --yes (no terminal to ask on)")
        return False
    import typer

    return bool(typer.confirm(question, default=False))
