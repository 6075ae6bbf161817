"""Start the CLI with the test hooks the environment asks for, then run ``migrate.cli.main``.

Used by ``support.testing.run_cli`` (``python tests/support/launcher.py ARGS``) and by the fork server of
``tests/proofs/_forkrun.py`` (``install_hooks()`` in each forked child). The product has no test hooks: this
module reaches it only through its injected parameters, by giving new objects a different default:

* ``SECRETS_MIGRATE_TEST_FAULTS`` (JSON list of ``support.faults.Rule``) with
  ``SECRETS_MIGRATE_TEST_MODE=i-know-this-injects-faults``: every ``AwsContext`` gets a client factory that
  injects those faults (one injector per process, so rule positions count calls across every client);
* ``SECRETS_MIGRATE_TEST_CRASH_AFTER_RECORD=K`` with ``SECRETS_MIGRATE_TEST_MODE=i-know-this-kills-the-process``:
  every ``Journal`` SIGKILLs the process right after record K is durable.

Without its guard value a switch does nothing.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

CRASH_ENV = "SECRETS_MIGRATE_TEST_CRASH_AFTER_RECORD"
CRASH_GUARD_VALUE = "i-know-this-kills-the-process"


def _default_keyword(cls: type, name: str, value: object) -> None:
    """Make ``cls(...)`` use ``value`` for keyword ``name`` whenever the caller passes none (or None)."""
    original = cls.__init__  # type: ignore[misc]

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get(name) is None:
            kwargs[name] = value
        original(self, *args, **kwargs)

    cls.__init__ = init  # type: ignore[misc]


def crash_after(seq: int) -> Callable[[dict[str, object]], None]:
    """A journal ``after_append`` hook: SIGKILL this process right after record ``seq``."""
    def hook(record: dict[str, object]) -> None:
        if record.get("seq") == seq:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def crash_point_from_env(environ: Mapping[str, str]) -> int | None:
    at = environ.get(CRASH_ENV)
    if not at or environ.get("SECRETS_MIGRATE_TEST_MODE") != CRASH_GUARD_VALUE:
        return None
    return int(at)


def install_hooks(environ: Mapping[str, str] | None = None) -> list[str]:
    """Read the test switches from ``environ`` (default: ``os.environ``); return the names of the hooks installed."""
    from migrate.apply.journal import Journal
    from migrate.stores.aws import AwsContext, boto_client
    from support.faults import Injector, rules_from_env, with_faults

    env = os.environ if environ is None else environ
    installed = []
    rules = rules_from_env(env)
    if rules:
        _default_keyword(AwsContext, "client_factory", with_faults(boto_client, Injector(rules)))
        installed.append("faults")
    at = crash_point_from_env(env)
    if at is not None:
        _default_keyword(Journal, "after_append", crash_after(at))
        installed.append("crash")
    return installed


def main() -> int:
    install_hooks()
    from migrate.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    # tests/ (so `support` imports as a package) and the checkout (so the code under test is this tree's)
    sys.path[0:1] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]
    raise SystemExit(main())
