"""Waves, concurrency and failure policy for live runs.

Each service runs: its unit's shared actions (entries, grant, new revision; once per unit, under a
per-unit lock) -> UpdateService -> WaitHealthy, through the file-mode executor with its own compensation
disabled. A failed service is always rolled back by itself (service to its previous ARN; the unit's
revision, grant and entries too once no other service of the run uses them). The policy then decides
what else happens: ``rollback-service`` carries on, ``rollback-wave`` rolls back the rest of the wave and
stops, ``rollback-all`` rolls back the whole run and stops, ``stop`` stops after the wave.

Ctrl-C and SIGTERM (while :meth:`LiveRunner.run` holds the main thread) mirror file-mode apply: an interrupt is
a failure of the wave in flight. The first one starts no new service and no new action, ends health waits,
journals ``live-interrupted``, rolls back every service of that wave (the whole run under ``rollback-all``),
keeps the earlier waves (healthy, journaled ``applied``) and stops with an ActionFailed that says where each
service stands and which command finishes the job. A second one stops that rollback between two reverts (the
journal stays consistent: ``rollback`` finishes it); a third one ends the process at once (records are fsync'd
whole, so even that leaves a journal that ``apply`` and ``rollback`` read).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from migrate.apply.env import Env, HealthChecker
from migrate.apply.executor import apply_plan, rollback_plan, state_summary
from migrate.errors import ActionFailed, ConfigError, MigrateError
from migrate.live.health import with_sleep
from migrate.live.planner import ServiceSteps, Unit, units_of
from migrate.plan.actions import Action
from migrate.plan.choices import FailurePolicy, parse
from migrate.plan.model import Plan
from migrate.stores.aws import safe_aws_message

POLICIES = tuple(p.value for p in FailurePolicy)
MIGRATED, ROLLED_BACK, SKIPPED, FAILED, REGISTERED_ONLY = "migrated", "rolled-back", "skipped", "failed", "registered-only"


@dataclass(frozen=True)
class WaveSpec:
    size: str = "rest"  #: "N" services, "N%" of all, or "rest"
    concurrency: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"rest|\d+%?", self.size):
            raise ConfigError(f"wave size must be N, N% or rest, not {self.size!r}")
        if self.concurrency < 1:
            raise ConfigError("wave concurrency must be at least 1")


#: canary first: one service alone, then the rest four at a time
DEFAULT_WAVES = (WaveSpec("1", 1, "canary"), WaveSpec("rest", 4, "rest"))


def failure_policy(value: str) -> FailurePolicy:
    """``value`` as a FailurePolicy; ConfigError naming the choices otherwise."""
    try:
        return parse(FailurePolicy, value, "failure policy")
    except ValueError:
        raise ConfigError(f"failure policy must be one of {', '.join(POLICIES)}, not {value!r}") from None


@dataclass(frozen=True)
class RunOptions:
    waves: tuple[WaveSpec, ...] = DEFAULT_WAVES
    failure_policy: FailurePolicy = FailurePolicy.ROLLBACK_SERVICE

    def __post_init__(self) -> None:
        object.__setattr__(self, "failure_policy", failure_policy(self.failure_policy))
        if not self.waves:
            raise ConfigError("at least one wave is needed")


def split_waves(keys: Sequence[str], specs: Sequence[WaveSpec]) -> list[list[str]]:
    """Cut the ordered service keys into waves. Trailing services go into the last wave."""
    out: list[list[str]] = []
    rest = list(keys)
    total = len(keys)
    for i, spec in enumerate(specs):
        if spec.size == "rest" or i == len(specs) - 1 and spec.size == "rest":
            n = len(rest)
        elif spec.size.endswith("%"):
            n = max(1, -(-total * int(spec.size[:-1]) // 100))
        else:
            n = int(spec.size)
        out.append(rest[:n])
        rest = rest[n:]
    if rest:
        out[-1].extend(rest)
    return out


@dataclass
class ServiceResult:
    key: str
    wave: int
    status: str = SKIPPED
    reason: str = ""
    seconds: float = 0.0
    revision: str = ""
    proof: str = ""  #: what the proof said before deploying (issue 15 §4): will start / would fail: ... / could not check: ...

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class RunReport:
    plan_id: str
    policy: FailurePolicy
    results: list[ServiceResult] = field(default_factory=list)
    waves: list[list[str]] = field(default_factory=list)
    seconds: float = 0.0
    stopped_after_wave: int | None = None

    def by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        return all(r.status in (MIGRATED, REGISTERED_ONLY) for r in self.results)


Event = Callable[[str, int, str, str], None]  #: (event, wave, service key, status)

#: the signals a live run turns into a clean stop (SIGTERM: what a CI runner or ``kill`` sends)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(MigrateError):
    """Raised inside a live run at its next safe point after Ctrl-C / SIGTERM (never from the signal handler)."""


class Interrupt:
    """What the signals asked for. The handler only counts and sets events; the workers and the main loop act on
    them at safe points (between actions, between reverts, in a health wait), so no journal record is ever cut
    by an exception raised in the middle of it."""

    def __init__(self) -> None:
        self.signal = ""
        self.count = 0
        self.stop = threading.Event()  #: first interrupt: start nothing new, end the in-flight wave by rolling it back
        self.hard = threading.Event()  #: second: stop that rollback at the next safe point

    def hit(self, name: str) -> int:
        self.count += 1
        self.signal = self.signal or name
        (self.stop if self.count == 1 else self.hard).set()
        return self.count

    @property
    def why(self) -> str:
        return f"interrupted ({self.signal or 'stop requested'})"

    def sleep(self, seconds: float) -> None:
        """A health wait's sleep: ends at once on an interrupt."""
        if self.stop.wait(seconds):
            raise Interrupted(f"{self.why}: health wait abandoned")


def _say(text: str) -> None:
    """Write to stderr from a signal handler (os.write: no buffered stream is re-entered)."""
    with contextlib.suppress(OSError):
        os.write(2, text.encode())


class LiveRunner:
    def __init__(self, rt: Env, options: RunOptions = RunOptions(), *, on_event: Event | None = None,
                 proofs: Mapping[str, str] | None = None) -> None:
        self.rt = rt
        #: cluster/service -> the proof's answer ("will start", "would fail: ...", "could not check: ...")
        self.proofs = dict(proofs or {})
        self.options = options
        self.units, steps = units_of(rt.plan)
        self.steps = {s.key: s for s in steps}
        self.order = [s.key for s in steps]
        self.on_event = on_event or (lambda *_: None)
        self._locks = {uid: threading.Lock() for uid in self.units}
        self.interrupt = Interrupt()
        #: what the user reads the moment a signal arrives (called from the signal handler)
        self.notify: Callable[[str], None] = _say
        self._wave = 0
        self._health: tuple[HealthChecker | None, HealthChecker | None] = (None, None)

    # -- sub-runtimes ------------------------------------------------------------------------------
    def _sub(self, actions: Sequence[Action]) -> Env:
        plan = dataclasses.replace(self.rt.plan, actions=tuple(actions), inputs=())
        return dataclasses.replace(self.rt, plan=plan, progress=self._checkpoint, health=self._interruptible_health())

    def _interruptible_health(self) -> HealthChecker | None:
        inner = self.rt.health
        if inner is None:
            return None
        if self._health[0] is not inner:
            self._health = (inner, with_sleep(inner, self.interrupt.sleep))
        return self._health[1]

    def _checkpoint(self, what: str, a: Action) -> None:
        """Called by the executor before each action (``apply``) and each revert (``rollback``): the safe points."""
        if what == "apply" and self.interrupt.stop.is_set():
            raise Interrupted(f"{self.interrupt.why} before {a.describe()}")
        if what == "rollback" and self.interrupt.hard.is_set():
            raise Interrupted(f"interrupted again: rollback stopped before {a.describe()}")

    def _phase(self, aid: str) -> str:
        st = self.rt.journal.states().get(aid)
        return st.phase if st else "pending"

    def migrated(self, key: str) -> bool:
        s = self.steps[key]
        last = s.actions[-1] if s.actions else self.units[s.unit].register
        return self._phase(last.id) == "applied"

    def _unit_in_use(self, unit_id: str, except_key: str) -> bool:
        for s in self.steps.values():
            if s.unit != unit_id or s.key == except_key:
                continue
            if s.actions and self._phase(s.actions[0].id) in ("intent", "applied", "failed", "reverting"):
                return True
            if s.register_only and self._phase(self.units[unit_id].register.id) == "applied":
                return True  # a CODE_DEPLOY service may deploy it any time: keep it
        return False

    # -- one service ------------------------------------------------------------------------------
    def migrate_service(self, key: str, wave: int) -> ServiceResult:
        s = self.steps[key]
        unit = self.units[s.unit]
        res = ServiceResult(key, wave, proof=self.proofs.get(key, ""))
        t0 = self.rt.clock()
        if self.migrated(key):
            res.status, res.reason = (REGISTERED_ONLY if s.register_only else MIGRATED), "already done in an earlier run"
            res.revision = self._new_arn(unit)
            return res
        if self.interrupt.stop.is_set():
            res.reason = f"not started: {self.interrupt.why}"
            return res
        self.on_event("start", wave, key, "running")
        with self._locks[s.unit]:
            if self.interrupt.stop.is_set():  # waited for the unit's lock while the interrupt came
                res.reason = f"not started: {self.interrupt.why}"
                return res
            try:
                if any(self._phase(a.id) == "reverting" for a in (*unit.shared, *s.actions)):
                    # a rollback of this service was cut (killed, or stopped by a second interrupt): finish it
                    # first. Re-applying a half-reverted action would leave what it made before behind (a new
                    # revision registered next to a still ACTIVE one) or refuse (a service still on the new one).
                    self._revert(s, unit)
                if any(self._phase(a.id) != "applied" for a in unit.shared):
                    apply_plan(self._sub(unit.shared), auto_rollback=False)
                if s.actions:
                    apply_plan(self._sub(s.actions), auto_rollback=False)
                res.status = REGISTERED_ONLY if s.register_only else MIGRATED
                if s.register_only:
                    res.reason = "CODE_DEPLOY/EXTERNAL controller: new revision registered, deploy it through your pipeline"
                res.revision = self._new_arn(unit)
            except Exception as e:  # noqa: BLE001 - journaled by the executor (Interrupted included); compensate here
                res.reason = self._failure_reason(s, unit, e)
                res.status = self._rollback_locked(s, unit, res)
        res.seconds = round(self.rt.clock() - t0, 3)
        self.on_event("end", wave, key, res.status)
        return res

    def _failure_reason(self, s: ServiceSteps, unit: Unit, e: BaseException) -> str:
        if isinstance(e, Interrupted):
            return str(e.args[0])
        states = self.rt.journal.states()
        for a in (*unit.shared, *s.actions):
            st = states.get(a.id)
            if st is not None and st.phase == "failed" and st.error:
                return st.error
        return e.args[0] if isinstance(e, MigrateError) else safe_aws_message(e)

    def _revert(self, s: ServiceSteps, unit: Unit) -> None:
        """The service's actions, then its unit's shared ones once no other service of the run uses them."""
        if s.actions:
            rollback_plan(self._sub(s.actions))
        if not self._unit_in_use(s.unit, s.key):
            rollback_plan(self._sub(unit.shared))

    def _rollback_locked(self, s: ServiceSteps, unit: Unit, res: ServiceResult) -> str:
        try:
            self._revert(s, unit)
            return ROLLED_BACK
        except Exception as e:  # noqa: BLE001 - Interrupted included (a second interrupt): the journal has each step
            msg = e.args[0] if isinstance(e, MigrateError) else safe_aws_message(e)
            res.reason += f"; rollback {'stopped' if isinstance(e, Interrupted) else 'failed too'}: {msg}"
            return FAILED

    def rollback_service(self, key: str, res: ServiceResult) -> str:
        s = self.steps[key]
        with self._locks[s.unit]:
            return self._rollback_locked(s, self.units[s.unit], res)

    def _new_arn(self, unit: Unit) -> str:
        st = self.rt.journal.states().get(unit.register.id)
        return str(st.receipt.get("arn", "")) if st else ""

    # -- the run --------------------------------------------------------------------------------
    def run(self, *, only: set[str] | None = None) -> RunReport:
        """Deploy wave by wave. Raises :class:`RunInterrupted` (after compensating) when Ctrl-C / SIGTERM
        stopped the run before its last wave ended."""
        with self._signals():
            rep, stopped_in = self._run(only)
        if stopped_in:
            raise self._interrupted(rep, stopped_in)
        return rep

    def _run(self, only: set[str] | None) -> tuple[RunReport, int]:
        t0 = self.rt.clock()
        keys = [k for k in self.order if only is None or k in only]
        waves = split_waves(keys, self.options.waves)
        rep = RunReport(self.rt.plan.id, self.options.failure_policy, waves=waves)
        self.rt.journal.append("live-run-start", receipt={"waves": [len(w) for w in waves],
                                                          "policy": self.options.failure_policy})
        stop_reason = ""
        stopped_in = 0  #: the wave an interrupt stopped (0: none)
        for wi, wave in enumerate(waves, 1):
            if not stop_reason and self.interrupt.stop.is_set():  # came between two waves: nothing in flight
                stopped_in = wi
                self.rt.journal.append("live-interrupted", receipt={"wave": wi, "signal": self.interrupt.signal,
                                                                    "running": []})
                stop_reason = f"not started: {self.interrupt.why}"
                rep.stopped_after_wave = wi - 1
            if stop_reason:
                rep.results += [ServiceResult(k, wi, SKIPPED, stop_reason) for k in wave]
                continue
            policy = self.options.failure_policy
            doomed = [k for k in wave if self.proofs.get(k, "").startswith("would fail")]
            if doomed and policy != FailurePolicy.ROLLBACK_SERVICE:
                # the proof says a task of this wave would not start: a policy that stops on failure refuses the
                # wave before touching it (rollback-service deploys it and rolls the failures back one by one)
                stop_reason = f"refused by policy {policy}: {doomed[0]} {self.proofs[doomed[0]]}"[:600]
                rep.results += [ServiceResult(k, wi, SKIPPED, stop_reason, proof=self.proofs.get(k, "")) for k in wave]
                rep.stopped_after_wave = wi
                self.rt.journal.append("wave-refused", receipt={"wave": wi, "services": doomed})
                continue
            self._wave = wi
            self.on_event("wave", wi, "", str(len(wave)))
            self.rt.journal.append("wave-start", receipt={"wave": wi, "services": wave})
            spec = self.options.waves[min(wi - 1, len(self.options.waves) - 1)]
            results, interrupted = self._run_wave(wi, wave, spec.concurrency)
            failed = [r for r in results if r.status in (ROLLED_BACK, FAILED)]
            # an interrupt is a failure of the wave in flight: roll the wave back (the run under rollback-all)
            why = (f"rolled back: {self.interrupt.why} during wave {wi}" if interrupted else
                   f"rolled back by policy {policy}: {failed[0].key} failed in wave {wi}"
                   if failed and policy in (FailurePolicy.ROLLBACK_WAVE, FailurePolicy.ROLLBACK_ALL) else "")
            if why:
                victims = [r for r in results if r.status in (MIGRATED, REGISTERED_ONLY)]
                if policy == FailurePolicy.ROLLBACK_ALL:
                    victims += [r for r in rep.results if r.status in (MIGRATED, REGISTERED_ONLY)]
                for r in victims:
                    r.reason = why
                    r.status = self.rollback_service(r.key, r)
            rep.results += results
            self.rt.journal.append("wave-end", receipt={"wave": wi, "failed": [r.key for r in failed]})
            if interrupted:
                stopped_in = wi
                stop_reason = f"not started: {self.interrupt.why} during wave {wi}"
                rep.stopped_after_wave = wi
            elif failed and policy != FailurePolicy.ROLLBACK_SERVICE:
                stop_reason = f"not run: wave {wi} failed (policy {policy})"
                rep.stopped_after_wave = wi
        rep.seconds = round(self.rt.clock() - t0, 3)
        self.rt.journal.append("live-run-end", receipt=rep.by_status())
        return rep, stopped_in

    def _run_wave(self, wi: int, wave: Sequence[str], concurrency: int) -> tuple[list[ServiceResult], bool]:
        """Every service of the wave on ``concurrency`` threads; (results in wave order, interrupted?). The main
        thread journals an interrupt as soon as it sees one (never from the signal handler itself)."""
        interrupted = False
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures: dict[Future[ServiceResult], str] = {pool.submit(self.migrate_service, k, wi): k for k in wave}
            pending = set(futures)
            while pending:
                _, pending = wait_futures(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                if self.interrupt.stop.is_set() and not interrupted:
                    interrupted = True
                    self.rt.journal.append("live-interrupted", receipt={
                        "wave": wi, "signal": self.interrupt.signal,
                        "running": [futures[f] for f in futures if f in pending]})
        return [f.result() for f in futures], interrupted

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM set :attr:`interrupt` for the duration of the run (main thread only: Python
        delivers signals there; a run on another thread keeps the process's handlers)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, _frame: FrameType | None) -> None:
            n = self.interrupt.hit(signal.Signals(signum).name)
            if n == 1:
                self.notify(f"\n{self.interrupt.why}: starting nothing new; rolling back the wave in flight "
                            f"(wave {self._wave}). Interrupt again to stop that rollback at the next safe point.\n")
            elif n == 2:
                self.notify("\ninterrupted again: the rollback stops at the next safe point (`rollback` finishes it); "
                            "a third interrupt quits at once.\n")
            else:  # the user insists: die by the signal (every journal record is fsync'd whole, nothing is torn)
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
        for s in STOP_SIGNALS:
            signal.signal(s, handler)
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h if h is not None else signal.SIG_DFL)

    def _interrupted(self, rep: RunReport, wave: int) -> RunInterrupted:
        """The clear stop after an interrupt: where every service stands and the command that finishes the job."""
        def names(status: tuple[str, ...]) -> str:
            keys = [r.key for r in rep.results if r.status in status]
            return (", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")) if keys else "none"

        stuck = [r for r in rep.results if r.status == FAILED]
        parts = [f"{self.interrupt.why} in wave {wave} of {len(rep.waves)}",
                 f"on their new revision (journaled applied): {names((MIGRATED, REGISTERED_ONLY))}",
                 f"back on their previous revision: {names((ROLLED_BACK,))}"]
        if stuck:
            parts.append(f"not rolled back completely (the journal has each step): {names((FAILED,))}")
        parts.append(f"not started: {names((SKIPPED,))}")
        ref = self.rt.plan_ref
        undo = f"`secrets-migrate live rollback {ref}` undoes the whole run"
        hint = (f"{undo} (it finishes the interrupted rollback), or `secrets-migrate live apply {ref}` resumes"
                if stuck else f"`secrets-migrate live apply {ref}` resumes the services not done; {undo}")
        return RunInterrupted("; ".join(parts) + f"; {state_summary(self.rt)}", hint=hint, report=rep)


class RunInterrupted(ActionFailed):
    """A live run stopped by Ctrl-C / SIGTERM, compensated; ``report`` has one row per service."""

    def __init__(self, message: str, *, hint: str, report: RunReport) -> None:
        super().__init__(message, hint=hint)
        self.report = report


def rollback_live(rt: Env, services: Sequence[str] | None = None) -> list[str]:
    """Undo a whole live run (or only ``services``, given as cluster/service keys). Idempotent."""
    if not services:
        return rollback_plan(rt)
    runner = LiveRunner(rt)
    unknown = [k for k in services if k not in runner.steps]
    if unknown:
        raise ConfigError(f"not in this plan: {', '.join(unknown)}")
    notes = []
    for k in services:
        res = ServiceResult(k, 0)
        if runner.rollback_service(k, res) == FAILED:
            notes.append(f"{k}: {res.reason}")
    return notes


def plan_with(plan: Plan, actions: Sequence[Action]) -> Plan:
    return dataclasses.replace(plan, actions=tuple(actions))
