"""Store entry names: the documented template and the AWS rules, checked before anything runs.

Template fields: ``{prefix}``, ``{project}`` (compose project, CloudFormation stack -- with the
task definition's logical id when the template has several --, Terraform task family, task-definition
family), ``{group}`` (the source's own app grouping; the same as ``{project}`` except for
CloudFormation, where it is the logical id), ``{file}`` (the definition file's path under the scanned
folder, extension dropped: ``apps-billing-compose.override``), ``{unit}`` (container or service),
``{name}`` (variable or log option). Defaults:

* SSM parameter:   ``/{prefix}/{project}/{unit}/{name}`` (``{prefix}/`` dropped when empty)
* Secrets Manager: ``{prefix}/{project}/{unit}/{name}`` and, with ``--group per-unit``, ``{prefix}/{project}/{unit}``

Two entries of one project, unit and name with different values (a compose override file) are a
clash the planner reports with a working ``{file}`` template (:func:`with_file`).
"""

from __future__ import annotations

import re
from pathlib import PurePath

from migrate.errors import PlanError

DEFAULT_SSM_TEMPLATE = "/{prefix}/{project}/{unit}/{name}"
DEFAULT_SM_TEMPLATE = "{prefix}/{project}/{unit}/{name}"
DEFAULT_SM_UNIT_TEMPLATE = "{prefix}/{project}/{unit}"
FIELDS = "{prefix} {project} {group} {file} {unit} {name}"

_SSM_CHARS = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_SM_CHARS = re.compile(r"^[A-Za-z0-9/_+=.@\-]+$")
_SLUG_BAD = re.compile(r"[^A-Za-z0-9_.\-]+")
_SM_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
SSM_MAX_NAME = 1011 - len("arn:aws:ssm:us-east-2:111122223333:parameter/")  # ARN prefix counts (facts §4)


def slug(part: str) -> str:
    s = _SLUG_BAD.sub("-", part).strip("-./")
    return s or "x"


def file_field(display: str, root: str | None = None) -> str:
    """``{file}``: the definition's path under ``root`` (the scanned folder), extension dropped."""
    p = PurePath(display)
    if root:
        try:
            p = p.relative_to(root)
        except ValueError:
            p = PurePath(p.name)
    else:
        p = PurePath(p.name)
    p = p.with_suffix("") if p.suffix else p
    return slug(p.as_posix().replace("/", "-"))


def with_file(template: str) -> str:
    """``template`` with ``{file}`` added before ``{unit}`` (or before ``{name}``): the suggestion for a clash
    between two files of one project."""
    if "{file}" in template:
        return template
    for anchor in ("{unit}", "{name}"):
        if anchor in template:
            return template.replace(anchor, "{file}/" + anchor, 1)
    return template.rstrip("/") + "/{file}"


def render_name(template: str, *, prefix: str, group: str, unit: str, name: str, store: str,
                project: str | None = None, file: str = "") -> str:
    fields = {"prefix": prefix.strip("/"), "group": slug(group), "unit": slug(unit), "name": slug(name),
              "project": slug(project if project is not None else group), "file": slug(file)}
    try:
        out = template.format(**fields)
    except (KeyError, IndexError, ValueError) as e:
        raise PlanError(f"bad name template {template!r}: unknown field {e}", hint=f"fields: {FIELDS}") from None
    out = re.sub(r"/{2,}", "/", out)
    if store == "ssm":
        out = "/" + out.strip("/") if template.startswith("/") or "/" in out.strip("/") else out.strip("/")
    else:
        out = out.strip("/")
    return out


def ssm_name_problems(name: str) -> list[str]:
    probs: list[str] = []
    bare = name.lstrip("/")
    if not name or not _SSM_CHARS.match(name):
        probs.append("only letters, digits, _ . - and / are allowed")
    if "/" in bare and not name.startswith("/"):
        probs.append("a hierarchical name must start with /")
    if bare.lower().startswith(("aws", "ssm")):
        probs.append("names may not start with aws or ssm")
    if name.count("/") > 15:
        probs.append("more than 15 hierarchy levels")
    if len(name) > SSM_MAX_NAME:
        probs.append(f"longer than {SSM_MAX_NAME} characters")
    if "//" in name:
        probs.append("empty hierarchy level")
    return probs


def sm_name_problems(name: str) -> list[str]:
    probs: list[str] = []
    if not name or not _SM_CHARS.match(name):
        probs.append("only letters, digits and / _ + = . @ - are allowed")
    if len(name) > 512:
        probs.append("longer than 512 characters")
    if _SM_SUFFIX.search(name):
        probs.append("ends with a hyphen and six characters (looks like an ARN suffix; ECS lookups would fail)")
    return probs


def check_name(name: str, store: str) -> None:
    probs = ssm_name_problems(name) if store == "ssm" else sm_name_problems(name)
    if probs:
        label = "SSM parameter" if store == "ssm" else "Secrets Manager secret"
        raise PlanError(f"invalid {label} name {name!r}: {'; '.join(probs)}", hint="change --prefix or --name-template")
