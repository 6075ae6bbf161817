"""Project configuration: ``[tool.secrets-migrate]`` in ``pyproject.toml`` or ``.secrets-migrate.toml``.

Format (in ``.secrets-migrate.toml`` the same keys sit at the top level)::

    [tool.secrets-migrate]
    exclude = ["**/node_modules/**", "legacy/*.json"]   # path globs never scanned
    max-file-size = 5242880                             # bytes; also "5MiB", "512KiB", "2MB"

    [[tool.secrets-migrate.ignore]]                     # never report these as secrets
    name = "FEATURE_*_TOKEN_BUCKET"                     # glob on the variable/option name (case-sensitive)
    path = "services/**/*.json"                         # optional glob on the definition (or env) file
    location = "environment"                            # optional: environment, logConfiguration.options,
                                                        #   compose.environment, env_file, ...
    reason = "rate-limiter setting, not a credential"   # optional, shown in reviews

    [[tool.secrets-migrate.force]]                      # always report these as secrets
    regex = "^LEGACY_(AUTH|SIG)_.*$"                    # a regex (re.fullmatch) instead of a glob
    reason = "our legacy signing material"

A rule has exactly one of ``name`` or ``regex``. Path globs use ``fnmatch`` on the POSIX form of the
path (``*`` also crosses ``/``) and match the whole path or any trailing part of it starting at a
``/`` (``payments.json`` matches ``deploy/ecs/payments.json``). ``ignore`` wins over ``force`` when both
match. The search starts at the scanned path and walks up to the first directory that holds
``.git``; ``.secrets-migrate.toml`` wins over ``pyproject.toml`` in the same directory, and a
``pyproject.toml`` without the table is skipped.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from migrate.errors import ConfigError
from migrate.model import Entry

DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024
CONFIG_FILE = ".secrets-migrate.toml"
_SIZE_RE = re.compile(r"^\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}
_RULE_KEYS = frozenset({"name", "regex", "path", "location", "reason"})
_TOP_KEYS = frozenset({"exclude", "max-file-size", "max_file_size", "ignore", "force"})


def _path_matches(pattern: str, path: str) -> bool:
    p = PurePath(path).as_posix()
    if fnmatch.fnmatchcase(p, pattern):
        return True
    parts = p.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern) for i in range(1, len(parts)))


@dataclass(frozen=True)
class Rule:
    action: str  #: "ignore" | "force"
    name: str | None = None  #: glob on the entry name
    regex: re.Pattern[str] | None = None  #: full-match regex on the entry name
    path: str | None = None  #: glob on the definition path or the file holding the value
    location: str | None = None
    reason: str = ""

    def matches(self, entry: Entry) -> bool:
        if self.name is not None and not fnmatch.fnmatchcase(entry.name, self.name):
            return False
        if self.regex is not None and not self.regex.fullmatch(entry.name):
            return False
        if self.location is not None and entry.location != self.location:
            return False
        return self.path is None or _path_matches(self.path, entry.path) or _path_matches(self.path, entry.value_path)


@dataclass(frozen=True)
class Config:
    ignore: tuple[Rule, ...] = ()
    force: tuple[Rule, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    source: Path | None = field(default=None, compare=False)  #: the file it was read from

    def match(self, entry: Entry) -> Rule | None:
        """The first ignore rule that matches, else the first force rule, else None."""
        for rule in self.ignore:
            if rule.matches(entry):
                return rule
        for rule in self.force:
            if rule.matches(entry):
                return rule
        return None

    def is_excluded(self, path: str | Path) -> bool:
        return any(_path_matches(g, str(path)) for g in self.exclude)


def _err(file: Path, key: str, why: str) -> ConfigError:
    return ConfigError(f"{file}: {key}: {why}", hint="see `secrets-migrate --help` for the configuration format")


def _parse_size(file: Path, key: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise _err(file, key, "expected a size in bytes")
    if isinstance(raw, int):
        size = raw
    elif isinstance(raw, str) and (m := _SIZE_RE.match(raw)):
        size = int(m.group(1)) * _UNITS[(m.group(2) or "b").lower()]
    else:
        raise _err(file, key, "expected a size in bytes, e.g. 5242880 or \"5MiB\"")
    if size <= 0:
        raise _err(file, key, "must be positive")
    return size


def _parse_rule(file: Path, key: str, action: str, raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise _err(file, key, "expected a table with name or regex")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise _err(file, f"{key}.{unknown[0]}", "unknown key")
    for k, v in raw.items():
        if not isinstance(v, str):
            raise _err(file, f"{key}.{k}", "expected a string")
    if ("name" in raw) == ("regex" in raw):
        raise _err(file, key, "give exactly one of name or regex")
    regex = None
    if "regex" in raw:
        try:
            regex = re.compile(raw["regex"])
        except re.error as e:
            raise _err(file, f"{key}.regex", f"invalid regular expression ({e.msg})") from None
    return Rule(action=action, name=raw.get("name"), regex=regex, path=raw.get("path"),
                location=raw.get("location"), reason=raw.get("reason", ""))


def parse_config(table: dict[str, Any], file: Path, prefix: str = "") -> Config:
    """Build a Config from the parsed table. Errors name ``file`` and the dotted key."""
    unknown = sorted(set(table) - _TOP_KEYS)
    if unknown:
        raise _err(file, prefix + unknown[0], "unknown key")
    exclude = table.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(g, str) for g in exclude):
        raise _err(file, prefix + "exclude", "expected a list of path globs")
    size_key = "max-file-size" if "max-file-size" in table else "max_file_size"
    max_size = _parse_size(file, prefix + size_key, table[size_key]) if size_key in table else DEFAULT_MAX_FILE_SIZE
    rules: dict[str, tuple[Rule, ...]] = {}
    for action in ("ignore", "force"):
        raw = table.get(action, [])
        if not isinstance(raw, list):
            raise _err(file, prefix + action, "expected an array of tables ([[...]])")
        rules[action] = tuple(_parse_rule(file, f"{prefix}{action}[{i}]", action, r) for i, r in enumerate(raw))
    return Config(ignore=rules["ignore"], force=rules["force"], exclude=tuple(exclude), max_file_size=max_size,
                  source=file)


def _read_toml(file: Path) -> dict[str, Any]:
    import tomllib  # only when there is a config file (its import compiles expressions: a scan's start-up)

    try:
        with file.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"{file}: cannot read ({e.strerror or type(e).__name__})") from None
    except tomllib.TOMLDecodeError as e:
        # the decoder's message names line and column, never the content
        raise ConfigError(f"{file}: invalid TOML ({e})") from None


def _load_file(file: Path) -> Config | None:
    data = _read_toml(file)
    if file.name == "pyproject.toml":
        table = data.get("tool", {}).get("secrets-migrate")
        if table is None:
            return None
        if not isinstance(table, dict):
            raise _err(file, "tool.secrets-migrate", "expected a table")
        return parse_config(table, file, "tool.secrets-migrate.")
    return parse_config(data, file)


def load_config(start: Path, explicit: Path | None = None) -> Config:
    """Read the configuration for a scan of ``start`` (a file or directory).

    ``explicit`` (``--config``) is read as is and must exist. Otherwise search upward from ``start``
    for ``.secrets-migrate.toml`` or a ``pyproject.toml`` with ``[tool.secrets-migrate]``, stopping at
    the first directory that contains ``.git``. No file found -> defaults. Raises ConfigError.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: configuration file not found")
        cfg = _load_file(explicit)
        if cfg is None:
            raise _err(explicit, "tool.secrets-migrate", "table not found")
        return cfg
    here = start.resolve()
    if not here.is_dir():
        here = here.parent
    for d in (here, *here.parents):
        for candidate in (d / CONFIG_FILE, d / "pyproject.toml"):
            if candidate.is_file():
                cfg = _load_file(candidate)
                if cfg is not None:
                    return cfg
        if (d / ".git").exists():
            break
    return Config()
