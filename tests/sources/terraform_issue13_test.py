"""Issue 13 point 6 and 7 for Terraform: a broken ``.tf`` is its own error and hides nothing, every
walked file is in the report (``.tfvars`` too), an emptied list is removed whole (restored
byte-identical), the execution role is inserted when absent and ``--execution-role`` is given."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from migrate.errors import RewriteError
from migrate.model import FileStatus
from migrate.rewrite import hcl_spans as hs
from migrate.rewrite.edits import apply_edits, encode, ref_token, revert_edits
from migrate.sources.base import FileChange, LoadedFile, Move, RewriteOptions, RoleKind, read_source
from migrate.sources.terraform import TerraformSource
from migrate.sources.walk import scan_paths

SRC = TerraformSource()
ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/prod/x"
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
MONO = Path(__file__).resolve().parents[2] / "fixtures" / "monorepo" / "infra" / "terraform"

HCL_ONE = '''resource "aws_ecs_task_definition" "web" {
  family             = "web"
  execution_role_arn = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
  container_definitions = jsonencode([
    {
      name  = "web"
      image = "nginx"
      environment = [
        { name = "DB_PASSWORD", value = "CANARY-tf-db-91ac" },
      ]
    },
  ])
}
'''

JSON_HEREDOC = '''resource "aws_ecs_task_definition" "web" {
  family                = "web"
  execution_role_arn    = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
  container_definitions = <<EOF
[
  {
    "name": "web",
    "image": "nginx",
    "environment": [
      {"name": "DB_PASSWORD", "value": "CANARY-tf-db-91ac"}
    ],
    "secrets": [
      {"name": "OLD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/old"}
    ]
  }
]
EOF
}
'''

NO_ROLE = '''resource "aws_ecs_task_definition" "web" {
  family = "web"
  container_definitions = jsonencode([
    {
      name  = "web"
      image = "nginx"
      environment = [
        { name = "DB_PASSWORD", value = "CANARY-tf-db-91ac" },
        { name = "PORT", value = "80" },
      ]
    },
  ])
}
'''


def _load(d: Path, text: str, name: str = "main.tf") -> LoadedFile:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text)
    return SRC.load(read_source(d / name, str(d / name)))


def _round_trip(lf: LoadedFile, names: list[str], options: RewriteOptions | None = None) -> dict[str, str]:
    entries = {e.name: e for e in lf.entries}
    moves = [Move(entries[n], ref_token(f"a{i}")) for i, n in enumerate(names)]
    changes: list[FileChange] = SRC.rewrite(lf, moves, options or RewriteOptions())
    values = {e.key: e.value.reveal() for e in lf.entries if e.value is not None}
    out: dict[str, str] = {}
    for ch in changes:
        text = Path(ch.path).read_text()
        new = apply_edits(text, ch.edits, ref=lambda _a: ARN)
        back = revert_edits(new, ch.edits, ref=lambda _a: ARN, value=lambda k, enc: encode(enc, values[k]))
        assert back == text  # byte-identical on rollback
        for v in values.values():
            assert all(v not in e.new and v not in e.old for e in ch.edits)
        hs.parse_hcl(new) if ch.path.endswith(".tf") else None
        out[ch.path] = new
    return out


def test_emptied_hcl_environment_is_removed_whole(tmp_path: Path) -> None:
    lf = _load(tmp_path / "m", HCL_ONE)
    (new,) = _round_trip(lf, ["DB_PASSWORD"]).values()
    assert "environment" not in new and "secrets = [" in new
    assert 'valueFrom = "' + ARN + '"' in new


def test_emptied_json_environment_beside_existing_secrets_is_removed_with_its_comma(tmp_path: Path) -> None:
    lf = _load(tmp_path / "m", JSON_HEREDOC)
    (new,) = _round_trip(lf, ["DB_PASSWORD"]).values()
    assert '"environment"' not in new and "],\n    ],\n" not in new
    assert new.count('"secrets"') == 1 and "DB_PASSWORD" in new
    assert '"image": "nginx",\n    "secrets": [' in new


def test_partial_move_keeps_the_list(tmp_path: Path) -> None:
    lf = _load(tmp_path / "m", NO_ROLE)
    (new,) = _round_trip(lf, ["DB_PASSWORD"], RewriteOptions(execution_role=ROLE)).values()
    assert "environment = [" in new and "PORT" in new


def test_execution_role_inserted_when_absent_and_given(tmp_path: Path) -> None:
    lf = _load(tmp_path / "m", NO_ROLE)
    (new,) = _round_trip(lf, ["DB_PASSWORD"], RewriteOptions(execution_role=ROLE)).values()
    assert f'  family             = "web"\n  execution_role_arn = "{ROLE}"\n' in new  # fmt-aligned group
    assert not hs.alignment_fixes(new, [(0, len(new))])
    assert lf.execution_role_ref("web").kind is RoleKind.NONE


def test_execution_role_absent_and_not_given_is_refused_for_that_definition(tmp_path: Path) -> None:
    lf = _load(tmp_path / "m", NO_ROLE)
    e = next(e for e in lf.entries if e.name == "DB_PASSWORD")
    with pytest.raises(RewriteError, match="execution_role_arn"):
        SRC.rewrite(lf, [Move(e, ref_token("a1"))], RewriteOptions())


def test_broken_sibling_is_its_own_error_and_hides_nothing(tmp_path: Path) -> None:
    m = tmp_path / "mod"
    lf = _load(m, HCL_ONE)
    (m / "outputs.tf").write_text('output "a" {\n  value = 1\n}\n\noutput "b" {\n  value = <<<<<<< HEAD\n')
    lf = SRC.load(read_source(m / "main.tf", "mod/main.tf"))
    assert [e.name for e in lf.entries] == ["DB_PASSWORD"]
    assert any("outputs.tf" in w for w in lf.warnings)
    res = {Path(f.path).name: f for f in scan_paths([str(m)]).files}
    assert res["main.tf"].status is FileStatus.SCANNED
    assert res["outputs.tf"].status is FileStatus.ERROR and res["outputs.tf"].line == 6


def test_every_walked_file_is_in_the_report_tfvars_included() -> None:
    if not MONO.is_dir():
        pytest.skip("monorepo fixture not present")
    res = {f.path.split("infra/terraform/")[1]: f for f in scan_paths([str(MONO)]).files}
    assert res["envs/prod/terraform.tfvars"].status is FileStatus.SKIPPED
    assert res["modules/ecs-service/outputs.tf"].status is FileStatus.ERROR
    assert res["modules/ecs-service/outputs.tf"].line == 8
    assert res["modules/ecs-service/main.tf"].status is FileStatus.SCANNED


def test_monorepo_module_copy_round_trip(tmp_path: Path) -> None:
    if not MONO.is_dir():
        pytest.skip("monorepo fixture not present")
    d = tmp_path / "ecs-service"
    shutil.copytree(MONO / "modules" / "ecs-service", d)
    lf = SRC.load(read_source(d / "main.tf", str(d / "main.tf")))
    names = [e.name for e in lf.entries if e.value is not None and e.restorable]
    assert names
    _round_trip(lf, names, RewriteOptions(execution_role=ROLE))
