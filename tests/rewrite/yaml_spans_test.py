from __future__ import annotations

import pytest
from ruamel.yaml.nodes import MappingNode

from migrate.errors import InputError
from migrate.rewrite import yaml_spans as ys

CANARY = "CANARY-compose-91bd"


def test_load_nodes_ok_and_empty():
    assert ys.load_nodes("", "f.yaml") is None
    root = ys.load_nodes("a: &x {b: 1}\nc: *x\n", "f.yaml")
    assert isinstance(root, MappingNode) and root.value[0][1] is root.value[1][1]


@pytest.mark.parametrize("text,reason", [
    (f"a: {CANARY}\n b: [\n", "invalid YAML"),
    (f"a: !Secret {CANARY}\n", "unsupported YAML tag"),
    (f"{CANARY}: 1\n{CANARY}: 2\n", "duplicate mapping key"),
    (f"a: *{CANARY}\n", "invalid YAML"),
    (f"a: 1\n---\nb: {CANARY}\n", "invalid YAML"),
    ("a: &a [*a]\n", "recursive alias"),
])
def test_load_nodes_rejects(text, reason):
    with pytest.raises(InputError) as ei:
        ys.load_nodes(text, "f.yaml")
    assert reason in str(ei.value) and CANARY not in str(ei.value)


def test_alias_bomb_is_capped():
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(InputError, match="alias bomb"):
        ys.load_nodes("\n".join(lines) + "\n", "f.yaml", max_expanded=10_000)


def test_effective_items_merge_precedence():
    root = ys.load_nodes("a: &a {X: 1, Y: 1}\nb: &b {Y: 2, Z: 2}\nc:\n  <<: [*a, *b]\n  X: 3\n", "f")
    c = ys.get(root, "c")[1]
    eff = ys.effective_items(c)
    assert {k: v[1].value for k, v in eff.items()} == {"X": "3", "Y": "1", "Z": "2"}
    assert eff["Z"][2] is ys.get(root, "b")[1]


def test_text_helpers():
    text = "k:   # c\r\n  a: 'x'  # y\r\n  b: *al\r\n"
    assert ys.newline_of(text) == "\r\n" and ys.newline_of("a\nb") == "\n"
    assert ys.content_end(text, 2) == 2 and ys.rest_is_blank_or_comment(text, 2)
    root = ys.load_nodes("z: &al 1\n" + text.replace("\r\n", "\n"), "f")
    k = ys.get(root, "k")
    t2 = "z: &al 1\n" + text.replace("\r\n", "\n")
    a = ys.get(k[1], "a")
    s, e, q = ys.scalar_body(t2, a[1])
    assert t2[s:e] == "x" and q == "'"
    end = ys.value_end(t2, k[0], k[1], ys.colon_after(t2, k[0]) + 1)
    assert t2[:end].endswith("b: *al")


def test_yaml_str():
    assert ys.yaml_str("DB_PASSWORD") == "DB_PASSWORD"
    assert ys.yaml_str("true") == '"true"' and ys.yaml_str("a: b") == '"a: b"' and ys.yaml_str("1x") == '"1x"'
