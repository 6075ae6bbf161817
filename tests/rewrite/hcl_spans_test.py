"""hcl_spans: HCL and (templated) JSON locating, string decoding, terraform-fmt alignment."""

from __future__ import annotations

import pytest

from migrate.rewrite import hcl_spans as hs

TF = '''resource "aws_ecs_task_definition" "web" {
  family = "web"
  container_definitions = jsonencode([{
    name  = "app"
    environment = [{ name = "DB_PASSWORD", value = "p\\u00e4ss\\n$${x}" }]
  }])
}
'''


def test_body_items_and_attribute_spans() -> None:
    body = hs.root_body(hs.parse_hcl(TF))
    items = hs.body_items(body)
    assert len(items) == 1 and isinstance(items[0], hs.HclBlock)
    block = items[0]
    assert (block.type, block.labels) == ("resource", ["aws_ecs_task_definition", "web"])
    attrs = {a.name: a for a in hs.body_items(block.body) if isinstance(a, hs.HclAttr)}
    assert set(attrs) == {"family", "container_definitions"}
    fam = hs.hcl_node(attrs["family"].expr, TF)
    assert fam.kind == hs.STRING and fam.value == "web" and TF[fam.start:fam.end] == '"web"'
    call = hs.function_call(attrs["container_definitions"].expr)
    assert call is not None and call[0] == "jsonencode" and len(call[1]) == 1
    arr = hs.hcl_node(call[1][0], TF)
    assert arr.kind == hs.ARRAY
    env = arr.items[0].get("environment")
    assert env is not None
    value = env.value.items[0].get("value")
    assert value is not None and value.value.kind == hs.STRING
    assert value.value.value == "p\u00e4ss\n${x}"  # escapes decoded, $${ is a literal ${
    assert TF[value.value.start + 1:value.value.end - 1] == value.value.raw


def test_hcl_templates_and_expressions() -> None:
    text = 'a = "${var.x}"\nb = "pre-${var.y}"\nc = var.z\n'
    attrs = {a.name: a for a in hs.body_items(hs.root_body(hs.parse_hcl(text))) if isinstance(a, hs.HclAttr)}
    a = hs.hcl_node(attrs["a"].expr, text)
    b = hs.hcl_node(attrs["b"].expr, text)
    c = hs.hcl_node(attrs["c"].expr, text)
    assert (a.kind, a.expr) == (hs.TEMPLATE, "var.x")
    assert (b.kind, b.expr) == (hs.TEMPLATE, "")  # not a sole interpolation
    assert (c.kind, c.expr) == (hs.EXPR, "var.z")


def test_hcl_syntax_error_has_a_line_and_no_content() -> None:
    with pytest.raises(hs.SpanError) as info:
        hs.parse_hcl('a = "CANARY-hcl-1\nb = {\n')
    assert "CANARY" not in str(info.value)


@pytest.mark.parametrize(("raw", "value"), [
    ("plain", "plain"), ("a\\nb", "a\nb"), ('q\\"', 'q"'), ("\\u00e9", "\u00e9"), ("\\U0001F600", "\U0001F600"),
    ("$${x}", "${x}"), ("%%{x}", "%{x}"), ("\\q", None), ("\\uD800", None), ("\\u12", None),
])
def test_decode_hcl(raw: str, value: str | None) -> None:
    assert hs.decode_hcl(raw) == value


def test_heredoc_body_span() -> None:
    text = 'x = <<EOT\n[{"name": "a"}]\nEOT\n'
    attr = hs.body_items(hs.root_body(hs.parse_hcl(text)))[0]
    assert isinstance(attr, hs.HclAttr)
    span = hs.heredoc_body(attr.expr, text)
    assert span is not None and text[span[0]:span[1]] == '[{"name": "a"}]\n'
    node = hs.parse_json(text, span[0], span[1], templated=True)
    assert node.kind == hs.ARRAY and node.items[0].get("name") is not None


# --- JSON, through json_spans ------------------------------------------------------------------------


def test_parse_json_spans_index_the_whole_text() -> None:
    text = 'prefix [{"name": "A", "value": "v\\u00e9", "n": 12}] suffix'
    start, end = text.index("["), text.index("]") + 2
    node = hs.parse_json(text, start, end)
    m = node.items[0]
    val = m.get("value")
    assert val is not None and val.value.value == "v\u00e9" and val.value.raw == "v\\u00e9"
    assert text[val.key_start:val.key_end] == '"value"'
    n = m.get("n")
    assert n is not None and (n.value.kind, n.value.expr) == (hs.EXPR, "12")


def test_templated_json_interpolations() -> None:
    text = '{"a": "${var.a}", "b": "x-${lookup(m, "k")}-y", "c": ${jsonencode(v)}, "d": "$${lit}", "e": 1}'
    node = hs.parse_json(text, templated=True)
    got = {m.key: m.value for m in node.members}
    assert (got["a"].kind, got["a"].expr) == (hs.TEMPLATE, "var.a")
    assert (got["b"].kind, got["b"].expr) == (hs.TEMPLATE, "")
    assert got["b"].raw == 'x-${lookup(m, "k")}-y'
    assert (got["c"].kind, got["c"].expr) == (hs.EXPR, "${jsonencode(v)}")
    assert text[got["c"].start:got["c"].end] == "${jsonencode(v)}"
    assert (got["d"].kind, got["d"].value) == (hs.STRING, "${lit}")
    assert got["e"].expr == "1"


@pytest.mark.parametrize(("text", "templated", "reason"), [
    ('{"a": "%{ if x }y%{ endif }"}', True, "directives"),
    ('{"a": "${var.x"}', True, "unterminated"),
    ('{"${k}": 1}', True, "keys must be plain"),
    ('{"a": 1,}', False, "JSON syntax error"),
    ('{"a": 1, "a": 2}', False, "duplicate key"),
    ('{"a": "${x}"}', False, None),  # not templated: a plain string
])
def test_json_errors(text: str, templated: bool, reason: str | None) -> None:
    if reason is None:
        assert hs.parse_json(text, templated=templated).members[0].value.value == "${x}"
        return
    with pytest.raises(hs.SpanError, match=reason):
        hs.parse_json(text, templated=templated)


def test_json_error_line_counts_from_the_whole_text() -> None:
    text = 'a = 1\nb = 2\nx = <<EOT\n{\n  "k": ,\n}\nEOT\n'
    start = text.index("{")
    with pytest.raises(hs.SpanError) as info:
        hs.parse_json(text, start, text.index("}") + 2)
    assert info.value.line == 5


def test_a_5000_digit_number_is_kept_as_text() -> None:
    big = "9" * 5000
    node = hs.parse_json('{"cpu": ' + big + "}")
    assert node.members[0].value.expr == big


# --- terraform fmt alignment ---------------------------------------------------------------------------


def test_alignment_fixes_realign_the_touched_chain_only() -> None:
    text = "a = 1\nlonger_name = 2\n\nx  = 3\ny = 4\n"
    fixes = hs.alignment_fixes(text, [(0, 5)])
    out = text
    for s, e, new in sorted(fixes, reverse=True):
        out = out[:s] + new + out[e:]
    assert out == "a           = 1\nlonger_name = 2\n\nx  = 3\ny = 4\n"  # the second chain was not touched
    assert hs.alignment_fixes(out, [(0, 5)]) == []
