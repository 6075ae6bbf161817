"""CDK data flow (issue 14 class 8): dicts built before add_container, ``**`` spreads, ``dict(BASE, K=v)``,
``env["K"] = v``, ``os.getenv`` defaults and ``container.add_environment``."""

from __future__ import annotations

from pathlib import Path

from migrate.detect.engine import classify
from migrate.sources.base import read_source
from migrate.sources.cdk_python import SOURCE

APP = '''\
import os
import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs

BASE = {"LOG_LEVEL": "info", "SENTRY_DSN": "https://8a044fa4efb57a58a9fe77063f7f758e@o450123.ingest.sentry.io/5512399"}


class S(cdk.Stack):
    def __init__(self, scope, cid):
        super().__init__(scope, cid)
        task = ecs.FargateTaskDefinition(self, "T")
        env = {"PORT": "8080"}
        env["DB_PASSWORD"] = "uj6FEhXFAKEHdacljDCFHmRw"
        env["GITHUB_TOKEN"] = os.getenv("GITHUB_TOKEN", "ghp_UKbsaPP4LIjz8UUCwb8DFAKEmchyqpCs9DwD")
        task.add_container("api", image=None, environment=env)
        task.add_container("web", image=None, environment={**BASE, "X": "1"})
        task.add_container("admin", image=None, environment=dict(BASE, ADMIN_PASSWORD="admin"))
        c = task.add_container("worker", image=None)
        c.add_environment("SENDGRID_API_KEY", "SG.N6yeEFAKEg2OLgNzVytE5j.JbuRH74JhR9cFAKESuy305Rzw4XmK2RwyRMJFxECl1i")
        for name, value in (("BATCH", "50"), ("MODE", "x")):
            c.add_environment(name, value)
'''


def test_flows_are_reported_once_with_their_users(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    assert SOURCE.sniff(tmp_path / "app.py", APP)
    lf = SOURCE.load(read_source(tmp_path / "app.py", "app.py"))
    got = {(e.unit, e.name): e for e in lf.entries}
    assert set(got) == {("api", "PORT"), ("api", "DB_PASSWORD"), ("api", "GITHUB_TOKEN"), ("web", "LOG_LEVEL"),
                        ("web", "SENTRY_DSN"), ("web", "X"), ("admin", "ADMIN_PASSWORD"),
                        ("worker", "SENDGRID_API_KEY"), ("worker", "BATCH"), ("worker", "MODE")}
    assert got[("web", "SENTRY_DSN")].units == ("web", "admin")
    assert "**BASE at app.py:16" in got[("web", "SENTRY_DSN")].note
    f = {x.entry.name: x for x in classify(list(lf.entries))}
    assert f["GITHUB_TOKEN"].is_secret and not f["GITHUB_TOKEN"].migratable
    assert f["GITHUB_TOKEN"].why_not == "value only known at synth time (os.getenv)"
    for n in ("DB_PASSWORD", "ADMIN_PASSWORD", "SENTRY_DSN"):
        assert f[n].is_secret and not f[n].migratable and f[n].why_not, n
    # env is changed after it is built (env["DB_PASSWORD"] = ...): the dict stays as it is, with its reason
    assert "built before it reaches the container (env[...] assignment)" in f["DB_PASSWORD"].entry.note
    assert not f["PORT"].entry.restorable and "(dict env)" in f["PORT"].entry.note
    # add_environment("K", "literal") on a container variable bound once is rewritten to add_secret
    assert f["SENDGRID_API_KEY"].is_secret and f["SENDGRID_API_KEY"].migratable
    assert f["SENDGRID_API_KEY"].entry.restorable and not f["SENDGRID_API_KEY"].entry.note
    for n in ("BATCH", "MODE"):  # the loop form is not
        assert not got[("worker", n)].restorable and "add_environment" in got[("worker", n)].note, n
    assert not f["X"].entry.restorable and "** spread" in f["X"].entry.note  # the codemod cannot split it
