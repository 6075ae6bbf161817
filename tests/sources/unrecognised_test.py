"""Fail closed (issue 14 class 9): unrecognised definitions and readers that cannot be imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.model import FileStatus
from migrate.sources import registry
from migrate.sources.walk import scan_paths

K8S = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: web
          env:
            - name: SECRET_KEY_BASE
              value: "67298fe325c96f77f4e2dc1aa6872de6"
            - name: FROM_SECRET
              valueFrom: {secretKeyRef: {name: s, key: k}}
"""
NOMAD = 'job "j" {\n  task "api" {\n    env {\n      API_KEY = "WFAKEpUpO36P6TX5bxQdZ"\n    }\n  }\n}\n'


def _scan(tmp_path: Path, files: dict[str, str]):
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    return scan_paths([str(tmp_path)])


def test_env_like_shapes_are_errors_with_entries(tmp_path: Path) -> None:
    res = _scan(tmp_path, {"k8s/deploy.yaml": K8S, "nomad/api.nomad.hcl": NOMAD})
    assert [(f.kind, f.status) for f in res.files] == [("unrecognised", FileStatus.ERROR)] * 2
    assert all(f.reason.startswith("unrecognised definition:") for f in res.files)
    got = {(e.unit, e.name) for lf in res.loaded for e in lf.entries}
    assert got == {("web", "SECRET_KEY_BASE"), ("api", "API_KEY")}  # valueFrom is not plaintext
    assert all(not e.restorable and "not migratable: unrecognised definition" in e.note
               for lf in res.loaded for e in lf.entries)


@pytest.mark.parametrize("body", [
    "environment: production\nreplicas: 2\n",  # a scalar
    "on: push\nenv:\n  AWS_REGION: us-east-1\n  NODE_ENV: test\njobs: {}\n",  # a CI env map
    "environment:\n  name: prod\n  url: https://x\n",  # not NAME: scalar
    "env:\n  - staging\n  - prod\n",  # a list of scalars
])
def test_ordinary_files_are_not_definitions(tmp_path: Path, body: str) -> None:
    res = _scan(tmp_path, {"config.yml": body})
    assert [f.status for f in res.files] == [FileStatus.SKIPPED]
    assert not res.loaded


def test_an_unimportable_reader_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = "import aws_cdk as cdk\nfrom aws_cdk import aws_ecs as ecs\nx = dict(environment={'A': 'b'})\n"
    monkeypatch.setitem(registry.UNAVAILABLE, "cdk-python", "ImportError: No module named 'libcst'")
    monkeypatch.delitem(registry.SOURCES, "cdk-python", raising=False)
    res = _scan(tmp_path, {"app.py": app, "tool.py": "print('no cdk here')\n"})
    by = {Path(f.path).name: f for f in res.files}
    assert by["app.py"].status is FileStatus.ERROR and "cdk-python reader is unavailable" in by["app.py"].reason
    assert by["tool.py"].status is FileStatus.SKIPPED
