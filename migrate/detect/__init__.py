"""Secret detection: name rules, value filters and detect-secrets plugins (engine.py only)."""

from __future__ import annotations

from migrate.detect.engine import classify

__all__ = ["classify"]
