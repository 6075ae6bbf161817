"""Run the benchmarks that exist and write one Markdown table to benchmarks/out/latest.md.

Usage: python benchmarks/report.py   (each bench prints its own result lines; missing ones are noted)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [("scan", "scan_bench.py"), ("batch", "batch_bench.py")]


def main() -> int:
    rows = []
    for name, script in BENCHES:
        path = HERE / script
        if not path.exists():
            rows.append(f"| {name} | missing | benchmarks/{script} does not exist yet | |")
            continue
        t = time.monotonic()
        r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=HERE.parent)
        took = time.monotonic() - t
        out = " ".join((r.stdout.strip().splitlines() or [""])[-3:]).replace("|", "/")
        status = "ok" if r.returncode == 0 else f"failed (exit {r.returncode})"
        rows.append(f"| {name} | {status} | {out[:300]} | {took:.1f} s |")
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    text = ("| bench | status | result (last lines of its output) | wall time |\n|---|---|---|---|\n"
            + "\n".join(rows) + "\n\nProduced by `python benchmarks/report.py`.\n")
    (out_dir / "latest.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
