"""The Env seam: stores and the value resolver are injected, so the one engine runs on fakes too."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.apply.env import make_env
from migrate.apply.executor import apply_plan, rollback_plan
from migrate.apply.finalize import finalize_plan
from migrate.apply.journal import Journal
from migrate.apply.verify import verify_plan
from migrate.errors import ActionFailed
from migrate.model import SecretValue
from migrate.plan.actions import PutParameter, ValueSource
from migrate.plan.choices import StoreKind
from migrate.plan.model import Plan, PlanSettings
from migrate.stores.aws import Aws
from migrate.stores.base import TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_PLAN_ID, StoredEntry

VALUE = "mem-Xk9-s3cr3t"


class MemStore:
    kind = "ssm"

    def __init__(self) -> None:
        self.items: dict[str, tuple[StoredEntry, SecretValue]] = {}
        self.writes = 0

    def lookup(self, name: str) -> StoredEntry | None:
        got = self.items.get(name)
        return got[0] if got else None

    def read(self, name_or_arn: str) -> SecretValue | None:
        for e, v in self.items.values():
            if name_or_arn in (e.name, e.arn):
                return v
        return None

    def create(self, name: str, value: SecretValue, *, tags: dict[str, str], kms_key: str | None,
               tier: str | None, token: str) -> StoredEntry:
        self.writes += 1
        e = StoredEntry(name=name, arn=f"arn:aws:ssm:us-east-1:123456789012:parameter{name}", tags=dict(tags),
                        version="1")
        self.items[name] = (e, value)
        return e

    def delete(self, name: str) -> bool:
        return self.items.pop(name, None) is not None


class Values:
    def __init__(self, known: dict[str, str]) -> None:
        self.known = known

    def value_of(self, vs: ValueSource) -> SecretValue:
        if vs.key not in self.known:
            raise ActionFailed(f"{vs.name} is gone")
        return SecretValue(self.known[vs.key])


def _plan() -> Plan:
    vs = ValueSource(key="k1", definition="mem", source="mem", name="API_KEY", unit="web")
    tags = {TAG_MANAGED_BY: TAG_MANAGED_BY_VALUE, TAG_PLAN_ID: "p1"}
    return Plan(id="p1", created="", settings=PlanSettings(store=StoreKind.SSM), inputs=(),
                actions=(PutParameter(id="a1", name="/app/API_KEY", tags=tags, values=(vs,)),))


def test_apply_verify_finalize_on_injected_store_and_values(tmp_path: Path) -> None:
    mem = MemStore()
    env = make_env(plan=_plan(), journal=Journal(tmp_path, "p1"), aws=Aws(region="us-east-1"), ssm=mem, sm=mem,
                   values=Values({"k1": VALUE}))
    assert apply_plan(env) == []
    assert mem.read("/app/API_KEY") == SecretValue(VALUE)
    st = env.journal.states()["a1"]
    assert st.phase == "applied"
    assert st.receipt == {"arn": "arn:aws:ssm:us-east-1:123456789012:parameter/app/API_KEY", "created": True,
                          "name": "/app/API_KEY", "version": "1"}
    checks = verify_plan(env)
    assert [(c.kind, c.subject, c.ok) for c in checks] == [("reference", "/app/API_KEY", True)]
    assert apply_plan(env) == [] and mem.writes == 1  # resumable: applied actions are skipped
    assert finalize_plan(env) == []
    assert env.journal.finalized
    assert VALUE not in (tmp_path / "journal.jsonl").read_text()


def test_a_value_gone_at_apply_time_fails_and_rolls_back(tmp_path: Path) -> None:
    mem = MemStore()
    env = make_env(plan=_plan(), journal=Journal(tmp_path, "p1"), aws=Aws(region="us-east-1"), ssm=mem, sm=mem,
                   values=Values({}))
    with pytest.raises(ActionFailed, match="API_KEY is gone"):
        apply_plan(env)
    assert mem.items == {}
    assert env.journal.states()["a1"].phase == "reverted"


def test_rollback_deletes_what_this_run_created_only(tmp_path: Path) -> None:
    mem = MemStore()
    env = make_env(plan=_plan(), journal=Journal(tmp_path, "p1"), aws=Aws(region="us-east-1"), ssm=mem, sm=mem,
                   values=Values({"k1": VALUE}))
    apply_plan(env)
    mem.items["/other"] = (StoredEntry(name="/other", arn="arn:x", tags={}), SecretValue("x"))
    assert rollback_plan(env) == []
    assert list(mem.items) == ["/other"]
    assert rollback_plan(env) == []  # idempotent
