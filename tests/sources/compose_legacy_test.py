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


LOGGING = ("services:\n  api:\n    image: x\n    environment:\n      DB_PASSWORD: CANARY-env-pw\n"
           "    logging:\n      driver: splunk\n      options:\n"
           "        splunk-url: https://splunk.example\n        splunk-token: CANARY-splunk\n")


def _move_logging(tmp_path: Path, names: tuple[str, ...], ecs_params: str | None = None) -> dict[str, str]:
    if ecs_params is not None:
        (tmp_path / "ecs-params.yml").write_text(ecs_params)
    lf = _load(tmp_path, LOGGING, "compose.yaml")
    got = {(e.unit, e.location, e.name) for e in lf.entries}
    assert ("api", "compose.logging.options", "splunk-token") in got
    sel = [e for e in lf.entries if e.name in names]
    assert all(e.restorable for e in sel)
    moves = [Move(entry=e, value_from=ref_token(f"a{i}"), store_name=f"a{i}") for i, e in enumerate(sel)]
    changes = SRC.rewrite(lf, moves, RewriteOptions())
    vals = {e.key: e.value.reveal() for e in sel if e.value is not None}
    out = {}
    for ch in changes:
        base = "" if ch.create else (tmp_path / ch.path).read_text()
        out[ch.path] = apply_edits(base, ch.edits, ref=lambda a: f"arn:aws:ssm:us-east-1:1:parameter/{a}")
        if not ch.create:
            assert revert_edits(out[ch.path], ch.edits, ref=lambda a: f"arn:aws:ssm:us-east-1:1:parameter/{a}",
                                value=lambda k, enc: vals[k]) == base
    return out


def test_logging_options_move_to_ecs_params_secret_options(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    out = _move_logging(tmp_path, ("splunk-token", "DB_PASSWORD"))
    assert "CANARY" not in out["compose.yaml"] and "splunk-url:" in out["compose.yaml"]
    ep = YAML(typ="safe").load(out["ecs-params.yml"])
    api = ep["task_definition"]["services"]["api"]
    assert [s["name"] for s in api["secrets"]] == ["DB_PASSWORD"]
    assert [s["name"] for s in api["logging"]["secret_options"]] == ["splunk-token"]


@pytest.mark.parametrize("existing", [
    "version: 1\ntask_definition:\n  services:\n    api:\n      cpu_shares: 100\n",
    "version: 1\ntask_definition:\n  services:\n    api:\n      logging:\n        secret_options:\n"
    "          - value_from: arn:x\n            name: other\n",
    "version: 1\ntask_definition:\n  services:\n    web:\n      cpu_shares: 100\n",
])
def test_logging_options_extend_an_existing_ecs_params(tmp_path: Path, existing: str) -> None:
    from ruamel.yaml import YAML

    out = _move_logging(tmp_path, ("splunk-token",), existing)
    ep = YAML(typ="safe").load(out["ecs-params.yml"])
    names = [s["name"] for s in ep["task_definition"]["services"]["api"]["logging"]["secret_options"]]
    assert names[-1] == "splunk-token"


def test_logging_options_refused_for_compose_secrets(tmp_path: Path) -> None:
    lf = _load(tmp_path, LOGGING, "compose.yaml")
    e = next(e for e in lf.entries if e.name == "splunk-token")
    with pytest.raises(RewriteError, match="logging"):
        SRC.rewrite(lf, [Move(entry=e, value_from=ref_token("a"), store_name="a")],
                    RewriteOptions(compose_target="compose-secrets"))


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
