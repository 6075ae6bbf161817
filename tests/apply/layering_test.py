"""The engine's module graph: no import cycles, no upward imports, every action kind has an implementation."""

from __future__ import annotations

import ast
from pathlib import Path

from migrate.apply.registry import IMPLS, impl_for
from migrate.plan.actions import ACTION_TYPES

ROOT = Path(__file__).resolve().parents[2] / "migrate"
#: lower layers never import higher ones
LAYERS = {"arn": 0, "plan": 1, "apply": 2, "live": 3, "commands": 4, "playbook": 5, "cli": 5}


def _graph() -> dict[str, set[str]]:
    mods = {}
    for p in ROOT.rglob("*.py"):
        name = ".".join(p.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        mods[name] = p

    def resolve(n: str) -> str:
        while n and n not in mods:
            n = n.rpartition(".")[0]
        return n

    g: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text())):  # function-level imports count too
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("migrate"):
                targets = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("migrate")]
            g[m] |= {t for t in map(resolve, targets) if t and t != m}
    return g


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def _layer(mod: str) -> int | None:
    parts = mod.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_no_upward_imports() -> None:
    up = [(m, t) for m, ts in _graph().items() for t in ts
          if (lm := _layer(m)) is not None and (lt := _layer(t)) is not None and lt > lm]
    assert up == []


def test_the_check_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_every_action_type_has_an_implementation() -> None:
    assert set(IMPLS) == set(ACTION_TYPES.values())
    for cls in ACTION_TYPES.values():
        assert IMPLS[cls] is not None
    assert len({id(i) for i in IMPLS.values()}) == 4  # stores, iam, files, ecs


def test_an_unregistered_action_type_is_refused() -> None:
    from dataclasses import dataclass

    import pytest

    from migrate.plan.actions import Action

    @dataclass(frozen=True, kw_only=True)
    class Stray(Action):
        kind = "test.stray"

    with pytest.raises(NotImplementedError, match="test.stray"):
        impl_for(Stray(id="a1"))
