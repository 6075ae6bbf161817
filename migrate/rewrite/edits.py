"""Format-preserving text splices with templated old/new text.

A rewrite is a list of :class:`TextEdit` over the original text of one file. The plan stores them
with two kinds of placeholders so that no plaintext ever lands in a plan or journal:

* ``new`` may hold *reference tokens* (``ref_token(action_id)``): the ARN of a store entry is only
  known after it is created, so apply resolves them from the journal receipts.
* ``old`` holds the original text of the span with each moved value replaced by a *value token*
  (``value_token(entry_key, encoding)``). Rollback reads the value back from the store, encodes it
  the way it was written in the file, and rebuilds the original bytes, checked against the
  file's planned sha256.

Tokens are delimited by Unicode private-use characters, which never occur in the files we edit
(a source refuses a file that contains them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from migrate.errors import RewriteError

TOKEN_OPEN = "\ue000"
TOKEN_CLOSE = "\ue001"
_TOKEN_RE = re.compile(TOKEN_OPEN + r"([a-z]+)\|([^" + TOKEN_CLOSE + r"]*)" + TOKEN_CLOSE)


#: stands in for a not-yet-known ARN when a source checks its own rewrite (never written anywhere)
PREVIEW_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:preview-AbCdEf"


def value_token(entry_key: str, encoding: str) -> str:
    """Placeholder for the raw text of a moved value. ``encoding`` names an encoder in ENCODERS."""
    if encoding not in ENCODERS:
        raise ValueError(f"unknown encoding {encoding!r}")
    return f"{TOKEN_OPEN}value|{encoding}|{entry_key}{TOKEN_CLOSE}"


def ref_token(action_id: str) -> str:
    """Placeholder for the ARN produced by store action ``action_id`` (resolved at apply time)."""
    return f"{TOKEN_OPEN}ref|{action_id}{TOKEN_CLOSE}"


def has_tokens(text: str) -> bool:
    return TOKEN_OPEN in text or TOKEN_CLOSE in text


def tokens(template: str) -> list[tuple[str, str]]:
    """[(kind, argument)] for every token in ``template``."""
    return [(m.group(1), m.group(2)) for m in _TOKEN_RE.finditer(template)]


def render(template: str, *, ref: Callable[[str], str] | None = None,
           value: Callable[[str, str], str] | None = None) -> str:
    """Replace tokens. ``ref(action_id) -> arn``; ``value(entry_key, encoding) -> raw text``."""

    def sub(m: re.Match[str]) -> str:
        kind, arg = m.group(1), m.group(2)
        if kind == "ref":
            if ref is None:
                raise RewriteError("reference token with no resolver")
            return ref(arg)
        if kind == "value":
            if value is None:
                raise RewriteError("value token with no resolver")
            encoding, _, key = arg.partition("|")
            return value(key, encoding)
        raise RewriteError(f"unknown token kind {kind!r}")

    return _TOKEN_RE.sub(sub, template)


def ref_preview(action_names: dict[str, str]) -> Callable[[str], str]:
    """A ref resolver for reviews: shows ``<arn:NAME>`` instead of the not-yet-known ARN."""
    return lambda action_id: f"<arn of {action_names.get(action_id, action_id)}>"


# --- value encoders: how a value is written inside a given syntax --------------------------------


def _json_body(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)[1:-1]


def _yaml_double(v: str) -> str:
    # A YAML double-quoted scalar body in the subset we accept (JSON-compatible escapes).
    return _json_body(v)


def _yaml_single(v: str) -> str:
    return v.replace("'", "''")


def _hcl_body(v: str) -> str:
    out = _json_body(v)
    return out.replace("${", "$${").replace("%{", "%%{")


ENCODERS: dict[str, Callable[[str], str]] = {
    "raw": lambda v: v,  # plain scalars, unquoted .env values, text written verbatim
    "json": _json_body,  # inside "..." in JSON
    "yaml-double": _yaml_double,  # inside "..." in YAML
    "yaml-single": _yaml_single,  # inside '...' in YAML
    "hcl": _hcl_body,  # inside "..." in HCL
    "python": lambda v: v,  # set by the CDK source only when the literal has no escapes
}


def encode(encoding: str, value: str) -> str:
    return ENCODERS[encoding](value)


def is_restorable(encoding: str, decoded: str, raw: str) -> bool:
    """True when ``raw`` (the value's text in the file) can be rebuilt from the decoded value."""
    try:
        return ENCODERS[encoding](decoded) == raw
    except KeyError:
        return False


# --- edits ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextEdit:
    """Replace ``text[start:end]`` of the original file with ``new``.

    ``old`` is the original span as a template (moved values replaced by value tokens), used to
    revert. Offsets are in characters of the decoded text (BOM excluded).

    Plan files never hold ``start``/``end``: they would bracket a value and reveal its length. A
    record holds ``gap`` instead, the number of unchanged characters between the end of the
    previous edit (or the start of the file) and this edit: every moved value lies inside some
    edit's ``old``, so gaps hold no value's length. A loaded edit has ``start == end == -1`` until
    :func:`locate_edits` finds it in the current file (rendering ``old`` with the re-read values).
    """

    start: int
    end: int
    new: str
    old: str
    gap: int = -1

    @property
    def located(self) -> bool:
        return self.start >= 0

    def to_record(self) -> dict[str, object]:
        """One edit alone cannot know its gap: use :func:`edit_records` for a file's edits."""
        return {"gap": self.gap, "new": self.new, "old": self.old}

    @classmethod
    def from_record(cls, r: dict[str, object]) -> TextEdit:
        if "start" in r or "end" in r:
            raise RewriteError("edit records with offsets are no longer supported")
        gap = int(str(r["gap"]))
        if gap < 0:
            raise RewriteError("negative gap in an edit record")
        return cls(-1, -1, str(r["new"]), str(r["old"]), gap)


def edit_records(edits: Sequence[TextEdit]) -> list[dict[str, object]]:
    """A file's edits as plan records: in order, each addressed by its gap (no offsets)."""
    ordered = with_gaps(edits) if all(e.located for e in edits) else tuple(edits)
    return [e.to_record() for e in ordered]


def with_gaps(edits: Sequence[TextEdit]) -> tuple[TextEdit, ...]:
    """Sorted located edits with their gaps filled in (what a plan file keeps of them)."""
    out: list[TextEdit] = []
    prev = 0
    for e in check_edits(edits, max((e.end for e in edits), default=0)):
        out.append(TextEdit(e.start, e.end, e.new, e.old, e.start - prev))
        prev = e.end
    return tuple(out)


def locate_edits(text: str, edits: Sequence[TextEdit], *, value: Callable[[str, str], str]) -> list[TextEdit]:
    """Find a plan's edits in the current ``text``: each one's ``old`` rendered with the values read
    now must be found exactly ``gap`` characters after the previous one. Raises RewriteError when
    the file no longer matches the plan (the structural binding of a plan to its inputs)."""
    out: list[TextEdit] = []
    pos = 0
    for e in edits:
        if e.located:
            out.append(e)
            pos = e.end
            continue
        span = render(e.old, value=value)
        s = pos + e.gap
        if s > len(text) or text[s:s + len(span)] != span:
            raise RewriteError("the file does not match the plan (an edited span changed since planning)")
        out.append(TextEdit(s, s + len(span), e.new, e.old, e.gap))
        pos = s + len(span)
    return out


def check_edits(edits: Sequence[TextEdit], length: int) -> list[TextEdit]:
    """Sorted edits; raises RewriteError when they overlap or fall outside the text."""
    out = sorted(edits, key=lambda e: (e.start, e.end))
    prev = 0
    for e in out:
        if e.start < prev or e.end < e.start or e.end > length:
            raise RewriteError("overlapping or out-of-range edits")
        prev = e.end
    return out


def apply_edits(text: str, edits: Sequence[TextEdit], *, ref: Callable[[str], str] | None = None) -> str:
    """The rewritten text: each span replaced by its rendered ``new`` template."""
    parts: list[str] = []
    pos = 0
    for e in check_edits(edits, len(text)):
        parts.append(text[pos:e.start])
        parts.append(render(e.new, ref=ref))
        pos = e.end
    parts.append(text[pos:])
    return "".join(parts)


def revert_edits(new_text: str, edits: Sequence[TextEdit], *, ref: Callable[[str], str] | None,
                 value: Callable[[str, str], str]) -> str:
    """Rebuild the original text from the rewritten one.

    Works on positions in the rewritten text, found from the gaps (the unchanged text between
    edits is the same before and after): each edit's rendered ``new`` must be found exactly where
    the forward pass put it, or RewriteError is raised (the file changed after apply).
    """
    if all(e.located for e in edits):
        edits = with_gaps(edits)
    parts: list[str] = []
    pos_new = 0  # cursor in new_text
    for e in edits:
        rendered_new = render(e.new, ref=ref)
        s = pos_new + e.gap
        if e.gap < 0 or new_text[s:s + len(rendered_new)] != rendered_new:
            raise RewriteError("the rewritten text is not where apply left it; the file changed after apply")
        parts.append(new_text[pos_new:s])
        parts.append(render(e.old, value=value))
        pos_new = s + len(rendered_new)
    parts.append(new_text[pos_new:])
    return "".join(parts)


def old_template(text: str, start: int, end: int, values: Sequence[tuple[int, int, str, str]]) -> str:
    """Template of ``text[start:end]`` with each (vstart, vend, entry_key, encoding) replaced by a token."""
    parts: list[str] = []
    pos = start
    for vs, ve, key, enc in sorted(values):
        if vs < pos or ve > end:
            raise RewriteError("value span outside the edited span")
        parts.append(text[pos:vs])
        parts.append(value_token(key, enc))
        pos = ve
    parts.append(text[pos:end])
    return "".join(parts)
