"""Read a compose file and the env files its services name into entries and places."""

from __future__ import annotations

import os
import posixpath
import re
import stat
from pathlib import Path

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrate.errors import InputError
from migrate.model import LOC_COMPOSE_ENV, LOC_ENV_FILE, Entry, SecretValue, ValueKind
from migrate.rewrite import pointer as jp
from migrate.rewrite import yaml_spans as ys
from migrate.rewrite.edits import encode, is_restorable
from migrate.sources.base import SourceText
from migrate.sources.compose.model import (
    _FROM_ALIAS,
    _NO_VALUE,
    COMPOSE_TAGS,
    KIND,
    LOC_COMPOSE_LOGGING,
    EnvLoc,
    EnvReader,
    _Found,
    _Model,
    _Occurrences,
    _Place,
    _Value,
    classify,
    normalize_project,
    project_of,
)
from migrate.sources.dotenv import DotenvEntry, parse_dotenv
from migrate.sources.reading import DEFAULT_MAX_BYTES, _kind, decode_source


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


def _analyze(text: str, src_path: Path, display: str, read_env: EnvReader, root_dir: Path | None) -> _Model:
    root = ys.load_nodes(text, display, allowed_tags=COMPOSE_TAGS)
    if root is None:
        raise InputError(display, "empty file")
    if not isinstance(root, MappingNode):
        raise InputError(display, "top level is not a mapping", line=root.start_mark.line + 1)
    svc_item = ys.get(root, "services")
    v1 = svc_item is None and is_v1(root)
    if v1:
        svc_map: MappingNode = root
    elif svc_item is None or not isinstance(svc_item[1], MappingNode):
        raise InputError(display, "no services mapping at the top level (and not a version 1 compose file: "
                                  "a top-level value has no image or build)")
    else:
        svc_map = svc_item[1]
    paths, parent_key = _walk_paths(root)
    project = _project(root, src_path) if not v1 else re.sub(r"[^a-z0-9_-]", "", src_path.absolute().parent.name.lower())
    services: dict[str, Node | None] = {}
    service_keys: dict[str, Node] = {}
    for sname, (sk, sv, _holder) in ys.effective_items(svc_map).items():
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
        place = _yaml_place(text, display, oc.info[oid], tuple(oc.users[oid]), paths, seq_names, project,
                            oc.where[oid])
        places[place.entry.key] = place
    env_texts: dict[str, SourceText] = {}
    for edisplay, users in oc.env_users.items():
        where, required, line = oc.env_specs[edisplay]
        try:
            st = read_env(edisplay, where)
        except InputError as e:  # the compose file is in error: its services' environment is not known
            raise InputError(display, f"env_file {edisplay}: {e.reason}", line=line) from None
        if st is None:
            if required:
                oc.warnings.append(f"{display}: env_file {edisplay} not found")
            continue
        env_texts[edisplay] = st
        for place in _env_file_places(st, display, users, project, oc.effective):
            places[place.entry.key] = place
    return _Model(text=text, root=root, project=project, services=services, service_keys=service_keys,
                  effective=oc.effective, places=places, paths=paths, parent_key=parent_key,
                  env_texts=env_texts, ecs_params=None, warnings=oc.warnings, tree=root_dir or src_path.parent,
                  v1=v1)


#: keys that only a service has (a version 1 file's top-level values are services)
V1_SERVICE_KEYS = frozenset({"image", "build", "links", "environment", "command", "ports", "volumes",
                             "env_file", "external_links", "net", "volumes_from", "extends"})


def is_v1(root: MappingNode) -> bool:
    """Compose file format v1: no ``services``/``version`` key, every top-level value a mapping,
    each with ``image`` or ``build`` (``extends`` too), none an ``x-`` extension."""
    if not root.value or ys.get(root, "services") is not None or ys.get(root, "version") is not None:
        return False
    for k, v in root.value:
        if not isinstance(k, ScalarNode) or not isinstance(v, MappingNode):
            return False
        keys = {str(kk.value) for kk, _vv in v.value if isinstance(kk, ScalarNode)}
        if not keys & {"image", "build", "extends"} or not keys <= V1_SERVICE_KEYS | _V1_OTHER:
            return False
    return True


_V1_OTHER = frozenset({"container_name", "hostname", "domainname", "working_dir", "entrypoint", "user",
                       "expose", "restart", "dns", "dns_search", "cap_add", "cap_drop", "devices", "labels",
                       "log_driver", "log_opt", "mem_limit", "memswap_limit", "cpu_shares", "cpuset",
                       "privileged", "read_only", "stdin_open", "tty", "pid", "security_opt", "dockerfile",
                       "mac_address", "cpu_quota", "ulimits", "extra_hosts", "logging"})


def _project(root: MappingNode, src_path: Path) -> str:
    name_item = ys.get(root, "name")
    own = ""
    if name_item and isinstance(name_item[1], ScalarNode) and "$" not in str(name_item[1].value):
        own = normalize_project(str(name_item[1].value))
    return project_of(own, src_path)


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
            # never read outside the tree (at apply, with no root given: the compose file's directory)
            where = env_beneath(root_dir or src_path.parent, src_path.parent, p)
            if where is None:
                raise InputError(display, f"env_file {edisplay} resolves outside the scanned tree; "
                                          "scan a directory that holds it, or move the file", line=line)
            oc.env_specs.setdefault(edisplay, (where, required, line))
            users = oc.env_users.setdefault(edisplay, [])
            if sname not in users:
                users.append(sname)
    _logging_options(oc, sname, items)
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


def _logging_options(oc: _Occurrences, sname: str, items: dict[str, tuple[Node, Node, MappingNode]]) -> None:
    """``logging.options`` (a Splunk token, a Datadog key): each option is an entry."""
    lg = items.get("logging")
    if lg is None or not isinstance(lg[1], MappingNode):
        return
    opts = ys.effective_items(lg[1]).get("options")
    if opts is None or not isinstance(opts[1], MappingNode):
        return
    for name, (k, v, holder) in ys.effective_items(opts[1]).items():
        if not isinstance(v, ScalarNode):
            continue
        idx = next(i for i, (kk, _vv) in enumerate(holder.value) if kk is k)
        oc.add((id(holder), idx), sname, (str(name), holder, k, v, idx), LOC_COMPOSE_LOGGING)


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
                paths: dict[int, str], seq_names: dict[int, dict[str, int]], project: str,
                location: str = LOC_COMPOSE_ENV) -> _Place:
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
        path=display, line=found.line, unit=units[0], location=location, name=name,
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


def env_beneath(tree: Path, compose_dir: Path, p: str) -> EnvLoc | None:
    """Where env file ``p`` (as written in a compose file of ``compose_dir``) is below ``tree``, or
    None when it is not. The path is taken as Compose takes it: joined to the compose file's
    directory and cleaned (``a/../b`` is ``b``), so ``..`` never climbs out through a link; a link
    on the way is refused when the file is opened (:func:`_read_env`)."""
    here = os.path.realpath(compose_dir)
    full = os.path.normpath(p if os.path.isabs(p) else os.path.join(here, p))
    for root in dict.fromkeys((os.path.realpath(tree), os.path.abspath(tree))):
        rel = os.path.relpath(full, root)
        if rel not in (os.curdir, os.pardir) and not rel.startswith(os.pardir + os.sep):
            return EnvLoc(root, rel)
    return None


_ENV_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)


def _read_env(display: str, where: EnvLoc) -> SourceText | None:
    """The env file at ``where``, opened below its tree with no link followed (``open_beneath``: a
    symbolic link as the file or as any directory on the way is refused, so is a FIFO or a device),
    None when it does not exist. Raises InputError naming the reason, never quoting content."""
    from migrate.apply.fs import UnsafeFileError, open_beneath

    try:
        fd = open_beneath(where.root, where.rel, _ENV_FLAGS)
    except FileNotFoundError:
        return None
    except UnsafeFileError as e:
        raise InputError(display, e.reason) from None
    except OSError as e:
        raise InputError(display, f"cannot read file ({e.strerror or type(e).__name__})") from None
    with os.fdopen(fd, "rb") as fh:
        try:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                what = _kind(st.st_mode)
                raise InputError(display, f"not a regular file ({what})" if what.startswith("a ") else what)
            if st.st_size > DEFAULT_MAX_BYTES:
                raise InputError(display, f"file is {st.st_size} bytes, over the {DEFAULT_MAX_BYTES}-byte cap")
            raw = fh.read(DEFAULT_MAX_BYTES + 1)
        except OSError as e:
            raise InputError(display, f"cannot read file ({e.strerror or type(e).__name__})") from None
    if len(raw) > DEFAULT_MAX_BYTES:
        raise InputError(display, f"file is over the {DEFAULT_MAX_BYTES}-byte cap")
    return decode_source(raw, Path(where.root, where.rel), display)


