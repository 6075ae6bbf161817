"""What every plan action is: inert, serializable data with a stable ``kind`` discriminator."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any, ClassVar


class Category(enum.StrEnum):
    CREATE = "+"
    REWRITE = "~"
    DELETE = "-"


@dataclass(frozen=True, kw_only=True)
class ValueSource:
    """Where a store entry's value is read from at apply time."""

    key: str  #: Entry.key
    definition: str  #: absolute path of the definition file the source loads (live: the revision ARN)
    source: str  #: source kind (registry key)
    json_key: str | None = None  #: key inside a grouped Secrets Manager JSON secret
    name: str = ""  #: variable name, for humans
    unit: str = ""
    display: str = ""  #: display path of the file holding the value
    definition_display: str = ""  #: display path the definition was loaded under (entry keys use it)


@dataclass(frozen=True, kw_only=True)
class Action:
    kind: ClassVar[str] = ""
    category: ClassVar[Category] = Category.CREATE
    reversible: ClassVar[bool] = True
    id: str

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_record(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind
        return d
