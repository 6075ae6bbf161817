"""Issue 12 points 3 and 4: the plan is authenticated and portable, and holds nothing value-derived.

* a plan moved with its project to another checkout applies there (and rolls back byte-identical);
* a plan made under another machine's fingerprint key applies too, bound to its inputs structurally;
* a hand-edited plan cannot reach outside its root (``..``, absolute paths, a directory swapped for
  a symbolic link), and a plan changed after review is refused by ``apply --digest``, while ``show``
  displays exactly what would execute (there is no separately stored display text to lie);
* offline guess confirmation: from every artifact of a run over a one-line env file with a weak
  password, no candidate (the right one included) can be confirmed, and a run with another value of
  the same length leaves every artifact identical except for run identity (plan id, times, digests
  over them) and the keyed fingerprints, whose key never leaves the 0600 file in the 0700 state dir.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest
from support.testing import run_cli

from migrate.plan.leaks import forms_of

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
COMPOSE = """services:
  web:
    image: nginx:1.25
    env_file: app.env
"""


def _role() -> None:
    import boto3

    iam = boto3.client("iam")
    if not any(r["RoleName"] == "ecsTaskExecutionRole" for r in iam.list_roles()["Roles"]):
        iam.create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument="{}")


def _project(defs: Path, password: str, *, env_dir: str = "") -> None:
    (defs / env_dir).mkdir(parents=True)
    (defs / "compose.yaml").write_text(COMPOSE.replace("env_file: app.env", f"env_file: {env_dir or '.'}/app.env"))
    (defs / env_dir / "app.env").write_text(f"DB_PASSWORD={password}\n")


def _cli(cwd: Path, *args: str, expect: int | None = 0, env: dict[str, str] | None = None) -> tuple[str, str]:
    r = run_cli(list(args), cwd=cwd, env=env)
    if expect is not None:
        assert r.returncode == expect, (args, r.returncode, r.stdout[-800:], r.stderr[-1500:])
    return r.stdout, r.stderr


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _digest(out: str) -> str:
    m = re.search(r"Digest: ([0-9a-f]{64})", out)
    assert m, out
    return m.group(1)


# --- portability ---------------------------------------------------------------------------------


def test_a_plan_moved_with_its_project_applies_in_the_other_checkout(server_env: str, tmp_path: Path) -> None:
    _role()
    a, b = tmp_path / "a", tmp_path / "elsewhere" / "b"
    _project(a / "defs", "Zq8-portable-9Lk2")
    out, _ = _cli(a, "plan", "defs", "--execution-role", ROLE, "-o", "plan.json")
    reviewed = _digest(out)
    shutil.copytree(a, b)
    original = _files(b / "defs")
    assert _digest(_cli(b, "show", "plan.json")[0]) == reviewed  # same plan, same digest, in its new place
    _cli(b, "apply", "plan.json", "--yes", "--digest", reviewed)
    assert _files(a / "defs") == original  # the first checkout is untouched
    assert _files(b / "defs") != original
    _cli(b, "verify", "plan.json")
    _cli(b, "rollback", "plan.json", "--yes")
    assert _files(b / "defs") == original


def test_a_plan_from_another_machine_applies_bound_structurally(server_env: str, tmp_path: Path) -> None:
    _role()
    _project(tmp_path / "defs", "Zq8-othermachine-7Hh")
    _cli(tmp_path, "plan", "defs", "--execution-role", ROLE, "-o", "plan.json")
    original = _files(tmp_path / "defs")
    other = {"SECRETS_MIGRATE_STATE_DIR": str(tmp_path / "other-machine-state")}  # another key
    _cli(tmp_path, "apply", "plan.json", "--yes", env=other)
    _cli(tmp_path, "verify", "plan.json", env=other)
    _cli(tmp_path, "rollback", "plan.json", "--yes", env=other)
    assert _files(tmp_path / "defs") == original


def test_another_machine_still_refuses_a_file_whose_edited_span_changed(server_env: str, tmp_path: Path) -> None:
    _role()
    _project(tmp_path / "defs", "Zq8-changed-3Mm")
    _cli(tmp_path, "plan", "defs", "--execution-role", ROLE, "-o", "plan.json")
    (tmp_path / "defs" / "app.env").write_text("# new first line\nDB_PASSWORD=Zq8-changed-3Mm\n")
    other = {"SECRETS_MIGRATE_STATE_DIR": str(tmp_path / "other-machine-state")}
    _, err = _cli(tmp_path, "apply", "plan.json", "--yes", env=other, expect=None)
    assert "does not match the plan" in err, err
    assert (tmp_path / "defs" / "app.env").read_text() == "# new first line\nDB_PASSWORD=Zq8-changed-3Mm\n"


# --- tampering -----------------------------------------------------------------------------------


def _plan_doc(tmp_path: Path) -> dict[str, object]:
    _project(tmp_path / "defs", "Zq8-tamper-5Pp")
    _cli(tmp_path, "plan", "defs", "--execution-role", ROLE, "-o", "plan.json")
    doc: dict[str, object] = json.loads((tmp_path / "plan.json").read_text())
    return doc


@pytest.mark.parametrize("bad", ["../outside.txt", "/tmp/outside.txt", "sub/../../outside.txt", "~/x", "a\\..\\b"])
def test_a_path_leaving_the_root_is_refused_on_load(server_env: str, tmp_path: Path, bad: str) -> None:
    doc = _plan_doc(tmp_path)
    actions = doc["actions"]
    assert isinstance(actions, list)
    rw = next(a for a in actions if a["kind"] == "file.rewrite")
    rw["path"] = bad
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    for cmd in (["show", "plan.json"], ["apply", "plan.json", "--yes"], ["report", "plan.json"]):
        _, err = _cli(tmp_path, *cmd, expect=None)
        assert "is not a plain relative path below the plan root" in err, (cmd, err)
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path.parent / "outside.txt").exists()


def test_a_directory_swapped_for_a_link_is_not_followed(server_env: str, tmp_path: Path) -> None:
    _role()
    proj = tmp_path / "proj"
    _project(proj / "defs", "Zq8-linked-2Qq", env_dir="svc")  # root: defs; the env file one directory below
    _cli(proj, "plan", "defs", "--execution-role", ROLE, "-o", "plan.json")
    outside = tmp_path / "outside"
    shutil.move(str(proj / "defs" / "svc"), outside)
    os.symlink(outside, proj / "defs" / "svc")
    before = _files(outside)
    _, err = _cli(proj, "apply", "plan.json", "--yes", expect=None)
    assert "symbolic link" in err, err
    assert _files(outside) == before


def test_a_plan_changed_after_review_is_refused_and_show_displays_what_would_run(server_env: str,
                                                                                 tmp_path: Path) -> None:
    _role()
    doc = _plan_doc(tmp_path)
    reviewed = _digest(_cli(tmp_path, "show", "plan.json")[0])
    actions = doc["actions"]
    assert isinstance(actions, list)
    rw = next(a for a in actions if a["kind"] == "file.rewrite" and a["edits"] and a["before_digest"] is None)
    rw["edits"][-1]["new"] += "    image: evil/miner:latest\n"
    (tmp_path / "plan.json").write_text(json.dumps(doc, indent=2))
    shown, _ = _cli(tmp_path, "show", "plan.json")
    assert "+    image: evil/miner:latest" in shown  # show renders the edits apply would execute
    assert _digest(shown) != reviewed
    before = _files(tmp_path / "defs")
    _, err = _cli(tmp_path, "apply", "plan.json", "--yes", "--digest", reviewed, expect=None)
    assert f"not the reviewed {reviewed}" in err and "nothing was applied" in err, err
    assert _files(tmp_path / "defs") == before
    assert not (tmp_path / "plan.json.state" / "journal.jsonl").exists()
    # the reviewed plan itself applies with its digest
    doc2 = _plan_doc(tmp_path / "fresh")
    assert doc2
    good = _digest(_cli(tmp_path / "fresh", "show", "plan.json")[0])
    _cli(tmp_path / "fresh", "apply", "plan.json", "--yes", "--digest", good)


def test_the_interactive_prompt_shows_the_digest(server_env: str, tmp_path: Path) -> None:
    _plan_doc(tmp_path)
    digest = _digest(_cli(tmp_path, "show", "plan.json")[0])
    _, err = _cli(tmp_path, "apply", "plan.json", expect=None)  # no --yes, no terminal: refused after the summary
    assert f"Digest {digest}" in err, err


# --- offline guess confirmation ------------------------------------------------------------------

WEAK = "hunter22"
SAME_LENGTH = "letmein1"
#: guesses a dictionary attack would try (none of them ordinary words that occur in any output)
CANDIDATES = ["trustno1", "iloveyou", "dragon99", WEAK, "hunter2", "hunter222", "Hunter22", SAME_LENGTH]

_VOLATILE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "RUN-TOKEN"),  # random, per run
    (re.compile(r"\d{14}-[0-9a-f]{8}"), "PLAN-ID"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "TIME"),
    (re.compile(r'"ts": [0-9.]+'), '"ts": T'),
    (re.compile(r"hmac-sha256:[0-9a-f]{64}"), "KEYED"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "DIGEST"),
    (re.compile(r'"(seconds|duration|elapsed)[a-z_]*": [0-9.]+'), r'"\1": S'),
    (re.compile(r"\d+\.\d+s\b"), "Ns"),
]


def _run_all(work: Path, password: str) -> dict[str, str]:
    _project(work / "defs", password)
    texts: dict[str, str] = {}

    def cli(*args: str, expect: int | None = 0) -> None:
        out, err = _cli(work, *args, expect=expect)
        texts[f"{' '.join(args)} stdout"], texts[f"{' '.join(args)} stderr"] = out, err

    cli("scan", "defs", "--format", "json", "-o", "scan.json", expect=None)
    cli("scan", "defs", "--format", "sarif", "-o", "scan.sarif", expect=None)
    cli("plan", "defs", "--execution-role", ROLE, "-o", "plan.json")
    cli("show", "plan.json")
    cli("show", "plan.json", "--format", "json")
    cli("apply", "plan.json", "--yes")
    cli("verify", "plan.json", "--format", "json")
    cli("report", "plan.json", "-o", "report.html", "--markdown", "report.md")
    cli("rollback", "plan.json", "--yes")
    for p in sorted(work.rglob("*")):
        if p.is_file() and (work / "defs") not in p.parents:
            texts[str(p.relative_to(work))] = p.read_bytes().decode("utf-8", "replace")
    return texts


def _normal(text: str) -> str:
    for rx, sub in _VOLATILE:
        text = rx.sub(sub, text)
    return text


def test_no_artifact_confirms_a_guess_of_a_weak_password(server_env: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _role()
    logs = tmp_path / "logs-real"
    monkeypatch.setenv("SECRETS_MIGRATE_LOG_DIR", str(logs))
    real = _run_all(tmp_path / "run", WEAK)
    for p in sorted(logs.rglob("*")):
        if p.is_file():
            real[f"log {p.name}"] = p.read_bytes().decode("utf-8", "replace")
    assert any(k.endswith("journal.jsonl") for k in real) and "plan.json" in real

    # 1. an offline attacker hashes/encodes each candidate and the whole one-line file it would make
    def confirms(candidate: str) -> list[str]:
        line = f"DB_PASSWORD={candidate}\n"
        probes = forms_of(candidate) | {hashlib.new(h, line.encode()).hexdigest() for h in ("sha256", "sha1", "md5")}
        return [f"{where}: {p!r}" for where, t in real.items() for p in probes if p in t]

    assert {c: confirms(c) for c in CANDIDATES} == {c: [] for c in CANDIDATES}

    # 2. the same run with another value of the same length: every artifact is identical once run
    # identity (plan id, run tokens, times, digests over them) and the keyed fingerprints are set aside
    for p in logs.rglob("*"):
        if p.is_file():
            p.unlink()
    shutil.rmtree(tmp_path / "run")
    import boto3

    for n in boto3.client("ssm").describe_parameters()["Parameters"]:  # the rollback deleted them already
        boto3.client("ssm").delete_parameter(Name=n["Name"])
    other = _run_all(tmp_path / "run", SAME_LENGTH)
    for p in sorted(logs.rglob("*")):
        if p.is_file():
            other[f"log {p.name}"] = p.read_bytes().decode("utf-8", "replace")
    assert sorted(real) == sorted(other)
    # the run lock holds the pid of the runner: run identity, like the plan id
    differ = [k for k in real if _normal(real[k]) != _normal(other[k]) and not k.endswith("/lock")]
    assert differ == [], {k: [(x, y) for x, y in zip(_normal(real[k]).splitlines(), _normal(other[k]).splitlines(),
                                                      strict=False) if x != y][:3] for k in differ[:2]}

    # 3. the fingerprint key stays in a 0600 file in a 0700 per-user directory, never in an artifact
    state = Path(os.environ["SECRETS_MIGRATE_STATE_DIR"])
    key = state / "fingerprint.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(state.stat().st_mode) == 0o700
    kb = key.read_bytes()
    assert not any(kb.hex() in t or kb.hex().upper() in t for t in real.values())
