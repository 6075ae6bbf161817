"""ARN parsing in one place: ``arn:partition:service:region:account:resource``."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str  #: everything after the fifth colon

    @classmethod
    def parse(cls, text: str) -> Arn | None:
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            return None
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5])


def region_of(arn: str) -> str:
    """The region field of an ARN ('' when ``arn`` is not one)."""
    a = Arn.parse(arn)
    return a.region if a else ""


def short(arn: str) -> str:
    """The last path segment: ``cluster/svc`` -> ``svc``, a task-definition ARN -> ``family:rev``, a role -> its name."""
    return arn.rsplit("/", 1)[-1]


def role_name(role_arn: str) -> str:
    return short(role_arn)


def secret_pattern(arn: str) -> str:
    """Secrets Manager ARNs end in -XXXXXX; grant NAME-?????? (facts §2: a partial ARN does not match)."""
    base = arn.split(":secret:", 1)
    if len(base) != 2:
        return arn
    name = base[1].split(":", 1)[0]
    name = re.sub(r"-[A-Za-z0-9]{6}$", "", name)
    return f"{base[0]}:secret:{name}-??????"


def family_of(task_definition: str) -> str:
    """``...:task-definition/web:12`` (or ``web:12``) -> ``web``."""
    return short(task_definition).split(":", 1)[0]


def same_resource(a: str, b: str) -> bool:
    """The same resource given as a full ARN or its short form (moto stores what it is given)."""
    return a == b or short(a) == short(b)
