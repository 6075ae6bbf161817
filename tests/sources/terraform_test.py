from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from migrate.errors import InputError, RewriteError
from migrate.model import ValueKind
from migrate.rewrite.edits import apply_edits, encode, ref_token, revert_edits
from migrate.sources.base import LoadedFile, Move, RewriteOptions, read_source
from migrate.sources.terraform import STATE_WARNING, TerraformSource

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TF = FIXTURES / "terraform"
SRC = TerraformSource()
ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/prod/x"
TERRAFORM = shutil.which("terraform")


def _copy(tmp_path: Path, module: str) -> Path:
    dst = tmp_path / module
    shutil.copytree(TF / module, dst)
    return dst


def _load(path: Path) -> LoadedFile:
    src = read_source(path, str(path))
    assert SRC.sniff(path, src.text)
    return SRC.load(src)


def _by_name(lf: LoadedFile) -> dict[str, object]:
    return {e.name: e for e in lf.entries}


def _migrate(lf: LoadedFile, names: list[str]) -> tuple[dict[Path, str], dict[Path, str]]:
    """Rewrite, write the files, return (before, after) texts by path."""
    entries = {e.name: e for e in lf.entries}
    moves = [Move(entries[n], ref_token(f"a{i}")) for i, n in enumerate(names)]
    changes = SRC.rewrite(lf, moves, RewriteOptions())
    values = {e.key: e.value.reveal() for e in lf.entries if e.value is not None}
    before: dict[Path, str] = {}
    after: dict[Path, str] = {}
    base = Path(lf.path).parent
    for ch in changes:
        p = Path(ch.path)
        text = p.read_bytes().decode("utf-8")
        new = apply_edits(text, ch.edits, ref=lambda aid: ARN)
        for e in ch.edits:  # no plaintext in the plan
            for v in (values[k] for k in ch.entries if k in values):
                assert v not in e.old and v not in e.new
        back = revert_edits(new, ch.edits, ref=lambda aid: ARN, value=lambda k, enc: encode(enc, values[k]))
        assert back == text
        before[p], after[p] = text, new
        p.write_bytes(new.encode("utf-8"))
    assert base.exists()
    return before, after


def _fmt_check(paths: list[Path]) -> None:
    if TERRAFORM is None:
        pytest.skip("terraform not on PATH: fmt check skipped")
    hcl = [str(p) for p in paths if p.suffix in (".tf", ".tfvars")]
    if hcl:
        r = subprocess.run([TERRAFORM, "fmt", "-check", "-diff", *hcl], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout


def _resource(tf: Path) -> dict:
    """The resource body as python-hcl2 reads it (container_definitions stays an expression)."""
    d = hcl2.loads(tf.read_text())
    res = d["resource"][0]['"aws_ecs_task_definition"']
    return next(iter(res.values()))


def _rescan_literals(path: Path, names: set[str]) -> set[str]:
    lf = _load(path)
    return {e.name for e in lf.entries if e.value_kind is ValueKind.LITERAL and e.name in names}


# --- scan ----------------------------------------------------------------------------------------


def test_sniff() -> None:
    assert SRC.sniff(Path("main.tf"), 'resource "aws_ecs_task_definition" "x" {}')
    assert not SRC.sniff(Path("variables.tf"), 'variable "x" {}')
    assert SRC.sniff(Path("a.json.tpl"), (TF / "standalone_tpl/task.json.tpl").read_text())
    assert not SRC.sniff(Path("a.tpl"), "Hello ${name}")


def test_scan_jsonencode() -> None:
    lf = _load(TF / "jsonencode/main.tf")
    e = _by_name(lf)
    assert e["DB_PASSWORD"].line == 13 and e["DB_PASSWORD"].value_kind is ValueKind.LITERAL
    assert e["DB_PASSWORD"].pointer == "/aws_ecs_task_definition.app/container_definitions/0/environment/DB_PASSWORD"
    assert e["apikey"].location == "logConfiguration.options" and e["apikey"].line == 20
    assert e["API_TOKEN"].unit == "worker" and e["API_TOKEN"].line == 34
    assert lf.group == "web" and STATE_WARNING in lf.warnings
    assert e["DB_PASSWORD"].value.reveal() == "hunter2-prod-db"
    assert "hunter2" not in repr(lf) + repr(e["DB_PASSWORD"])


def test_scan_var_default_and_expressions() -> None:
    lf = _load(TF / "var_default/main.tf")
    e = _by_name(lf)
    assert e["JWT_SECRET"].value_path.endswith("var_default/variables.tf") and e["JWT_SECRET"].line == 4
    assert e["JWT_SECRET"].path.endswith("var_default/main.tf")
    assert e["DB_HOST"].value_kind is ValueKind.TEMPLATED and e["DB_HOST"].value is None
    assert e["ENCRYPTION_KEY"].value_kind is ValueKind.TEMPLATED
    assert any(r.display.endswith("variables.tf") for r in lf.related)


def test_scan_tfvars_precedence() -> None:
    e = _by_name(_load(TF / "tfvars/main.tf"))
    assert e["PAYMENT_API_KEY"].value_path.endswith("terraform.tfvars") and e["PAYMENT_API_KEY"].line == 1
    assert e["TIMEZONE"].value.reveal() == "Europe/Paris"  # tfvars beats the default
    e = _by_name(_load(TF / "auto_tfvars/main.tf"))
    assert e["SENDGRID_API_KEY"].value_path.endswith("secrets.auto.tfvars") and e["SENDGRID_API_KEY"].line == 2


def test_scan_heredoc_file_and_templatefile() -> None:
    e = _by_name(_load(TF / "heredoc/main.tf"))
    assert e["STRIPE_SECRET_KEY"].line == 11
    assert e["SESSION_SECRET"].value_path.endswith("heredoc/main.tf") and e["SESSION_SECRET"].line == 22
    e = _by_name(_load(TF / "file_json/main.tf"))
    assert e["AWS_SECRET_ACCESS_KEY"].value_path.endswith("containers.json")
    assert e["AWS_SECRET_ACCESS_KEY"].pointer == "/0/environment/0/value"
    e = _by_name(_load(TF / "templatefile/main.tf"))
    assert e["DB_PASSWORD"].value_path.endswith("templatefile/terraform.tfvars")
    assert e["REDIS_AUTH"].value_path.endswith("templatefile/main.tf") and e["REDIS_AUTH"].line == 7
    assert e["SMTP_PASSWORD"].value_path.endswith("svc.json.tpl") and e["SMTP_PASSWORD"].line == 10
    assert e["CACHE_PREFIX"].value_kind is ValueKind.TEMPLATED


def test_template_alone_or_with_module() -> None:
    lf = _load(TF / "templatefile/templates/svc.json.tpl")
    assert lf.entries == ()
    e = _by_name(_load(TF / "standalone_tpl/task.json.tpl"))
    assert e["ADMIN_PASSWORD"].value_kind is ValueKind.LITERAL
    assert e["DB_PASSWORD"].value_kind is ValueKind.INTERPOLATED


def test_bad_hcl_is_input_error_without_content(tmp_path: Path) -> None:
    p = tmp_path / "main.tf"
    p.write_text('resource "aws_ecs_task_definition" "x" {\n  family = "CANARY-tf-5e21\n  = = {\n')
    with pytest.raises(InputError) as ei:
        _load(p)
    assert "CANARY" not in str(ei.value) and ei.value.path == str(p)
    p.write_text('resource "aws_ecs_task_definition" "x" {\n  container_definitions = <<EOF\n'
                 '[{"name": "CANARY-tf-5e21", }]\nEOF\n}\n')
    with pytest.raises(InputError) as ei:
        _load(p)
    assert "CANARY" not in str(ei.value) and ei.value.line == 3


# --- rewrite -------------------------------------------------------------------------------------


def test_rewrite_jsonencode(tmp_path: Path) -> None:
    d = _copy(tmp_path, "jsonencode")
    lf = _load(d / "main.tf")
    before, after = _migrate(lf, ["DB_PASSWORD", "apikey", "API_TOKEN"])
    new = after[d / "main.tf"]
    assert "hunter2" not in new and "dd-api" not in new and "tok_live" not in new
    assert "# database credentials (legacy)" in new
    cd = _resource(d / "main.tf")["container_definitions"]
    assert "secrets = [{name = \"DB_PASSWORD\", valueFrom = \"" + ARN in cd
    assert "secretOptions = [{name = \"apikey\", valueFrom = \"" + ARN in cd
    assert "secrets = [{name = \"API_TOKEN\", valueFrom = \"" + ARN in cd
    _fmt_check([d / "main.tf"])
    assert _rescan_literals(d / "main.tf", {"DB_PASSWORD", "apikey", "API_TOKEN"}) == set()
    e = _by_name(_load(d / "main.tf"))
    assert {"LOG_LEVEL", "PORT", "QUEUE_URL", "Name"} <= set(e)


def test_rewrite_var_default(tmp_path: Path) -> None:
    d = _copy(tmp_path, "var_default")
    lf = _load(d / "main.tf")
    before, after = _migrate(lf, ["JWT_SECRET"])
    assert set(after) == {d / "main.tf", d / "variables.tf"}
    v = hcl2.loads((d / "variables.tf").read_text())
    jwt = next(x["\"jwt_secret\""] for x in v["variable"] if "\"jwt_secret\"" in x)
    assert jwt["default"] in (None, "null", "${null}")
    _fmt_check(list(after))
    assert _rescan_literals(d / "main.tf", {"JWT_SECRET"}) == set()


def test_rewrite_tfvars_crlf(tmp_path: Path) -> None:
    d = _copy(tmp_path, "tfvars")
    lf = _load(d / "main.tf")
    with pytest.raises(RewriteError):  # plaintext both in the default and in tfvars
        SRC.rewrite(lf, [Move(_by_name(lf)["TIMEZONE"], ARN)], RewriteOptions())
    before, after = _migrate(lf, ["PAYMENT_API_KEY"])
    tv = after[d / "terraform.tfvars"]
    assert "pk_live" not in tv and tv == 'timezone = "Europe/Paris"\r\n'
    assert "default   = null" in after[d / "main.tf"] or "default = null" in after[d / "main.tf"]
    _fmt_check(list(after))
    assert _rescan_literals(d / "main.tf", {"PAYMENT_API_KEY"}) == set()


def test_rewrite_auto_tfvars(tmp_path: Path) -> None:
    d = _copy(tmp_path, "auto_tfvars")
    lf = _load(d / "main.tf")
    before, after = _migrate(lf, ["SENDGRID_API_KEY"])
    assert after[d / "secrets.auto.tfvars"] == "# set by the ops team\n"
    _fmt_check(list(after))
    assert _rescan_literals(d / "main.tf", {"SENDGRID_API_KEY"}) == set()


def test_rewrite_heredoc(tmp_path: Path) -> None:
    d = _copy(tmp_path, "heredoc")
    lf = _load(d / "main.tf")
    before, after = _migrate(lf, ["STRIPE_SECRET_KEY", "SESSION_SECRET"])
    new = after[d / "main.tf"]
    body = new[new.index("<<EOF\n") + 6:new.index("\nEOF\n")]
    c = json.loads(body)[0]
    assert [x["name"] for x in c["environment"]] == ["REGION"]
    assert [x["name"] for x in c["secrets"]] == ["STRIPE_SECRET_KEY", "SESSION_SECRET"]
    assert all(x["valueFrom"] == ARN for x in c["secrets"])
    _fmt_check([d / "main.tf"])
    assert _rescan_literals(d / "main.tf", {"STRIPE_SECRET_KEY", "SESSION_SECRET"}) == set()


def test_rewrite_file_json(tmp_path: Path) -> None:
    d = _copy(tmp_path, "file_json")
    lf = _load(d / "main.tf")
    before, after = _migrate(lf, ["AWS_SECRET_ACCESS_KEY"])
    assert set(after) == {d / "containers.json"}
    c = json.loads(after[d / "containers.json"])[0]
    assert c["environment"] == [{"name": "BUCKET", "value": "my-batch-bucket"}]
    assert c["secrets"] == [{"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": ARN}]


def test_rewrite_templatefile(tmp_path: Path) -> None:
    d = _copy(tmp_path, "templatefile")
    lf = _load(d / "main.tf")
    before, after = _migrate(lf, ["DB_PASSWORD", "REDIS_AUTH", "SMTP_PASSWORD"])
    tpl = after[d / "templates/svc.json.tpl"]
    assert "db_password" not in tpl and "smtp-pl41n" not in tpl and '"secrets"' in tpl
    main = after[d / "main.tf"]
    assert "r3d1s" not in main and "var.db_password" not in main and "  default = null\n" in main
    assert "tfvars-db" not in after[d / "terraform.tfvars"]
    _fmt_check(list(after))
    assert _rescan_literals(d / "main.tf", {"DB_PASSWORD", "REDIS_AUTH", "SMTP_PASSWORD"}) == set()


def test_rewrite_standalone_template(tmp_path: Path) -> None:
    d = _copy(tmp_path, "standalone_tpl")
    lf = _load(d / "task.json.tpl")
    before, after = _migrate(lf, ["ADMIN_PASSWORD"])
    assert "adm1n" not in after[d / "task.json.tpl"]
    with pytest.raises(RewriteError):
        SRC.rewrite(lf, [Move(_by_name(lf)["DB_PASSWORD"], ARN)], RewriteOptions())


def test_refuses_var_used_elsewhere(tmp_path: Path) -> None:
    d = _copy(tmp_path, "var_default")
    (d / "outputs.tf").write_text('output "x" {\n  value     = var.jwt_secret\n  sensitive = true\n}\n')
    lf = _load(d / "main.tf")
    with pytest.raises(RewriteError, match="used elsewhere"):
        SRC.rewrite(lf, [Move(_by_name(lf)["JWT_SECRET"], ARN)], RewriteOptions())


def test_labels_cover_fixtures() -> None:
    labels = json.loads((TF / "labels.json").read_text())
    assert labels["version"] == 1
    for lab in labels["entries"]:
        path = FIXTURES / lab["path"]
        names = {(e.unit, e.location, e.name) for e in _load(path).entries}
        assert (lab["unit"], lab["location"], lab["name"]) in names, lab


def test_rewrite_keeps_crlf(tmp_path: Path) -> None:
    d = _copy(tmp_path, "jsonencode")
    p = d / "main.tf"
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))
    before, after = _migrate(_load(p), ["DB_PASSWORD", "apikey"])
    new = after[p]
    assert new.count("\n") == new.count("\r\n") and "secrets = [" in new
    _fmt_check([p])


def test_registered() -> None:
    from migrate.sources.registry import SOURCES
    assert isinstance(SOURCES.get("terraform"), TerraformSource)
