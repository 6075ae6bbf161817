from __future__ import annotations

import json
import random
import time

import pytest

from migrate.rewrite import json_spans as js


def test_spans_of_strings_keys_and_members() -> None:
    text = '{\n  "a": "x\\u0041y",\n  "b": [1, -2.5e3, true, null]\n}'
    root = js.parse(text)
    assert isinstance(root, js.JObj)
    assert (root.start, root.end) == (0, len(text))
    a = root.member("a")
    assert a is not None
    assert text[a.key.start:a.key.end] == '"a"'
    assert isinstance(a.value, js.JStr)
    assert a.value.value == "xAy"
    assert text[a.value.body_start:a.value.body_end] == "x\\u0041y"
    assert text[a.start:a.end] == '"a": "x\\u0041y"'
    b = root.get("b")
    assert isinstance(b, js.JArr)
    assert [text[i.start:i.end] for i in b.items] == ["1", "-2.5e3", "true", "null"]
    assert js.to_python(root) == {"a": "xAy", "b": [1, -2500.0, True, None]}
    assert root.index("b") == 1 and root.get("zz") is None


@pytest.mark.parametrize("doc", [
    "0", "-0.5", '""', "[]", "{}", '{"a":{"b":[[],{}]}}', ' [ 1 , 2 ] ', '"\\ud83d\\ude00"',
    '{"k\\n":"\\"\\\\\\/\\b\\f\\n\\r\\t"}', "1E+2", '["é", "日本"]',
])
def test_agrees_with_json_module(doc: str) -> None:
    assert js.to_python(js.parse(doc)) == json.loads(doc)


@pytest.mark.parametrize("doc,reason,line,col", [
    ("", "empty document", 1, 1),
    ("  \n ", "empty document", 2, 2),
    ('{"a":1,}', "trailing comma in object", 1, 8),
    ("[1,]", "trailing comma in array", 1, 4),
    ('{\n"a":1,\n"a":2}', "duplicate key in object", 3, 1),
    ('{"a":1}x', "trailing data after the JSON document", 1, 8),
    ("[1 2]", "expected ',' or a closing bracket", 1, 4),
    ('"abc', "unterminated string", 1, 1),
    ('"a\\x"', "invalid escape in string", 1, 3),
    ('"a\tb"', "control character in string (must be escaped)", 1, 3),
    ("{'a': 1}", "single-quoted string (JSON needs double quotes)", 1, 2),
    ('{1: 2}', "expected a double-quoted key", 1, 2),
    ("[01]", "expected ',' or a closing bracket", 1, 3),
    ("[NaN]", "unexpected character", 1, 2),
    ('{"a": 1 // c\n}', "comment (JSON has no comments)", 1, 9),
    ('{"a":1]', "unexpected ']'", 1, 7),
    ("\ufeff{}", "byte order mark inside the document", 1, 1),
])
def test_errors_have_position_and_no_input(doc: str, reason: str, line: int, col: int) -> None:
    with pytest.raises(js.JsonSyntaxError) as ei:
        js.parse(doc)
    assert (ei.value.reason, ei.value.line, ei.value.column) == (reason, line, col)
    assert isinstance(ei.value, ValueError)


def test_error_message_never_quotes_input() -> None:
    canary = "CANARY-ecs-7f3a"
    for doc in [f'{{"{canary}": 1, "{canary}": 2}}', f'["{canary}" "{canary}"]', f'{{"a": {canary}}}',
                f'["{canary}\\q"]', f'["{canary}']:
        with pytest.raises(js.JsonSyntaxError) as ei:
            js.parse(doc)
        assert canary not in str(ei.value)


def test_depth_limit() -> None:
    js.parse("[" * 200 + "]" * 200)
    with pytest.raises(js.JsonSyntaxError) as ei:
        js.parse("[" * 201 + "]" * 201)
    assert "nesting deeper than 200" in ei.value.reason
    with pytest.raises(js.JsonSyntaxError):
        js.parse('{"a":' * 5000 + "1" + "}" * 5000)


def test_repr_never_shows_values() -> None:
    root = js.parse('{"k": "CANARY-ecs-7f3a"}')
    assert isinstance(root, js.JObj)
    assert "CANARY" not in repr(root) + repr(root.members[0]) + repr(root.members[0].value)


def test_layout_helpers() -> None:
    two = '{\n  "a": {\n    "b": 1\n  }\n}\n'
    four_crlf = '{\r\n    "a": [\r\n        1\r\n    ]\r\n}'
    tabs = '{\n\t"a": 1\n}'
    assert js.newline_style(two) == "\n"
    assert js.newline_style(four_crlf) == "\r\n"
    root = js.parse(two)
    assert isinstance(root, js.JObj)
    assert js.indent_unit(two, root.get("a")) == "  "
    assert js.indent_unit(four_crlf, js.parse(four_crlf)) == "    "
    assert js.indent_unit(tabs, js.parse(tabs)) == "\t"
    assert js.indent_unit('{"a": 1}') == "  "
    inner = root.get("a")
    assert inner is not None
    st = js.style_of(two, inner)
    assert (st.newline, st.unit, st.compact, st.indent) == ("\n", "  ", False, "  ")
    assert js.style_of('{"a": [1]}', js.parse('{"a": [1]}')).compact
    assert js.leading_ws(two, two.index('"b"')) == "\n    "
    assert js.line_indent(two, two.index('"b"')) == "    "


def test_pointer_escape_and_json_body() -> None:
    assert js.pointer_escape("a/b~c") == "a~1b~0c"
    assert js.json_body('q"\\é\n') == 'q\\"\\\\é\\n'


def test_speed_at_least_5_mb_per_second() -> None:
    rnd = random.Random(7)
    doc = [{"family": f"f{i}", "containerDefinitions": [{
        "name": f"c{j}", "image": "nginx:1.25", "cpu": 256, "essential": True,
        "environment": [{"name": f"VAR_{k}", "value": f"value-{rnd.randint(0, 10**9)}"} for k in range(30)],
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/x"}},
    } for j in range(3)]} for i in range(100)]
    text = json.dumps(doc, indent=4)
    best = min(_time(js.parse, text) for _ in range(3))
    rate = len(text) / best / 1e6
    # The target is 5 MB/s on indented files; allow slack for slow CI machines.
    assert rate > 2.0, rate


def _time(f: object, text: str) -> float:
    t = time.perf_counter()
    f(text)  # type: ignore[operator]
    return time.perf_counter() - t
