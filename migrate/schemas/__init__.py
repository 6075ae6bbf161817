"""JSON Schemas of the tool's machine-readable outputs (shipped as package data)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

#: schema name -> file in this package
SCHEMAS = {"scan": "scan-v1.json"}


def schema_text(name: str) -> str:
    """The schema's JSON text. KeyError for an unknown name."""
    return resources.files(__name__).joinpath(SCHEMAS[name]).read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text(name))
    return data
