"""Live batch benchmark: N services (default 200) migrated through a local endpoint that ENFORCES the AWS
quotas of issue 4, scaled by ``--scale`` so it runs in minutes.

Setup: a moto server (the sandbox) holds the legacy account (``seed_synthetic``, seeded directly, not
through the quotas). In front of it, :class:`QuotaProxy` (127.0.0.1) finds each request's operation
(``X-Amz-Target`` for the awsJson services, ``Action=`` for query services such as IAM), keeps one token
bucket per API family, and answers HTTP 400 ``ThrottlingException`` / ``Throttling`` "Rate exceeded" in
the service's own protocol when a bucket is empty; other requests are forwarded. The live apply
(preflight guardrails + :class:`LiveRunner`, canary wave then the rest) runs through the proxy with the
tool's client-side limiter set to the same scaled quotas, and the tool's retries: botocore's standard mode for
transient errors, and for throttles the account's shared ``ThrottleRetry`` (``migrate.stores.aws``), which
retries a refused call in the family's shared bucket (one slot per refusal) instead of botocore's per-client
exponential backoff.

Enforced quotas (sustained per second, burst), every rate multiplied by ``--scale``, bursts unchanged:

    ecs task definition modify (Register/Deregister)   1 / 20
    ecs task definition read (Describe/List)           20 / 50
    ecs service modify (Create/Update/DeleteService)   5 / 50
    ecs service read (DescribeServices/ListServices)   20 / 100
    ssm PutParameter                                   3 / 3
    secretsmanager writes                              50 / 50

The floor. A token bucket with rate r and burst b serves n calls in no less than max(0, n - b) / r
seconds (it starts full). The calls of the plan can only go as fast as the slowest family, so

    floor = max over families f of  max(0, n_f - b_f) / (r_f * scale)  +  H

with n_f the calls the proxy SERVED during the apply (throttled attempts excluded) and H the health-check
time on the critical path: waves run one after the other and each ends with at least one health wait,
so H = waves * health_delay (0 with the default instant scripted health). The wall is the apply's (preflight
and waves), as the floor's calls are: ``live plan`` (discover and plan) is its own command, run first through
the proxy too, then the proxy's buckets and counters are reset; its time is reported apart. The ratio wall / floor says
how much time the tool loses above what the quotas force. Target <= 1.25, with 0 throttling errors
surfaced to the user (retries absorb the proxy's throttles).

Modes (issue 15 §5): (c) the default, 200 services in one account; (a) ``--accounts 20 --services 20``: 20
accounts at once, each assumed through STS, with its own credentials, client-side limits and journal (the
proxy keeps one set of buckets per access key, as AWS keeps quotas per account; the floor is the slowest
account's); (b) ``--random-throttle 0.3``: the proxy also refuses 30% of all calls at random, which the tool
must absorb (a retry in the shared bucket per refusal) with no error surfaced. A random refusal frees no
quota, yet its retry needs a slot: with 30% refused, the bottleneck family needs ~1/0.7 = 1.43 slots per served
call, so the best possible ratio is about 1.43 (target 2).

Targets (issue 15 "Done when"): (a) <= 1.3, (b) <= 2, (c) <= 1.25, 0 throttling errors surfaced.

Usage: python benchmarks/batch_bench.py [--services 200] [--scale 2 | 2/accounts] [--concurrency 16] [--store ssm]
       [--accounts N] [--random-throttle P]
       python benchmarks/batch_bench.py --all     # the three modes at the issue's sizes, one after the other
Each run prints its Markdown details and records its row in benchmarks/out/batch.json; benchmarks/out/batch.md
then holds the table of every mode recorded (the one to paste into the README) and each mode's details.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: proxy family -> (sustained per second, burst), unscaled
QUOTAS: dict[str, tuple[float, float]] = {
    "ecs.taskdef-modify": (1.0, 20.0),
    "ecs.taskdef-read": (20.0, 50.0),
    "ecs.service-modify": (5.0, 50.0),
    "ecs.service-read": (20.0, 100.0),
    "ecs.taskdef-delete": (1.0, 5.0),
    "ssm.PutParameter": (3.0, 3.0),
    "secretsmanager.write": (50.0, 50.0),
}

_ECS_FAMILY = {
    "RegisterTaskDefinition": "ecs.taskdef-modify", "DeregisterTaskDefinition": "ecs.taskdef-modify",
    "DescribeTaskDefinition": "ecs.taskdef-read", "ListTaskDefinitions": "ecs.taskdef-read",
    "ListTaskDefinitionFamilies": "ecs.taskdef-read",
    "CreateService": "ecs.service-modify", "UpdateService": "ecs.service-modify", "DeleteService": "ecs.service-modify",
    "DescribeServices": "ecs.service-read", "ListServices": "ecs.service-read",
    "DeleteTaskDefinitions": "ecs.taskdef-delete",
}
_SM_WRITES = {"CreateSecret", "PutSecretValue", "UpdateSecret", "DeleteSecret", "RestoreSecret", "TagResource",
              "UntagResource", "PutResourcePolicy", "UpdateSecretVersionStage", "RotateSecret"}

#: the tool's client-side families (migrate.live.ratelimit) -> the proxy family they draw from
CLIENT_FAMILIES = {
    "ecs.RegisterTaskDefinition": "ecs.taskdef-modify",
    "ecs.DeregisterTaskDefinition": "ecs.taskdef-modify",
    "ecs.DescribeTaskDefinition": "ecs.taskdef-read",
    "ecs.UpdateService": "ecs.service-modify",
    "ecs.DescribeServices": "ecs.service-read",
    "ecs.DeleteTaskDefinitions": "ecs.taskdef-delete",
    "ssm.PutParameter": "ssm.PutParameter",
    "secretsmanager.write": "secretsmanager.write",
}

JSON_SERVICES = {"ecs", "ssm", "secretsmanager"}


def family_of(service: str, op: str) -> str:
    if service == "ecs":
        return _ECS_FAMILY.get(op, f"ecs.{op}")
    if service == "ssm":
        return "ssm.PutParameter" if op == "PutParameter" else f"ssm.{op}"
    if service == "secretsmanager":
        return "secretsmanager.write" if op in _SM_WRITES else f"secretsmanager.{op}"
    return f"{service}.{op}"


class Bucket:
    """Non-blocking token bucket (the server side): ``take`` says whether a token was free."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._last = burst, time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def throttle_response(service: str) -> tuple[str, bytes]:
    """(content type, body) of a "Rate exceeded" error in the service's protocol."""
    if service in JSON_SERVICES:
        return "application/x-amz-json-1.1", json.dumps({"__type": "ThrottlingException",
                                                         "message": "Rate exceeded"}).encode()
    ns = "https://iam.amazonaws.com/doc/2010-05-08/" if service == "iam" else ""
    body = (f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>Throttling</Code>'
            f"<Message>Rate exceeded</Message></Error><RequestId>quota-proxy</RequestId></ErrorResponse>")
    return "text/xml", body.encode()


_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_KEY = re.compile(r"Credential=([^/]+)/")


def _access_key(auth: str) -> str:
    m = _KEY.search(auth)
    return m.group(1) if m else ""


class QuotaProxy:
    """HTTP proxy on 127.0.0.1 enforcing ``quotas`` (family -> (rate, burst)), rates times ``scale``."""

    def __init__(self, upstream: str, quotas: Mapping[str, tuple[float, float]] = QUOTAS, scale: float = 1.0,
                 port: int = 0, random_throttle: float = 0.0, seed: int = 15) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.quotas, self.scale = dict(quotas), scale
        #: besides the quotas, refuse this share of all calls at random (``--random-throttle``)
        self.random_throttle = random_throttle
        self._random = __import__("random").Random(seed)
        self.served_by_key: Counter[str] = Counter()  #: "access key|family" -> forwarded (quotas are per account)
        self.served: Counter[str] = Counter()  #: family -> forwarded calls
        self.ops: Counter[str] = Counter()  #: service.Op -> forwarded calls
        self.throttled: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.reset()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self._srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._srv.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._srv.server_address[1]}"
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)
        self._local = threading.local()

    def reset(self) -> None:
        """Full buckets, zero counters."""
        with self._lock:
            self._buckets: dict[tuple[str, str], Bucket] = {}
            self.served.clear()
            self.served_by_key.clear()
            self.ops.clear()
            self.throttled.clear()

    def start(self) -> str:
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()

    @staticmethod
    def operation(headers: Mapping[str, str], path: str, body: bytes) -> tuple[str, str]:
        m = _SCOPE.search(headers.get("Authorization", "") or "")
        service = m.group(1) if m else ""
        target = headers.get("X-Amz-Target", "") or ""
        if target:
            return service, target.rsplit(".", 1)[-1]
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        if not q.get("Action") and body:
            q = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        return service, (q.get("Action") or [""])[0]

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
        return c

    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {"served": dict(self.served), "ops": dict(self.ops), "throttled": dict(self.throttled),
                    "served_by_key": dict(self.served_by_key)}

    def _bucket(self, key: str, fam: str) -> Bucket | None:
        """The bucket of ``fam`` for the account behind access key ``key`` (each account has its own quotas)."""
        if fam not in self.quotas:
            return None
        with self._lock:
            b = self._buckets.get((key, fam))
            if b is None:
                r, burst = self.quotas[fam]
                b = self._buckets[(key, fam)] = Bucket(r * self.scale, burst)
            return b

    def _reply(self, h: BaseHTTPRequestHandler, status: int, ctype: str, payload: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(payload)))
        h.send_header("x-amzn-RequestId", "quota-proxy")
        h.end_headers()
        h.wfile.write(payload)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        if h.path.startswith("/quota-proxy/"):  # control endpoints (the benchmark runs the proxy in a child process)
            if h.path == "/quota-proxy/reset":
                self.reset()
            self._reply(h, 200, "application/json", json.dumps(self.stats()).encode())
            return
        service, op = self.operation(h.headers, h.path, body)
        fam = family_of(service, op)
        key = _access_key(h.headers.get("Authorization", "") or "")
        with self._lock:
            unlucky = self.random_throttle > 0 and self._random.random() < self.random_throttle
        bucket = self._bucket(key, fam)
        if unlucky or (bucket is not None and not bucket.take()):
            with self._lock:
                self.throttled[fam] += 1
            ctype, payload = throttle_response(service)
            self._reply(h, 400, ctype, payload)
            return
        with self._lock:
            self.served[fam] += 1
            self.served_by_key[f"{key}|{fam}"] += 1
            self.ops[f"{service}.{op}"] += 1
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("connection", "keep-alive")}
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(h.command, h.path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        h.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "keep-alive", "server", "date"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)


def _free_port() -> int:
    import socket

    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return int(so.getsockname()[1])


def _wait_http(url: str, timeout: float = 30.0) -> None:
    import urllib.request

    end = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:  # noqa: BLE001
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


class Child:
    """A moto server or a quota proxy in its own process (2 cores: client, proxy and moto must not share a GIL)."""

    def __init__(self, argv: list[str], url: str, ready: str) -> None:
        import subprocess

        self.url = url
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_http(url + ready)

    def call(self, path: str) -> dict:
        import urllib.request

        req = urllib.request.Request(self.url + path, method="POST", data=b"")
        return json.loads(urllib.request.urlopen(req, timeout=30).read() or b"{}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except Exception:  # noqa: BLE001
            self.proc.kill()


def start_moto() -> Child:
    port = _free_port()
    exe = Path(sys.executable).with_name("moto_server")
    return Child([str(exe), "-H", "127.0.0.1", "-p", str(port)], f"http://127.0.0.1:{port}", "/moto-api/")


def start_proxy(upstream: str, scale: float, random_throttle: float = 0.0) -> Child:
    port = _free_port()
    return Child([sys.executable, __file__, "--serve-proxy", upstream, "--scale", str(scale), "--port", str(port),
                  "--random-throttle", str(random_throttle)],
                 f"http://127.0.0.1:{port}", "/quota-proxy/stats")


def client_quotas() -> dict[str, tuple[float, float]]:
    """The tool's limiter families set to the proxy's (unscaled) quotas."""
    return {cf: QUOTAS[pf] for cf, pf in CLIENT_FAMILIES.items()}


def floor_seconds(served: Mapping[str, int], quotas: Mapping[str, tuple[float, float]], scale: float,
                  health: float = 0.0) -> tuple[float, dict[str, float]]:
    per = {f: max(0.0, served.get(f, 0) - b) / (r * scale) for f, (r, b) in quotas.items()}
    return max(per.values(), default=0.0) + health, per


def run(services: int, scale: float, concurrency: int, store: str, health_delay: float, secrets: int,
        accounts: int = 1, random_throttle: float = 0.0) -> dict:
    """One account (``accounts`` = 1, the environment's sandbox credentials) or ``accounts`` accounts at once,
    each assumed through STS with its own credentials, rate limits, journal and ``services`` services."""
    from concurrent.futures import ThreadPoolExecutor

    from migrate.apply.verify import verify_plan
    from migrate.live.guardrails import preflight_live, raise_for
    from migrate.live.health import ScriptedHealth
    from migrate.live.planner import live_findings, make_live_plan
    from migrate.live.ratelimit import RateLimits
    from migrate.live.runtime import LiveRuntime, LockedJournal
    from migrate.live.seed import seed_synthetic
    from migrate.live.source import discover
    from migrate.live.waves import LiveRunner, RunOptions, WaveSpec
    from migrate.plan.model import Plan, PlanSettings
    from migrate.sandbox import SANDBOX_ENV
    from migrate.stores.aws import Aws

    moto = start_moto()
    saved = {k: os.environ.get(k) for k in (*SANDBOX_ENV, "AWS_ENDPOINT_URL")}
    os.environ.update({**SANDBOX_ENV, "AWS_ENDPOINT_URL": moto.url})
    proxy = None
    waves = (WaveSpec("1", 1, "canary"), WaveSpec("rest", concurrency, "rest"))
    surfaced: list[str] = []
    reps: list = []
    limits: list = []
    throttles: list = []  #: each account's ThrottleRetry
    envs: list = []
    verified: list = []  #: verify's checks, every account
    verify_errors: list[str] = []
    phases: dict[str, float] = {}
    phase_lock = threading.Lock()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.monotonic()
            creds: list = [None]
            if accounts > 1:
                sts = Aws(region="us-east-1", endpoint_url=moto.url).client("sts")
                creds = [sts.assume_role(RoleArn=f"arn:aws:iam::{100000000000 + i:012d}:role/bench",
                                         RoleSessionName="bench")["Credentials"] for i in range(accounts)]
            for c in creds:
                seed_synthetic(services, secrets=secrets,
                               aws=Aws(region="us-east-1", credentials=c, endpoint_url=moto.url) if c else None)
            seed_s = time.monotonic() - t
            proxy = start_proxy(moto.url, scale, random_throttle)
            os.environ["AWS_ENDPOINT_URL"] = proxy.url

            def context(n: int) -> Aws:
                return Aws(region="us-east-1", credentials=creds[n], endpoint_url=proxy.url) if creds[n] else Aws()

            def plan_one(n: int) -> Plan:
                """``live plan`` (its own command, before the apply): discover and plan through the proxy."""
                inv = discover(context(n).client("ecs"), "us-east-1")
                # --prefix batch, as the plan's own advice says for one execution role shared by hundreds of
                # services: every entry under one directory, so the grants compress to one pattern and fit IAM's
                # inline-policy limit (without it the planner blocks the revisions that do not fit)
                settings = PlanSettings(store=store, prefix="batch")
                return Plan.from_json(make_live_plan(inv, live_findings(inv), settings).to_json())

            def one(n: int) -> None:
                """``live apply``: a new context (a new process in real life), preflight, then the waves."""
                aws = context(n)
                throttles.append(aws.throttle)
                tick = [time.monotonic()]

                def phase(name: str) -> None:
                    now = time.monotonic()
                    with phase_lock:
                        phases[name] = max(phases.get(name, 0.0), now - tick[0])  # the slowest account's
                    tick[0] = now

                plan = plans[n]
                rt = LiveRuntime(plan=plan, journal=LockedJournal(Path(tmp) / f"state{n}", plan.id), aws=aws,
                                 health=ScriptedHealth(delay=health_delay), limits=RateLimits(client_quotas(), scale))
                limits.append(rt.limits)
                try:
                    raise_for(preflight_live(plan, rt.aws))
                    phase("preflight")
                    reps.append(LiveRunner(rt, RunOptions(waves=waves)).run())
                    phase("waves")
                except Exception as e:  # noqa: BLE001 - a benchmark reports, never hides
                    surfaced.append(f"account {n}: {type(e).__name__}: {e}")
                envs.append(rt)

            def check(rt: object) -> None:
                """``verify`` (not timed): every value in its store equals the source's, services on the new
                revisions, rolled-back services back on the old ones."""
                try:
                    got = verify_plan(rt)
                    with phase_lock:
                        verified.extend(got)
                except Exception as e:  # noqa: BLE001 - a benchmark reports, never hides
                    with phase_lock:
                        verify_errors.append(f"{type(e).__name__}: {e}")
                finally:
                    rt.journal.close()

            t = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(creds)) as pool:
                plans = list(pool.map(plan_one, range(len(creds))))
            plan_s = time.monotonic() - t
            # the apply is what is timed (as in the docstring): full buckets and zero counters at its start
            proxy.call("/quota-proxy/reset")
            t0 = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(creds)) as pool:
                list(pool.map(one, range(len(creds))))
            wall = time.monotonic() - t0
            stats = proxy.call("/quota-proxy/stats")  # the apply's calls (verify's come after)
            with ThreadPoolExecutor(max_workers=len(creds)) as pool:
                list(pool.map(check, envs))
    finally:
        if proxy is not None:
            proxy.stop()
        moto.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    statuses = Counter(r.status for rep in reps for r in rep.results)
    surfaced += [f"{r.key}: {r.reason}" for rep in reps for r in rep.results
                 if "hrottl" in r.reason or "Rate exceeded" in r.reason]
    # quotas are per account: the floor is the slowest account's (each account's served calls, its own buckets)
    by_key: dict[str, Counter[str]] = {}
    for k, v in stats.get("served_by_key", {}).items():
        key, fam = k.split("|", 1)
        by_key.setdefault(key, Counter())[fam] += v
    floors = [floor_seconds(c, QUOTAS, scale, health=len(waves) * health_delay) for c in by_key.values()] or \
        [floor_seconds(stats["served"], QUOTAS, scale, health=len(waves) * health_delay)]
    floor, per = max(floors, key=lambda fp: fp[0])
    waited: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    retried: Counter[str] = Counter()
    for lim in limits:
        waited.update(lim.waited())
        refusals.update(lim.refusals)
    for th in throttles:
        retried.update(th.retried)
    return {"services": services * len(creds), "accounts": len(creds), "random_throttle": random_throttle,
            "scale": scale, "concurrency": concurrency, "store": store, "seed_s": seed_s, "plan_s": plan_s,
            "wall": wall, "floor": floor, "per_family_floor": per, "served": stats["served"],
            "throttled": stats["throttled"], "ops": stats["ops"], "statuses": dict(statuses),
            "surfaced": surfaced, "client_waited": dict(waited), "client_refusals": dict(refusals),
            "throttle_retries": dict(retried), "throttle_wait_s": round(sum(th.slept for th in throttles), 2),
            "phases": {k: round(v, 2) for k, v in phases.items()},
            # checks of what the run rolled back (a service that failed for another reason, e.g. its role's policy
            # full) are expected to fail, counted apart: the reference check says "not applied (state: reverted)",
            # and the IAM check of that entry says its entry is not applied. Any other failed check is a
            # wrong or missing value.
            "verify": {"checks": len(verified), "rolled_back": sum(not c.ok and _rolled_back(c) for c in verified),
                       "failed": sum(not c.ok and not _rolled_back(c) for c in verified) + len(verify_errors),
                       "failures": [f"{c.kind} {c.subject}: {c.detail}" for c in verified
                                    if not c.ok and not _rolled_back(c)][:10] + verify_errors},
            "not_migrated": dict(Counter(f"{r.status}: {r.reason}" for rep in reps for r in rep.results
                                         if r.status != "migrated").most_common(10)),
            "canary_s": round(max((r.seconds for rep in reps for r in rep.results if r.wave == 1), default=0.0), 2)}


def _rolled_back(c: Any) -> bool:
    """A verify check about an entry the run rolled back (see ``run``)."""
    return "state: reverted" in c.detail or (c.kind == "iam" and "entry is not applied" in c.detail)


def to_markdown(res: dict) -> str:
    ratio = res["wall"] / res["floor"] if res["floor"] else float("inf")
    fams = [f for f in QUOTAS if res["served"].get(f) or res["throttled"].get(f)]
    calls = ", ".join(f"{f} {res['served'].get(f, 0)}" for f in fams)
    thr = sum(res["throttled"].values())
    lines = [
        f"Live batch benchmark: {res['services']} services in {res.get('accounts', 1)} account(s) at once, "
        f"random throttling {res.get('random_throttle', 0.0):.0%}, store {res['store']}, quotas x{res['scale']:g}, "
        f"canary then concurrency {res['concurrency']}; outcome {res['statuses']}",
        "",
        "| services | calls per family (served) | wall (s) | quota floor (s) | wall / floor | throttles returned by the proxy | throttling errors surfaced |",
        "|---|---|---|---|---|---|---|",
        f"| {res['services']} | {calls} | {res['wall']:.1f} | {res['floor']:.1f} | {ratio:.2f} | {thr} | {len(res['surfaced'])} |",
        "",
        "| API family | quota (rate/s x scale, burst) | calls served | throttled | family floor (s) |",
        "|---|---|---|---|---|",
    ]
    for f in fams:
        r, b = QUOTAS[f]
        lines.append(f"| {f} | {r:g} x {res['scale']:g} = {r * res['scale']:g}/s, {b:g} | {res['served'].get(f, 0)} | "
                     f"{res['throttled'].get(f, 0)} | {res['per_family_floor'][f]:.1f} |")
    if res.get("accounts", 1) > 1:
        lines += ["", f"Calls are summed over the {res['accounts']} accounts; each account has its own buckets, and the "
                  "family floors are the slowest account's."]
    ph = res.get("phases", {})
    if ph:
        lines += ["", f"Phases (slowest account): preflight {ph.get('preflight', 0):.1f}s, waves {ph.get('waves', 0):.1f}s "
                  f"(canary {res.get('canary_s', 0):.1f}s). Throttled calls retried by the shared limiter: "
                  f"{sum(res.get('throttle_retries', {}).values())}."]
    other = sum(v for k, v in res["served"].items() if k not in QUOTAS)
    lines += ["", f"Other calls (not quota-limited here: IAM, SSM reads, STS, EC2): {other}. "
              f"Seeding (direct to moto, not timed): {res['seed_s']:.1f}s. `live plan` (discover and plan through the proxy, "
              f"before the apply, not timed): {res['plan_s']:.1f}s."]
    return "\n".join(lines) + "\n"


OUT = REPO / "benchmarks" / "out"
#: issue 15 "Done when": mode -> (what it is, the wall / floor it must stay under)
MODES = {"a": ("20 accounts at once", 1.3), "b": ("30% of calls refused at random", 2.0),
         "c": ("one account (default)", 1.25)}


def mode_of(res: Mapping[str, object]) -> str:
    return "a" if int(str(res["accounts"])) > 1 else "b" if float(str(res["random_throttle"])) > 0 else "c"


def summary_row(res: dict) -> str:
    """One row of the modes table (``SUMMARY_HEAD``)."""
    m = mode_of(res)
    what, target = MODES[m]
    ratio = res["wall"] / res["floor"] if res["floor"] else float("inf")
    outcome = ", ".join(f"{v} {k}" for k, v in sorted(res["statuses"].items()))
    return (f"| ({m}) {what} | {res['services']} | {res['accounts']} | {res['random_throttle']:.0%} | "
            f"x{res['scale']:g} | {outcome} | {_verified(res['verify'])} | {sum(res['throttled'].values())} | "
            f"{len(res['surfaced'])} | "
            f"{res['wall']:.1f} | {res['floor']:.1f} | **{ratio:.2f}** | <= {target:g} "
            f"{'met' if ratio <= target and not res['surfaced'] and not res['verify']['failed'] else 'NOT met'} |")


def _verified(v: Mapping[str, int]) -> str:
    ok = v["checks"] - v["failed"] - v.get("rolled_back", 0)
    return f"{ok} ok, {v['failed']} wrong" + (f", {v['rolled_back']} of rolled-back services" if v.get("rolled_back") else "")


SUMMARY_HEAD = ("| mode | services | accounts | random refusals | quotas | outcome | verify checks | "
                "throttles (proxy) | throttling errors surfaced | wall (s) | floor (s) | wall / floor | target |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def record(res: dict, md: str) -> str:
    """Keep this run as its mode's row in ``benchmarks/out/batch.json``; (re)write ``batch.md``: the table of
    every mode recorded, then each mode's details. Returns the table."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "batch.json"
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        runs = {}
    runs[mode_of(res)] = {"row": summary_row(res), "details": md,
                          "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    path.write_text(json.dumps(runs, indent=2), encoding="utf-8")
    modes = [m for m in MODES if m in runs]
    table = SUMMARY_HEAD + "\n" + "\n".join(runs[m]["row"] for m in modes) + "\n"
    notes = ("\nWall: the live apply (preflight and waves); floor: the slowest account's slowest API family, "
             "(calls served - burst) / (rate x scale). Multi-account runs default to quotas x(2 / accounts), the "
             "same aggregate quota throughput as a one-account run at x2, which this 2-core machine can serve.\n")
    body = "\n".join(f"### ({m}) {MODES[m][0]} ({runs[m]['when']})\n\n{runs[m]['details']}" for m in modes)
    (OUT / "batch.md").write_text(f"## Live batch benchmark\n\n{table}{notes}\n{body}", encoding="utf-8")
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--scale", type=float, default=None,
                    help="every quota rate multiplied by this (bursts unchanged); default 2, or 2 / --accounts with "
                         "several accounts (the same aggregate quota throughput: 20 accounts at x2 would measure "
                         "this machine's CPU, not the quotas)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--store", default="ssm", choices=("ssm", "secretsmanager"))
    ap.add_argument("--secrets", type=int, default=2, help="plaintext secrets per task definition")
    ap.add_argument("--health-delay", type=float, default=0.0, help="scripted health wait per service (s)")
    ap.add_argument("--accounts", type=int, default=1, help="accounts run at once, --services each (mode a: 20 x 20)")
    ap.add_argument("--random-throttle", type=float, default=0.0,
                    help="the proxy also refuses this share of all calls at random (mode b: 0.3)")
    ap.add_argument("--json", action="store_true", help="also print the raw numbers as JSON")
    ap.add_argument("--all", action="store_true",
                    help="the three modes of issue 15 at its sizes: (a) 20 x 20, (b) 200 at 30%%, (c) 200")
    ap.add_argument("--serve-proxy", metavar="UPSTREAM", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_proxy:  # child mode: run the quota proxy until terminated
        QuotaProxy(args.serve_proxy, QUOTAS, args.scale or 1.0, port=args.port,
                   random_throttle=args.random_throttle)._srv.serve_forever()
        return 0
    import logging

    for name in ("werkzeug", "moto", "botocore", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    runs = ([(20, 20, 0.0), (200, 1, 0.3), (200, 1, 0.0)] if args.all
            else [(args.services, args.accounts, args.random_throttle)])
    failed = 0
    for services, accounts, random_throttle in runs:
        scale = args.scale if args.scale is not None else 2.0 / max(1, accounts)
        res = run(services, scale, args.concurrency, args.store, args.health_delay, args.secrets,
                  accounts=accounts, random_throttle=random_throttle)
        md = to_markdown(res)
        print(md, end="")
        if args.json:
            print(json.dumps(res, indent=2, default=str))
        table = record(res, md)
        failed += bool(res["surfaced"]) or bool(res["verify"]["failed"])
    print(f"\nModes recorded so far (benchmarks/out/batch.md):\n\n{table}", end="")
    return 0 if not failed else 1  # a throttling error surfaced or a verify check failed

if __name__ == "__main__":
    raise SystemExit(main())
