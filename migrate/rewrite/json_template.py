"""Tolerant reading of JSON templates: CI/Jinja/Terraform placeholders where a value should be.

``mask`` returns a text of the SAME length in which every placeholder written outside a JSON string
(``${cpu}``, ``{{ memory }}``, ``{% ... %}``, a bare ``TEMPLATE_ENV_JSON`` token) is replaced by a
number literal of the same length, and every template comment (``{# ... #}``) and directive
(``%{ ... }``) by spaces (line breaks kept). Offsets of everything else are unchanged, so a tree parsed
from the masked text locates spans in the original. The placeholders' start offsets are returned:
a node starting there stands for an unknown value (never a literal).
"""

from __future__ import annotations

import re

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_KEYWORDS = frozenset({"true", "false", "null"})


def _closing(text: str, i: int, opener: str, closer: str) -> int:
    """End offset (exclusive) of a balanced ``opener ... closer`` run starting at ``i``; -1 if none."""
    if opener in ("{{", "{%", "{#"):
        end = text.find(closer, i + 2)
        return -1 if end < 0 else end + len(closer)
    depth, k = 0, i  # ``${`` / ``%{``: brace matching from the ``{`` at ``i``
    while k < len(text):
        c = text[k]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return k + 1
        elif c == "\n" and depth == 0:
            return -1
        k += 1
    return -1


def _blank(s: str) -> str:
    return "".join(c if c in "\r\n" else " " for c in s)


def _value(s: str) -> str:
    """A number literal as long as the placeholder, so that its node spans all of it."""
    if "\n" in s or "\r" in s:
        return "0" + _blank(s[1:])
    return "1" + "0" * (len(s) - 1)


def mask(text: str) -> tuple[str, frozenset[int]]:
    """(masked text, start offsets of the placeholders standing for values); same length as ``text``."""
    out: list[str] = []
    holes: set[int] = set()
    i, n, last = 0, len(text), 0
    while i < n:
        c = text[i]
        if c == '"':  # a JSON string: skip to its end (placeholders inside strings stay as they are)
            k = i + 1
            while k < n and text[k] != '"':
                k += 2 if text[k] == "\\" else 1
            i = k + 1
            continue
        two = text[i:i + 2]
        kind = ""
        if two in ("{{", "{%", "{#"):
            kind = two
            end = _closing(text, i, two, {"{{": "}}", "{%": "%}", "{#": "#}"}[two])
        elif two in ("${", "%{"):
            kind = two
            end = _closing(text, i + 1, "${", "}")
        elif (m := _BARE.match(text, i)) is not None:
            end = m.end()
            if m.group(0) in _KEYWORDS:
                i = end
                continue
            kind = "bare"
        else:
            i += 1
            continue
        if end < 0:
            i += 1
            continue
        out.append(text[last:i])
        chunk = text[i:end]
        if kind in ("{#", "%{", "{%"):
            out.append(_blank(chunk))
        else:
            out.append(_value(chunk))
            holes.add(i)
        i = last = end
    out.append(text[last:])
    masked = "".join(out)
    assert len(masked) == len(text)
    return masked, frozenset(holes)
