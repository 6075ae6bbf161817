"""Re-parse a rewritten task definition and check it; the RegisterTaskDefinition input."""

from __future__ import annotations

import copy

from migrate.errors import RewriteError
from migrate.model import LOC_ENVIRONMENT
from migrate.rewrite import json_spans as js
from migrate.rewrite.edits import PREVIEW_ARN, TextEdit, apply_edits, render
from migrate.sources.ecs_taskdef.model import READ_ONLY_KEYS, _Parsed, parse_tolerant

# --- post-check ------------------------------------------------------------------------------------


def _resolve(obj: object, pointer: str) -> object:
    if not pointer:
        return obj
    for tok in pointer[1:].split("/"):
        tok = tok.replace("~1", "/").replace("~0", "~")
        obj = obj[int(tok)] if isinstance(obj, list) else obj[tok]  # type: ignore[index]
    return obj


def _check(text: str, edits: list[TextEdit], parsed: _Parsed,
           ops: list[tuple[str, str, int, str, str]], roles: list[tuple[str, str]], path: str) -> None:
    """Render with a preview ARN, re-parse, and compare with the intended structure."""
    bad = RewriteError(f"{path}: the rewritten task definition does not have the intended structure")
    try:
        new_text = apply_edits(text, edits, ref=lambda _aid: PREVIEW_ARN)
        got = js.to_python(parse_tolerant(new_text)[0] if parsed.holes else js.parse(new_text))
    except js.JsonSyntaxError:
        raise bad from None
    expected = copy.deepcopy(js.to_python(parsed.root))
    removed_env: dict[str, set[int]] = {}
    removed_opt: dict[str, set[str]] = {}
    for cptr, loc, index, name, vf in sorted(ops, key=lambda o: (o[0], o[1], o[2])):
        c = _resolve(expected, cptr)
        assert isinstance(c, dict)
        ref = {"name": name, "valueFrom": render(vf, ref=lambda _aid: PREVIEW_ARN)}
        if loc == LOC_ENVIRONMENT:
            removed_env.setdefault(cptr, set()).add(index)
            if c.get("secrets") is None:
                c["secrets"] = []
            c["secrets"].append(ref)
        else:
            removed_opt.setdefault(cptr, set()).add(name)
            log = c["logConfiguration"]
            if log.get("secretOptions") is None:
                log["secretOptions"] = []
            log["secretOptions"].append(ref)
    for cptr, indexes in removed_env.items():
        c = _resolve(expected, cptr)
        c["environment"] = [i for n, i in enumerate(c["environment"]) if n not in indexes]  # type: ignore[index]
        if not c["environment"]:  # type: ignore[index]
            del c["environment"]  # type: ignore[attr-defined]  # emptied: removed whole (issue 13)
    for cptr, names in removed_opt.items():
        opts = _resolve(expected, cptr)["logConfiguration"]  # type: ignore[index]
        opts["options"] = {k: v for k, v in opts["options"].items() if k not in names}
        if not opts["options"]:
            del opts["options"]
    for tptr, role in roles:
        _resolve(expected, tptr)["executionRoleArn"] = role  # type: ignore[index]
    if got != expected:
        raise bad
    # ECS rules: unique names in secrets, and no name both in environment and secrets
    for cptr in set(removed_env) | set(removed_opt):
        c = _resolve(got, cptr)
        assert isinstance(c, dict)
        secret_names = [s["name"] for s in c.get("secrets") or []]
        env_names = {e.get("name") for e in c.get("environment") or [] if isinstance(e, dict)}
        opt_names = [s["name"] for s in (c.get("logConfiguration") or {}).get("secretOptions") or []]
        if len(set(secret_names)) != len(secret_names) or len(set(opt_names)) != len(opt_names):
            raise RewriteError(f"{path}: duplicate names in secrets after the rewrite")
        if env_names & set(secret_names):
            raise RewriteError(f"{path}: a name is in both environment and secrets after the rewrite")


def register_input(task_definition: dict, tags: list | None = None) -> dict:  # type: ignore[type-arg]
    """RegisterTaskDefinition input from a describe-task-definition ``taskDefinition`` (read-only
    keys and null values dropped). Used by tests and by callers that register live revisions."""
    out = {k: v for k, v in task_definition.items() if k not in READ_ONLY_KEYS and v is not None}
    if tags:
        out["tags"] = tags
    return out
