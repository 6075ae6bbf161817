"""Terraform parse model: where values are written (places), where they are used (uses), the analysis."""

from __future__ import annotations

from dataclasses import dataclass, field

from migrate.model import Entry
from migrate.rewrite import hcl_spans as hs
from migrate.sources.base import ExecutionRoleRef, SourceText

KIND = "terraform"


STATE_WARNING = ("Terraform state (and every earlier task-definition revision) still holds the old "
                 "plaintext values: rotate the secrets after migrating and protect or purge old state")


# --- analysis model ------------------------------------------------------------------------------


@dataclass
class _Place:
    """Where a plaintext literal is written."""

    file: str  #: display path
    node: hs.Node  #: the STRING node (span includes quotes)
    encoding: str  #: "hcl" | "json"
    pointer: str
    kind: str  #: "inline" | "default" | "tfvars" | "tplmap"
    var: str = ""
    owner: tuple[int, int] = (0, 0)  #: tfvars attribute / map element span to delete
    holder: hs.Node | None = None  #: the object that holds ``owner`` (map) or None (tfvars body)
    variable: str = ""  #: display path of the file declaring var (for tfvars: default = null)


@dataclass
class _Use:
    """One environment entry or log option inside a container definition."""

    file: str
    syntax: str  #: "hcl" | "json"
    resource: str
    ci: int
    container: hs.Node
    unit: str
    location: str
    name: str
    list_node: hs.Node  #: environment array / options object
    index: int  #: element index in list_node
    value: hs.Node
    via_var: str = ""  #: the use (or its template map element) references var.<via_var>
    via_tplvar: str = ""  #: ${via_tplvar} in a template
    map_node: hs.Node | None = None  #: the templatefile call's map
    module_arg: bool = False  #: an argument of a module call whose interface takes ``secrets``


@dataclass
class _Analysis:
    texts: dict[str, str]
    entries: list[Entry] = field(default_factory=list)
    places: dict[str, _Place] = field(default_factory=dict)  #: entry key -> place
    uses: dict[str, list[_Use]] = field(default_factory=dict)  #: entry key -> uses
    ambiguous: dict[str, str] = field(default_factory=dict)  #: entry key -> reason
    warnings: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    var_files: dict[str, str] = field(default_factory=dict)  #: var -> display declaring it
    var_defaults: dict[str, hs.Node | None] = field(default_factory=dict)
    var_blocks: dict[str, tuple[int, int]] = field(default_factory=dict)
    var_refuse: dict[str, str] = field(default_factory=dict)
    all_uses: list[_Use] = field(default_factory=list)
    #: (unit, execution role its task definition names)
    role_refs: list[tuple[str, ExecutionRoleRef]] = field(default_factory=list)
    #: resource -> (offset, indent) where ``execution_role_arn`` goes when the resource has none
    role_missing: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: resource -> the role it names when that role is an ``aws_iam_role`` of this module
    role_same_module: dict[str, ExecutionRoleRef] = field(default_factory=dict)


@dataclass
class _Ctx:
    res: str
    family: str
    file: str
    syntax: str
    json_ptr: bool
    tpl_map: hs.Node | None
    templated: bool = False


# --- the source ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    analysis: _Analysis
    sources: dict[str, SourceText]


def _is_hcl(display: str) -> bool:
    return display.endswith(".tf") or display.endswith(".tfvars")
