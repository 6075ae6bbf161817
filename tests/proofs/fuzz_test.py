"""Property tests over the ECS JSON, compose and .env sources.

Generated definitions -> plan -> rewrite -> reparse (moved names gone from plaintext, other names
kept) -> revert with the values -> byte-identical. Malformed input only ever raises MigrateError.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate.detect.engine import classify
from migrate.errors import MigrateError
from migrate.plan.actions import RewriteFile
from migrate.plan.model import PlanSettings
from migrate.plan.planner import make_plan
from migrate.rewrite.edits import apply_edits, encode, revert_edits
from migrate.sources.base import read_source
from migrate.sources.registry import SOURCES
from migrate.sources.walk import scan_paths

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

# name prefixes carry no words: a word such as NO, ALLOW, MIN or FILE next to PASSWORD rightly changes
# the verdict (NO_PASSWORD is a switch), which is the detector's business, not this round-trip property's
names = st.lists(st.from_regex(r"[A-Z][0-9]{2,10}", fullmatch=True), min_size=1, max_size=4, unique=True)
# a leading "/" reads as an SSM parameter name (a reference), so generated secrets do not start with one
values = st.from_regex(r"[A-Za-z0-9+_.-][A-Za-z0-9+/_.-]{11,29}", fullmatch=True)


def _round_trip(tmp: Path, files: dict[str, bytes], secret_names: set[str], kept: set[str]) -> None:
    for rel, data in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_bytes(data)
    res = scan_paths([str(tmp)])
    entries = [e for lf in res.loaded for e in lf.entries]
    plan = make_plan(res.loaded, classify(entries), PlanSettings(execution_role=ROLE))
    vals = {e.key: e.value.reveal() for e in entries if e.value is not None}
    moved = {e.name for lf in res.loaded for e in lf.entries if any(e.key in a.entries for a in plan.rewrites)}
    assert secret_names <= moved, (secret_names, moved)
    ref = lambda aid: f"arn:aws:ssm:us-east-1:123456789012:parameter/{aid}"  # noqa: E731
    by_key = {v.key: v for a in plan.store_actions for v in a.values}  # type: ignore[attr-defined]
    for a in plan.rewrites:
        assert isinstance(a, RewriteFile)
        old = "" if a.creates else read_source(plan.root_path() / a.path).text  # plan paths: relative to the root
        new = apply_edits(old, a.edits, ref=ref)
        for k in a.entries:  # plaintext left the file
            assert vals[k] not in new
        back = revert_edits(new, a.edits, ref=ref, value=lambda key, enc: encode(enc, vals[by_key[key].key]))
        assert back == old
    kept_now = {e.name for lf in scan_paths([str(tmp)]).loaded for e in lf.entries}
    assert kept <= kept_now  # plain entries are never touched


@FUZZ
@given(secret=names, plain=names, vals=st.lists(values, min_size=4, max_size=4), indent=st.sampled_from([None, 2, 4]))
def test_ecs_json_round_trip(tmp_path_factory, secret, plain, vals, indent) -> None:  # type: ignore[no-untyped-def]
    secret_names = {f"{n}_PASSWORD" for n in secret}
    plain_names = {f"{n}_PORT" for n in plain} - secret_names
    env = [{"name": n, "value": vals[i % 4]} for i, n in enumerate(sorted(secret_names))]
    env += [{"name": n, "value": "8080"} for n in sorted(plain_names)]
    doc = {"family": "f", "executionRoleArn": ROLE,
           "containerDefinitions": [{"name": "app", "image": "i:1", "environment": env}]}
    if len(set(vals)) < 4:
        return
    tmp = tmp_path_factory.mktemp("ecs")
    _round_trip(tmp, {"td.json": (json.dumps(doc, indent=indent) + "\n").encode()}, secret_names, plain_names)


@FUZZ
@given(secret=names, vals=st.lists(values, min_size=4, max_size=4, unique=True), crlf=st.booleans(),
       export=st.booleans(), quote=st.sampled_from(["", '"', "'"]))
def test_dotenv_and_compose_round_trip(tmp_path_factory, secret, vals, crlf, export, quote) -> None:  # type: ignore[no-untyped-def]
    nl = "\r\n" if crlf else "\n"
    secret_names = {f"{n}_SECRET" for n in secret}
    lines = ["# generated", "FEATURE_X=on"]
    lines += [f"{'export ' if export else ''}{n}={quote}{vals[i % 4]}{quote}" for i, n in enumerate(sorted(secret_names))]
    compose = f"services:\n  web:\n    image: web:1\n    environment:\n      LOG_LEVEL: info\n      DB_PASSWORD: {vals[0]}x\n    env_file: app.env\n"
    tmp = tmp_path_factory.mktemp("cmp")
    _round_trip(tmp, {"c/compose.yaml": compose.encode(), "c/app.env": (nl.join(lines) + nl).encode()},
                secret_names | {"DB_PASSWORD"}, {"FEATURE_X", "LOG_LEVEL"})


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(kind=st.sampled_from(["ecs-taskdef", "compose", "dotenv"]),
       data=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                      st.sampled_from([b'{"containerDefinitions": [', b"services:\n  web: [", b'{"a": 1, "a": 2}',
                                       b"x: &a [*a]\n", b"services:\n  web:\n    environment:\n      - =\n",
                                       b'{"containerDefinitions":[{"environment":[{"name":1}]}]}'])))
def test_malformed_input_only_raises_migrate_errors(tmp_path_factory, kind, data) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("bad")
    if kind == "dotenv":  # .env files are read through the compose file that names them
        (d / "app.env").write_bytes(data)
        data, kind = b"services:\n  web:\n    image: x\n    env_file: app.env\n", "compose"
    src = SOURCES[kind]
    p = d / {"ecs-taskdef": "td.json", "compose": "compose.yaml"}[kind]
    p.write_bytes(data)
    with contextlib.suppress(MigrateError):  # a clean error is fine; anything else is a bug
        src.load(read_source(p))
