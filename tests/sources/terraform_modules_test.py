"""Terraform module calls and value flow (issue 14 class 7)."""

from __future__ import annotations

from pathlib import Path

from migrate.detect.engine import classify
from migrate.rewrite.edits import apply_edits, ref_token, revert_edits
from migrate.sources.base import Move, RewriteOptions, read_source
from migrate.sources.terraform import TerraformSource

SRC = TerraformSource()
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy" / "c7-terraform-modules"


def _load(path: Path):
    return SRC.load(read_source(path, path.name), root=path.parent)


def test_module_files_are_sniffed() -> None:
    for p in (LEGACY / "cloudposse" / "main.tf", LEGACY / "local-module" / "main.tf"):
        assert SRC.sniff(p, p.read_text())
    assert not SRC.sniff(Path("x.tf"), 'module "vpc" {\n  source = "x"\n  cidr = "10.0.0.0/16"\n}\n')


def test_community_module_arguments_move_to_its_secrets_argument() -> None:
    lf = _load(LEGACY / "cloudposse" / "main.tf")
    got = {(e.unit, e.location, e.name) for e in lf.entries}
    assert ("profile", "environment", "PROFILE_DB_PASSWORD") in got
    assert ("profile", "environment", "CLOUDINARY_API_SECRET") in got  # map_environment
    assert ("profile", "logConfiguration.options", "awslogs-group") in got
    f = {x.entry.name: x for x in classify(list(lf.entries))}
    assert f["PROFILE_DB_PASSWORD"].migratable and f["CLOUDINARY_API_SECRET"].migratable
    assert not next(e for e in lf.entries if e.name == "awslogs-group").restorable
    sel = [f["PROFILE_DB_PASSWORD"].entry, f["CLOUDINARY_API_SECRET"].entry]
    moves = [Move(entry=e, value_from=ref_token(f"a{i}"), store_name=f"a{i}") for i, e in enumerate(sel)]
    (ch,) = SRC.rewrite(lf, moves, RewriteOptions())
    arn = "arn:aws:ssm:us-east-1:1:parameter/x"
    new = apply_edits(lf.source.text, ch.edits, ref=lambda a: arn)
    assert "vmBIAXX8Pk0kEI2qFAKEtcY9" not in new and "PzEFAKEDxqNJET3ktQPW20WmZwH" not in new
    assert f'{{ name = "PROFILE_DB_PASSWORD", valueFrom = "{arn}" }}' in new
    assert f'{{ name = "CLOUDINARY_API_SECRET", valueFrom = "{arn}" }}' in new
    vals = {e.key: e.value.reveal() for e in sel if e.value is not None}
    assert revert_edits(new, ch.edits, ref=lambda a: arn, value=lambda k, enc: vals[k]) == lf.source.text


def test_a_registry_module_without_a_secrets_interface_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('module "app" {\n  source = "acme/ecs-app/aws"\n  name = "app"\n'
                                      '  environment = [\n    { name = "DB_PASSWORD", value = "vmBIAXX8Pk0kEI2qFAKE" },\n  ]\n}\n')
    lf = _load(tmp_path / "main.tf")
    (f,) = classify(list(lf.entries))
    assert f.is_secret and not f.migratable and 'module "acme/ecs-app/aws"' in f.why_not


def test_local_module_jsonencode_is_rewritten_env_map_is_refused() -> None:
    lf = _load(LEGACY / "local-module" / "main.tf")
    f = {x.entry.name: x for x in classify(list(lf.entries))}
    assert f["ACCOUNTS_DB_PASSWORD"].migratable
    assert not f["MAILCHIMP_API_KEY"].migratable
    assert f["MAILCHIMP_API_KEY"].why_not == 'module "./modules/service" takes no secrets input (add one to the module first)'
    e = f["ACCOUNTS_DB_PASSWORD"].entry
    (ch,) = SRC.rewrite(lf, [Move(entry=e, value_from=ref_token("a"), store_name="a")], RewriteOptions())
    new = apply_edits(lf.source.text, ch.edits, ref=lambda a: "arn:aws:ssm:us-east-1:1:parameter/a")
    assert "vOQqcMDyGFAKEvp9ZCd9FkxB" not in new
    assert '{ name = "ACCOUNTS_DB_PASSWORD", valueFrom = "arn:aws:ssm:us-east-1:1:parameter/a" }' in new


def test_generated_values_and_templated_credentials() -> None:
    lf = _load(LEGACY / "value-flow" / "main.tf")
    f = {x.entry.name: x for x in classify(list(lf.entries))}
    assert f["DB_PASSWORD"].is_secret and "random_password.app_db.result" in f["DB_PASSWORD"].why_not
    assert f["DB_MASTER_PASSWORD"].is_secret and "aws_db_instance.app.password" in f["DB_MASTER_PASSWORD"].why_not
    assert f["DATABASE_URL"].is_secret and not f["DATABASE_URL"].migratable
    assert not f["DB_HOST"].is_secret
    assert f["REDIS_AUTH_TOKEN"].migratable and f["REDIS_AUTH_TOKEN"].entry.value_path.endswith("variables.tf")
