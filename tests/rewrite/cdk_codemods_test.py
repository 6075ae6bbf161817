"""cdk_codemods: call-site classification, site ids, the comment-keeping dict split, the codemod."""

from __future__ import annotations

import libcst as cst
import pytest

from migrate.errors import RewriteError
from migrate.rewrite import cdk_codemods as cc

APP = '''from aws_cdk import aws_ecs as ecs


class Stack:
    def __init__(self, scope):
        td = ecs.FargateTaskDefinition(self, "Td")
        td.add_container(
            "web",
            image=ecs.ContainerImage.from_registry("x"),
            environment={
                # the database
                "DB_PASSWORD": "CANARY-cdk-9f1a",  # rotate me
                "PORT": "8080",
            },
            logging=ecs.LogDrivers.firelens(options={"Name": "x", "apikey": "CANARY-cdk-2b3c"}),
        )
'''


def _ssm(name: str) -> cc.SecretSpec:
    return cc.SecretSpec(
        name=name, construct_id=cc.camel(name),
        build=lambda a, scope: (f'{a["aws_ecs"]}.Secret.from_ssm_parameter({a["aws_ssm"]}.StringParameter.'
                                f'from_secure_string_parameter_attributes({scope}, "{cc.camel(name)}", '
                                f'parameter_name="/p/{name}"))'),
        modules=("aws_ssm",))


class _Sites(cc.SiteTracker, cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self._init_tracker()
        self.sites: list[cc.Site] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._push_class(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._pop_scope(False)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._push_func(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._pop_scope(True)

    def visit_Call(self, node: cst.Call) -> None:
        site = self._enter_call(node)
        if site is not None:
            self.sites.append(site)

    def leave_Call(self, original_node: cst.Call) -> None:
        self._leave_call()


def _sites(code: str) -> list[cc.Site]:
    v = _Sites()
    cst.parse_module(code).visit(v)
    return v.sites


def test_sites_and_pointers() -> None:
    sites = _sites(APP)
    assert [(s.kind, s.unit, s.src_kw, s.dst_kw) for s in sites] == [
        ("add_container", "web", "environment", "secrets"),
        ("log:firelens", "web", "options", "secret_options"),
    ]
    assert sites[0].pointer == "/Stack/__init__/add_container:web"
    assert sites[1].pointer == "/Stack/__init__/add_container:web/logging:firelens"
    assert sites[0].scope_name == "self"


@pytest.mark.parametrize(("call", "want"), [
    ('ecs.ContainerDefinition(self, "api", environment={})', ("ContainerDefinition", "api")),
    ('ecs_patterns.ApplicationLoadBalancedTaskImageOptions(environment={}, container_name="c")',
     ("TaskImageOptions", "c")),
    ("ecs_patterns.ApplicationLoadBalancedTaskImageOptions(environment={})", ("TaskImageOptions", "web")),
    ('ecs.LogDrivers.splunk(options={"a": "b"})', ("log:splunk", "logging")),
    ('td.add_container("x", image=i)', None),  # no environment=
    ("print(environment={})", None),
])
def test_classify_call(call: str, want: tuple[str, str] | None) -> None:
    node = cst.parse_expression(call)
    assert isinstance(node, cst.Call)
    got = cc.classify_call(node, None)
    assert (got[:2] if got else None) == want


def test_repeated_sites_get_numbered_pointers() -> None:
    code = ("class S:\n    def f(self):\n"
            '        a.add_container("w", environment={})\n        a.add_container("w", environment={})\n')
    assert [s.pointer for s in _sites(code)] == ["/S/f/add_container:w", "/S/f/add_container:w#2"]


def test_explode_implode_round_trip_keeps_comments() -> None:
    d = cst.parse_expression('{\n    # lead\n    "A": "1",  # a\n    "B": "2",\n}')
    assert isinstance(d, cst.Dict)
    x = cc.explode(d)
    assert [cc.key_of(i.element) for i in x.items] == ["A", "B"] and x.multiline
    back = cst.Module([]).code_for_node(cc.implode(d, x, x.items))
    assert "# lead" in back and "# a" in back
    only_b = cst.Module([]).code_for_node(cc.implode(d, x, x.items[1:]))
    assert '"A"' not in only_b and '"B": "2"' in only_b
    assert cst.Module([]).code_for_node(cc.implode(d, x, [])) == "{}"
    flat = cst.parse_expression('{"A": "1", "B": "2"}')
    assert isinstance(flat, cst.Dict)
    fx = cc.explode(flat)
    assert not fx.multiline and cst.Module([]).code_for_node(cc.implode(flat, fx, fx.items[::-1])) == '{"B": "2", "A": "1"}'


def test_explode_refuses_unpacking() -> None:
    d = cst.parse_expression('{**base, "A": "1"}')
    assert isinstance(d, cst.Dict)
    with pytest.raises(RewriteError, match="unpacking"):
        cc.explode(d)


def test_camel() -> None:
    assert cc.camel("DB_PASSWORD") == "DbPassword"
    assert cc.camel("web", "api-key") == "WebApiKey"
    assert cc.camel("---") == "Secret"


def test_codemod_moves_one_entry_and_keeps_the_rest() -> None:
    module = cst.parse_module(APP)
    out, result = cc.run_codemod(module, {"/Stack/__init__/add_container:web": [_ssm("DB_PASSWORD")]})
    code = out.code
    assert result.moved == [("/Stack/__init__/add_container:web", "DB_PASSWORD")]
    assert "CANARY-cdk-9f1a" not in code and "CANARY-cdk-2b3c" in code  # only the asked entry moved
    assert "secrets={" in code and '"PORT": "8080"' in code
    assert "# the database" in code and "# rotate me" in code  # comments travel with the entry
    assert "from aws_cdk import aws_ssm as ssm" in code or "aws_ssm as ssm" in code
    compile(code, "app.py", "exec")


def test_codemod_noop_without_moves() -> None:
    module = cst.parse_module(APP)
    out, result = cc.run_codemod(module, {})
    assert out.code == APP and result.moved == []


def test_codemod_moves_log_options_to_secret_options() -> None:
    out, _ = cc.run_codemod(cst.parse_module(APP),
                            {"/Stack/__init__/add_container:web/logging:firelens": [_ssm("apikey")]})
    assert "secret_options={" in out.code and "CANARY-cdk-2b3c" not in out.code and '"Name": "x"' in out.code


@pytest.mark.parametrize(("code", "pointer", "reason"), [
    ('class S:\n    def f(self):\n        ecs.LogDrivers.splunk(options={"token": "t"})\n',
     "/S/f/log:splunk:logging", None),
    ('x.add_container("w", environment={"A": "1"})\n', "/add_container:w", "not inside a method"),
    ('class S:\n    def f(self):\n        x.add_container("w", environment=env)\n', "/S/f/add_container:w",
     "not a dict literal"),
    ('class S:\n    def f(self):\n        x.add_container("w", environment={"B": "1"})\n', "/S/f/add_container:w",
     "not found"),
    ('class S:\n    def f(self):\n        x.add_container("w", environment={"A": "1"}, secrets={"A": s})\n',
     "/S/f/add_container:w", "already in"),
])
def test_codemod_refusals(code: str, pointer: str, reason: str | None) -> None:
    sites = _sites(code)
    ptr = sites[0].pointer
    name = "token" if "splunk" in code else "A"
    assert ptr == pointer
    with pytest.raises(RewriteError, match=reason or "has no secret_options"):
        cc.run_codemod(cst.parse_module(code), {ptr: [_ssm(name)]})
