"""What a sandbox cluster serves beside the VitiStack CRDs so it can be troubleshot like a real one.

- the kinds kube-apiserver always has and an operator's tools read: Deployments
  (apps/v1), Pods and ServiceAccounts (v1), Events in both APIs (v1 and
  events.k8s.io/v1), RBAC (Roles, ClusterRoles and their bindings) and
  SubjectAccessReview;
- `pods/{name}/log` with `container`, `tailLines`, `timestamps` and `follow`
  (a chunked stream that ends when the client goes away or the pod is
  deleted), fed by a `LogBook` the simulated controllers write into;
- `install_controllers()`: the VitiStack controllers as a real installation
  has them in `vitistack-system` (Deployments, their Pods, a service account
  and a ClusterRole bound to it), which is where the simulator's log lines go.

Events written through `record_event` are stored in both APIs under one name,
as kube-apiserver serves one stored Event through both; an Event created over
HTTP through one API is not copied to the other (a sandbox deviation).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from . import errors
from .resources import Column, Registry, ResourceType, _builtin, crd_types
from .store import Store, WriteOptions
from .strategy import now
from .tables import since

CONTROLLER_NAMESPACE = "vitistack-system"
#: The controllers of the guide's debugging commands (`kubectl logs -n vitistack-system deployment/...`).
CONTROLLERS = ("vitistack-controller", "machine-controller")
SERVICE_ACCOUNT = "vitistack-controller"
CONTAINER = "manager"
#: Lines a pod's log keeps (the kubelet rotates logs; older lines are gone).
LOG_LINES = 5000

_PRESERVE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {}}


def types() -> list[ResourceType]:
    workload = {"type": "object", "properties": {"spec": _PRESERVE, "status": _PRESERVE}}
    rbac_role = {"type": "object", "properties": {"rules": {"type": "array", "items": _PRESERVE}}}
    rbac_binding = {
        "type": "object",
        "properties": {"subjects": {"type": "array", "items": _PRESERVE}, "roleRef": _PRESERVE},
    }
    return [
        _builtin(
            "apps",
            "v1",
            "deployments",
            "deployment",
            "Deployment",
            True,
            workload,
            status_subresource=True,
            short_names=["deploy"],
        ),
        _builtin(
            "",
            "v1",
            "pods",
            "pod",
            "Pod",
            True,
            workload,
            status_subresource=True,
            strategic_merge=True,
            short_names=["po"],
        ),
        _builtin("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, _OPEN, short_names=["sa"]),
        _builtin(
            "events.k8s.io",
            "v1",
            "events",
            "event",
            "Event",
            True,
            _OPEN,
            short_names=["ev"],
            columns=[
                Column(
                    "Last Seen", "string", cell=lambda o: since(o.get("deprecatedLastTimestamp") or o.get("eventTime"))
                ),
                Column("Type", "string", cell=lambda o: o.get("type", "")),
                Column("Reason", "string", cell=lambda o: o.get("reason", "")),
                Column(
                    "Object",
                    "string",
                    cell=lambda o: (
                        f"{((o.get('regarding') or {}).get('kind') or '').lower()}/"
                        f"{(o.get('regarding') or {}).get('name', '')}"
                    ),
                ),
                Column("Message", "string", cell=lambda o: o.get("note", "")),
            ],
            selectable=("regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason", "type"),
        ),
        _builtin("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", True, rbac_role),
        _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", False, rbac_role),
        _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", True, rbac_binding),
        _builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "clusterrolebinding",
            "ClusterRoleBinding",
            False,
            rbac_binding,
        ),
        _builtin(
            "authorization.k8s.io",
            "v1",
            "subjectaccessreviews",
            "subjectaccessreview",
            "SubjectAccessReview",
            False,
            {"type": "object", "properties": {"spec": _PRESERVE, "status": _PRESERVE}},
            verbs=["create"],
            virtual=True,
        ),
    ]


def install_types(store: Store) -> None:
    """Serve `types()` in this store (before anything is stored in them)."""
    with store.lock:
        known = {(t.group, t.version, t.plural) for t in store._builtins}
        store._builtins.extend(t for t in types() if (t.group, t.version, t.plural) not in known)
        crds = store.tables.get(("apiextensions.k8s.io", "customresourcedefinitions"))
        served = list(store._builtins)
        for entry in crds.items.values() if crds else []:
            served.extend(crd_types(entry.obj))
        store.registry = Registry(served)


# -- Events ----------------------------------------------------------------------------------------


def record_event(
    store: Store,
    regarding: dict,
    type_: str,
    reason: str,
    message: str,
    controller: str,
    action: str = "Reconcile",
) -> str:
    """Record an Event about `regarding` (apiVersion, kind, name, namespace, uid) as a controller would.

    A repeat (same object, reason and message) bumps the count and the last time instead of adding an
    Event, as client-go's event correlator does. Returns the Event's name.
    """
    namespace = regarding.get("namespace") or "default"
    digest = hashlib.blake2b(f"{regarding.get('uid')}/{type_}/{reason}/{message}".encode(), digest_size=6).hexdigest()
    name = f"{regarding.get('name', 'object')}.{digest}"
    stamp = now()
    micro = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with store.lock:
        core_rt = store.registry.lookup("", "v1", "events")
        new_rt = store.registry.lookup("events.k8s.io", "v1", "events")
        try:
            existing = store.read(core_rt, namespace, name).copy()
        except errors.ApiError:
            existing = None
        count = (existing or {}).get("count", 0) + 1
        first = (existing or {}).get("firstTimestamp") or stamp
        core = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {k: regarding.get(k) for k in ("apiVersion", "kind", "name", "namespace", "uid")},
            "reason": reason,
            "message": message,
            "type": type_,
            "count": count,
            "firstTimestamp": first,
            "lastTimestamp": stamp,
            "source": {"component": controller},
            "reportingComponent": controller,
            "reportingInstance": f"{controller}-0",
            "action": action,
            "eventTime": None,
        }
        new = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "regarding": core["involvedObject"],
            "reason": reason,
            "note": message,
            "type": type_,
            "action": action,
            "eventTime": micro if existing is None else (existing.get("eventTime") or micro),
            "reportingController": controller,
            "reportingInstance": f"{controller}-0",
            "deprecatedCount": count,
            "deprecatedFirstTimestamp": first,
            "deprecatedLastTimestamp": stamp,
            "deprecatedSource": {"component": controller},
        }
        if existing is not None:
            new["series"] = {"count": count, "lastObservedTime": micro}
        options = WriteOptions(manager=controller)
        for rt, body in ((core_rt, core), (new_rt, new)):
            if rt is None:
                continue
            try:
                live = store.read(rt, namespace, name).obj
            except errors.ApiError:
                store.create(body, rt=rt, options=options)
            else:
                body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                store.update(body, rt=rt, options=options)
    return name


# -- controller logs -------------------------------------------------------------------------------


class LogBook:
    """The containers' logs of one cluster: bounded lines per (namespace, pod, container), and followers."""

    def __init__(self, lines: int = LOG_LINES):
        self.lines = lines
        self._logs: dict[tuple[str, str, str], deque[tuple[str, str]]] = {}
        self._followers: dict[tuple[str, str, str], set[asyncio.Queue]] = {}
        self._lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None

    def write(self, namespace: str, pod: str, container: str, text: str) -> None:
        key = (namespace, pod, container)
        line = (now(), text)
        with self._lock:
            self._logs.setdefault(key, deque(maxlen=self.lines)).append(line)
            followers = list(self._followers.get(key, ()))
        for follower in followers:
            self._offer(follower, line)

    def _offer(self, follower: asyncio.Queue, item) -> None:
        loop = self.loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            follower.put_nowait(item)
        else:
            loop.call_soon_threadsafe(follower.put_nowait, item)

    def tail(self, namespace: str, pod: str, container: str, lines: int | None = None) -> list[tuple[str, str]]:
        with self._lock:
            found = list(self._logs.get((namespace, pod, container), ()))
        return found if lines is None else found[len(found) - lines :] if lines else []

    def follow(self, namespace: str, pod: str, container: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        with self._lock:
            self._followers.setdefault((namespace, pod, container), set()).add(queue)
        return queue

    def unfollow(self, namespace: str, pod: str, container: str, queue: asyncio.Queue) -> None:
        with self._lock:
            self._followers.get((namespace, pod, container), set()).discard(queue)

    def end(self, namespace: str, pod: str) -> None:
        """The pod is gone: its followers' streams end."""
        with self._lock:
            ended = [q for (ns, p, _), qs in self._followers.items() if (ns, p) == (namespace, pod) for q in qs]
        for follower in ended:
            self._offer(follower, None)


def _int_param(query, name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f'invalid {name}: "{value}"') from None
    if number < 0:
        raise errors.bad_request(f"{name}: Invalid value: {number}: must be greater than or equal to 0")
    return number


async def serve_log(
    request: web.Request, store: Store, logbook: LogBook, namespace: str, name: str
) -> web.StreamResponse:
    """`GET /api/v1/namespaces/{ns}/pods/{name}/log`, as the kubelet answers through the API server."""
    pods = store.registry.lookup("", "v1", "pods")
    pod = store.read(pods, namespace, name).obj
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = request.query.get("container") or (containers[0] if len(containers) == 1 else "")
    if not container:
        raise errors.bad_request(
            f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
        )
    if container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    tail = _int_param(request.query, "tailLines")
    stamps = request.query.get("timestamps") in ("true", "1")
    follow = request.query.get("follow") in ("true", "1")

    def render(line: tuple[str, str]) -> bytes:
        return ((f"{line[0]} " if stamps else "") + line[1] + "\n").encode()

    logbook.loop = asyncio.get_running_loop()
    queue = logbook.follow(namespace, name, container) if follow else None
    backlog = logbook.tail(namespace, name, container, tail)
    if queue is None:
        return web.Response(body=b"".join(render(line) for line in backlog), content_type="text/plain")
    resp = web.StreamResponse(status=200)
    resp.content_type = "text/plain"
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        await resp.write(b"".join(render(line) for line in backlog))
        while request.transport is not None and not request.transport.is_closing():
            try:
                async with asyncio.timeout(1.0):
                    line = await queue.get()
            except TimeoutError:
                continue
            if line is None:
                break
            await resp.write(render(line))
    except ConnectionError:
        return resp
    finally:
        logbook.unfollow(namespace, name, container, queue)
    if request.transport is not None and not request.transport.is_closing():
        await resp.write_eof()
    return resp


def pod_name(deployment: str) -> str:
    """The one pod of a controller Deployment (a stable name: ReplicaSet hash and pod suffix)."""
    digest = hashlib.blake2b(deployment.encode(), digest_size=5).hexdigest()
    return f"{deployment}-{digest[:9]}-{digest[-5:]}"


def install_controllers(store: Store, logbook: LogBook) -> None:
    """The controllers' namespace, Deployments, Pods, service account and RBAC, as a Helm install leaves them."""
    options = WriteOptions(manager="helm")

    def ensure(obj: dict) -> None:
        rt = store.resource(obj["apiVersion"], obj["kind"])
        try:
            store.read(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        except errors.ApiError:
            store.create(obj, rt=rt, options=options)

    with store.lock:
        ensure({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CONTROLLER_NAMESPACE}})
        ensure(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": SERVICE_ACCOUNT, "namespace": CONTROLLER_NAMESPACE},
            }
        )
        ensure(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "vitistack-controller"},
                "rules": [
                    {"apiGroups": ["vitistack.io"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                    {
                        "apiGroups": ["vitistack.io"],
                        "resources": ["*/status"],
                        "verbs": ["get", "update", "patch"],
                    },
                    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
                    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
                ],
            }
        )
        ensure(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "vitistack-controller"},
                "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": CONTROLLER_NAMESPACE}],
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "vitistack-controller",
                },
            }
        )
        for controller in CONTROLLERS:
            labels = {"app.kubernetes.io/name": controller, "app.kubernetes.io/part-of": "vitistack"}
            container = {
                "name": CONTAINER,
                "image": f"ghcr.io/vitistack/{controller}:sandbox",
                "args": ["--leader-elect"],
            }
            ensure(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": controller, "namespace": CONTROLLER_NAMESPACE, "labels": labels},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app.kubernetes.io/name": controller}},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {"serviceAccountName": SERVICE_ACCOUNT, "containers": [container]},
                        },
                    },
                    "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1},
                }
            )
            pod = pod_name(controller)
            ensure(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod, "namespace": CONTROLLER_NAMESPACE, "labels": labels},
                    "spec": {"serviceAccountName": SERVICE_ACCOUNT, "containers": [container]},
                    "status": {"phase": "Running", "podIP": "10.244.0.10", "startTime": now()},
                }
            )
            if not logbook.tail(CONTROLLER_NAMESPACE, pod, CONTAINER, 1):
                logbook.write(
                    CONTROLLER_NAMESPACE, pod, CONTAINER, log_line("INFO", controller, "starting manager", {})
                )


def log_line(level: str, logger: str, message: str, values: dict[str, Any]) -> str:
    """A line in controller-runtime's console format: time, level, logger, message, key/values as JSON."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    extra = f"\t{json.dumps(values, sort_keys=True)}" if values else ""
    return f"{stamp}\t{level}\t{logger}\t{message}{extra}"
