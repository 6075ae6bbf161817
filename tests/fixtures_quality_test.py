"""Detection quality on the labeled fixtures: precision and recall >= 0.98 over non-borderline labels.

Labels live in ``fixtures/<set>/labels.json``; an entry matches a label on (path of the file holding
the value, relative to fixtures/; unit; location; name). Every non-managed entry the sources produce
under a labeled set must have a label.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SETS = ("ecs", "compose", "cloudformation", "cdk", "terraform", "legacy")
#: the one error a labeled set may hold: a file with environment-like content in no shape a source
#: reads (issue 14 class 9) is an error by design, and its entries are still reported
UNRECOGNISED = "unrecognised definition:"


def _labels(name: str) -> dict[tuple[str, str, str, str], str]:
    data = json.loads((FIXTURES / name / "labels.json").read_text(encoding="utf-8"))
    assert data["version"] == 1
    out = {}
    for e in data["entries"]:
        key = (e["path"], e["unit"], e["location"], e["name"])
        assert key not in out, f"duplicate label {key}"
        assert e["label"] in ("secret", "not-secret", "borderline")
        out[key] = e["label"]
    return out


def _findings(name: str):
    try:
        from migrate.sources.walk import scan_paths
    except ImportError as e:  # pragma: no cover - only while the sources are being written
        pytest.skip(f"sources not available yet: {e}")
    from migrate.detect.engine import classify

    res = scan_paths([str(FIXTURES / name)])
    errors = [f for f in res.files if f.status.value == "error" and not f.reason.startswith(UNRECOGNISED)]
    assert not errors, errors
    from migrate.commands.common import dedupe

    entries = [e for lf in dedupe(list(res.loaded)) for e in lf.entries]
    return classify(entries)


def _key(entry, labels=None) -> tuple[str, str, str, str]:
    """Labels name the file holding the value; Terraform's labels may name the .tf instead."""
    rel = Path(entry.value_path).resolve().relative_to(FIXTURES).as_posix()
    key = (rel, entry.unit, entry.location, entry.name)
    if labels is not None and key not in labels:
        alt = (Path(entry.path).resolve().relative_to(FIXTURES).as_posix(), entry.unit, entry.location, entry.name)
        if alt in labels:
            return alt
    return key


@pytest.mark.parametrize("name", SETS)
def test_every_entry_is_labeled_and_every_label_is_used(name):
    labels = _labels(name)
    findings = [f for f in _findings(name) if not f.entry.managed]
    keys = [_key(f.entry, labels) for f in findings]
    unlabeled = [k for k in keys if k not in labels]
    assert not unlabeled, f"unlabeled entries: {unlabeled[:10]}"
    stale = set(labels) - set(keys)
    assert not stale, f"labels without an entry: {sorted(stale)[:10]}"


def test_precision_and_recall():
    tp = fp = fn = tn = 0
    mistakes = []
    total = secrets = 0
    per_set: dict[str, list[int]] = {}
    for name in SETS:
        labels = _labels(name)
        for f in _findings(name):
            if f.entry.managed:
                continue
            label = labels[_key(f.entry, labels)]
            if label == "borderline":
                continue
            total += 1
            truth = label == "secret"
            secrets += truth
            per_set.setdefault(name, [0, 0])[0] += 1
            per_set[name][1] += truth
            if f.is_secret and truth:
                tp += 1
            elif f.is_secret:
                fp += 1
                mistakes.append(("FP", _key(f.entry, labels), f.reasons))
            elif truth:
                fn += 1
                mistakes.append(("FN", _key(f.entry, labels), f.reasons))
            else:
                tn += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"\nfixtures: {total} labeled entries, {secrets} secrets; "
          f"precision {precision:.3f}, recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn}, tn {tn})")
    for m in mistakes:
        print("  ", *m)
    assert total >= 300
    # the general sets keep a realistic balance; legacy/ (issue 14 acceptance material) is secret-dense
    base = [per_set[n] for n in SETS if n != "legacy"]
    assert 0.15 <= sum(s for _t, s in base) / sum(t for t, _s in base) <= 0.35
    assert 0.15 <= per_set["legacy"][1] / per_set["legacy"][0] <= 0.6
    assert precision >= 0.98, mistakes
    assert recall >= 0.98, mistakes
