"""Run both benchmarks and write one Markdown report to benchmarks/out/latest.md.

    python benchmarks/report.py            # scan at 1,000 files (vs the three other tools) and 10,000,
                                           # then the live batch's three modes against the quota proxy
    python benchmarks/report.py --quick    # 300 files, 60 services (a smoke run)

The first table is the summary (ratios, peak memory, recall); each bench's own tables follow.
Benchmarks are measurements, not tests: nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(args: list[str]) -> tuple[str, float, int]:
    t = time.monotonic()
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=HERE.parent)
    return r.stdout + (("\n" + r.stderr[-2000:]) if r.returncode else ""), time.monotonic() - t, r.returncode


def _rows(md: str) -> list[list[str]]:
    return [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in md.splitlines()
            if ln.startswith("|") and not ln.startswith("|---")]


def _scan_row(md: str, tool: str) -> list[str] | None:
    return next((r for r in _rows(md) if r and r[0].startswith(tool)), None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    small, large, services = (300, 1000, 60) if a.quick else (1000, 10000, 200)
    parts: list[str] = []
    summary: list[str] = []

    s1, _, rc1 = _run([str(HERE / "scan_bench.py"), "--files", str(small)])
    ours, ds = _scan_row(s1, "secrets-migrate"), _scan_row(s1, "detect-secrets")
    if rc1 == 0 and ours and ds:
        speed = float(ds[1]) / float(ours[1])
        summary.append(f"| scan, {small} task definitions x 40 env | {ours[1]} s vs detect-secrets -n {ds[1]} s | "
                       f"**{speed:.1f}x faster** | recall {ours[3]} vs {ds[3]}; precision {ours[4]} vs {ds[4]} | "
                       f"{ours[2]} MiB vs {ds[2]} MiB |")
        for tool in ("betterleaks", "kingfisher"):
            row = _scan_row(s1, tool)
            if row:
                ratio = float(row[1]) / float(ours[1])
                summary.append(f"| scan, same folder and run | {ours[1]} s vs {row[0]} {row[1]} s | "
                               f"**{ratio:.2f}x** ({'faster' if ratio >= 1 else 'slower'}) | recall {ours[3]} vs "
                               f"{row[3]}; precision {ours[4]} vs {row[4]} | {ours[2]} MiB vs {row[2]} MiB |")
    else:
        summary.append(f"| scan, {small} files | failed (exit {rc1}) | | | |")
    parts.append(f"### Scan, {small} files\n\n{s1.strip()}\n")

    s2, _, rc2 = _run([str(HERE / "scan_bench.py"), "--files", str(large), "--skip-detect-secrets", "--skip-others"])
    big = _scan_row(s2, "secrets-migrate")
    if rc2 == 0 and big and ours:
        summary.append(f"| scan, {large} task definitions | {big[1]} s | {float(big[1]) / float(ours[1]):.1f}x the time "
                       f"for {large // small}x the files | recall {big[3]} | {big[2]} MiB (vs {ours[2]} MiB at {small}) |")
    parts.append(f"### Scan, {large} files (memory)\n\n{s2.strip()}\n")

    batch_args = ["--services", str(services)] if a.quick else ["--all"]
    b, _, rc3 = _run([str(HERE / "batch_bench.py"), *batch_args])
    modes = [r for r in _rows(b) if r and r[0][:3] in ("(a)", "(b)", "(c)")]
    for m in dict((r[0], r) for r in modes).values():  # the last table printed holds every mode once
        summary.append(f"| live batch {m[0]}: {m[1]} services, {m[2]} account(s), {m[3]} refused at random | "
                       f"{m[9]} s vs floor {m[10]} s | **ratio {m[11].strip('*')}** ({m[12]}) | throttles returned "
                       f"{m[7]}, surfaced **{m[8]}**; {m[5]}; verify {m[6]} | |")
    if not modes:
        brow = next((r for r in _rows(b) if r and r[0] == str(services)), None)
        summary.append(f"| live batch, {services} services, quota proxy | {brow[2]} s vs floor {brow[3]} s | "
                       f"**ratio {brow[4]}** | throttles returned {brow[5]}, surfaced **{brow[6]}** | |" if rc3 == 0 and brow
                       else f"| live batch, {services} services | failed (exit {rc3}) | | | |")
    parts.append(f"### Live batch ({'quick' if a.quick else 'the three modes of issue 15'})\n\n{b.strip()}\n")

    head = (f"Benchmarks ({_dt.date.today().isoformat()}, {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}), produced by `python benchmarks/report.py{' --quick' if a.quick else ''}`.\n\n"
            "| benchmark | time | ratio | quality / errors | peak RSS (largest process) |\n|---|---|---|---|---|\n")
    text = head + "\n".join(summary) + "\n\n" + "\n".join(parts)
    text = re.sub(r"\n{3,}", "\n\n", text)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
