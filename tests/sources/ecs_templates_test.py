"""Task definitions in template files (issue 14 classes 1 and 6): recognised by content whatever the
extension, placeholders outside strings read tolerantly, the rest scanned and migratable."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.errors import InputError
from migrate.model import FileStatus, ValueKind
from migrate.rewrite.edits import apply_edits, ref_token, revert_edits
from migrate.rewrite.json_template import mask
from migrate.sources.base import Move, RewriteOptions, read_source
from migrate.sources.ecs_taskdef import EcsTaskDefSource
from migrate.sources.walk import scan_paths

SRC = EcsTaskDefSource()
TPL = """\
{# rendered by ansible #}
{
  "family": "search-{{ stage }}",
  "executionRoleArn": "arn:aws:iam::123456789012:role/r",
  "containerDefinitions": [
    {"name": "search", "image": "{{ image }}", "cpu": {{ cpu }}, "memory": ${memory},
     "environment": [ TEMPLATE_ENV_JSON ]},
    {"name": "indexer", "image": "x", "essential": true,
     "environment": [
        {"name": "ELASTIC_PASSWORD", "value": "CANARY-tpl-pw"},
        {"name": "HEAP", "value": ${heap}},
        ${extra_env}
     ]}
  ]
}
"""


def test_mask_keeps_length_and_strings() -> None:
    masked, holes = mask(TPL)
    assert len(masked) == len(TPL)
    assert '"search-{{ stage }}"' in masked  # inside a string: untouched
    assert "{#" not in masked and "TEMPLATE_ENV_JSON" not in masked and "${heap}" not in masked
    assert {TPL[h:h + 2] for h in holes} == {"{{", "${", "TE"}
    assert mask('{"a": true, "b": null}') == ('{"a": true, "b": null}', frozenset())


@pytest.mark.parametrize("name", ["search.json.j2", "search.tpl", "search.json.tpl", "search.json", "x.template"])
def test_whole_task_definition_in_a_template_is_scanned(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(TPL)
    res = scan_paths([str(tmp_path)])
    assert [(f.kind, f.status) for f in res.files] == [("ecs-taskdef", FileStatus.SCANNED)]
    got = {(e.unit, e.name): e for e in res.loaded[0].entries}
    assert got[("indexer", "ELASTIC_PASSWORD")].value_kind is ValueKind.LITERAL
    assert got[("indexer", "HEAP")].value is None and got[("indexer", "HEAP")].value_kind is ValueKind.TEMPLATED
    assert len(got) == 2  # placeholders stand for values, never literals


def test_placeholder_template_rewrite_reverts(tmp_path: Path) -> None:
    (tmp_path / "t.json.j2").write_text(TPL)
    lf = SRC.load(read_source(tmp_path / "t.json.j2", "t.json.j2"))
    e = next(e for e in lf.entries if e.name == "ELASTIC_PASSWORD")
    assert e.restorable
    (ch,) = SRC.rewrite(lf, [Move(entry=e, value_from=ref_token("a"), store_name="a")], RewriteOptions())
    new = apply_edits(TPL, ch.edits, ref=lambda a: "arn:aws:ssm:us-east-1:1:parameter/a")
    assert "CANARY" not in new and "${extra_env}" in new and '"secrets": [' in new
    assert revert_edits(new, ch.edits, ref=lambda a: "arn:aws:ssm:us-east-1:1:parameter/a",
                        value=lambda k, enc: "CANARY-tpl-pw") == TPL


def test_still_unparsable_template_stays_an_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json.tpl").write_text('{"containerDefinitions": [ {"name": "a" "image": 1} ]}')
    res = scan_paths([str(tmp_path)])
    assert [f.status for f in res.files] == [FileStatus.ERROR]
    with pytest.raises(InputError):
        SRC.load(read_source(tmp_path / "bad.json.tpl", "bad.json.tpl"))


@pytest.mark.parametrize("text", ["\u00c0", '{"a": \u00c0x}', "[${", "{{ x", "{# never closed", '{"a": "\\'])
def test_mask_never_raises(text: str) -> None:
    masked, _holes = mask(text)
    assert len(masked) == len(text)
