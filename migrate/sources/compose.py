"""Docker Compose files (and the ``.env`` files they name in ``env_file:``).

Read: every ``environment`` entry (map or ``KEY=VAL`` list, block or flow) and every entry of the
``env_file`` files a service uses. A value written once and shared through a YAML anchor, a merge
key ``<<: *x`` or an ``x-`` extension block is reported once, where it is written, with ``units``
= every service that effectively uses it. Interpolation: ``${VAR}``/``$VAR`` is INTERPOLATED (no
value here); ``${VAR:-default}``/``${VAR-default}`` is the LITERAL default (its span is the
default text only); ``$$`` is an escaped dollar (such values are not restorable); anything mixed
is TEMPLATED. A map key with no value (``KEY:``) takes its value from the shell: INTERPOLATED.

Rewrite: the moved entry's line (or flow element plus one comma, or ``.env`` line) is spliced
out. When a block ``environment`` mapping/list loses its last item it becomes ``{}``/``[]`` (we
keep the key rather than remove it, so comments under it stay attached to something valid).
Then, by ``RewriteOptions.compose_target``:

* ``"ecs-params"`` (default): ``ecs-params.yml`` beside the compose file (ecs-cli v1 format) gets
  ``task_definition.services.<svc>.secrets: [{value_from, name}]`` for every unit of the entry.
  An existing file is extended by splicing; a name already listed for a service is an error.
* ``"compose-secrets"``: top-level ``secrets:`` gets ``<slug>: {external: true, name: <ref>}`` and
  each unit service gets ``secrets: [<slug>]``. NOTE: Compose secrets are mounted as *files* under
  ``/run/secrets/<slug>``, not environment variables: the application must read the file.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrate.errors import InputError, RewriteError
from migrate.model import LOC_COMPOSE_ENV, LOC_ENV_FILE, Entry, SecretValue, ValueKind
from migrate.rewrite import pointer as jp
from migrate.rewrite import text as tx
from migrate.rewrite import yaml_spans as ys
from migrate.rewrite.edits import PREVIEW_ARN, TextEdit, apply_edits, encode, is_restorable, old_template, render
from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions, SourceBase, SourceText, read_source
from migrate.sources.dotenv import DotenvEntry, parse_dotenv

KIND = "compose"
ECS_PARAMS = "ecs-params.yml"
COMPOSE_TAGS = ys.STANDARD_TAGS | {"!reset", "!override"}  # Compose merge tags (v2.24+)

_SNIFF_SERVICES = re.compile(r"^services[ \t]*:", re.M)
_SNIFF_CFN = re.compile(r"^(AWSTemplateFormatVersion|Resources)[ \t]*:", re.M)
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




def _walk_paths(root: Node) -> tuple[dict[int, str], dict[int, Node]]:
    """Written path of every node (its first occurrence in document order = where it is written)."""
    paths: dict[int, str] = {}
    parent_key: dict[int, Node] = {}
    stack: list[tuple[Node, str, Node | None]] = [(root, "", None)]
    while stack:
        node, path, pk = stack.pop()
        if id(node) in paths:
            continue
        paths[id(node)] = path
        if pk is not None:
            parent_key[id(node)] = pk
        children: list[tuple[Node, str, Node | None]] = []
        if isinstance(node, MappingNode):
            for k, v in node.value:
                seg = str(k.value) if isinstance(k, ScalarNode) else "?"
                children.append((v, f"{path}/{jp.escape(seg)}", k))
        elif isinstance(node, SequenceNode):
            children.extend((v, f"{path}/{i}", None) for i, v in enumerate(node.value))
        stack.extend(reversed(children))
    return paths, parent_key


def _encoding(quote: str | None) -> str:
    return {None: "raw", '"': "yaml-double", "'": "yaml-single"}.get(quote, "raw")


def _value_span(enc: str, decoded: str, raw: str, base: int, a: int, b: int) -> tuple[tuple[int, int], bool]:
    """Raw span of decoded[a:b] and whether it is restorable. Encoders are char-wise, so offsets
    map through the encoded prefix when the whole body re-encodes exactly."""
    whole_ok = is_restorable(enc, decoded, raw)
    if not whole_ok:
        return (base, base + len(raw)), False
    ra = base + len(encode(enc, decoded[:a]))
    rb = base + len(encode(enc, decoded[:b]))
    return (ra, rb), True


def _bool(node: Node) -> bool:
    return not (isinstance(node, ScalarNode) and str(node.value).lower() in ("false", "no", "off"))


def _env_file_specs(node: Node, display: str) -> list[tuple[str, bool, int]]:
    items = node.value if isinstance(node, SequenceNode) else [node]
    out: list[tuple[str, bool, int]] = []
    for it in items:
        line = it.start_mark.line + 1
        if isinstance(it, ScalarNode) and not ys.is_null(it):
            out.append((str(it.value), True, line))
        elif isinstance(it, MappingNode):
            p = ys.get(it, "path")
            if p is None or not isinstance(p[1], ScalarNode):
                raise InputError(display, "env_file entry has no path", line=line)
            req = ys.get(it, "required")
            fmt = ys.get(it, "format")
            if fmt is not None and isinstance(fmt[1], ScalarNode) and fmt[1].value == "raw":
                out.append(("\0raw", True, line))
                continue
            out.append((str(p[1].value), _bool(req[1]) if req else True, line))
        else:
            raise InputError(display, "env_file must be a path, a list or {path, required}", line=line)
    return out


EnvReader = Callable[[str, Path], "SourceText | None"]


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
    env_specs: dict[str, tuple[Path, bool]] = field(default_factory=dict)
    effective: dict[str, set[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, oid: _OccId, sname: str, info: tuple[str, Node, Node, Node, int]) -> None:
        if oid not in self.users:
            self.order.append(oid)
            self.users[oid] = []
            self.info[oid] = info
        self.users[oid].append(sname)
        self.effective[sname].add(info[0])


def _analyze(text: str, src_path: Path, display: str, read_env: EnvReader, root_dir: Path | None) -> _Model:
    root = ys.load_nodes(text, display, allowed_tags=COMPOSE_TAGS)
    if root is None:
        raise InputError(display, "empty file")
    if not isinstance(root, MappingNode):
        raise InputError(display, "top level is not a mapping", line=root.start_mark.line + 1)
    svc_item = ys.get(root, "services")
    if svc_item is None or not isinstance(svc_item[1], MappingNode):
        raise InputError(display, "no services mapping at the top level")
    paths, parent_key = _walk_paths(root)
    project = _project(root, src_path)
    services: dict[str, Node | None] = {}
    service_keys: dict[str, Node] = {}
    for sname, (sk, sv, _holder) in ys.effective_items(svc_item[1]).items():
        services[str(sname)] = sv
        service_keys[str(sname)] = sk
    oc = _Occurrences()
    for sname, snode in services.items():
        oc.effective[sname] = set()
        if isinstance(snode, MappingNode):
            _service(oc, sname, snode, display, src_path, root_dir)
    places: dict[str, _Place] = {}
    seq_names: dict[int, dict[str, int]] = {}
    for oid in oc.order:
        name, _h, a, _b, _idx = oc.info[oid]
        if isinstance(a, SequenceNode):
            seq_names.setdefault(id(a), {}).setdefault(name, 0)
            seq_names[id(a)][name] += 1
    for oid in oc.order:
        place = _yaml_place(text, display, oc.info[oid], tuple(oc.users[oid]), paths, seq_names, project)
        places[place.entry.key] = place
    env_texts: dict[str, SourceText] = {}
    for edisplay, users in oc.env_users.items():
        epath, required = oc.env_specs[edisplay]
        st = read_env(edisplay, epath)
        if st is None:
            if required:
                oc.warnings.append(f"{display}: env_file {edisplay} not found")
            continue
        env_texts[edisplay] = st
        for place in _env_file_places(st, display, users, project, oc.effective):
            places[place.entry.key] = place
    return _Model(text=text, root=root, project=project, services=services, service_keys=service_keys,
                  effective=oc.effective, places=places, paths=paths, parent_key=parent_key,
                  env_texts=env_texts, ecs_params=None, warnings=oc.warnings, tree=root_dir or src_path.parent)


def _project(root: MappingNode, src_path: Path) -> str:
    name_item = ys.get(root, "name")
    if name_item and isinstance(name_item[1], ScalarNode) and "$" not in str(name_item[1].value):
        project = str(name_item[1].value)
        if project:
            return project
    return re.sub(r"[^a-z0-9_-]", "", src_path.absolute().parent.name.lower())


def _service(oc: _Occurrences, sname: str, snode: MappingNode, display: str, src_path: Path,
             root_dir: Path | None) -> None:
    """Record one service's env files and environment entries."""
    items = ys.effective_items(snode)
    if "extends" in items:
        oc.warnings.append(f"service {sname}: extends is not followed; inherited entries are not reported")
    ef = items.get("env_file")
    if ef is not None and not ys.is_null(ef[1]):
        for p, required, line in _env_file_specs(ef[1], display):
            if p == "\0raw" or "$" in p:
                oc.warnings.append(f"{display}:{line}: env_file with interpolation or raw format is not read")
                continue
            edisplay = p if posixpath.isabs(p) else posixpath.normpath(posixpath.join(posixpath.dirname(display), p))
            epath = Path(p) if Path(p).is_absolute() else src_path.parent / p
            try:  # never read outside the tree (at apply, with no root given: the compose file's directory)
                epath.resolve().relative_to((root_dir or src_path.parent).resolve())
            except ValueError:
                raise InputError(display, "env_file resolves outside the scanned tree; "
                                          "scan a directory that holds it, or move the file", line=line) from None
            oc.env_specs.setdefault(edisplay, (epath, required))
            users = oc.env_users.setdefault(edisplay, [])
            if sname not in users:
                users.append(sname)
    env = items.get("environment")
    if env is None or ys.is_null(env[1]):
        return
    envn = env[1]
    if isinstance(envn, MappingNode):
        for name, (k, v, holder) in ys.effective_items(envn).items():
            idx = next(i for i, (kk, _vv) in enumerate(holder.value) if kk is k)
            oc.add((id(holder), idx), sname, (str(name), holder, k, v, idx))
    elif isinstance(envn, SequenceNode):
        for idx, it in enumerate(envn.value):
            if not isinstance(it, ScalarNode):
                raise InputError(display, "environment list item is not a string", line=it.start_mark.line + 1)
            oc.add((id(envn), idx), sname, (str(it.value).partition("=")[0], envn, envn, it, idx))
    else:
        raise InputError(display, "environment must be a mapping or a list", line=envn.start_mark.line + 1)


@dataclass
class _Found:
    """A value as located in the text, before it becomes an Entry."""

    val: _Value
    line: int
    enc: str = "raw"
    value_span: tuple[int, int] | None = None
    restorable: bool = True
    note: str = ""


def _list_item(text: str, seq: SequenceNode, item: Node, idx: int) -> _Found:
    """``- NAME=value`` in an environment list."""
    line = item.start_mark.line + 1
    if not isinstance(item, ScalarNode) or ys.is_alias_ref(seq.start_mark.index, item) or (
            idx and item.start_mark.index < seq.value[idx - 1].start_mark.index):
        return _Found(_Value(ValueKind.TEMPLATED, None, (0, 0), _FROM_ALIAS), line, restorable=False)
    bs, be, quote = ys.scalar_body(text, item)
    enc = _encoding(quote)
    decoded = str(item.value)
    nm, sep, rest = decoded.partition("=")
    if not sep:
        return _Found(_Value(ValueKind.INTERPOLATED, None, (0, 0), _NO_VALUE), line, enc)
    val = classify(rest)
    found = _Found(val, line, enc)
    if val.value is not None:
        off = len(nm) + 1
        span, ok = _value_span(enc, decoded, text[bs:be], bs, off + val.span[0], off + val.span[1])
        found.value_span = span
        found.restorable = ok and is_restorable(enc, val.value, text[span[0]:span[1]])
    return found


def _map_value(text: str, display: str, k: Node, v: Node) -> _Found:
    """``NAME: value`` in an environment mapping."""
    if ys.is_empty_null(v) or ys.is_null(v):
        return _Found(_Value(ValueKind.INTERPOLATED, None, (0, 0), _NO_VALUE), k.start_mark.line + 1)
    if not isinstance(v, ScalarNode):
        raise InputError(display, "environment value is not a scalar", line=v.start_mark.line + 1)
    if v.start_mark.index < k.end_mark.index:
        return _Found(_Value(ValueKind.TEMPLATED, None, (0, 0), _FROM_ALIAS), k.start_mark.line + 1,
                      restorable=False)
    bs, be, quote = ys.scalar_body(text, v)
    enc = _encoding(quote)
    decoded = str(v.value)
    found = _Found(classify(decoded), v.start_mark.line + 1, enc)
    if quote == "|":
        found.restorable, found.note, found.value_span = False, "block scalar", (bs, be)
    elif found.val.value is not None:
        span, ok = _value_span(enc, decoded, text[bs:be], bs, *found.val.span)
        found.value_span = span
        found.restorable = ok and is_restorable(enc, found.val.value, text[span[0]:span[1]])
    return found


def _yaml_place(text: str, display: str, info: tuple[str, Node, Node, Node, int], units: tuple[str, ...],
                paths: dict[int, str], seq_names: dict[int, dict[str, int]], project: str) -> _Place:
    name, holder, a, b, idx = info
    if isinstance(a, SequenceNode):
        pointer = f"{paths[id(a)]}/{idx}"
        found = _list_item(text, a, b, idx)
        if seq_names[id(a)][name] > 1:
            found.restorable, found.note = False, "defined more than once in the same list"
    else:
        pointer = f"{paths[id(holder)]}/{jp.escape(name)}"
        found = _map_value(text, display, a, b)
    val = found.val
    entry = Entry(
        path=display, line=found.line, unit=units[0], location=LOC_COMPOSE_ENV, name=name,
        value=SecretValue(val.value) if val.value is not None else None, value_kind=val.kind,
        pointer=pointer, source=KIND, units=units, group=project,
        note="; ".join(x for x in (val.note, found.note) if x), restorable=found.restorable)
    return _Place(entry, display, found.enc, found.value_span, holder=holder, index=idx)


def _env_file_places(st: SourceText, display: str, users: list[str], project: str,
                     effective: dict[str, set[str]]) -> list[_Place]:
    dentries = parse_dotenv(st.text, st.display)
    counts: dict[str, int] = {}
    for d in dentries:
        counts[d.name] = counts.get(d.name, 0) + 1
    last = {d.name: d for d in dentries}
    for u in users:
        effective[u].update(last)
    out: list[_Place] = []
    for d in last.values():
        found = _dotenv_value(st, d)
        if counts[d.name] > 1:
            found.restorable, found.note = False, "defined more than once in the env file"
        val = found.val
        entry = Entry(
            path=display, line=d.line, unit=users[0], location=LOC_ENV_FILE, name=d.name,
            value=SecretValue(val.value) if val.value is not None else None, value_kind=val.kind,
            pointer=f"/{jp.escape(d.name)}", source=KIND, value_path=st.display, units=tuple(users),
            group=project, note="; ".join(x for x in (val.note, found.note) if x), restorable=found.restorable)
        out.append(_Place(entry, st.display, found.enc, found.value_span, dotenv=d))
    return out


def _dotenv_value(st: SourceText, d: DotenvEntry) -> _Found:
    if d.value is None:
        return _Found(_Value(ValueKind.INTERPOLATED, None, (0, 0), _NO_VALUE), d.line)
    raw = st.text[d.value_start:d.value_end]
    enc = "raw"
    if d.quote == "'":
        val = _Value(ValueKind.LITERAL if d.value else ValueKind.EMPTY, d.value, (0, len(d.value)))
    else:
        val = classify(d.value)
        if d.quote == '"' and raw != d.value:
            enc = "yaml-double"
    found = _Found(val, d.line, enc)
    if val.value is not None:
        span, ok = _value_span(enc, d.value, raw, d.value_start, *val.span)
        found.value_span = span
        found.restorable = ok and is_restorable(enc, val.value, st.text[span[0]:span[1]])
    return found


def _read_env(display: str, path: Path) -> SourceText | None:
    if not path.exists():
        return None
    return read_source(path, display)


# --- the source --------------------------------------------------------------------------------


class ComposeSource(SourceBase):
    kind: ClassVar[str] = KIND

    def sniff(self, path: Path, text: str) -> bool:
        try:
            if path.suffix.lower() not in (".yml", ".yaml"):
                return False
            if path.name.lower().startswith("ecs-params"):
                return False
            return bool(_SNIFF_SERVICES.search(text)) and not _SNIFF_CFN.search(text)
        except Exception:
            return False

    def parse(self, src: SourceText, *, root: Path | None = None) -> LoadedFile:
        model = _analyze(src.text, src.path, src.display, _read_env, root)
        ep_path = src.path.parent / ECS_PARAMS
        if ep_path.exists():
            model.ecs_params = read_source(ep_path, _beside(src.display, ECS_PARAMS))
        related = tuple(model.env_texts.values()) + ((model.ecs_params,) if model.ecs_params else ())
        entries = tuple(p.entry for p in model.places.values())
        return LoadedFile(source=src, kind=KIND, entries=entries, units=tuple(model.services),
                          related=related, group=model.project, data=model, warnings=tuple(model.warnings))

    def splice(self, loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
        return rewrite(loaded, moves, options)


def _beside(display: str, name: str) -> str:
    d = posixpath.dirname(display)
    return posixpath.join(d, name) if d else name


# --- rewrite -----------------------------------------------------------------------------------


@dataclass
class _Edits:
    text: str = field(repr=False)
    removals: list[tuple[int, int]] = field(default_factory=list)
    values: list[tuple[int, int, str, str]] = field(default_factory=list)
    inserts: dict[int, list[str]] = field(default_factory=dict)  # pos -> text chunks

    def build(self) -> tuple[TextEdit, ...]:
        spans = sorted(self.removals)
        merged: list[list[int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        edits: list[TextEdit] = []
        for s, e in merged:
            vals = [v for v in self.values if s <= v[0] and v[1] <= e]
            edits.append(TextEdit(s, e, "", old_template(self.text, s, e, vals)))
        for pos, chunks in self.inserts.items():
            for s, e in merged:
                if s < pos < e:
                    raise RewriteError("an insertion falls inside a removed span")
            edits.append(TextEdit(pos, pos, "".join(chunks), ""))
        return tuple(sorted(edits, key=lambda x: (x.start, x.end)))


def _line_removal(text: str, ls: int, le: int) -> tuple[int, int]:
    """Whole lines [ls, le); at the end of a file with no final newline, take the newline before."""
    if le == len(text) and not text.endswith("\n") and ls > 0:
        return ls - (2 if text[ls - 2:ls] == "\r\n" else 1), le
    return ls, le


def _insert_lines(ed: _Edits, pos: int, lines: list[str], eol: str) -> None:
    text = ed.text
    at_line_start = pos == 0 or text[pos - 1] == "\n"
    if at_line_start:
        chunk = "".join(line + eol for line in lines)
    else:
        chunk = "".join(eol + line for line in lines)
    ed.inserts.setdefault(pos, []).append(chunk)


def _after_block(text: str, mapping: MappingNode | SequenceNode) -> int:
    """Where to insert a new line after the last item of a block mapping/sequence."""
    if isinstance(mapping, MappingNode):
        k, v = mapping.value[-1]
        end = ys.value_end(text, k, v, ys.colon_after(text, k) + 1)
    else:
        seq = mapping
        end = ys.value_end(text, None, seq.value[-1], ys.seq_item_dash(text, seq, len(seq.value) - 1) + 1)
    le = tx.line_end(text, end)
    return le


def _after_colon(text: str, key: Node) -> int:
    return ys.content_end(text, ys.colon_after(text, key) + 1)


def _remove_yaml(ed: _Edits, model: _Model, places: list[_Place]) -> None:
    by_holder: dict[int, list[_Place]] = {}
    for p in places:
        by_holder.setdefault(id(p.holder), []).append(p)
    for plist in by_holder.values():
        holder = plist[0].holder
        assert holder is not None
        if getattr(holder, "flow_style", False):
            _remove_flow(ed, holder, {p.index for p in plist})
        else:
            _remove_block(ed, model, holder, plist)
        for p in plist:
            if p.value_span is not None and p.entry.value is not None:
                ed.values.append((p.value_span[0], p.value_span[1], p.entry.key, p.encoding))


def _remove_flow(ed: _Edits, holder: Node, removed: set[int]) -> None:
    """Remove items ``removed`` of a flow mapping/sequence (``{A: 1, B: 2}`` / ``[A=1, B=2]``)."""
    text = ed.text
    if holder.start_mark.index in (holder.end_mark.index,):
        raise RewriteError("cannot locate a flow collection")
    n = len(holder.value)
    starts, ends = [], []
    for el in holder.value:
        if isinstance(holder, MappingNode):
            k, v = el
            starts.append(int(k.start_mark.index))
            ends.append(ys.value_end(text, k, v, ys.colon_after(text, k) + 1))
        else:
            starts.append(ys.scalar_body(text, el)[0] - (1 if el.style in ('"', "'") else 0))
            ends.append(int(el.end_mark.index))
    if len(removed) == n:
        ed.removals.append((starts[0], ends[-1]))
        return
    for i in sorted(removed):
        if any(j not in removed for j in range(i + 1, n)):
            ed.removals.append((starts[i], starts[i + 1]))
        else:
            ed.removals.append((ends[i - 1], ends[i]))


def _remove_block(ed: _Edits, model: _Model, holder: Node, plist: list[_Place]) -> None:
    """Remove the lines of entries ``plist`` from a block mapping/sequence; ``{}``/``[]`` when emptied."""
    text = ed.text
    for p in plist:
        if isinstance(holder, MappingNode):
            k, v = holder.value[p.index]
            ls, _ks = ys.find_key_line(text, k)
            end = ys.value_end(text, k, v, ys.colon_after(text, k) + 1)
        else:
            assert isinstance(holder, SequenceNode)
            dash = ys.seq_item_dash(text, holder, p.index)
            ls = tx.line_start(text, dash)
            if text[ls:dash].strip(" \t") != "":
                raise RewriteError("list item does not start its line")
            end = int(holder.value[p.index].end_mark.index)
        if not ys.rest_is_blank_or_comment(text, end):
            raise RewriteError("unexpected text after an environment entry")
        ed.removals.append(_line_removal(text, ls, tx.line_end(text, end)))
    if len({p.index for p in plist}) == len(holder.value):
        pk = model.parent_key.get(id(holder))
        if pk is None:
            raise RewriteError("cannot empty an environment that has no key")
        pos = _after_colon(text, pk)
        ed.inserts.setdefault(pos, []).append(" {}" if isinstance(holder, MappingNode) else " []")


def rewrite(loaded: LoadedFile, moves: Sequence[Move], options: RewriteOptions) -> list[FileChange]:
    model: _Model = loaded.data
    if not isinstance(model, _Model):
        raise RewriteError(f"{loaded.path}: not loaded by the compose source")
    if options.compose_target not in ("ecs-params", "compose-secrets"):
        raise RewriteError(f"unknown compose target {options.compose_target!r}")
    if not moves:
        return []
    display = loaded.path
    text = loaded.source.text
    eol = tx.eol(text)
    compose = _Edits(text)
    env_edits: dict[str, _Edits] = {}
    yaml_places: list[_Place] = []
    for mv in moves:
        p = model.places.get(mv.entry.key)
        if p is None:
            raise RewriteError(f"{display}: entry {mv.entry.name} is not in this file")
        if not p.entry.restorable:
            raise RewriteError(f"{display}: {p.entry.name} cannot be restored byte-for-byte; refusing to move it")
        if p.dotenv is not None:
            st = model.env_texts[p.file]
            ed = env_edits.setdefault(p.file, _Edits(st.text))
            ed.removals.append(_line_removal(st.text, p.dotenv.start, p.dotenv.end))
            if p.value_span is not None and p.entry.value is not None:
                ed.values.append((p.value_span[0], p.value_span[1], p.entry.key, p.encoding))
        else:
            yaml_places.append(p)
    try:
        _remove_yaml(compose, model, yaml_places)
        extra: FileChange | None = None
        if options.compose_target == "ecs-params":
            extra = _ecs_params_change(model, display, moves, eol)
        else:
            _compose_secrets(compose, model, moves, eol)
    except ValueError as e:
        raise RewriteError(f"{display}: cannot locate the text to edit ({e})") from None

    changes: list[FileChange] = []
    summary = ", ".join(sorted({f"{u}: {m.entry.name}" for m in moves for u in m.entry.units}))
    c_edits = compose.build()
    if c_edits:
        keys = tuple(m.entry.key for m in moves if model.places[m.entry.key].dotenv is None)
        changes.append(FileChange(display, c_edits, entries=keys, summary=f"{summary} environment -> secrets"))
    for f, ed in env_edits.items():
        keys = tuple(m.entry.key for m in moves if model.places[m.entry.key].file == f)
        changes.append(FileChange(f, ed.build(), entries=keys, summary=f"remove {len(keys)} entries"))
    if extra is not None:
        changes.append(extra)
    _verify(loaded, model, moves, options, changes)
    return changes


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
        for u in m.entry.units:
            prev = out.get((u, m.entry.name))
            if prev is not None and prev.entry.location == m.entry.location:
                raise RewriteError(f"{m.entry.name} moved twice for service {u}")
            if prev is None or m.entry.location == LOC_COMPOSE_ENV:
                out[(u, m.entry.name)] = m
    return out


def _want(moves: Sequence[Move]) -> dict[str, list[tuple[str, str]]]:
    want: dict[str, list[tuple[str, str]]] = {}
    for (u, name), m in _winners(moves).items():
        want.setdefault(u, []).append((name, m.value_from))
    return want


def _ecs_params_change(model: _Model, display: str, moves: Sequence[Move], compose_eol: str) -> FileChange:
    want = _want(moves)
    ep = model.ecs_params
    step = 2
    if ep is None:
        lines = ["version: 1", "task_definition:", "  services:"]
        for svc, items in want.items():
            lines.append(f"    {ys.yaml_str(svc)}:")
            lines.append("      secrets:")
            lines.extend(_secret_lines(items, 8))
        content = "".join(line + compose_eol for line in lines)
        return FileChange(_beside(display, ECS_PARAMS), (TextEdit(0, 0, content, ""),), create=True,
                          summary=f"create {ECS_PARAMS} with {sum(map(len, want.values()))} secrets")
    text = ep.text
    eol = tx.eol(text) if "\n" in text else compose_eol
    ed = _Edits(text)
    root = ys.load_nodes(text, ep.display)
    if root is None:
        _insert_lines(ed, len(text), _new_td(want, 0, step), eol)
    elif not isinstance(root, MappingNode) or root.flow_style:
        raise RewriteError(f"{ep.display}: top level is not a block mapping")
    else:
        td = ys.get(root, "task_definition")
        if td is None:
            _insert_lines(ed, _after_block(text, root), _new_td(want, 0, step), eol)
        else:
            _ensure_td(ed, td, want, step, eol, ep.display)
    return FileChange(ep.display, ed.build(), summary=f"add {sum(map(len, want.values()))} secrets to {ECS_PARAMS}")


def _new_td(want: dict[str, list[tuple[str, str]]], col: int, step: int) -> list[str]:
    return [" " * col + "task_definition:"] + _new_services(want, col + step, step)


def _new_services(want: dict[str, list[tuple[str, str]]], col: int, step: int) -> list[str]:
    lines = [" " * col + "services:"]
    for svc, items in want.items():
        lines.extend(_new_service(svc, items, col + step, step))
    return lines


def _new_service(svc: str, items: list[tuple[str, str]], col: int, step: int) -> list[str]:
    return [" " * col + f"{ys.yaml_str(svc)}:", " " * (col + step) + "secrets:"] + _secret_lines(items, col + 2 * step)


def _block_map(node: Node, what: str, display: str) -> MappingNode | None:
    if ys.is_null(node):
        return None
    if not isinstance(node, MappingNode) or node.flow_style:
        raise RewriteError(f"{display}: {what} is not a block mapping")
    return node


def _ensure_td(ed: _Edits, td: tuple[Node, Node], want: dict[str, list[tuple[str, str]]], step: int,
               eol: str, display: str) -> None:
    text = ed.text
    tk, tv = td
    col0 = tx.column(text, tk.start_mark.index)
    tdm = _block_map(tv, "task_definition", display)
    if tdm is None:
        _insert_lines(ed, _after_colon(text, tk), _new_services(want, col0 + step, step), eol)
        return
    col1 = ys.child_indent(text, tdm, col0 + step)
    step = max(col1 - col0, 1)
    sv = ys.get(tdm, "services")
    if sv is None:
        _insert_lines(ed, _after_block(text, tdm), _new_services(want, col1, step), eol)
        return
    svm = _block_map(sv[1], "task_definition.services", display)
    if svm is None:
        lines = [line for svc, items in want.items() for line in _new_service(svc, items, col1 + step, step)]
        _insert_lines(ed, _after_colon(text, sv[0]), lines, eol)
        return
    col2 = ys.child_indent(text, svm, col1 + step)
    for svc, items in want.items():
        s = ys.get(svm, svc)
        if s is None:
            _insert_lines(ed, _after_block(text, svm), _new_service(svc, items, col2, step), eol)
            continue
        sm = _block_map(s[1], f"service {svc}", display)
        if sm is None:
            _insert_lines(ed, _after_colon(text, s[0]), [" " * (col2 + step) + "secrets:"]
                          + _secret_lines(items, col2 + 2 * step), eol)
            continue
        col3 = ys.child_indent(text, sm, col2 + step)
        sec = ys.get(sm, "secrets")
        if sec is None:
            _insert_lines(ed, _after_block(text, sm), [" " * col3 + "secrets:"] + _secret_lines(items, col3 + step), eol)
            continue
        seq = sec[1]
        if ys.is_null(seq):
            _insert_lines(ed, _after_colon(text, sec[0]), _secret_lines(items, col3 + step), eol)
            continue
        if not isinstance(seq, SequenceNode):
            raise RewriteError(f"{display}: secrets of service {svc} is not a list")
        present = set()
        for it in seq.value:
            nm = ys.get(it, "name")
            if nm is not None:
                present.add(str(nm[1].value))
        for name, _vf in items:
            if name in present:
                raise RewriteError(f"{display}: secret {name} is already listed for service {svc}")
        if seq.flow_style:
            flow = ", ".join(f'{{value_from: "{vf}", name: {ys.yaml_str(n)}}}' for n, vf in items)
            chunk = (", " + flow) if seq.value else flow
            pos = int(seq.value[-1].end_mark.index) if seq.value else int(seq.end_mark.index) - 1
            ed.inserts.setdefault(pos, []).append(chunk)
            continue
        if not seq.value:
            raise RewriteError(f"{display}: cannot locate secrets of service {svc}")
        dash = ys.seq_item_dash(text, seq, 0)
        dcol = tx.column(text, dash)
        first = seq.value[0]
        kcol = tx.column(text, first.start_mark.index) if isinstance(first, MappingNode) else dcol + 2
        lines = []
        for name, vf in items:
            lines.append(" " * dcol + "-" + " " * (kcol - dcol - 1) + f'value_from: "{vf}"')
            lines.append(" " * kcol + f"name: {ys.yaml_str(name)}")
        _insert_lines(ed, _after_block(text, seq), lines, eol)


# --- compose secrets -----------------------------------------------------------------------------


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_.-]", "_", name.lower()) or "secret"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}_{n}"
    taken.add(slug)
    return slug


def _compose_secrets(ed: _Edits, model: _Model, moves: Sequence[Move], eol: str) -> None:
    text = ed.text
    root = model.root
    top = ys.get(root, "secrets")
    taken: set[str] = set()
    if top is not None and isinstance(top[1], MappingNode):
        taken = {str(k.value) for k, _v in top[1].value}
    svc_map = ys.get(root, "services")
    assert svc_map is not None
    svcs = svc_map[1]
    step = ys.child_indent(text, svcs, 2) if isinstance(svcs, MappingNode) and not svcs.flow_style else 2
    defs: list[str] = []
    per_service: dict[str, list[str]] = {}
    winners = _winners(moves)
    for m in moves:
        users = [u for u in m.entry.units if winners[(u, m.entry.name)] is m]
        if not users:
            continue
        slug = _slug(m.entry.name, taken)
        defs.append(f'{slug}: {{external: true, name: "{m.value_from}"}}')
        for u in users:
            per_service.setdefault(u, []).append(slug)
    # service secrets
    for svc, new in per_service.items():
        sv = model.services.get(svc)
        sk = model.service_keys[svc]
        if not isinstance(sv, MappingNode) or sv.start_mark.index < sk.end_mark.index:
            raise RewriteError(f"service {svc} is not a mapping written in place")
        sec = ys.get(sv, "secrets")
        flow = ", ".join(new)
        if sv.flow_style:
            if sec is not None:
                raise RewriteError(f"service {svc}: cannot extend secrets in a flow mapping")
            ed.inserts.setdefault(_flow_last_end(text, sv), []).append(f", secrets: [{flow}]")
            continue
        if sec is None:
            col = ys.child_indent(text, sv, 0)
            _insert_lines(ed, _after_block(text, sv), [" " * col + f"secrets: [{flow}]"], eol)
        elif ys.is_null(sec[1]):
            ed.inserts.setdefault(_after_colon(text, sec[0]), []).append(f" [{flow}]")
        elif isinstance(sec[1], SequenceNode) and sec[1].flow_style:
            seq = sec[1]
            pos = int(seq.end_mark.index) - 1 if not seq.value else int(seq.value[-1].end_mark.index)
            ed.inserts.setdefault(pos, []).append((", " if seq.value else "") + flow)
        elif isinstance(sec[1], SequenceNode) and sec[1].value:
            seq = sec[1]
            dcol = tx.column(text, ys.seq_item_dash(text, seq, 0))
            _insert_lines(ed, _after_block(text, seq), [" " * dcol + f"- {s}" for s in new], eol)
        else:
            raise RewriteError(f"service {svc}: secrets is not a list")
    # top-level secrets
    if top is None:
        _insert_lines(ed, len(text) if text.endswith("\n") or not text else len(text),
                      ["secrets:"] + [" " * step + d for d in defs], eol)
    elif ys.is_null(top[1]):
        _insert_lines(ed, _after_colon(text, top[0]), [" " * step + d for d in defs], eol)
    elif isinstance(top[1], MappingNode) and not top[1].flow_style and top[1].value:
        col = ys.child_indent(text, top[1], step)
        _insert_lines(ed, _after_block(text, top[1]), [" " * col + d for d in defs], eol)
    elif isinstance(top[1], MappingNode) and top[1].flow_style:
        pos = int(top[1].end_mark.index) - 1 if not top[1].value else _flow_last_end(text, top[1])
        ed.inserts.setdefault(pos, []).append((", " if top[1].value else "") + ", ".join(defs))
    else:
        raise RewriteError("top-level secrets is not a mapping")


def _flow_last_end(text: str, m: MappingNode) -> int:
    k, v = m.value[-1]
    return ys.value_end(text, k, v, ys.colon_after(text, k) + 1)


# --- verification --------------------------------------------------------------------------------


def _verify(loaded: LoadedFile, model: _Model, moves: Sequence[Move], options: RewriteOptions,
            changes: list[FileChange]) -> None:
    def ref(_aid: str) -> str:
        return PREVIEW_ARN

    new_texts: dict[str, str] = {}
    for ch in changes:
        base = "" if ch.create else (loaded.source.text if ch.path == loaded.path else _orig(model, ch.path))
        new_texts[ch.path] = apply_edits(base, ch.edits, ref=ref)

    def read_env(d: str, p: Path) -> SourceText | None:
        st = model.env_texts.get(d)
        if st is None:
            return None
        if d in new_texts:
            return SourceText(path=st.path, display=d, text=new_texts[d], bom=st.bom, sha256="")
        return st

    ctext = new_texts.get(loaded.path, loaded.source.text)
    try:
        new = _analyze(ctext, loaded.source.path, loaded.path, read_env, model.tree)
    except InputError as e:
        raise RewriteError(f"{loaded.path}: the rewritten file does not load ({e.reason})") from None
    for m in moves:
        for u in m.entry.units:
            if m.entry.name in new.effective.get(u, set()):
                raise RewriteError(f"{loaded.path}: {m.entry.name} is still set for service {u} after the rewrite "
                                   "(defined in another place too; move that as well)")
    if options.compose_target == "ecs-params":
        ep_display = _beside(loaded.path, ECS_PARAMS)
        ep_text = new_texts.get(ep_display, model.ecs_params.text if model.ecs_params else "")
        try:
            root = ys.load_nodes(ep_text, ep_display)
        except InputError as e:
            raise RewriteError(f"{ep_display}: the rewritten file does not load ({e.reason})") from None
        for svc, items in _want(moves).items():
            got = _ecs_secrets(root, svc)
            for name, vf in items:
                if got.get(name) != render(vf, ref=ref):
                    raise RewriteError(f"{ep_display}: secret {name} for service {svc} not written as intended")
    else:
        _verify_compose_secrets(loaded.path, new, moves)


def _external_secrets(root: MappingNode) -> dict[str, str]:
    """Top-level ``secrets:`` that are ``external: true``: key -> name."""
    top = ys.get(root, "secrets")
    out: dict[str, str] = {}
    if top is not None and isinstance(top[1], MappingNode):
        for k, v in top[1].value:
            nm = ys.get(v, "name")
            ext = ys.get(v, "external")
            if nm and ext and str(ext[1].value) == "true":
                out[str(k.value)] = str(nm[1].value)
    return out


def _listed_secrets(service: Node | None) -> set[str]:
    """The secret keys a service lists (short and long syntax)."""
    sec = ys.effective_items(service).get("secrets") if isinstance(service, MappingNode) else None
    listed: set[str] = set()
    if sec is not None and isinstance(sec[1], SequenceNode):
        for it in sec[1].value:
            if isinstance(it, ScalarNode):
                listed.add(str(it.value))
            else:
                src = ys.get(it, "source")
                if src:
                    listed.add(str(src[1].value))
    return listed


def _verify_compose_secrets(path: str, new: _Model, moves: Sequence[Move]) -> None:
    top_names = _external_secrets(new.root)
    for (u, _name), m in _winners(moves).items():
        want = render(m.value_from, ref=lambda _aid: PREVIEW_ARN)
        if want not in top_names.values():
            raise RewriteError(f"{path}: top-level secret for {m.entry.name} not written as intended")
        if u and not any(top_names.get(s) == want for s in _listed_secrets(new.services.get(u))):
            raise RewriteError(f"{path}: service {u} does not list the secret for {m.entry.name}")


def _orig(model: _Model, path: str) -> str:
    if path in model.env_texts:
        return model.env_texts[path].text
    if model.ecs_params is not None and model.ecs_params.display == path:
        return model.ecs_params.text
    raise RewriteError(f"unknown file {path}")


def _ecs_secrets(root: Node | None, svc: str) -> dict[str, str]:
    out: dict[str, str] = {}
    td = ys.get(root, "task_definition")
    s = ys.get(td[1], "services") if td else None
    sv = ys.get(s[1], svc) if s else None
    sec = ys.get(sv[1], "secrets") if sv else None
    if sec is not None and isinstance(sec[1], SequenceNode):
        for it in sec[1].value:
            n, v = ys.get(it, "name"), ys.get(it, "value_from")
            if n and v:
                out[str(n[1].value)] = str(v[1].value)
    return out
