"""Waves, concurrency and failure policy for live runs.

Each service runs: its unit's shared actions (entries, grant, new revision; once per unit, under a
per-unit lock) -> UpdateService -> WaitHealthy, through the file-mode executor with its own compensation
disabled. A failed service is always rolled back by itself (service to its previous ARN; the unit's
revision, grant and entries too once no other service of the run uses them). The policy then decides
what else happens: ``rollback-service`` carries on, ``rollback-wave`` rolls back the rest of the wave and
stops, ``rollback-all`` rolls back the whole run and stops, ``stop`` stops after the wave.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from migrate.apply.env import Env
from migrate.apply.executor import apply_plan, rollback_plan
from migrate.errors import ConfigError, MigrateError
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

    # -- sub-runtimes ------------------------------------------------------------------------------
    def _sub(self, actions: Sequence[Action]) -> Env:
        plan = dataclasses.replace(self.rt.plan, actions=tuple(actions), inputs=())
        return dataclasses.replace(self.rt, plan=plan, progress=None)

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
        self.on_event("start", wave, key, "running")
        with self._locks[s.unit]:
            try:
                if any(self._phase(a.id) != "applied" for a in unit.shared):
                    apply_plan(self._sub(unit.shared), auto_rollback=False)
                if s.actions:
                    apply_plan(self._sub(s.actions), auto_rollback=False)
                res.status = REGISTERED_ONLY if s.register_only else MIGRATED
                if s.register_only:
                    res.reason = "CODE_DEPLOY/EXTERNAL controller: new revision registered, deploy it through your pipeline"
                res.revision = self._new_arn(unit)
            except Exception as e:  # noqa: BLE001 - journaled by the executor; compensate here
                res.reason = self._failure_reason(s, unit, e)
                res.status = self._rollback_locked(s, unit, res)
        res.seconds = round(self.rt.clock() - t0, 3)
        self.on_event("end", wave, key, res.status)
        return res

    def _failure_reason(self, s: ServiceSteps, unit: Unit, e: BaseException) -> str:
        states = self.rt.journal.states()
        for a in (*unit.shared, *s.actions):
            st = states.get(a.id)
            if st is not None and st.phase == "failed" and st.error:
                return st.error
        return e.args[0] if isinstance(e, MigrateError) else safe_aws_message(e)

    def _rollback_locked(self, s: ServiceSteps, unit: Unit, res: ServiceResult) -> str:
        try:
            if s.actions:
                rollback_plan(self._sub(s.actions))
            if not self._unit_in_use(s.unit, s.key):
                rollback_plan(self._sub(unit.shared))
            return ROLLED_BACK
        except Exception as e:  # noqa: BLE001
            msg = e.args[0] if isinstance(e, MigrateError) else safe_aws_message(e)
            res.reason += f"; rollback failed too: {msg}"
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
        t0 = self.rt.clock()
        keys = [k for k in self.order if only is None or k in only]
        waves = split_waves(keys, self.options.waves)
        rep = RunReport(self.rt.plan.id, self.options.failure_policy, waves=waves)
        self.rt.journal.append("live-run-start", receipt={"waves": [len(w) for w in waves],
                                                          "policy": self.options.failure_policy})
        stop_reason = ""
        for wi, wave in enumerate(waves, 1):
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
            self.on_event("wave", wi, "", str(len(wave)))
            self.rt.journal.append("wave-start", receipt={"wave": wi, "services": wave})
            spec = self.options.waves[min(wi - 1, len(self.options.waves) - 1)]
            with ThreadPoolExecutor(max_workers=spec.concurrency) as pool:
                results = list(pool.map(functools.partial(self.migrate_service, wave=wi), wave))
            failed = [r for r in results if r.status in (ROLLED_BACK, FAILED)]
            if failed and policy in (FailurePolicy.ROLLBACK_WAVE, FailurePolicy.ROLLBACK_ALL):
                why = f"rolled back by policy {policy}: {failed[0].key} failed in wave {wi}"
                victims = [r for r in results if r.status in (MIGRATED, REGISTERED_ONLY)]
                if policy == FailurePolicy.ROLLBACK_ALL:
                    victims += [r for r in rep.results if r.status in (MIGRATED, REGISTERED_ONLY)]
                for r in victims:
                    r.reason = why
                    r.status = self.rollback_service(r.key, r)
            rep.results += results
            self.rt.journal.append("wave-end", receipt={"wave": wi, "failed": [r.key for r in failed]})
            if failed and policy != FailurePolicy.ROLLBACK_SERVICE:
                stop_reason = f"not run: wave {wi} failed (policy {policy})"
                rep.stopped_after_wave = wi
        rep.seconds = round(self.rt.clock() - t0, 3)
        self.rt.journal.append("live-run-end", receipt=rep.by_status())
        return rep


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
