"""A zygote for CLI runs: one process imports the tool once, then forks a fresh child per command.

Each child is a real, separate process (SIGKILL is real, flock is real) but starts in milliseconds
instead of seconds, which keeps "crash at every journal record" within the test-time budget.
Protocol: one JSON request per stdin line ``{"args", "cwd", "env", "out", "err"}``; one JSON reply
per line ``{"rc"}`` where a negative rc is the signal that ended the child (like subprocess).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent
for _p in (TESTS.parent, TESTS):  # the checkout's `migrate` and `support` (the test hooks), also when run as a script
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))


def _serve() -> None:
    import migrate.apply.executor  # noqa: F401  (warm imports: the expensive part of a CLI start)
    import migrate.cli
    import migrate.commands.run  # noqa: F401
    import migrate.detect.engine  # noqa: F401
    import migrate.sources.registry  # noqa: F401

    base_env = dict(os.environ)
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:  # child
            try:
                os.chdir(req["cwd"])
                os.environ.clear()
                os.environ.update(base_env)
                os.environ.update(req.get("env") or {})
                out = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                err = os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                nul = os.open(os.devnull, os.O_RDONLY)
                os.dup2(nul, 0)
                os.dup2(out, 1)
                os.dup2(err, 2)
                sys.argv = ["secrets-migrate", *req["args"]]
                from support.launcher import install_hooks

                install_hooks()  # this child's own test switches (faults, crash point), from its env
                code = migrate.cli.main()
                sys.stdout.flush()
                sys.stderr.flush()
            except BaseException:  # noqa: BLE001
                code = 99
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        sys.stdout.write(json.dumps({"rc": rc}) + "\n")
        sys.stdout.flush()


class ForkRunner:
    """Client side: ``run(args, cwd, env)`` -> (rc, stdout, stderr)."""

    def __init__(self, env: dict[str, str], scratch: Path) -> None:
        self.scratch = scratch
        self.n = 0
        self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, text=True)

    def run(self, args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        self.n += 1
        out, err = self.scratch / f"out{self.n}.txt", self.scratch / f"err{self.n}.txt"
        req: dict[str, Any] = {"args": args, "cwd": str(cwd), "env": env or {}, "out": str(out), "err": str(err)}
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        rc = int(json.loads(self.proc.stdout.readline())["rc"])
        return rc, out.read_text(), err.read_text()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


if __name__ == "__main__":
    _serve()
