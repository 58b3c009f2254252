"""What a cluster serves, read from the cluster: discovery, not assumption.

``discover()`` finds, for each VitiStack kind, the version served (the group's
preferred version when the kind is in it), the plural and the scope, and says
plainly what is missing or unexpected ("CRD machines.vitistack.io not
installed", a Vitistack CRD that is cluster-scoped). ``connection_test()``
adds the server version and whether this identity may list and watch each
kind and list Secrets, each failure with a reason a person can act on.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import kubernetes.client

from . import GROUP, KIND_SPECS, KindSpec
from .errors import ApiStatusError, KubeError, unauthorized_reason
from .resources import Resource
from .transport import call_json, get_json


@dataclass(frozen=True)
class KindInfo:
    """One VitiStack kind as this cluster serves it (or does not)."""

    kind: str
    group: str
    installed: bool
    plural: str
    version: str | None = None
    namespaced: bool | None = None
    served_versions: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    has_status: bool = False
    expected_namespaced: bool = True
    problem: str | None = None

    @property
    def scope(self) -> str | None:
        if self.namespaced is None:
            return None
        return "Namespaced" if self.namespaced else "Cluster"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def api_version(self) -> str | None:
        return f"{self.group}/{self.version}" if self.version else None

    @property
    def scope_as_expected(self) -> bool:
        return self.namespaced is None or self.problem is None

    def resource(self) -> Resource:
        if not self.installed or self.version is None:
            raise LookupError(self.problem or f"{self.kind} is not installed")
        return Resource(self.group, self.version, self.plural, bool(self.namespaced), self.kind)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["scope"] = self.scope
        data["served_versions"] = list(self.served_versions)
        data["verbs"] = list(self.verbs)
        return data


@dataclass(frozen=True)
class Discovery:
    group: str
    preferred_version: str | None
    served_versions: tuple[str, ...]
    kinds: dict[str, KindInfo]

    def __getitem__(self, kind: str) -> KindInfo:
        return self.kinds[kind]

    def installed(self) -> list[KindInfo]:
        return [info for info in self.kinds.values() if info.installed]

    @property
    def problems(self) -> list[str]:
        return [info.problem for info in self.kinds.values() if info.problem]

    def to_dict(self) -> dict:
        return {
            "group": self.group,
            "preferred_version": self.preferred_version,
            "served_versions": list(self.served_versions),
            "kinds": {kind: info.to_dict() for kind, info in self.kinds.items()},
        }


def _scope_problem(spec: KindSpec, namespaced: bool) -> str | None:
    if namespaced in spec.accepted_scopes:
        return None
    found, expected = ("cluster-scoped", "namespaced") if not namespaced else ("namespaced", "cluster-scoped")
    return f"CRD {spec.crd_name} is {found} in this cluster; Vitiweb expects it {expected}"


def group_versions(api_client: Any, group: str, *, timeout: Any = None) -> tuple[str | None, tuple[str, ...]]:
    """(preferred version, served versions, preferred first) of an API group; (None, ()) if absent."""
    body = get_json(api_client, "/apis/", timeout=timeout) or {}
    for entry in body.get("groups") or []:
        if entry.get("name") != group:
            continue
        preferred = (entry.get("preferredVersion") or {}).get("version")
        versions = [v.get("version") for v in entry.get("versions") or [] if v.get("version")]
        if preferred in versions:
            versions.remove(preferred)
            versions.insert(0, preferred)
        elif preferred:
            versions.insert(0, preferred)
        return preferred, tuple(versions)
    return None, ()


def api_resources(
    api_client: Any, group: str, version: str, *, timeout: Any = None, subresources: bool = False
) -> list[dict]:
    """The APIResourceList of one group version (``[]`` if the server no longer serves it)."""
    try:
        body = get_json(api_client, f"/apis/{group}/{version}/" if group else f"/api/{version}/", timeout=timeout)
    except ApiStatusError as exc:
        if exc.code == 404:  # the group version vanished between the two calls
            return []
        raise
    resources = (body or {}).get("resources") or []
    return resources if subresources else [r for r in resources if "/" not in r.get("name", "")]


def discover(
    api_client: Any,
    *,
    kinds: Mapping[str, KindSpec] = KIND_SPECS,
    group: str = GROUP,
    timeout: Any = None,
    undeclared: bool = False,
) -> Discovery:
    """Which of ``kinds`` the cluster serves, at which version, plural and scope.

    With ``undeclared``, every other kind the group serves is reported too (installed, no problem):
    a caller that shows kinds generically can follow them.
    """
    preferred, versions = group_versions(api_client, group, timeout=timeout)
    found: dict[str, dict[str, dict]] = {}  # kind -> version -> APIResource
    subresources: dict[tuple[str, str], set[str]] = {}  # (version, plural) -> {"status", ...}
    for version in versions:
        for resource in api_resources(api_client, group, version, timeout=timeout, subresources=True):
            name = resource.get("name", "")
            if "/" in name:
                base, sub = name.split("/", 1)
                subresources.setdefault((version, base), set()).add(sub)
            else:
                found.setdefault(resource.get("kind"), {})[version] = resource

    infos = {}
    for kind, spec in kinds.items():
        by_version = found.get(kind) or {}
        if not by_version:
            infos[kind] = KindInfo(
                kind=kind,
                group=group,
                installed=False,
                plural=spec.plural,
                expected_namespaced=spec.namespaced,
                problem=f"CRD {spec.crd_name} not installed" if spec.expected else None,
            )
            continue
        served = tuple(v for v in versions if v in by_version)
        chosen = served[0]
        resource = by_version[chosen]
        namespaced = bool(resource.get("namespaced"))
        plural = resource.get("name") or spec.plural
        infos[kind] = KindInfo(
            kind=kind,
            group=group,
            installed=True,
            plural=plural,
            version=chosen,
            namespaced=namespaced,
            served_versions=served,
            verbs=tuple(resource.get("verbs") or ()),
            has_status="status" in subresources.get((chosen, plural), set()),
            expected_namespaced=spec.namespaced,
            problem=_scope_problem(spec, namespaced),
        )
    if undeclared:
        for kind, by_version in found.items():
            if kind in infos or not kind:
                continue
            chosen = next(v for v in versions if v in by_version)
            resource = by_version[chosen]
            infos[kind] = KindInfo(
                kind=kind,
                group=group,
                installed=True,
                plural=resource.get("name") or kind.lower(),
                version=chosen,
                namespaced=bool(resource.get("namespaced")),
                served_versions=tuple(v for v in versions if v in by_version),
                verbs=tuple(resource.get("verbs") or ()),
                has_status="status" in subresources.get((chosen, resource.get("name")), set()),
                expected_namespaced=bool(resource.get("namespaced")),
                problem=None,
            )
    return Discovery(group=group, preferred_version=preferred, served_versions=versions, kinds=infos)


# -- resolving any kind (for apply) ------------------------------------------------------------------

_cache: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def resolve_resource(
    api_client: Any, api_version: str, kind: str, *, refresh: bool = False, timeout: Any = None
) -> Resource:
    """Plural and scope of ``kind`` in ``api_version``, from the server's discovery (cached per client)."""
    group, _, version = api_version.rpartition("/")
    key = (api_version, kind)
    with _cache_lock:
        cached = _cache.setdefault(api_client, {})
        if not refresh and key in cached:
            return cached[key]
    for resource in api_resources(api_client, group, version, timeout=timeout):
        if resource.get("kind") == kind:
            found = Resource(group, version, resource["name"], bool(resource.get("namespaced")), kind)
            with _cache_lock:
                _cache.setdefault(api_client, {})[key] = found
            return found
    crd = next((spec.crd_name for spec in KIND_SPECS.values() if spec.kind == kind and group == GROUP), None)
    what = f"CRD {crd} not installed" if crd else f"the server does not serve {kind} in {api_version}"
    raise ApiStatusError(404, "NotFound", what, human=f"not found: {what}")


def forget_resources(api_client: Any) -> None:
    """Drop cached discovery for a client (after a CRD changed)."""
    with _cache_lock:
        _cache.pop(api_client, None)


# -- connection test ---------------------------------------------------------------------------------


@dataclass
class AccessCheck:
    verb: str
    resource: str
    group: str
    namespace: str | None
    allowed: bool | None  # None: could not be checked
    reason: str | None = None  # human reason when not allowed
    server_reason: str | None = None  # what the authorizer said, if anything


@dataclass
class KindCheck:
    kind: str
    installed: bool
    version: str | None
    plural: str
    scope: str | None
    problem: str | None
    access: dict[str, AccessCheck] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.installed and self.problem is None and all(a.allowed for a in self.access.values())


@dataclass
class ConnectionReport:
    server: str | None
    context: str | None = None
    reachable: bool = False
    server_version: str | None = None
    error: str | None = None  # the one failure that stopped the test (unreachable, TLS, unauthorized, timeout)
    error_category: str | None = None
    kinds: list[KindCheck] = field(default_factory=list)
    secrets: AccessCheck | None = None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and all(k.ok for k in self.kinds) and bool(self.secrets and self.secrets.allowed)

    @property
    def problems(self) -> list[str]:
        found = [self.error] if self.error else []
        for check in self.kinds:
            if check.problem:
                found.append(check.problem)
            found.extend(a.reason for a in check.access.values() if a.reason)
        if self.secrets and self.secrets.reason:
            found.append(self.secrets.reason)
        return found

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        data["problems"] = self.problems
        return data


def _where(namespace: str | None) -> str:
    return f"in namespace {namespace}" if namespace else "in all namespaces"


def check_access(
    api_client: Any, verb: str, resource: str, *, group: str = "", namespace: str | None = None, timeout: Any = None
) -> AccessCheck:
    """Ask the server (SelfSubjectAccessReview) whether this identity may ``verb`` ``resource``."""
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {"group": group, "resource": resource, "verb": verb, "namespace": namespace or ""}
        },
    }
    api = kubernetes.client.AuthorizationV1Api(api_client)
    try:
        review = call_json(api_client, api.create_self_subject_access_review, body, timeout=timeout) or {}
    except KubeError as exc:
        return AccessCheck(
            verb, resource, group, namespace, None, reason=f"cannot check whether {verb} {resource} is allowed: {exc}"
        )
    status = review.get("status") or {}
    if status.get("allowed"):
        return AccessCheck(verb, resource, group, namespace, True)
    server_reason = status.get("reason") or status.get("evaluationError") or None
    return AccessCheck(
        verb,
        resource,
        group,
        namespace,
        False,
        reason=f"forbidden: cannot {verb} {resource} {_where(namespace)}",
        server_reason=server_reason,
    )


def connection_test(
    api_client: Any, *, timeout: float = 5.0, namespace: str | None = None, kinds: Mapping[str, KindSpec] = KIND_SPECS
) -> ConnectionReport:
    """Reach the server and report what Vitiweb would be able to do there.

    Never raises for a cluster-side failure: the first failure that stops the
    test (unreachable, TLS, unauthorized, timeout) is ``report.error``; a
    missing kind or a denied verb is recorded where it belongs.
    """
    started = time.monotonic()
    pair = (timeout, timeout)
    report = ConnectionReport(
        server=getattr(api_client.configuration, "host", None), context=getattr(api_client, "context_name", None)
    )
    try:
        try:
            version = get_json(api_client, "/version/", timeout=pair) or {}
            report.reachable = True
            report.server_version = version.get("gitVersion")
        except ApiStatusError as exc:
            # An authorizer may hide /version; any HTTP status still proves the server is there.
            report.reachable = True
            if exc.code == 401:
                raise
        found = discover(api_client, kinds=kinds, timeout=pair)
        for kind, info in found.kinds.items():
            if not info.installed and info.problem is None:
                continue  # an optional kind (of another API shape) the cluster does not serve: nothing to test
            check = KindCheck(
                kind=kind,
                installed=info.installed,
                version=info.version,
                plural=info.plural,
                scope=info.scope,
                problem=info.problem,
            )
            if info.installed:
                for verb in ("list", "watch"):
                    check.access[verb] = check_access(
                        api_client, verb, info.plural, group=info.group, namespace=namespace, timeout=pair
                    )
            report.kinds.append(check)
        report.secrets = check_access(api_client, "list", "secrets", namespace=namespace, timeout=pair)
    except KubeError as exc:
        if isinstance(exc, ApiStatusError) and exc.code == 401:
            report.error = unauthorized_reason(getattr(api_client, "auth_method", None))
        else:
            report.error = str(exc)
        report.error_category = exc.category
    finally:
        report.duration = time.monotonic() - started
    return report
