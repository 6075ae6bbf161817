"""Helpers for this project's tests: fault injection, test hooks and CLI runners. Never shipped.

``tests/conftest.py`` puts ``tests/`` on ``sys.path``, so test modules import ``support.<module>``."""
