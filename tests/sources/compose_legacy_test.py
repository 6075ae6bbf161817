"""Compose file format v1 (services at the top level) and ``logging.options`` (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.errors import InputError, RewriteError
from migrate.rewrite.edits import apply_edits, ref_token, revert_edits
from migrate.sources.base import Move, RewriteOptions, read_source
from migrate.sources.compose import ComposeSource

SRC = ComposeSource()
V1 = """\
db:
  image: postgres:9.3
  environment:
    POSTGRES_USER: myapp
    POSTGRES_PASSWORD: CANARY-v1-pw   # keep me
web:
  build: .
  links:
    - db
    - redis:cache
  environment:
    - RAILS_ENV=production
    - SECRET_KEY_BASE=CANARY-v1-skb
"""


def _load(tmp_path: Path, text: str, name: str = "docker-compose.yml"):
    (tmp_path / name).write_text(text)
    return SRC.load(read_source(tmp_path / name, name))


@pytest.mark.parametrize("name", ["docker-compose.yml", "fig.yml", "docker-compose.prod.yaml"])
def test_v1_is_sniffed_by_content_and_name(tmp_path: Path, name: str) -> None:
    assert SRC.sniff(Path(name), V1)
    assert not SRC.sniff(Path("values.yml"), V1)  # only compose-like names
    assert not SRC.sniff(Path(name), "db:\n  host: x\n  port: 5432\n")  # no image/build: not services


def test_v1_entries_and_units(tmp_path: Path) -> None:
    lf = _load(tmp_path, V1)
    got = {(e.unit, e.location, e.name) for e in lf.entries}
    assert ("db", "compose.environment", "POSTGRES_PASSWORD") in got
    assert ("web", "compose.environment", "SECRET_KEY_BASE") in got
    assert lf.units == ("db", "web")


def test_v1_rewrite_to_ecs_params_and_rollback(tmp_path: Path) -> None:
    lf = _load(tmp_path, V1)
    sel = [e for e in lf.entries if e.name in ("POSTGRES_PASSWORD", "SECRET_KEY_BASE")]
    moves = [Move(entry=e, value_from=ref_token(f"a{i}"), store_name=f"a{i}") for i, e in enumerate(sel)]
    changes = SRC.rewrite(lf, moves, RewriteOptions())
    by = {c.path: c for c in changes}
    new = apply_edits(V1, by["docker-compose.yml"].edits, ref=lambda a: f"arn:{a}")
    assert "CANARY" not in new and "RAILS_ENV=production" in new and "POSTGRES_USER: myapp" in new
    vals = {e.key: e.value.reveal() for e in sel if e.value is not None}
    keys = {c.split("|")[-1] for c in vals}
    del keys
    back = revert_edits(new, by["docker-compose.yml"].edits, ref=lambda a: f"arn:{a}",
                        value=lambda k, enc: vals[k])
    assert back == V1
    ep = apply_edits("", by["ecs-params.yml"].edits, ref=lambda a: f"arn:{a}")
    assert "web:" in ep and "SECRET_KEY_BASE" in ep and "POSTGRES_PASSWORD" in ep


def test_v1_refuses_compose_secrets_target(tmp_path: Path) -> None:
    lf = _load(tmp_path, V1)
    e = next(e for e in lf.entries if e.name == "POSTGRES_PASSWORD")
    with pytest.raises(RewriteError, match="version 1"):
        SRC.rewrite(lf, [Move(entry=e, value_from=ref_token("a"), store_name="a")],
                    RewriteOptions(compose_target="compose-secrets"))


def test_fragment_without_services_stays_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="version 1"):
        _load(tmp_path, "services_old:\n  host: x\n")


def test_logging_options_are_entries(tmp_path: Path) -> None:
    text = ("services:\n  api:\n    image: x\n    logging:\n      driver: splunk\n      options:\n"
            "        splunk-url: https://splunk.example\n        splunk-token: CANARY-splunk\n")
    lf = _load(tmp_path, text, "compose.yaml")
    got = {(e.unit, e.location, e.name) for e in lf.entries}
    assert got == {("api", "compose.logging.options", "splunk-url"), ("api", "compose.logging.options", "splunk-token")}
    e = next(e for e in lf.entries if e.name == "splunk-token")
    with pytest.raises(RewriteError, match="logging"):
        SRC.rewrite(lf, [Move(entry=e, value_from=ref_token("a"), store_name="a")], RewriteOptions())


def test_logging_options_not_migratable_with_the_reason(tmp_path: Path) -> None:
    from migrate.detect.engine import classify

    text = ("services:\n  api:\n    image: x\n    logging:\n      driver: splunk\n      options:\n"
            "        splunk-token: c40803e2-2ccf-4cb8-b140-c13cde9efa81\n")
    lf = _load(tmp_path, text, "compose.yaml")
    (f,) = classify(list(lf.entries))
    assert f.is_secret and not f.migratable and "logging.secret_options" in f.why_not


def test_a_v1_fragment_is_skipped_with_the_reason(tmp_path: Path) -> None:
    from migrate.model import FileStatus
    from migrate.sources.walk import scan_paths

    (tmp_path / "docker-compose.override.yml").write_text("web:\n  environment:\n    DEBUG: '1'\n")
    (tmp_path / "docker-compose.yml").write_text(V1)
    res = scan_paths([str(tmp_path)])
    by = {Path(f.path).name: f for f in res.files}
    frag = by["docker-compose.override.yml"]
    assert frag.status is FileStatus.SKIPPED and frag.reason.startswith("compose fragment:")
    assert by["docker-compose.yml"].status is FileStatus.SCANNED
