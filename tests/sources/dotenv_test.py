from __future__ import annotations

import pytest

from migrate.errors import InputError
from migrate.sources.dotenv import parse_dotenv

CANARY = "CANARY-compose-91bd"


def test_forms():
    text = ("# comment\n\nexport A=1\nB = two words # note\nC='lit $x \\n'\nD=\"x\\ny \\\"q\\\"\"  # c\n"
            "E=\nF\nG=a#b\r\nH='multi\nline'\nI=last")
    es = {e.name: e for e in parse_dotenv(text, ".env")}
    assert [e.name for e in parse_dotenv(text, ".env")] == list("ABCDEFGHI")
    assert es["A"].value == "1" and es["A"].line == 3
    assert es["B"].value == "two words"
    assert es["C"].value == "lit $x \\n" and es["C"].quote == "'"
    assert es["D"].value == 'x\ny "q"' and text[es["D"].value_start:es["D"].value_end] == 'x\\ny \\"q\\"'
    assert es["E"].value == "" and es["F"].value is None
    assert es["G"].value == "a#b" and text[es["G"].start:es["G"].end] == "G=a#b\r\n"
    assert es["H"].value == "multi\nline" and text[es["H"].start:es["H"].end] == "H='multi\nline'\n"
    assert es["I"].value == "last" and es["I"].end == len(text)


def test_duplicates_kept_in_order():
    es = parse_dotenv("A=1\nA=2\n", ".env")
    assert [(e.name, e.value, e.line) for e in es] == [("A", "1", 1), ("A", "2", 2)]


@pytest.mark.parametrize("text,reason,line", [
    (f"A={CANARY}\nnot a line {CANARY}\n", "not a KEY=VALUE line", 2),
    (f"A='{CANARY}\n", "unterminated quoted value", 1),
    (f"A=\"{CANARY}\" {CANARY}\n", "unexpected text after a quoted value", 1),
])
def test_bad_lines(text, reason, line):
    with pytest.raises(InputError) as ei:
        parse_dotenv(text, "app/.env")
    assert ei.value.line == line and reason in str(ei.value) and CANARY not in str(ei.value)
