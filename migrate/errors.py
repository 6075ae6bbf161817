"""Expected failures. Every message is one line and never quotes input text (it may hold a secret)."""

from __future__ import annotations

# Exit codes, documented in README.md ("Exit codes").
EXIT_OK = 0
EXIT_FINDINGS = 1  # scan: plaintext secrets found; verify: a check failed
EXIT_USAGE = 2  # bad command line or configuration (click uses 2 for usage errors too)
EXIT_INPUT = 3  # some input could not be read or parsed (fail closed)
EXIT_FAILED = 4  # an expected failure: bad plan, stale input, AWS refused, preflight failed, not confirmed
EXIT_BLOCKED = 5  # plan: written, but some files or entries are blocked (listed with reason and fix)
EXIT_BUG = 70  # an unexpected exception (EX_SOFTWARE); traceback goes to the log file only
EXIT_INTERRUPTED = 130


class MigrateError(RuntimeError):
    """Base of every expected failure. ``hint`` tells the user how to fix it."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(MigrateError):
    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    pass


class InputError(MigrateError):
    """A file could not be read or parsed. ``path`` names it; the message never quotes its content."""

    exit_code = EXIT_INPUT

    def __init__(self, path: str, message: str, *, line: int | None = None, hint: str | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = path
        self.line = line
        self.reason = message


class PlanError(MigrateError):
    """The plan cannot be made or read (invalid names, missing execution role, bad plan file)."""


class StalePlanError(MigrateError):
    pass


class LockedError(MigrateError):
    pass


class PreconditionFailed(MigrateError):
    pass


class ActionFailed(MigrateError):
    pass


class IrreversibleError(MigrateError):
    pass


class RewriteError(MigrateError):
    """A rewrite could not be located or did not re-parse to the intended structure."""


class StoreError(MigrateError):
    pass


class FinalizedError(MigrateError):
    pass
