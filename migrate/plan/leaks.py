"""Every form a value can leak in: as written, decoded, escaped, encoded and hashed.

Used as the last line of defence before a plan or report is written (``guard_no_values``) and by the
canary proofs, which grep every artifact for each form.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
from collections.abc import Iterable

from migrate.errors import PlanError
from migrate.rewrite.edits import ENCODERS

#: shorter values are not searched verbatim (they would match ordinary text); their hashes still are
MIN_VERBATIM = 6


def forms_of(value: str) -> set[str]:
    """The value as text in every syntax the sources read, and common encodings and digests of it."""
    raw = value.encode("utf-8")
    out = {value}
    for enc in ENCODERS.values():
        out.add(enc(value))
    out.add(json.dumps(value)[1:-1])  # ASCII JSON escapes (\\u00e9)
    out.add(urllib.parse.quote(value, safe=""))
    out.add(base64.b64encode(raw).decode("ascii"))
    out.add(base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="))
    out.add(raw.hex())
    out.add(raw.hex().upper())
    out |= {hashlib.new(h, raw).hexdigest() for h in ("sha256", "sha1", "md5")}
    return {f for f in out if len(f) >= MIN_VERBATIM}


def leaked(text: str, values: Iterable[str]) -> bool:
    """True when ``text`` holds any form of any of ``values``."""
    return any(f in text for v in values for f in forms_of(v))


def guard_no_values(text: str, values: Iterable[str]) -> None:
    """Refuse to write a document that holds a known secret value in any form."""
    if leaked(text, values):
        raise PlanError("internal check failed: the output would contain a secret value (or a form of one); "
                        "nothing written", hint="please report this bug")
