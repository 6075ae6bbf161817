"""The moto side of issue 15: a WSGI middleware around moto's server app.

- Before moto sees a request, :mod:`migrate.sandbox.limits` checks it; a refusal answers in the protocol
  of the service (JSON ``__type`` for ECS/SSM/Secrets Manager, the IAM XML error) with AWS's code.
- After CreateService / UpdateService, :func:`migrate.verdict.task_start_verdict` is run against
  moto's IAM/SSM/Secrets Manager/KMS backends (in-process) and a deployment is driven the way ECS does:
  a new PRIMARY deployment IN_PROGRESS (the previous one ACTIVE), then, once ``deploy_seconds`` passed,
  COMPLETED (running == desired, the old deployment drained) or FAILED by the deployment circuit breaker,
  with stopped tasks whose ``stoppedReason`` is the agent's wording (ListTasks / DescribeTasks show them).
  State advances lazily when DescribeServices / ListTasks / DescribeTasks arrive: no thread of its own.
"""

from __future__ import annotations

import copy
import io
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from migrate.sandbox import limits
from migrate.sandbox.limits import AwsError, Quotas
from migrate.verdict import Reference, Resolution, RoleView, Verdict, json_keys_of, policy_doc, task_start_verdict

ECS_TARGET = "AmazonEC2ContainerServiceV20141113."
SSM_TARGET = "AmazonSSM."
SM_TARGET = "secretsmanager."
CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."
FAILED_TASKS = 10  # the circuit breaker's minimum threshold (facts "Surprises" 6)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class _Rollout:
    account: str
    region: str
    cluster: str
    service: str
    deployment: dict[str, Any]
    verdict: Verdict
    due: float
    done: bool = False


@dataclass
class Emulator:
    """Wraps moto's WSGI app. ``deploy_seconds``: how long a deployment stays IN_PROGRESS."""

    app: WsgiApp
    deploy_seconds: float = 0.0
    quotas: Quotas = field(default_factory=Quotas)
    clock: Callable[[], float] = time.monotonic
    _rollouts: list[_Rollout] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- WSGI ---------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/moto-api/reset"):
            with self._lock:
                self._rollouts.clear()
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        auth = str(environ.get("HTTP_AUTHORIZATION", ""))
        region = _region(auth)
        account = _account(environ, auth)
        if target.startswith(ECS_TARGET):
            with self._lock:  # rollout state: one ECS request at a time (other services run concurrently)
                return self._ecs(target[len(ECS_TARGET):], body, environ, start_response, account, region)
        err: AwsError | None = None
        if target.startswith(SSM_TARGET):
            err = self._ssm(target[len(SSM_TARGET):], _json(body), account, region)
        elif target.startswith(SM_TARGET):
            err = self._sm(target[len(SM_TARGET):], _json(body))
        elif "/iam/aws4_request" in auth:
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(errors="replace")).items()}
            if form.get("Action") == "SimulatePrincipalPolicy":
                return self._simulate(form, account, start_response)
            err = self._iam(form, account)
            if err:
                return _xml_error(err, start_response)
        if err:
            return _json_error(err, start_response)
        return self.app(environ, start_response)

    # --- ECS ------------------------------------------------------------------------------------------------

    def _ecs(self, op: str, body: bytes, environ: dict[str, Any], start_response: StartResponse,
             account: str, region: str) -> Iterable[bytes]:
        req = _json(body)
        if op == "RegisterTaskDefinition":
            err = limits.check_task_definition_size(req, self.quotas) or limits.check_task_definition_rules(req)
            if err:
                return _json_error(err, start_response)
        if op in ("DescribeServices", "ListTasks", "DescribeTasks"):
            self.tick()
        if op not in ("CreateService", "UpdateService"):
            return self.app(environ, start_response)
        status: list[Any] = []

        def capture(st: str, headers: list[tuple[str, str]], exc: Any = None) -> Callable[[bytes], object]:
            status[:] = [st, headers]
            return lambda _b: None

        out = b"".join(self.app(environ, capture))
        if not status or not str(status[0]).startswith("200"):
            start_response(*status)
            return [out]
        try:
            cluster = str(req.get("cluster") or "default").rsplit("/", 1)[-1]
            name = str(req.get("serviceName") or req.get("service") or "").rsplit("/", 1)[-1]
            changes_td = op == "CreateService" or bool(req.get("taskDefinition")) or bool(req.get("forceNewDeployment"))
            if changes_td:
                self._deploy(account, region, cluster, name, req, keep_old=op == "UpdateService")
                payload = json.loads(out)
                payload.setdefault("service", {}).update(_service_json(self._service(account, region, cluster, name)))
                out = json.dumps(payload).encode()
        except Exception as e:  # noqa: BLE001 - the emulator must never break moto's own answer
            import logging

            logging.getLogger(__name__).warning("ecs emulator: %s", type(e).__name__, exc_info=True)
        headers = [(k, v) for k, v in status[1] if k.lower() != "content-length"] + [("Content-Length", str(len(out)))]
        start_response(status[0], headers)
        return [out]

    def _service(self, account: str, region: str, cluster: str, name: str) -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[account][region].services[f"{cluster}:{name}"]

    def _deploy(self, account: str, region: str, cluster: str, name: str, req: Mapping[str, Any], *,
                keep_old: bool) -> None:
        from moto.ecs.models import ecs_backends

        backend = ecs_backends[account][region]
        svc: Any = backend.services[f"{cluster}:{name}"]
        if (svc.deployment_controller or {}).get("type", "ECS") != "ECS":
            return  # CODE_DEPLOY / EXTERNAL: ECS reports no rolloutState for these
        td = backend.describe_task_definition(str(svc.task_definition))
        svc.task_definition = td.arn  # real ECS stores the ARN, moto the raw "family:rev"
        cb = (req.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker")
        if cb is not None:
            svc.emulator_circuit_breaker = cb
        launch_type = svc.launch_type
        pv = req.get("platformVersion") or svc.platform_version
        if req.get("platformVersion"):
            svc.platform_version = pv
        verdict = task_start_verdict(_td_json(td), self._role(account, getattr(td, "execution_role_arn", None)), self._resolver(account),
                                     region=region, account=account, launch_type=launch_type, platform_version=pv,
                                     quotas=self.quotas)
        now = _utcnow()
        dep_id = f"ecs-svc/{abs(hash((name, now.isoformat()))) % 10**19:019d}"
        desired = int(svc.desired_count or 0)
        new: dict[str, Any] = {"id": dep_id, "status": "PRIMARY", "taskDefinition": td.arn, "desiredCount": desired,
               "pendingCount": desired, "runningCount": 0, "failedTasks": 0, "createdAt": now, "updatedAt": now,
               "launchType": launch_type, "platformVersion": pv, "rolloutState": "IN_PROGRESS",
               "rolloutStateReason": f"ECS deployment {dep_id} in progress."}
        old = [d for d in svc.deployments or [] if keep_old and d.get("status") in ("PRIMARY", "ACTIVE")
               and d.get("rolloutState") != "FAILED"]
        for d in old:
            d["status"] = "ACTIVE"
        svc.deployments = [new, *old]
        svc.running_count = sum(int(d.get("runningCount") or 0) for d in old)
        svc.pending_count = desired
        self._rollouts = [r for r in self._rollouts
                          if (r.account, r.region, r.cluster, r.service) != (account, region, cluster, name)]
        self._rollouts.append(_Rollout(account, region, cluster, name, new, verdict, self.clock() + self.deploy_seconds))
        if self.deploy_seconds <= 0:
            self.tick()

    def tick(self) -> None:
        """Finish every rollout whose time has come."""
        from moto.ecs.models import ecs_backends

        now = self.clock()
        for r in self._rollouts:
            if r.done or now < r.due:
                continue
            r.done = True
            backend = ecs_backends[r.account][r.region]
            svc: Any = backend.services.get(f"{r.cluster}:{r.service}")
            if svc is None or r.deployment not in svc.deployments:
                continue
            dep = r.deployment
            dep["updatedAt"] = _utcnow()
            if r.verdict.starts:
                dep.update(rolloutState="COMPLETED", rolloutStateReason=f"ECS deployment {dep['id']} completed.",
                           runningCount=dep["desiredCount"], pendingCount=0)
                svc.deployments = [dep]
                svc.running_count, svc.pending_count = dep["desiredCount"], 0
                continue
            dep.update(rolloutState="FAILED", rolloutStateReason=CIRCUIT_BREAKER_REASON, failedTasks=FAILED_TASKS,
                       runningCount=0, pendingCount=0)
            self._stopped_tasks(backend, svc, dep, r.verdict.reason)
            cb = getattr(svc, "emulator_circuit_breaker", None) or {}
            old = [d for d in svc.deployments if d is not dep]
            if cb.get("rollback") and old:
                # rollback: the previous revision is PRIMARY again; the failed deployment stays ACTIVE with
                # rolloutState FAILED (ECS shows it while the rollback runs; the emulator never drains it)
                back = old[0]
                back.update(status="PRIMARY", updatedAt=_utcnow())
                dep["status"] = "ACTIVE"
                svc.deployments = [back, dep]
                svc.task_definition = back.get("taskDefinition")
            svc.running_count = sum(int(d.get("runningCount") or 0) for d in svc.deployments)
            svc.pending_count = 0

    def _stopped_tasks(self, backend: Any, svc: Any, dep: Mapping[str, Any], reason: str) -> None:
        from moto.ecs.models import Task

        cluster = backend.clusters[svc.cluster_name]
        td = copy.copy(backend.describe_task_definition(str(dep["taskDefinition"])))
        td.network_mode = "bridge"  # a task that never started has no ENI (moto would try to create one)
        count = max(1, min(int(dep.get("desiredCount") or 1), 3))
        for _ in range(count):
            task: Any = Task(cluster, td, None, None, backend, group=f"service:{svc.name}",
                        launch_type=svc.launch_type or "", started_by=str(dep["id"]),
                        platform_version=dep.get("platformVersion"))
            task.last_status = "STOPPED"
            task.desired_status = "STOPPED"
            task.stopped_reason = reason
            task.stop_code = "TaskFailedToStart"
            backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task

    # --- reading moto's backends for the verdict ----------------------------------------------------------------

    def _role(self, account: str, arn: str | None) -> RoleView | None:
        if not arn:
            return None
        from moto.iam.models import iam_backends

        iam = iam_backends[account]["global"]
        role = next((r for r in iam.roles.values() if r.arn == arn), None)
        if role is None:
            return RoleView(arn, False)
        docs: list[Mapping[str, Any]] = [policy_doc(d) for d in role.policies.values()]
        for pol in role.managed_policies.values():
            version = next((v for v in pol.versions if v.is_default), None)
            if version is not None:
                docs.append(policy_doc(version.document))
        return RoleView(arn, True, policy_doc(role.assume_role_policy_document), tuple(docs))

    def _resolver(self, account: str) -> Callable[[Reference], Resolution]:
        def resolve(ref: Reference) -> Resolution:
            if ref.account != account:
                return Resolution(False)
            if ref.store == "ssm":
                return _resolve_ssm(account, ref)
            return _resolve_sm(account, ref)

        return resolve

    # --- IAM's policy simulator, from the policies the emulator enforces at task start ----------------------

    def _simulate(self, form: Mapping[str, str], account: str, start_response: StartResponse) -> list[bytes]:
        """SimulatePrincipalPolicy (moto has none): a known role or user is evaluated with :func:`evaluate` over
        its inline and attached policies plus ``PolicyInputList``, exactly what the task-start verdict uses. Any
        other principal of the account is the sandbox's own caller, an administrator: allowed."""
        from xml.sax.saxutils import escape

        from migrate.verdict import evaluate

        def members(prefix: str) -> list[str]:
            keys = sorted((k for k in form if k.startswith(prefix + ".member.")), key=lambda k: int(k.rsplit(".", 1)[1]))
            return [form[k] for k in keys]

        source = form.get("PolicySourceArn", "")
        docs = self._principal_policies(account, source)
        extra = [policy_doc(d) for d in members("PolicyInputList")]
        rows = []
        for action in members("ActionNames"):
            for resource in members("ResourceArns") or ["*"]:
                if docs is None:
                    decision = "allowed"
                else:
                    v = evaluate([*docs, *extra], action, resource)
                    decision = {"allow": "allowed", "deny": "explicitDeny"}.get(v, "implicitDeny")
                rows.append(f"<member><EvalActionName>{escape(action)}</EvalActionName><EvalResourceName>"
                            f"{escape(resource)}</EvalResourceName><EvalDecision>{decision}</EvalDecision>"
                            "<MatchedStatements/><MissingContextValues/></member>")
        body = ('<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
                "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>"
                + "".join(rows) + "</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata>"
                "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>"
                "</SimulatePrincipalPolicyResponse>").encode()
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]

    def _principal_policies(self, account: str, arn: str) -> list[Mapping[str, Any]] | None:
        """The identity policies of a role or user the sandbox knows; None for its own (admin) caller."""
        if ":role/" in arn:
            view = self._role(account, arn)
            return list(view.policies) if view is not None and view.exists else []
        from moto.iam.models import iam_backends

        iam = iam_backends[account]["global"]
        user = next((u for u in iam.users.values() if u.arn == arn), None)
        if user is None:
            return None
        docs: list[Mapping[str, Any]] = [policy_doc(d) for d in user.policies.values()]
        for pol in user.managed_policies.values():
            version = next((v for v in pol.versions if v.is_default), None)
            if version is not None:
                docs.append(policy_doc(version.document))
        return docs

    # --- the other services: limits only ---------------------------------------------------------------------

    def _ssm(self, op: str, req: Mapping[str, Any], account: str, region: str) -> AwsError | None:
        if op != "PutParameter":
            return None
        name, value, tier = str(req.get("Name", "")), str(req.get("Value", "")), req.get("Tier")
        err = limits.check_ssm_name(name, self.quotas) or limits.check_ssm_value(value, tier, self.quotas)
        if err:
            return err
        from moto.ssm.models import ssm_backends

        params = ssm_backends[account][region]._parameters
        if params.normalize_name(name) in params:
            return None
        want = limits.effective_tier(value, tier, self.quotas)
        count = sum(1 for versions in params.values() if versions and (versions[-1].tier or "Standard") == want)
        return limits.check_ssm_parameter_count(count, want, self.quotas)

    def _sm(self, op: str, req: Mapping[str, Any]) -> AwsError | None:
        if op not in ("CreateSecret", "PutSecretValue", "UpdateSecret"):
            return None
        if op == "CreateSecret":
            err = limits.check_secret_name(str(req.get("Name", "")), self.quotas)
            if err:
                return err
        ss, sb = req.get("SecretString"), req.get("SecretBinary")
        return limits.check_secret_value(None if ss is None else str(ss), None if sb is None else str(sb), self.quotas)

    def _iam(self, form: Mapping[str, str], account: str) -> AwsError | None:
        op = form.get("Action", "")
        if op not in ("PutRolePolicy", "CreatePolicy", "CreatePolicyVersion", "AttachRolePolicy"):
            return None
        if op in ("CreatePolicy", "CreatePolicyVersion"):
            return limits.check_managed_policy_size(form.get("PolicyDocument", ""), self.quotas)
        from moto.iam.models import iam_backends

        iam = iam_backends[account]["global"]
        role = next((r for r in iam.roles.values() if r.name == form.get("RoleName")), None)
        if role is None:
            return None  # moto answers NoSuchEntity
        if op == "PutRolePolicy":
            return limits.check_role_inline_policies(role.name, dict(role.policies), form.get("PolicyName", ""),
                                                     form.get("PolicyDocument", ""), self.quotas)
        return limits.check_attach_role_policy(list(role.managed_policies), form.get("PolicyArn", ""), self.quotas)


# --- helpers -------------------------------------------------------------------------------------------------------


def _region(auth: str) -> str:
    # "AWS4-HMAC-SHA256 Credential=AK/20261129/us-east-1/ecs/aws4_request, ..."
    try:
        return auth.split("Credential=", 1)[1].split("/")[2]
    except IndexError:
        return "us-east-1"


def _account(environ: Mapping[str, Any], auth: str) -> str:
    """The account moto serves this request from (its own rules: env, header, access key)."""
    import os

    from moto.iam.models import get_account_id_from

    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return str(environ["HTTP_X_MOTO_ACCOUNT_ID"])
    try:
        key = auth.split("Credential=", 1)[1].split("/")[0]
    except IndexError:
        key = ""
    return str(get_account_id_from(key))


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _json_error(err: AwsError, start_response: StartResponse) -> list[bytes]:
    body = json.dumps({"__type": err.code, "message": err.message}).encode()
    start_response(f"{err.status} Error", [("Content-Type", "application/x-amz-json-1.1"),
                                           ("x-amzn-ErrorType", err.code), ("Content-Length", str(len(body)))])
    return [body]


def _xml_error(err: AwsError, start_response: StartResponse) -> list[bytes]:
    from xml.sax.saxutils import escape

    body = ('<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
            f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>").encode()
    start_response(f"{err.status} Error", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _td_json(td: Any) -> dict[str, Any]:
    return {"family": td.family, "executionRoleArn": getattr(td, "execution_role_arn", None),
            "containerDefinitions": td.container_definitions,
            "requiresCompatibilities": list(getattr(td, "requires_compatibilities", None) or []),
            "networkMode": getattr(td, "network_mode", None)}


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC).timestamp()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def _service_json(svc: Any) -> dict[str, Any]:
    return {"serviceArn": svc.arn, "serviceName": svc.name, "clusterArn": svc.cluster_arn, "status": svc.status,
            "taskDefinition": svc.task_definition, "desiredCount": svc.desired_count,
            "runningCount": svc.running_count, "pendingCount": svc.pending_count, "launchType": svc.launch_type,
            "deployments": _jsonable(svc.deployments)}


def _resolve_ssm(account: str, ref: Reference) -> Resolution:
    from moto.ssm.models import ssm_backends

    params = ssm_backends[account][ref.region]._parameters
    key = params.normalize_name(ref.name)
    versions = params.get(key) if key in params else None
    arn = f"arn:aws:ssm:{ref.region}:{account}:parameter/{ref.name.lstrip('/')}"
    if not versions:
        return Resolution(False, arn)
    p = versions[-1]
    return Resolution(True, arn, _customer_key(account, ref.region, getattr(p, "keyid", None), "alias/aws/ssm"))


def _resolve_sm(account: str, ref: Reference) -> Resolution:
    from moto.secretsmanager.models import secretsmanager_backends

    store = secretsmanager_backends[account][ref.region].secrets
    secret: Any = store.get(ref.name)
    if secret is None or getattr(secret, "deleted_date", None):
        return Resolution(False, ref.name)
    stages: set[str] = set()
    for v in secret.versions.values():
        stages.update(v.get("version_stages") or [])
    current = next((v for v in secret.versions.values() if "AWSCURRENT" in (v.get("version_stages") or [])), None)
    chosen = current
    if ref.version_stage:
        chosen = next((v for v in secret.versions.values() if ref.version_stage in (v.get("version_stages") or [])), None)
    elif ref.version_id:
        chosen = secret.versions.get(ref.version_id)
    keys = json_keys_of(chosen.get("secret_string") if chosen else None)
    return Resolution(True, secret.arn, _customer_key(account, ref.region, secret.kms_key_id, "alias/aws/secretsmanager"),
                      keys, frozenset(stages), frozenset(secret.versions))


def _customer_key(account: str, region: str, key_id: str | None, default_alias: str) -> str | None:
    if not key_id or key_id in (default_alias, f"arn:aws:kms:{region}:{account}:{default_alias}"):
        return None
    from moto.kms.models import kms_backends

    kms = kms_backends[account][region]
    try:
        raw = kms.any_id_to_key_id(key_id)
    except Exception:  # noqa: BLE001 - an unknown key: the agent's decrypt would fail, report the id as given
        return key_id if key_id.startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{key_id}"
    return f"arn:aws:kms:{region}:{account}:key/{raw}"
