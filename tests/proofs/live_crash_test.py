"""Crash at every journal record of a LIVE apply (issue 7), with a real SIGKILL, against a moto server.

Account: cluster ``batch`` with svc000 + svc001 sharing family app000 and svc002 on app001, two plaintext
passwords per family. One plan; one uninterrupted reference apply gives N journal records and the end
state. Then for every k in 1..N, each from a freshly reset and re-seeded account: kill ``live apply``
right after record k, then (a) ``live apply`` again must reach exactly the reference state (same
running revisions and their secrets/env names, same entries and values with one version each, one
new revision per family, same inline policies), and (b) from a fresh kill at k, ``rollback`` must put
every service back on its original revision, delete every entry, deregister every new revision and
remove every policy. Children are forked from a pre-imported zygote (tests/proofs/_forkrun.py).

The failed-health variant (both stores): a wave whose deployment fails for a real reason (an execution role
ECS cannot assume; the sandbox's emulator fails it with ECS's own stoppedReason), killed at every record of
the tool's automatic rollback of that service; ``apply`` again or ``rollback`` must converge.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from migrate.live.seed import seed_synthetic

_spec = importlib.util.spec_from_file_location("_proofs_world", Path(__file__).with_name("_world.py"))
assert _spec and _spec.loader
W = sys.modules.setdefault("_proofs_world", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(W)

CRASH = {"SECRETS_MIGRATE_TEST_MODE": "i-know-this-kills-the-process"}
APPLY = ["live", "apply", "live.json", "--yes", "--waves", "1,rest", "--concurrency", "1", "--health", "scripted",
         "--rate-scale", "50"]
FAMILIES = ("app000", "app001")
_SM_SUFFIX = re.compile(r"(:secret:[A-Za-z0-9/_+=.@-]+?)-[A-Za-z0-9]{6}$")


#: The zygote of _forkrun.py, warmed for live runs: the live modules imported, and the botocore service
#: models parsed once and shared (read-only, as botocore's own per-session cache already shares them).
#: One throw-away CLI call loads typer's lazy imports. Each command still runs in a fresh forked process
#: that builds its own sessions and clients, and is killed by the kernel.
_ZYGOTE = """
import importlib.util, sys
import botocore.loaders as L
_cache = {}
def _shared(name):
    inner = getattr(L.Loader, name)
    def wrapper(self, *a, **kw):
        key = (name, a, tuple(sorted(kw.items())))
        if key not in _cache:
            _cache[key] = inner(self, *a, **kw)
        return _cache[key]
    setattr(L.Loader, name, wrapper)
for _n in ("load_service_model", "load_data", "load_data_with_path"):
    _shared(_n)
import boto3
import migrate.commands.live, migrate.commands.run, migrate.live.guardrails, migrate.live.runtime  # noqa
import migrate.live.waves, migrate.live.health, migrate.live.report, migrate.live.planner  # noqa
for _s in ("ecs", "ec2", "ssm", "secretsmanager", "iam", "sts", "kms", "elbv2", "application-autoscaling"):
    try:
        boto3.session.Session().client(_s)
    except Exception:
        pass
import contextlib, io, migrate.cli
_argv = sys.argv
sys.argv = ["secrets-migrate", "rollback", "/nonexistent/live-crash-warm-up.json", "--yes"]
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    assert migrate.cli.main() != 0  # builds the typer command once (its lazy imports stay loaded)
sys.argv = _argv
spec = importlib.util.spec_from_file_location("_proofs_forkrun", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
mod._serve()
"""


def _fork_runner(scratch: Path) -> Any:
    cls = W.load("_forkrun").ForkRunner
    runner = cls.__new__(cls)
    runner.scratch, runner.n = scratch, 0
    runner.proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE, str(W.HERE / "_forkrun.py")],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(os.environ), text=True)
    return runner


class _Account:
    """Clients built once per test (the moto URL is fixed for the session); reads are batched to keep
    the 2 * N snapshots cheap."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ecs, self.ssm, self.sm, self.iam = (boto3.client(s) for s in ("ecs", "ssm", "secretsmanager", "iam"))
        self.keys: list[str] = []

    def seed(self) -> dict[str, str]:
        """Fresh account: returns cluster/service -> the task-definition ARN it runs."""
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()
        self.keys = sorted(seed_synthetic(3, per_family=2, secrets=2))
        return self.running()

    def running(self) -> dict[str, str]:
        svcs = self.ecs.describe_services(cluster="batch", services=[k.split("/")[1] for k in self.keys])["services"]
        return {f"batch/{s['serviceName']}": s["taskDefinition"] for s in svcs}

    def snapshot(self) -> dict[str, Any]:
        """Everything a run may touch: per service the running revision and its containers' secret/env
        names, per family the ACTIVE and INACTIVE revision numbers, every store entry (value, version,
        tags) and the role's inline policies."""
        services = {}
        for k, arn in sorted(self.running().items()):
            td = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            services[k] = (arn, [(c["name"], sorted((x["name"], _SM_SUFFIX.sub(r"\1-XXXXXX", x["valueFrom"]))
                                                     for x in c.get("secrets") or []),
                                  sorted(e["name"] for e in c.get("environment") or []))
                                 for c in td["containerDefinitions"]])
        families: dict[str, dict[str, list[int]]] = {f: {"ACTIVE": [], "INACTIVE": []} for f in FAMILIES}
        for st in ("ACTIVE", "INACTIVE"):
            for a in self.ecs.list_task_definitions(status=st)["taskDefinitionArns"]:
                fam, rev = a.rsplit("/", 1)[1].split(":")
                families[fam][st].append(int(rev))
        names = [p["Name"] for p in self.ssm.describe_parameters()["Parameters"]]
        assert len(names) == len(set(names)), "duplicate parameters"
        params = {}
        if names:
            for p in self.ssm.get_parameters(Names=names, WithDecryption=True)["Parameters"]:
                tags = self.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=p["Name"])["TagList"]
                params[p["Name"]] = (p["Value"], p["Version"], sorted((t["Key"], t["Value"]) for t in tags))
        secrets = sorted(s["Name"] for s in self.sm.list_secrets()["SecretList"])
        pols = {n: self.iam.get_role_policy(RoleName="ecsTaskExecutionRole", PolicyName=n)["PolicyDocument"]
                for n in self.iam.list_role_policies(RoleName="ecsTaskExecutionRole")["PolicyNames"]}
        fams = {f: {st: sorted(v) for st, v in d.items()} for f, d in families.items()}
        return {"services": services, "families": fams,
                "ssm": params, "sm": secrets, "policies": pols}


def _journal_lines(plan: Path) -> int:
    j = plan.with_name(plan.name + ".state") / "journal.jsonl"
    return len(j.read_bytes().splitlines()) if j.exists() else 0


@pytest.mark.parametrize("store,concurrency", [("ssm", "1"), ("secretsmanager", "2")])
def test_live_kill_at_every_journal_record_then_resume_or_rollback(server_env: str, tmp_path: Path, store: str,
                                                                   concurrency: str) -> None:
    """Both stores; the second variant also runs the rest wave two services at once."""
    apply = [*APPLY[:APPLY.index("--concurrency") + 1], concurrency, *APPLY[APPLY.index("--concurrency") + 2:]]
    t0 = time.monotonic()
    root = tmp_path / "w"
    root.mkdir()
    plan = root / "live.json"
    state = plan.with_name(plan.name + ".state")
    acct = _Account(server_env)
    original = acct.seed()
    pristine = acct.snapshot()
    runner = _fork_runner(tmp_path)
    try:
        rc, _, err = runner.run(["live", "plan", "--store", store, "-o", "live.json"], cwd=root)
        assert rc == 0, err
        planned = plan.read_bytes()
        # the reference: one uninterrupted run
        rc, _, err = runner.run(apply, cwd=root)
        assert rc == 0, err
        ref = acct.snapshot()
        total = _journal_lines(plan)
        assert all(arn != original[k] and arn.endswith(":2") for k, (arn, _) in ref["services"].items())
        assert all(secrets and "PORT" in env and not any(n.startswith("DB_PASSWORD") for n in env)
                   for _, conts in ref["services"].values() for _, secrets, env in conts)
        assert ref["families"] == {f: {"ACTIVE": [1, 2], "INACTIVE": []} for f in FAMILIES}
        if store == "ssm":
            assert len(ref["ssm"]) == 4 and all(v[1] == 1 for v in ref["ssm"].values()) and not ref["sm"]
        else:
            assert len(ref["sm"]) == 4 and not ref["ssm"]
        assert list(ref["policies"]) == ["secrets-migrate"]  # one tool-owned policy per role (issue 13)
        assert (pristine["ssm"], pristine["sm"], pristine["policies"]) == ({}, [], {})
        assert total >= 30
        print(f"\nlive crash proof: N = {total} journal records")
        killed = 0
        for k in range(1, total + 1):
            for branch in ("resume", "rollback"):
                assert acct.seed() == original
                shutil.rmtree(state, ignore_errors=True)
                plan.write_bytes(planned)
                rc, _, err = runner.run(apply, cwd=root,
                                        env={**CRASH, "SECRETS_MIGRATE_TEST_CRASH_AFTER_RECORD": str(k)})
                assert rc == -9, (k, rc, err[-500:])
                assert _journal_lines(plan) == k
                killed += 1
                if branch == "resume":
                    rc, _, err = runner.run(apply, cwd=root)
                    assert rc == 0, (k, err[-800:])
                    got = acct.snapshot()
                    assert got == ref, f"resume after kill at record {k}: account differs from a clean run"
                else:
                    rc, _, err = runner.run(["rollback", "live.json", "--yes"], cwd=root)
                    assert rc == 0, (k, err[-800:])
                    got = acct.snapshot()
                    assert got["services"] == pristine["services"], f"rollback after kill at {k}: services"
                    left = {x: got[x] for x in ("ssm", "sm", "policies")}
                    assert left == {"ssm": {}, "sm": [], "policies": {}}, f"rollback after kill at {k} left {left}"
                    for fam, revs in got["families"].items():
                        assert revs["ACTIVE"] == [1], f"rollback after kill at {k}: {fam} {revs}"
                        assert revs["INACTIVE"] in ([], [2]), f"rollback after kill at {k}: {fam} {revs}"
        assert killed == 2 * total
        print(f"live crash proof: {killed} kills, {time.monotonic() - t0:.1f}s")
    finally:
        runner.close()


# ---------------------------------------------------------------------------------------------------------------
# A wave that fails health for a real reason, killed at every journal record of its automatic rollback
# ---------------------------------------------------------------------------------------------------------------

BROKEN_ROLE = "brokenExecRole"  #: trusted by ec2.amazonaws.com only: ECS cannot assume it, tasks never start
KEEP = "/pre-existing/keep-me"  #: an entry the run did not create
HEALTH_APPLY = ["live", "apply", "live.json", "--yes", "--waves", "1,rest", "--concurrency", "2", "--health", "ecs",
                "--health-interval", "0.05", "--health-timeout", "30", "--rate-scale", "50"]
_TRUST = {"ecs": "ecs-tasks.amazonaws.com", "ec2": "ec2.amazonaws.com"}


class _FailingAccount(_Account):
    """svc000 + svc001 on family app000 (role ecsTaskExecutionRole), svc002 on app001, whose execution role
    ECS cannot assume: the sandbox's emulator fails that deployment with ECS's own stoppedReason."""

    def seed(self) -> dict[str, str]:
        from migrate.live.seed import create_service, ensure_network

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()
        net = ensure_network(boto3.client("ec2"))
        self.ecs.create_cluster(clusterName="batch")
        roles = {}
        for name, principal in (("ecsTaskExecutionRole", "ecs"), (BROKEN_ROLE, "ec2")):
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                             "Principal": {"Service": _TRUST[principal]}}]}
            roles[name] = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        self.keys = []
        for fam, role, services in (("app000", "ecsTaskExecutionRole", ("svc000", "svc001")),
                                    ("app001", BROKEN_ROLE, ("svc002",))):
            env = [{"name": "PORT", "value": "8080"}] + [
                {"name": f"DB_PASSWORD_{j}" if j else "DB_PASSWORD", "value": f"Xk9-{fam}-s3cr3t-{j}-Qz7"} for j in range(2)]
            arn = self.ecs.register_task_definition(
                family=fam, executionRoleArn=roles[role], networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                cpu="256", memory="512",
                containerDefinitions=[{"name": "app", "image": "nginx:1.27", "essential": True, "environment": env}],
            )["taskDefinition"]["taskDefinitionArn"]
            for svc in services:
                create_service(self.ecs, "batch", svc, arn, net, awsvpc=True)
                self.keys.append(f"batch/{svc}")
        self.ssm.put_parameter(Name=KEEP, Value="not the tool's", Type="String")
        return self.running()

    def snapshot(self) -> dict[str, Any]:
        snap = super().snapshot()
        snap["broken_policies"] = self.iam.list_role_policies(RoleName=BROKEN_ROLE)["PolicyNames"]
        return snap


def _phases(plan: Path) -> dict[str, str]:
    from migrate.apply.journal import Journal

    doc = json.loads(plan.read_text())
    return {k: str(v.phase) for k, v in Journal(plan.with_name(plan.name + ".state"), doc["id"]).states().items()}


def _same_but_inactive(got: dict[str, Any], ref: dict[str, Any]) -> bool:
    """Equal, except that a resumed run may have registered (and then deregistered) more revisions."""
    def strip(s: dict[str, Any]) -> dict[str, Any]:
        return {**s, "families": {f: d["ACTIVE"] for f, d in s["families"].items()}}

    return strip(got) == strip(ref)


@pytest.mark.parametrize("store", ["ssm", "secretsmanager"])
def test_live_failed_health_rollback_killed_at_every_record_then_resume_or_rollback(server_env: str, tmp_path: Path,
                                                                                     store: str) -> None:
    """Wave 2 (svc001 + svc002, two at a time) fails health for svc002 for a real reason (a role ECS cannot
    assume); the tool rolls svc002 back by itself. SIGKILL at each journal record of that rollback (from the
    failure record to its last revert), then ``apply`` again converges on the uninterrupted run's end state
    (svc002 deployed, failed and rolled back again; the rest kept) and ``rollback`` returns every service to
    its original revision, deleting only what the run created; the journal ends with no action mid-way."""
    t0 = time.monotonic()
    root = tmp_path / "w"
    root.mkdir()
    plan = root / "live.json"
    state = plan.with_name(plan.name + ".state")
    acct = _FailingAccount(server_env)
    original = acct.seed()
    pristine = acct.snapshot()
    runner = _fork_runner(tmp_path)
    try:
        rc, _, err = runner.run(["live", "plan", "--store", store, "-o", "live.json"], cwd=root)
        assert rc == 0, err
        planned = plan.read_bytes()
        # the reference: one uninterrupted run; svc002's deployment fails and is rolled back by the tool
        rc, out, err = runner.run(HEALTH_APPLY, cwd=root)
        assert rc == 4, err[-800:]
        assert "unable to assume the role" in out + err, (out + err)[-1500:]
        ref = acct.snapshot()
        assert ref["services"]["batch/svc002"] == pristine["services"]["batch/svc002"]
        assert all(ref["services"][k][0].endswith("app000:2") for k in ("batch/svc000", "batch/svc001"))
        if store == "ssm":
            assert sorted(ref["ssm"]) == sorted([KEEP, "/app000/app/DB_PASSWORD", "/app000/app/DB_PASSWORD_1"])
        else:
            assert list(ref["ssm"]) == [KEEP] and len(ref["sm"]) == 2 and all("app000" in n for n in ref["sm"])
        assert ref["families"]["app001"] == {"ACTIVE": [1], "INACTIVE": [2]}
        assert list(ref["policies"]) == ["secrets-migrate"] and ref["broken_policies"] == []
        assert set(_phases(plan).values()) <= {"applied", "reverted"}
        recs = [json.loads(x) for x in (state / "journal.jsonl").read_bytes().splitlines()]
        first = next(r["seq"] for r in recs if r["phase"] == "failed")
        last = max(r["seq"] for r in recs if r["phase"] == "reverted")
        assert last - first >= 8  # update, wait, revision, grant, two entries: reverting + reverted each
        print(f"\nlive failed-health crash proof: kill at records {first}..{last}")
        for k in range(first, last + 1):
            for branch in ("resume", "rollback"):
                assert acct.seed() == original
                shutil.rmtree(state, ignore_errors=True)
                plan.write_bytes(planned)
                rc, _, err = runner.run(HEALTH_APPLY, cwd=root,
                                        env={**CRASH, "SECRETS_MIGRATE_TEST_CRASH_AFTER_RECORD": str(k)})
                assert rc == -9, (k, rc, err[-500:])
                assert _journal_lines(plan) == k
                if branch == "resume":
                    rc, out, err = runner.run(HEALTH_APPLY, cwd=root)
                    assert rc == 4, (k, rc, err[-800:])
                    got = acct.snapshot()
                    assert _same_but_inactive(got, ref), f"resume after kill at record {k}: {got} != {ref}"
                    assert set(_phases(plan).values()) <= {"applied", "reverted"}, (k, _phases(plan))
                else:
                    rc, out, err = runner.run(["rollback", "live.json", "--yes"], cwd=root)
                    assert rc == 0, (k, err[-800:])
                    got = acct.snapshot()
                    assert got["services"] == pristine["services"], f"rollback after kill at {k}: services"
                    left = {x: got[x] for x in ("ssm", "sm", "policies", "broken_policies")}
                    assert left == {"ssm": pristine["ssm"], "sm": [], "policies": {}, "broken_policies": []}, (k, left)
                    assert {f: d["ACTIVE"] for f, d in got["families"].items()} == {"app000": [1], "app001": [1]}, k
                    assert set(_phases(plan).values()) <= {"reverted"}, (k, _phases(plan))
                for s in ("Xk9-app000-s3cr3t-0-Qz7", "Xk9-app001-s3cr3t-1-Qz7"):
                    assert s not in out + err and s not in (state / "journal.jsonl").read_text()
        print(f"live failed-health crash proof: {2 * (last - first + 1)} kills, {time.monotonic() - t0:.1f}s")
    finally:
        runner.close()
