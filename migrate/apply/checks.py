"""Verify results: one ``Check`` per thing verified."""

from __future__ import annotations

from dataclasses import dataclass, field

from migrate.apply.journal import ActionState


@dataclass(frozen=True)
class Check:
    kind: str  #: reference | original-value | iam | rescan | file | revision | service
    subject: str
    ok: bool
    detail: str = ""

    def to_record(self) -> dict[str, object]:
        return {"kind": self.kind, "subject": self.subject, "ok": self.ok, "detail": self.detail}


@dataclass
class VerifyContext:
    """Shared between the verify steps of one run: journal states and the ARNs the store step found."""

    states: dict[str, ActionState]
    arns: dict[str, str] = field(default_factory=dict)  #: store action id -> ARN


@dataclass
class Preflight:
    notes: list[str] = field(default_factory=list)  #: adoptions
    problems: list[str] = field(default_factory=list)  #: refusals: nothing is changed when there is one
