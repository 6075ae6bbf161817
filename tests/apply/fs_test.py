"""fs: rewrites keep owner, group and mode; hard-linked, symlinked and foreign files are refused;
open_beneath never follows a link nor leaves the root."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from migrate.apply.fs import UnsafeFileError, atomic_write, check_rewritable, open_beneath, read_beneath
from migrate.errors import MigrateError


def test_rewrite_keeps_mode_owner_and_group(tmp_path: Path) -> None:
    p = tmp_path / "task.json"
    p.write_text("old\n")
    p.chmod(0o640)
    groups = [g for g in os.getgroups() if g != os.getegid()]
    if groups:
        os.chown(p, -1, groups[0])
    before = p.stat()
    atomic_write(p, "new\n")
    after = p.stat()
    assert p.read_text() == "new\n"
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (before.st_uid, before.st_gid, 0o640)
    assert after.st_ino != before.st_ino  # replaced, not written in place
    atomic_write(p, "newer\n", mode=0o600)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_a_second_hard_link_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    p = tmp_path / "task.json"
    p.write_text("PLAINTEXT\n")
    os.link(p, tmp_path / "backup.json")
    with pytest.raises(UnsafeFileError, match="2 hard links") as ei:
        check_rewritable(p)
    assert isinstance(ei.value, MigrateError) and ei.value.hint and ei.value.path == str(p)
    with pytest.raises(UnsafeFileError):
        atomic_write(p, "rewritten\n")
    assert p.read_text() == (tmp_path / "backup.json").read_text() == "PLAINTEXT\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["backup.json", "task.json"]  # no temp file left


def test_a_symlink_or_a_non_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text("x")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        atomic_write(tmp_path / "link.json", "y")
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "real.json").read_text() == "x"
    with pytest.raises(UnsafeFileError, match="not a regular file"):
        check_rewritable(tmp_path)
    with pytest.raises(UnsafeFileError, match="does not exist"):
        check_rewritable(tmp_path / "nope")


def test_a_file_owned_by_someone_else_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "f"
    p.write_text("x")
    uid = os.stat(p).st_uid + 1
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    with pytest.raises(UnsafeFileError, match="owned by another user"):
        check_rewritable(p)


def test_new_files_are_created_with_the_umask_default(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "sub" / "new.txt", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "sub" / "new.txt").stat().st_mode) == 0o640


# -- open_beneath ----------------------------------------------------------------------------------

def _tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "task.json").write_text("inside")
    (root.parent / "outside").mkdir(exist_ok=True)
    (root.parent / "outside" / "task.json").write_text("OUTSIDE")


def test_read_beneath_reads_a_plain_path(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _tree(root)
    assert read_beneath(root, "a/b/task.json") == b"inside"
    assert read_beneath(str(root), Path("./a//b/task.json")) == b"inside"


def test_a_parent_directory_swapped_for_a_symlink_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _tree(root)
    os.rename(root / "a" / "b", root / "a" / "b.orig")
    (root / "a" / "b").symlink_to(tmp_path / "outside")  # b -> ../../outside
    assert (root / "a" / "b" / "task.json").read_text() == "OUTSIDE"  # what a plain open would read
    with pytest.raises(UnsafeFileError, match="a/b is a symbolic link"):
        read_beneath(root, "a/b/task.json")
    with pytest.raises(UnsafeFileError):
        open_beneath(root, "a/b/task.json", os.O_WRONLY | os.O_TRUNC)
    assert (tmp_path / "outside" / "task.json").read_text() == "OUTSIDE"


def test_a_final_symlink_is_refused_for_read_and_for_create(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _tree(root)
    (root / "a" / "link.json").symlink_to(tmp_path / "outside" / "task.json")
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        read_beneath(root, "a/link.json")
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        open_beneath(root, "a/link.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    (root / "a" / "dangling.json").symlink_to(tmp_path / "outside" / "created.json")
    with pytest.raises(UnsafeFileError):
        open_beneath(root, "a/dangling.json", os.O_WRONLY | os.O_CREAT)
    assert not (tmp_path / "outside" / "created.json").exists()


@pytest.mark.parametrize("rel", ["../outside/task.json", "a/../../outside/task.json", "/etc/passwd", "", ".", "a/.."])
def test_dotdot_absolute_and_empty_paths_are_refused(tmp_path: Path, rel: str) -> None:
    root = tmp_path / "root"
    _tree(root)
    with pytest.raises(UnsafeFileError):
        read_beneath(root, rel)


def test_open_beneath_creates_and_reports_missing_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _tree(root)
    fd = open_beneath(root, "a/new.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"n")
    os.close(fd)
    assert (root / "a" / "new.txt").read_text() == "n"
    assert stat.S_IMODE((root / "a" / "new.txt").stat().st_mode) & 0o077 == 0
    with pytest.raises(FileNotFoundError):
        read_beneath(root, "a/missing.json")
    with pytest.raises(UnsafeFileError, match="not a regular file"):
        read_beneath(root, "a/b")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_root_rewriting_a_users_file_gives_it_back(tmp_path: Path) -> None:
    p = tmp_path / "task.json"
    p.write_text("old\n")
    p.chmod(0o664)
    os.chown(p, 1234, 2345)
    atomic_write(p, "new\n")
    st = p.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 2345, 0o664)
