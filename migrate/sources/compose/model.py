"""Compose values and the parse model: value classification, places, occurrences, move grouping."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ruamel.yaml.nodes import MappingNode, Node

from migrate.errors import RewriteError
from migrate.model import LOC_COMPOSE_ENV, Entry, ValueKind
from migrate.rewrite import yaml_spans as ys
from migrate.sources.base import Move, SourceText
from migrate.sources.dotenv import DotenvEntry

KIND = "compose"
#: compose ``logging.options`` (migrated through ecs-params ``logging.secret_options``)
LOC_COMPOSE_LOGGING = "compose.logging.options"
ECS_PARAMS = "ecs-params.yml"
COMPOSE_TAGS = ys.STANDARD_TAGS | {"!reset", "!override"}  # Compose merge tags (v2.24+)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?\Z", re.S)


# --- interpolation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    kind: ValueKind
    value: str | None
    span: tuple[int, int]  #: of the value inside the decoded string
    note: str = ""


def classify(s: str) -> _Value:
    """How Compose interpolation treats the decoded string ``s``."""
    if s == "":
        return _Value(ValueKind.EMPTY, "", (0, 0))
    toks: list[tuple[int, int, re.Match[str] | None]] = []
    escaped = False
    i = 0
    while i < len(s):
        if s[i] != "$":
            i += 1
            continue
        if s.startswith("$$", i):
            escaped = True
            i += 2
            continue
        if s.startswith("${", i):
            depth, k = 1, i + 2
            while k < len(s) and depth:
                depth += {"{": 1, "}": -1}.get(s[k], 0)
                k += 1
            if depth:
                return _Value(ValueKind.TEMPLATED, s, (0, len(s)), "unterminated ${")
            toks.append((i, k, _BRACED.match(s, i + 2, k - 1)))
            i = k
            continue
        m = _NAME.match(s, i + 1)
        if m:
            toks.append((i, m.end(), None))
            i = m.end()
            continue
        i += 1
    if not toks:
        note = "contains $$ (an escaped $)" if escaped else ""
        return _Value(ValueKind.LITERAL, s.replace("$$", "$"), (0, len(s)), note)
    if len(toks) == 1 and toks[0][0] == 0 and toks[0][1] == len(s):
        m = toks[0][2]
        if m is None or m.group(2) is None or m.group(2) in (":?", "?"):
            return _Value(ValueKind.INTERPOLATED, None, (0, len(s)), "interpolated from the shell environment")
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if op in (":-", "-") and "$" not in arg:
            a = 2 + len(name) + len(op)
            kind = ValueKind.LITERAL if arg else ValueKind.EMPTY
            return _Value(kind, arg, (a, a + len(arg)), f"default of ${{{name}}}, used when {name} is unset")
    return _Value(ValueKind.TEMPLATED, s, (0, len(s)), "mixes text and interpolation")


# --- the parsed model ---------------------------------------------------------------------------


@dataclass
class _Place:
    """Where an entry's value is written, and how to take it out."""

    entry: Entry
    file: str  #: display path of the file holding it
    encoding: str
    value_span: tuple[int, int] | None  #: raw span of the value (None when there is no value)
    # YAML entries
    holder: Node | None = None
    index: int = 0  #: position in holder.value
    # .env entries
    dotenv: DotenvEntry | None = None


@dataclass
class _Model:
    text: str = field(repr=False)
    root: MappingNode = field(repr=False)
    project: str
    services: dict[str, Node | None] = field(repr=False)
    service_keys: dict[str, Node] = field(repr=False)
    #: service -> names it effectively gets (environment + env_file)
    effective: dict[str, set[str]]
    places: dict[str, _Place] = field(repr=False)
    paths: dict[int, str]
    parent_key: dict[int, Node] = field(repr=False)
    env_texts: dict[str, SourceText] = field(repr=False)
    ecs_params: SourceText | None = field(repr=False)
    warnings: list[str]
    tree: Path | None = None  #: the directory env files must stay in
    ep_name: str = ECS_PARAMS  #: the ecs-params file of this project (``ecs_params_name``)
    v1: bool = False  #: compose file format v1 (services at the top level)


class EnvLoc(NamedTuple):
    """An env file as ``open_beneath`` takes it: the tree's directory and a path below it (no ``..``)."""

    root: str
    rel: str


#: (display, location) -> the env file's text, None when it does not exist
EnvReader = Callable[[str, EnvLoc], "SourceText | None"]
_NO_VALUE = "no value: taken from the shell environment"
_FROM_ALIAS = "value comes from a YAML alias"


#: an environment occurrence: (id of its holder node, index in it)
_OccId = tuple[int, int]


@dataclass
class _Occurrences:
    """What the services use: environment entries (shared ones once) and env files."""

    order: list[_OccId] = field(default_factory=list)
    users: dict[_OccId, list[str]] = field(default_factory=dict)
    #: (name, holder, key node or the sequence, value node or the item, index)
    info: dict[_OccId, tuple[str, Node, Node, Node, int]] = field(default_factory=dict, repr=False)
    env_users: dict[str, list[str]] = field(default_factory=dict)
    #: env file display -> (where it is below the tree, required, line of its env_file entry)
    env_specs: dict[str, tuple[EnvLoc, bool, int]] = field(default_factory=dict)
    effective: dict[str, set[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: occurrence -> location (``compose.environment`` unless said otherwise)
    where: dict[_OccId, str] = field(default_factory=dict)

    def add(self, oid: _OccId, sname: str, info: tuple[str, Node, Node, Node, int],
            location: str = LOC_COMPOSE_ENV) -> None:
        if oid not in self.users:
            self.order.append(oid)
            self.users[oid] = []
            self.info[oid] = info
            self.where[oid] = location
        self.users[oid].append(sname)
        if location == LOC_COMPOSE_ENV:
            self.effective[sname].add(info[0])


@dataclass
class _Found:
    """A value as located in the text, before it becomes an Entry."""

    val: _Value
    line: int
    enc: str = "raw"
    value_span: tuple[int, int] | None = None
    restorable: bool = True
    note: str = ""


# --- project identity (as Compose names projects) -----------------------------------------------

#: the files ``docker compose`` reads when no ``-f`` is given, in its order of preference
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
#: override file -> the base files it is merged into
OVERRIDES = {"compose.override.yaml": ("compose.yaml", "compose.yml"),
             "compose.override.yml": ("compose.yaml", "compose.yml"),
             "docker-compose.override.yaml": ("docker-compose.yaml", "docker-compose.yml"),
             "docker-compose.override.yml": ("docker-compose.yml", "docker-compose.yaml")}
_TOP_NAME = re.compile(r"^name[ \t]*:[ \t]*(['\"]?)([^'\"#\r\n]*?)\1[ \t]*(?:#.*)?$", re.M)


def normalize_project(name: str) -> str:
    """Compose's project-name normalisation: lower case, only ``a-z0-9_-``, starting alphanumeric."""
    return re.sub(r"^[^a-z0-9]+", "", re.sub(r"[^a-z0-9_-]", "", name.lower()))


def _top_name(text: str) -> str:
    """The literal top-level ``name:`` of a compose text ("" when absent or interpolated)."""
    m = _TOP_NAME.search(text)
    if m is None or "$" in m.group(2):
        return ""
    return normalize_project(m.group(2).strip())


def _read_top_name(path: Path) -> str:
    try:
        if path.is_file() and path.stat().st_size <= 1 << 20:
            return _top_name(path.read_text(encoding="utf-8-sig", errors="replace"))
    except OSError:
        return ""
    return ""


def folder_project(folder: Path) -> str:
    """The project a plain ``docker compose`` run in ``folder`` uses: the top-level ``name:`` of
    its default compose file, else the folder name."""
    for f in DEFAULT_FILES:
        if (folder / f).is_file():
            name = _read_top_name(folder / f)
            if name:
                return name
            break
    return normalize_project(folder.absolute().name)


def project_of(own_name: str, src_path: Path) -> str:
    """The Compose project of the file at ``src_path`` whose own top-level ``name:`` is
    ``own_name`` (normalised, "" when absent): ``-p`` is not known to a scan, so the top-level
    ``name:`` wins, then (for an override file) its base file's, then the folder name."""
    if own_name:
        return own_name
    for base in OVERRIDES.get(src_path.name.lower(), ()):
        name = _read_top_name(src_path.parent / base)
        if name:
            return name
    return normalize_project(src_path.absolute().parent.name)


def ecs_params_name(project: str, src_path: Path) -> str:
    """The ``ecs-params`` file of a compose project: ``ecs-params.yml`` for the folder's default
    project (what ``ecs-cli compose`` reads unless told otherwise), ``ecs-params.<project>.yml``
    for any other project of the folder (pass it with ``ecs-cli compose --ecs-params``), so two
    projects of one folder never write the same services into one file."""
    if not project or project == folder_project(src_path.parent):
        return ECS_PARAMS
    return f"ecs-params.{project}.yml"


def _beside(display: str, name: str) -> str:
    d = posixpath.dirname(display)
    return posixpath.join(d, name) if d else name


# --- ecs-params.yml ------------------------------------------------------------------------------


def _secret_lines(items: list[tuple[str, str]], col: int) -> list[str]:
    out: list[str] = []
    for name, vf in items:
        out.append(" " * col + f'- value_from: "{vf}"')
        out.append(" " * (col + 2) + f"name: {ys.yaml_str(name)}")
    return out


def _winners(moves: Sequence[Move]) -> dict[tuple[str, str], Move]:
    """(service, name) -> the move whose value the service actually gets: ``environment`` wins
    over ``env_file``, as in Compose."""
    out: dict[tuple[str, str], Move] = {}
    for m in moves:
        if m.entry.location == LOC_COMPOSE_LOGGING:
            continue  # log options go to logging.secret_options (``_want_logging``)
        for u in m.entry.units:
            prev = out.get((u, m.entry.name))
            if prev is not None and prev.entry.location == m.entry.location:
                raise RewriteError(f"{m.entry.name} moved twice for service {u}")
            if prev is None or m.entry.location == LOC_COMPOSE_ENV:
                out[(u, m.entry.name)] = m
    return out


def _want_logging(moves: Sequence[Move]) -> dict[str, list[tuple[str, str]]]:
    """service -> (option name, value_from) of the moved ``logging.options``."""
    want: dict[str, list[tuple[str, str]]] = {}
    for m in moves:
        if m.entry.location == LOC_COMPOSE_LOGGING:
            for u in m.entry.units:
                if any(n == m.entry.name for n, _vf in want.get(u, [])):
                    raise RewriteError(f"{m.entry.name} moved twice for service {u}")
                want.setdefault(u, []).append((m.entry.name, m.value_from))
    return want


def _want(moves: Sequence[Move]) -> dict[str, list[tuple[str, str]]]:
    want: dict[str, list[tuple[str, str]]] = {}
    for (u, name), m in _winners(moves).items():
        want.setdefault(u, []).append((name, m.value_from))
    return want
