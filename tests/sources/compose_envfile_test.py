"""env_file reads are confined to the scanned tree (``open_beneath``): a path that climbs out, or a
symbolic link (the file itself or a directory on the way), makes the compose file an error with a
reason naming the env file; the outside file is never opened and its content never shown."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from migrate.errors import InputError
from migrate.sources.base import read_source
from migrate.sources.compose import ComposeSource
from tests.support.testing import run_cli

CANARY = "CANARY-envfile-7d1e"
SRC = ComposeSource()


def _tree(tmp_path: Path, env_file: str) -> tuple[Path, Path]:
    """``tmp_path/outside/x.env`` holds a secret; ``tmp_path/proj/app/compose.yaml`` names ``env_file``."""
    out = tmp_path / "outside"
    out.mkdir()
    (out / "x.env").write_text(f"DB_PASSWORD={CANARY}\n")
    proj = tmp_path / "proj"
    (proj / "app").mkdir(parents=True)
    (proj / "app" / "compose.yaml").write_text(f"services:\n  web:\n    image: x\n    env_file: {env_file}\n")
    return proj, out


def _load(proj: Path) -> object:
    return SRC.load(read_source(proj / "app" / "compose.yaml", "app/compose.yaml"), root=proj)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every path the env reader opens (root, relative path)."""
    from migrate.apply import fs

    seen: list[tuple[str, str]] = []
    real = fs.open_beneath

    def spy(root: str, rel: str, flags: int = os.O_RDONLY, mode: int = 0o600) -> int:
        seen.append((os.fspath(root), os.fspath(rel)))
        return real(root, rel, flags, mode)

    monkeypatch.setattr(fs, "open_beneath", spy)
    return seen


@pytest.mark.parametrize("spec", ["../../outside/x.env", "../../../outside/x.env", "../../../../etc/x"])
def test_a_path_climbing_out_of_the_tree_is_refused_unread(tmp_path: Path, spec: str,
                                                          opened: list[tuple[str, str]]) -> None:
    proj, _out = _tree(tmp_path, spec)
    with pytest.raises(InputError) as ei:
        _load(proj)
    assert "outside the scanned tree" in ei.value.reason and "env_file" in ei.value.reason
    assert ei.value.path == "app/compose.yaml" and ei.value.line == 4
    assert opened == [] and CANARY not in str(ei.value)


def test_an_absolute_path_outside_is_refused_and_one_inside_is_read(tmp_path: Path,
                                                                    opened: list[tuple[str, str]]) -> None:
    proj, out = _tree(tmp_path, str(tmp_path / "outside" / "x.env"))
    with pytest.raises(InputError, match="outside the scanned tree"):
        _load(proj)
    assert opened == []
    (proj / "app" / "in.env").write_text(f"DB_PASSWORD={CANARY}\n")
    (proj / "app" / "compose.yaml").write_text(f"services:\n  web:\n    image: x\n    env_file: {proj / 'app' / 'in.env'}\n")
    (e,) = _load(proj).entries  # type: ignore[attr-defined]
    assert e.name == "DB_PASSWORD" and e.value.reveal() == CANARY
    assert opened and Path(*opened[-1]) == (proj / "app" / "in.env").resolve()


def test_an_env_file_that_is_a_link_leaving_the_tree_is_refused(tmp_path: Path) -> None:
    proj, out = _tree(tmp_path, ".env")
    os.symlink(out / "x.env", proj / "app" / ".env")
    with pytest.raises(InputError) as ei:
        _load(proj)
    assert ei.value.reason.startswith("env_file app/.env: ") and "symbolic link" in ei.value.reason
    assert CANARY not in str(ei.value)


@pytest.mark.parametrize("inside", [False, True])
def test_a_linked_directory_on_the_way_is_refused(tmp_path: Path, inside: bool) -> None:
    """``cfg`` a link to a directory outside (or even inside) the tree: open_beneath follows no link,
    so a directory swapped for a link between the check and the read cannot redirect it either."""
    proj, out = _tree(tmp_path, "cfg/x.env")
    if inside:
        (proj / "real").mkdir()
        (proj / "real" / "x.env").write_text(f"DB_PASSWORD={CANARY}\n")
        os.symlink(proj / "real", proj / "app" / "cfg")
    else:
        os.symlink(out, proj / "app" / "cfg")
    with pytest.raises(InputError) as ei:
        _load(proj)
    assert ei.value.reason.startswith("env_file app/cfg/x.env: ") and "cfg is a symbolic link" in ei.value.reason


def test_dot_dot_is_cleaned_as_compose_does_never_climbing_through_a_link(tmp_path: Path,
                                                                         opened: list[tuple[str, str]]) -> None:
    """``cfg/../.env`` is ``.env`` of the compose file's directory (Compose cleans the path), even when
    ``cfg`` is a link elsewhere: the file read is the one below the tree, not ``outside/../.env``."""
    proj, out = _tree(tmp_path, "cfg/../.env")
    os.symlink(out, proj / "app" / "cfg")
    (tmp_path / ".env").write_text(f"DB_PASSWORD={CANARY}\n")  # what following the link would reach
    (proj / "app" / ".env").write_text("PORT=80\n")
    lf = _load(proj)
    assert [e.name for e in lf.entries] == ["PORT"]  # type: ignore[attr-defined]
    assert [Path(r, p) for r, p in opened] == [(proj / "app" / ".env").resolve()]


def test_a_tree_reached_through_a_link_is_still_read(tmp_path: Path) -> None:
    """The tree root itself is trusted (the user named it); only what is below it must be link-free."""
    proj, _out = _tree(tmp_path, ".env")
    (proj / "app" / ".env").write_text(f"DB_PASSWORD={CANARY}\n")
    os.symlink(proj, tmp_path / "via")
    src = read_source(tmp_path / "via" / "app" / "compose.yaml", "app/compose.yaml")
    (e,) = SRC.load(src, root=tmp_path / "via").entries
    assert e.value is not None and e.value.reveal() == CANARY
    (e,) = SRC.load(src).entries  # no root: the compose file's directory
    assert e.value is not None and e.value.reveal() == CANARY


def test_scan_reports_the_compose_file_as_an_error_with_the_reason(tmp_path: Path) -> None:
    proj, out = _tree(tmp_path, "cfg/x.env")
    os.symlink(out, proj / "app" / "cfg")
    (proj / "app" / "other.yaml").write_text("services:\n  api:\n    image: x\n    environment:\n"
                                             "      API_TOKEN: Zq8-KjLm2-vv91-PxR7\n")
    r = run_cli(["scan", "proj", "--format", "json"], cwd=tmp_path, timeout=60)
    assert r.returncode == 3, r.stderr[-600:]
    assert CANARY not in r.stdout + r.stderr
    doc = json.loads(r.stdout)
    (err,) = [f for f in doc["files"] if f["status"] == "error"]
    assert err["path"] == "proj/app/compose.yaml" and "env_file" in err["reason"] and "symbolic link" in err["reason"]
    assert [e["name"] for e in doc["entries"]] == ["API_TOKEN"]  # the batch goes on
