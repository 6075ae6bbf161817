"""secrets-migrate sandbox: a local AWS endpoint until Ctrl-C."""

from __future__ import annotations

import time

from migrate.console import err_console
from migrate.errors import EXIT_OK, UsageError


def sandbox(*, port: int = 4566, seed: bool = False) -> int:
    from migrate.sandbox import Sandbox, fixtures_dir

    err = err_console()
    sb = Sandbox(port)  # UsageError (exit 2) with the install hint when moto is missing
    try:
        sb.start()
    except OSError as e:
        raise UsageError(f"cannot listen on 127.0.0.1:{port} ({e.strerror})", hint="pick another --port, or 0 for any") from None
    env = sb.env()
    if seed:
        from migrate.live.seed import seed_sandbox  # issue 4: a legacy cluster built from the shipped fixtures

        summary = seed_sandbox(sb.context(), fixtures_dir())
        err.print(f"seeded: {summary}")
    print("# secrets-migrate sandbox (moto) is running. Point the tool at it with:")
    for k, v in env.items():
        print(f"export {k}={v}")
    print("# ECS deployments are emulated (task start checks the execution role, its policies and every valueFrom;")
    print("# a bad revision fails by the circuit breaker) and AWS limits moto skips are enforced.")
    print("# Ctrl-C stops it; all state lives in memory and is lost then.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        err.print("sandbox stopped")
    finally:
        sb.stop()
    return EXIT_OK
