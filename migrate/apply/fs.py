"""Atomic file writes: temp file in the same directory, fsync, keep owner/group/mode, os.replace,
fsync dir. Files that a replace would betray are refused (:func:`check_rewritable`): a second hard
link or a symbolic link would keep the old content (the plaintext) under the other name, and a file
owned by someone else would change owner. :func:`open_beneath` opens a path below a root one
component at a time without following any symbolic link, so a parent directory swapped for a link
cannot redirect a read or a write."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from migrate.errors import PreconditionFailed


class UnsafeFileError(PreconditionFailed):
    """A file cannot be rewritten or opened safely; the message names the path and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}", hint=hint)
        self.path = os.fspath(path)
        self.reason = reason


def check_rewritable(path: Path) -> None:
    """Raise :class:`UnsafeFileError` unless replacing ``path`` (which must exist) is safe: a regular
    file, not a symbolic link, one hard link only, and owner/group we can give the new file back."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise UnsafeFileError(path, "does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFileError(path, "is a symbolic link; rewriting would replace the link and leave its target as it is",
                              hint="point the tool at the real file")
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(path, "is not a regular file")
    if st.st_nlink > 1:
        raise UnsafeFileError(path, f"has {st.st_nlink} hard links; rewriting would leave the old content under the other name(s)",
                              hint="remove the other links (find . -samefile FILE) or copy the file, then run again")
    euid = os.geteuid()
    if euid != 0:
        if st.st_uid != euid:
            raise UnsafeFileError(path, "is owned by another user; rewriting it would change its owner",
                                  hint="run as the file's owner")
        if st.st_gid != os.getegid() and st.st_gid not in os.getgroups():
            raise UnsafeFileError(path, "belongs to a group you are not in; rewriting it would change its group",
                                  hint="run as a member of the file's group")


def _default_mode() -> int:
    """What open() would give a new file here: 0o666 less the umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    old = os.umask(0o022)
    os.umask(old)
    return 0o666 & ~old


def atomic_write(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically: temp file in the same directory (created 0600, so the
    content is never readable by others in between), fsync, chmod, os.replace, fsync the directory.
    ``mode``: explicit mode; default keeps an existing file's mode, else the umask default. An
    existing file keeps its owner and group, and must pass :func:`check_rewritable`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    owner: tuple[int, int] | None = None
    if os.path.lexists(path):
        check_rewritable(path)
        st = os.lstat(path)
        owner = (st.st_uid, st.st_gid)
        if mode is None:
            mode = stat.S_IMODE(st.st_mode)
    if mode is None:
        mode = _default_mode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".secrets-migrate.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            if owner is not None:
                st = os.fstat(fh.fileno())
                if (st.st_uid, st.st_gid) != owner:
                    os.fchown(fh.fileno(), owner[0], owner[1])
            os.fchmod(fh.fileno(), mode)  # after chown: chown clears set-id bits
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def remove_file(path: Path) -> None:
    path.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- opening below a root without following links --------------------------------------------------

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _parts(relpath: str | os.PathLike[str]) -> list[str]:
    rel = os.fspath(relpath)
    if not rel or os.path.isabs(rel) or rel.startswith(("/", "\\")):
        raise UnsafeFileError(rel or "''", "must be a relative path below the root")
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeFileError(rel, "must not contain '..'")
    if not parts:
        raise UnsafeFileError(rel, "names no file")
    return parts


def open_beneath(root: str | os.PathLike[str], relpath: str | os.PathLike[str], flags: int = os.O_RDONLY,
                 mode: int = 0o600) -> int:
    """Open ``root/relpath`` and return the descriptor. Every component below ``root`` is opened
    relative to its parent's descriptor with ``O_NOFOLLOW``: a symbolic link anywhere in the path,
    ``..`` or an absolute ``relpath`` raise :class:`UnsafeFileError`. ``root`` itself is trusted."""
    parts = _parts(relpath)
    shown = os.path.join(os.fspath(root), *parts)
    cur = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        for i, part in enumerate(parts[:-1]):
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=cur)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link_at(part, cur):
                    raise UnsafeFileError(shown, f"{'/'.join(parts[:i + 1])} is a symbolic link (not followed)") from None
                raise
            os.close(cur)
            cur = nxt
        try:
            return os.open(parts[-1], flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode, dir_fd=cur)
        except OSError as e:
            if e.errno == errno.ELOOP or (e.errno == errno.EEXIST and _is_link_at(parts[-1], cur)):
                raise UnsafeFileError(shown, "is a symbolic link (not followed)") from None
            raise
    finally:
        os.close(cur)


def _is_link_at(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def read_beneath(root: str | os.PathLike[str], relpath: str | os.PathLike[str]) -> bytes:
    """The content of ``root/relpath``, opened with :func:`open_beneath` (no link followed)."""
    fd = open_beneath(root, relpath, os.O_RDONLY)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeFileError(os.path.join(os.fspath(root), os.fspath(relpath)), "is not a regular file")
    with os.fdopen(fd, "rb") as fh:
        return fh.read()
