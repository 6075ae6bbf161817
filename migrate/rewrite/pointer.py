"""RFC 6901 JSON-pointer tokens: the one place that escapes and joins them.

Entry pointers (``/containerDefinitions/0/environment/3``) are built by every source; they make
entry keys, so escaping must be identical everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["escape", "join", "split", "unescape"]


def escape(token: str) -> str:
    """One reference token: ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def join(parts: Iterable[object]) -> str:
    """``/a/b~1c/0`` from ``("a", "b/c", 0)``; the empty pointer for no parts."""
    return "".join("/" + escape(str(p)) for p in parts)


def split(pointer: str) -> list[str]:
    """The unescaped tokens of ``pointer`` (which starts with ``/`` or is empty)."""
    return [unescape(t) for t in pointer.split("/")[1:]] if pointer else []
