from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from migrate.model import FileStatus
from migrate.sources.registry import SOURCES, detect_source
from migrate.sources.walk import Candidate, iter_candidates, scan_paths

RES = Path(__file__).parent.parent / "resources" / "ecs"
TD = (RES / "register_web.json").read_text()


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "repo"
    (root / "ecs").mkdir(parents=True)
    (root / "ecs" / "web.json").write_text(TD)
    (root / "ecs" / "b.json").write_text('{"name": "pkg", "version": "1.0.0"}')
    (root / "ecs" / "notes.txt").write_text("not a candidate")
    (root / "ecs" / "broken.json").write_text('{"containerDefinitions": [\n  {"name": "a",}\n]}')
    for skipped in ("node_modules/x", ".git", "venv", ".terraform", "cdk.out", "__pycache__", ".migrate"):
        (root / skipped).mkdir(parents=True, exist_ok=True)
        (root / skipped / "td.json").write_text(TD)
    (root / "env2").mkdir()
    (root / "env2" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "env2" / "td.json").write_text(TD)
    return root


def test_walk_skips_tool_dirs_and_reports_each_file(tree: Path) -> None:
    res = scan_paths(["repo"], max_bytes=1 << 20)
    got = {(f.path, f.status, f.kind) for f in res.files}
    assert got == {
        ("repo/ecs/b.json", FileStatus.SKIPPED, "unknown"),
        ("repo/ecs/broken.json", FileStatus.ERROR, "ecs-taskdef"),
        ("repo/ecs/web.json", FileStatus.SCANNED, "ecs-taskdef"),
    }
    broken = next(f for f in res.files if f.path.endswith("broken.json"))
    assert broken.line == 2 and "trailing comma" in broken.reason
    skipped = next(f for f in res.files if f.path.endswith("b.json"))
    assert skipped.reason.startswith("not a task definition, compose file")
    assert [lf.path for lf in res.loaded] == ["repo/ecs/web.json"]
    assert res.loaded[0].entries[0].path == "repo/ecs/web.json"


def test_order_is_sorted_and_progress_reported(tree: Path) -> None:
    seen: list[str] = []
    scan_paths(["repo/"], max_bytes=1 << 20, on_file=seen.append)
    assert seen == ["repo/ecs/b.json", "repo/ecs/broken.json", "repo/ecs/web.json"]
    assert [c.display for c in iter_candidates(["."], max_bytes=1) if isinstance(c, Candidate)] == \
        ["repo/ecs/b.json", "repo/ecs/broken.json", "repo/ecs/web.json"]


def test_explicit_files_are_always_tried_and_missing_paths_are_errors(tree: Path) -> None:
    (tree / "taskdef.txt").write_text(TD)
    res = scan_paths(["repo/taskdef.txt", "nope.json"], max_bytes=1 << 20)
    assert [(f.path, f.status) for f in res.files] == [
        ("repo/taskdef.txt", FileStatus.SCANNED), ("nope.json", FileStatus.ERROR)]
    assert res.files[1].reason == "no such file or directory"


def test_exclude(tree: Path) -> None:
    res = scan_paths(["repo"], max_bytes=1 << 20, exclude=["*/broken.json", "b.json"])
    assert [f.path for f in res.files] == ["repo/ecs/web.json"]


def test_size_cap_and_bad_bytes_are_errors_and_scan_goes_on(tree: Path) -> None:
    (tree / "ecs" / "big.json").write_text(TD + " " * 5000)
    (tree / "ecs" / "bin.json").write_bytes(b"\x00\x01{}")
    (tree / "ecs" / "latin.json").write_bytes(b'{"containerDefinitions": [{"name": "caf\xe9"}]}')
    (tree / "ecs" / "empty.json").write_text("")
    res = scan_paths(["repo/ecs"], max_bytes=len(TD) + 100)
    by = {f.path.rsplit("/", 1)[1]: f for f in res.files}
    assert by["big.json"].status is FileStatus.ERROR and "cap" in by["big.json"].reason
    assert by["bin.json"].status is FileStatus.ERROR and "binary" in by["bin.json"].reason
    assert by["latin.json"].status is FileStatus.ERROR and "UTF-8" in by["latin.json"].reason
    assert by["empty.json"].status is FileStatus.SKIPPED
    assert by["web.json"].status is FileStatus.SCANNED


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinks_out_of_tree_and_loops_are_not_followed(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text(TD)
    os.symlink(outside, tree / "ecs" / "out_dir")
    os.symlink(outside / "secret.json", tree / "ecs" / "out_file.json")
    os.symlink(tree, tree / "ecs" / "loop")
    os.symlink(tree / "ecs" / "web.json", tree / "ecs" / "alias.json")
    os.symlink(tree / "nowhere", tree / "ecs" / "dangling.json")
    res = scan_paths(["repo"], max_bytes=1 << 20)
    by = {f.path: f for f in res.files}
    assert "outside" in by["repo/ecs/out_dir"].reason and by["repo/ecs/out_dir"].status is FileStatus.SKIPPED
    assert "outside" in by["repo/ecs/out_file.json"].reason
    assert "loop" in by["repo/ecs/loop"].reason
    assert "inside the tree" in by["repo/ecs/alias.json"].reason
    assert by["repo/ecs/dangling.json"].status is FileStatus.SKIPPED
    assert [lf.path for lf in res.loaded] == ["repo/ecs/web.json"]


def test_overlapping_arguments_scan_a_file_once(tree: Path) -> None:
    res = scan_paths(["repo/ecs/web.json", "repo"], max_bytes=1 << 20)
    assert [lf.path for lf in res.loaded] == ["repo/ecs/web.json"]


def test_detect_source() -> None:
    assert "ecs-taskdef" in SOURCES
    src = detect_source(Path("x.json"), TD)
    assert src is not None and src.kind == "ecs-taskdef"
    assert detect_source(Path("x.json"), '{"compilerOptions": {}}') is None
    assert detect_source(Path("x.py"), "print('hi')\n") is None


def test_resources_copy_cleanly(tmp_path: Path) -> None:
    # every shipped resource is recognised by content whatever its name
    for f in RES.glob("*.json"):
        dst = tmp_path / (f.stem + ".anything")
        shutil.copy(f, dst)
        assert detect_source(dst, dst.read_text()) is SOURCES["ecs-taskdef"]
