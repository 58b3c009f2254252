"""The HTTP face of a sandbox cluster: routing, content negotiation, watch streams.

One `ApiServer` serves one `Store`. All paths go through a single handler that
parses them the way kube-apiserver lays them out (`/api/v1/namespaces/{ns}/...`,
`/apis/{group}/{version}/...`), so CRDs installed at run time need no route
changes. Errors are raised as `ApiError` anywhere below and answered here as
`kind: Status` bodies.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from typing import Any

import orjson
import yaml
from aiohttp import web

from . import discovery, errors, negotiation, protobuf, rbac, tables, workloads
from .auth import Auth, Token
from .errors import ApiError
from .faults import Faults
from .resources import ResourceType
from .store import ListResult, Store, WriteOptions
from .watch import Watcher, entry_bytes

log = logging.getLogger(__name__)

_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
_CR_PATCH_MEDIA = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
_CORE_PATCH_MEDIA = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]
_HEALTH = ("/healthz", "/livez", "/readyz")
# What the system:public-info-viewer ClusterRole lets anyone, even unauthenticated, GET.
_PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version", "/version/")
# Set on a request whose answer is to be YAML.
_WANTS_YAML = web.RequestKey("wants_yaml", bool)
# A watch's BOOKMARK comes this long before its timeoutSeconds ends (the watch cache's pre-timeout bookmark).
PRE_TIMEOUT_BOOKMARK = 2.0
# A flow-schema identity on every response, as API Priority and Fairness adds.
_FLOW_SCHEMA_UID = str(uuid.uuid4())
_PRIORITY_LEVEL_UID = str(uuid.uuid4())


def _truthy(value: str | None) -> bool:
    return value in ("true", "1", "True")


def _propagation(options: dict) -> str | None:
    """The deletion's propagation policy; orphanDependents is its deprecated spelling."""
    policy = options.get("propagationPolicy")
    if policy is None and options.get("orphanDependents") is not None:
        policy = "Orphan" if options["orphanDependents"] else "Foreground"
    return policy


def _forbidden(field: str, why: str) -> dict[str, str]:
    """A field.Forbidden cause, as field.ErrorList reports it."""
    return {"reason": "FieldValueForbidden", "message": f"Forbidden: {why}", "field": field}


def _not_supported(field: str, value: str, supported: list[str]) -> dict[str, str]:
    """A field.NotSupported cause; values are quoted as Go's %q and %#v print strings."""
    listed = ", ".join(orjson.dumps(v).decode() for v in supported)
    return {
        "reason": "FieldValueNotSupported",
        "message": f"Unsupported value: {orjson.dumps(value).decode()}: supported values: {listed}",
        "field": field,
    }


def _validate_list_options(query) -> None:
    """ListOptions validation of a list (not a watch): 422, then the storage layer's 400."""
    match = query.get("resourceVersionMatch", "")
    version = query.get("resourceVersion", "")
    causes = []
    if match:
        if not version:
            causes.append(
                _forbidden(
                    "resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"
                )
            )
        if query.get("continue"):
            causes.append(
                _forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")
            )
        if match not in ("Exact", "NotOlderThan"):
            causes.append(_not_supported("resourceVersionMatch", match, ["Exact", "NotOlderThan", ""]))
        if match == "Exact" and version == "0":
            causes.append(
                _forbidden("resourceVersionMatch", 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
            )
    if query.get("sendInitialEvents") is not None:
        causes.append(_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    if causes:
        raise errors.meta_invalid("ListOptions", causes)
    if query.get("continue") and version not in ("", "0"):
        raise errors.bad_request("specifying resource version is not allowed when using continue")


def _validate_watch_options(query, initial: bool | None, bookmarks: bool) -> None:
    """validateWatchOptions, with the WatchList feature on (as in 1.32)."""
    match = query.get("resourceVersionMatch", "")
    causes = []
    if initial is not None and match != "NotOlderThan":
        causes.append(
            _forbidden(
                "resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
            )
        )
    if match:
        if initial is None:
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                )
            )
        if match != "NotOlderThan":
            causes.append(_not_supported("resourceVersionMatch", match, ["NotOlderThan"]))
        if query.get("continue"):
            causes.append(
                _forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")
            )
    if initial and not bookmarks:
        # The watch cache streams initial events only to watchers that take the closing bookmark.
        causes.append(_forbidden("allowWatchBookmarks", "sendInitialEvents requires allowWatchBookmarks=true"))
    if causes:
        raise errors.meta_invalid("ListOptions", causes)


def _go_type(rt: ResourceType) -> str:
    """How the real server's conversion errors name the Go type it holds."""
    return "*unstructured.Unstructured" if rt.from_crd else f"*core.{rt.kind}"


def _warning_header(text: str) -> str:
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ApiServer:
    def __init__(
        self,
        store: Store,
        auth: Auth,
        faults: Faults,
        bookmark_interval: float = 60.0,
        admin: AdminHooks | None = None,
    ):
        self.store = store
        self.auth = auth
        self.faults = faults
        self.bookmark_interval = bookmark_interval
        self.admin = admin
        self.streams: dict[Watcher, web.Request] = {}
        self.logbook = workloads.LogBook()
        self._openapi_key: int | None = None
        self._openapi: tuple[dict[str, Any], dict[str, bytes]] = ({}, {})

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # -- entry ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            resp = await self._handle(request)
        except ApiError as exc:
            resp = self._status(exc)
        except Exception as exc:  # a sandbox bug must still answer like a server would
            log.exception("sandbox: internal error on %s %s", request.method, request.path)
            resp = self._status(errors.internal_error(f"{type(exc).__name__}: {exc}"))
        if request.get(_WANTS_YAML) and type(resp) is web.Response and resp.content_type == "application/json":
            # Accept: application/yaml gets YAML, errors included (a watch stream never is YAML).
            resp.body = negotiation.as_yaml(resp.body)
            resp.content_type = negotiation.YAML
        return resp

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        token = self.auth.authenticate(request.headers.get("Authorization"))
        if token is None:
            raise errors.unauthorized()
        public = request.method == "GET" and path in _PUBLIC_PATHS
        if token.anonymous and not public and not self._is_resource_path(path):
            raise errors.forbidden_path(token.user, request.method.lower(), path)
        if path.startswith("/_sandbox/"):
            if token.deny:
                # Only the unrestricted test token reaches the sandbox's own controls.
                raise errors.forbidden_path(token.user, request.method.lower(), path)
            return await self._admin(request, path)
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        failure = self.faults.take(request.method, request.path_qs)
        if failure is not None:
            raise failure
        if path in _HEALTH or path.startswith(tuple(h + "/" for h in _HEALTH)):
            return web.Response(text="ok", content_type="text/plain")
        if path.rstrip("/") == "/version":  # the official client asks for /version/
            return self._json(200, discovery.SERVER_VERSION)
        if path == "/openapi/v2":
            body, media = discovery.openapi_v2(request.headers.get("Accept", ""))
            return self._raw(200, body, content_type=media)
        if path.startswith("/openapi/"):
            return self._openapi_doc(path)
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in ("api", "apis"):
            return self._not_found_page()
        if request.method == "GET" and self._is_discovery(parts):
            return self._discovery(request, parts)
        return await self._resource(request, parts, token)

    @staticmethod
    def _is_resource_path(path: str) -> bool:
        """Whether the authorizer sees a resource request (anything below /api/v1 or /apis/g/v)."""
        parts = [p for p in path.split("/") if p]
        return (parts[:1] == ["api"] and len(parts) > 2) or (parts[:1] == ["apis"] and len(parts) > 3)

    # -- responses ------------------------------------------------------------------

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Cache-Control": "no-cache, private",
            "Audit-Id": str(uuid.uuid4()),
            "X-Kubernetes-Pf-Flowschema-Uid": _FLOW_SCHEMA_UID,
            "X-Kubernetes-Pf-Prioritylevel-Uid": _PRIORITY_LEVEL_UID,
        }
        if extra:
            headers.update(extra)
        return headers

    def _raw(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        warnings: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        resp = web.Response(status=status, body=body, headers=self._headers(headers))
        resp.content_type = "application/json"
        if content_type != "application/json":
            resp.headers["Content-Type"] = content_type
        for text in warnings or []:
            resp.headers.add("Warning", _warning_header(text))
        return resp

    def _json(self, status: int, obj: Any, **kw) -> web.Response:
        return self._raw(status, orjson.dumps(obj), **kw)

    def _status(self, exc: ApiError) -> web.Response:
        return self._json(exc.code, exc.status(), headers=exc.headers)

    def _not_found_page(self) -> web.Response:
        # What the real server's fallthrough handler answers for unknown paths.
        resp = web.Response(status=404, text="404 page not found\n", headers=self._headers())
        resp.content_type = "text/plain"
        return resp

    # -- discovery and OpenAPI ------------------------------------------------------

    @staticmethod
    def _is_discovery(parts: list[str]) -> bool:
        if parts[0] == "api":
            return len(parts) <= 2
        return len(parts) <= 3

    def _discovery(self, request: web.Request, parts: list[str]) -> web.Response:
        registry = self.store.registry
        if len(parts) == 1:
            media = discovery.aggregated_media(request.headers.get("Accept", ""))
            if media:
                doc = discovery.aggregated(registry, core=parts[0] == "api", media=media)
                return self._raw(200, orjson.dumps(doc), content_type=media, headers={"Vary": "Accept"})
            if parts[0] == "api":
                return self._json(200, discovery.api_versions(request.host), headers={"Vary": "Accept"})
            return self._json(200, discovery.api_group_list(registry), headers={"Vary": "Accept"})
        if parts[0] == "api":
            doc = discovery.api_resource_list(registry, "", parts[1])
        elif len(parts) == 2:
            doc = discovery.api_group(registry, parts[1])
        else:
            doc = discovery.api_resource_list(registry, parts[1], parts[2])
        if doc is None:
            return self._not_found_page()
        return self._json(200, doc)

    def _openapi_doc(self, path: str) -> web.Response:
        registry = self.store.registry
        if self._openapi_key != id(registry):
            self._openapi = discovery.openapi_v3_index(registry)
            self._openapi_key = id(registry)
        index, docs = self._openapi
        if path.rstrip("/") == "/openapi/v3":
            return self._json(200, index)
        doc = docs.get(path[len("/openapi/v3/") :]) if path.startswith("/openapi/v3/") else None
        if doc is None:
            return self._not_found_page()
        return self._raw(200, doc)

    # -- resources --------------------------------------------------------------------

    async def _resource(self, request: web.Request, parts: list[str], token: Token) -> web.StreamResponse:
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        query = request.query
        watching = False
        if rest and rest[0] == "watch":  # the deprecated /watch/ path prefix
            watching, rest = True, rest[1:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if not 1 <= len(rest) <= 3:
            return self._not_found_page()
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else ""
        registry = self.store.registry
        if version not in registry.groups.get(group, []):
            return self._not_found_page()
        rt = registry.lookup(group, version, plural)
        if rt is None or (namespace is not None and not rt.namespaced):
            raise errors.resource_not_found()
        if subresource == "log" and rt.qualified == "pods" and name and request.method == "GET":
            if not Auth.allowed(token, "get", "", "pods/log", namespace or "", name):
                raise errors.forbidden(token.user, "get", rt, namespace, name)
            return await workloads.serve_log(request, self.store, self.logbook, namespace or "default", name)
        if subresource and not (subresource == "status" and rt.status_subresource):
            raise errors.resource_not_found()
        if rt.namespaced and name is not None and namespace is None:
            raise errors.resource_not_found()
        method = request.method
        watching = watching or (method == "GET" and name is None and _truthy(query.get("watch")))
        verb = self._verb(method, name, watching)
        if verb is None:
            raise errors.method_not_allowed()
        if verb not in rt.verbs:
            raise errors.method_not_allowed()
        resource = f"{rt.plural}/{subresource}" if subresource else rt.plural
        # Reviews of one's own access are granted to every authenticated user (system:basic-user);
        # asking about someone else (SubjectAccessReview) needs its own permission.
        exempt = rt.virtual and rt.plural.startswith("self") and not token.anonymous
        if not exempt and not Auth.allowed(token, verb, rt.group, resource, namespace or "", name or ""):
            raise errors.forbidden(token.user, verb, rt, namespace, name)
        output = negotiation.negotiate(request.headers.get("Accept"), stream=watching)
        request[_WANTS_YAML] = output.media == negotiation.YAML
        if rt.virtual:
            return await self._review(request, rt, token)
        if watching:
            return await self._watch(request, rt, namespace, output)
        if verb == "list":
            return self._list(request, rt, namespace, output)
        if verb == "get":
            entry = self.store.read(rt, namespace, name)
            if output.convert == "Table":
                meta = {"resourceVersion": entry.obj["metadata"]["resourceVersion"]}
                return self._json(200, tables.table(rt, [entry.obj], meta, query.get("includeObject", "Metadata")))
            if output.convert == "PartialObjectMetadataList":
                raise errors.not_acceptable_conversion(
                    f"you requested PartialObjectMetadataList, but the requested object is not a list ({_go_type(rt)})"
                )
            if output.convert == "PartialObjectMetadata":
                return self._json(200, negotiation.partial(entry.obj, output.version))
            return self._raw(200, entry_bytes(entry, rt))
        if verb == "create":
            if rt.namespaced and namespace is None:
                raise errors.method_not_allowed()
            body = await self._body(request, rt)
            opts = self._options(request)
            obj = self.store.create(body, namespace, rt=rt, options=opts)
            return self._write_response(201, rt, obj, opts)
        if verb == "update":
            body = await self._body(request, rt)
            opts = self._options(request)
            obj = self.store.update(body, namespace, name, rt=rt, subresource=subresource, options=opts)
            return self._write_response(200, rt, obj, opts)
        if verb == "patch":
            return await self._patch(request, rt, namespace, name, subresource)
        if verb == "delete":
            return await self._delete(request, rt, namespace, name)
        return await self._delete_collection(request, rt, namespace)

    @staticmethod
    def _verb(method: str, name: str | None, watching: bool) -> str | None:
        if method == "GET":
            return "watch" if watching else ("list" if name is None else "get")
        if name is None:
            return {"POST": "create", "DELETE": "deletecollection"}.get(method)
        return {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)

    def _write_response(self, status: int, rt: ResourceType, obj: dict, opts: WriteOptions) -> web.Response:
        if rt.version != rt.storage_version:
            obj["apiVersion"] = rt.api_version
        return self._json(status, obj, warnings=opts.warnings)

    async def _body(self, request: web.Request, rt: ResourceType) -> dict:
        media = negotiation.request_media(request.headers.get("Content-Type"))
        raw = await request.read()
        try:
            if media == "application/vnd.kubernetes.protobuf":
                body = protobuf.decode_object(raw)
            elif media == "application/yaml":
                body = yaml.safe_load(raw)
            else:
                body = orjson.loads(raw)
        except protobuf.ProtobufError:
            raise errors.unsupported_media_type(negotiation.ACCEPTED) from None
        except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"error decoding request body: {exc}") from None
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        self._check_kind(body, rt)
        return body

    @staticmethod
    def _check_kind(body: dict, rt: ResourceType) -> None:
        api_version = body.setdefault("apiVersion", rt.api_version)
        kind = body.setdefault("kind", rt.kind)
        if api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
            )
        if kind != rt.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")

    def _options(self, request: web.Request, patch_type: str | None = None) -> WriteOptions:
        query = request.query
        problems = []
        for value in query.getall("dryRun", []):
            if value != "All":
                problems.append(
                    {
                        "reason": "FieldValueNotSupported",
                        "field": "dryRun",
                        "message": f'Unsupported value: "{value}": supported values: "All"',
                    }
                )
        validation = query.get("fieldValidation") or "Warn"
        if validation not in ("Ignore", "Warn", "Strict"):
            problems.append(
                {
                    "reason": "FieldValueNotSupported",
                    "field": "fieldValidation",
                    "message": f'Unsupported value: "{validation}": supported values: "Ignore", "Strict", "Warn"',
                }
            )
        manager = query.get("fieldManager", "")
        force = query.get("force")
        if patch_type == "apply":
            if not manager:
                problems.append(
                    {
                        "reason": "FieldValueRequired",
                        "field": "fieldManager",
                        "message": "Required value: is required for apply patch",
                    }
                )
        elif force is not None and patch_type is not None:
            problems.append(
                {
                    "reason": "FieldValueForbidden",
                    "field": "force",
                    "message": "Forbidden: may not be specified for non-apply patch",
                }
            )
        if problems:
            kind = "PatchOptions" if patch_type else ("UpdateOptions" if request.method == "PUT" else "CreateOptions")
            texts = [f"{p['field']}: {p['message']}" for p in problems]
            summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
            raise ApiError(
                422,
                "Invalid",
                f'{kind}.meta.k8s.io "" is invalid: {summary}',
                {"group": "meta.k8s.io", "kind": kind, "causes": problems},
            )
        if not manager:
            # Unnamed writers are known by their User-Agent's product, as on a real server.
            manager = request.headers.get("User-Agent", "unknown").split("/")[0][:128] or "unknown"
        return WriteOptions(
            manager=manager,
            dry_run=bool(query.getall("dryRun", [])),
            validation=validation,
            force=_truthy(force),
        )

    async def _patch(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str, subresource: str
    ) -> web.Response:
        media = request.content_type
        patch_type = _PATCH_TYPES.get(media)
        if patch_type is None or (patch_type == "strategic" and not rt.strategic_merge):
            raise errors.unsupported_media_type(_CORE_PATCH_MEDIA if rt.strategic_merge else _CR_PATCH_MEDIA)
        raw = await request.read()
        try:
            if patch_type == "apply":
                try:
                    patch = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    patch = yaml.safe_load(raw)
            else:
                patch = orjson.loads(raw)
        except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"error decoding patch: {exc}") from None
        opts = self._options(request, patch_type)
        obj = self.store.patch(
            None, None, name, patch, namespace, patch_type=patch_type, rt=rt, subresource=subresource, options=opts
        )
        return self._write_response(201 if opts.created else 200, rt, obj, opts)

    async def _delete(self, request: web.Request, rt: ResourceType, namespace: str | None, name: str) -> web.Response:
        options = await self._delete_options(request)
        opts = WriteOptions(dry_run=bool(options.get("dryRun")))
        obj, gone = self.store.delete(
            None,
            None,
            name,
            namespace,
            rt=rt,
            options=opts,
            preconditions=options.get("preconditions"),
            propagation=_propagation(options),
        )
        if rt.group == "" and rt.plural != "namespaces" and gone:
            # Core kinds answer a deletion with a Status; custom resources with the object.
            return self._json(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {"name": name, "kind": rt.plural, "uid": obj["metadata"].get("uid", "")},
                },
            )
        # A deletion that waits on finalizers answers 200 with the object; 202 only for the
        # deprecated orphanDependents=false, as the real handler keeps it for old clients.
        accepted = not gone and options.get("orphanDependents") is False
        return self._write_response(202 if accepted else 200, rt, obj, opts)

    async def _delete_options(self, request: web.Request) -> dict:
        """DeleteOptions from the body, or else from the query (never both), validated."""
        raw = await request.read()
        if raw.strip():
            try:
                options = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise errors.bad_request(f"error decoding DeleteOptions: {exc}") from None
            if not isinstance(options, dict) or not isinstance(options.get("dryRun") or [], list):
                raise errors.bad_request("error decoding DeleteOptions: the body is not a DeleteOptions object")
        else:
            query = request.query
            options = {}
            if query.getall("dryRun", []):
                options["dryRun"] = query.getall("dryRun")
            if "propagationPolicy" in query:
                options["propagationPolicy"] = query["propagationPolicy"]
            if "orphanDependents" in query:
                options["orphanDependents"] = _truthy(query["orphanDependents"])
        causes = []
        policy = options.get("propagationPolicy")
        if options.get("orphanDependents") is not None and policy is not None:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "message": f"Invalid value: {orjson.dumps(policy).decode()}: "
                    "orphanDependents and deletionPropagation cannot be both set",
                    "field": "propagationPolicy",
                }
            )
        if policy is not None and policy not in ("Foreground", "Background", "Orphan"):
            causes.append(_not_supported("propagationPolicy", policy, ["Foreground", "Background", "Orphan", "nil"]))
        causes.extend(_not_supported("dryRun", v, ["All"]) for v in options.get("dryRun") or [] if v != "All")
        if causes:
            raise errors.meta_invalid("DeleteOptions", causes)
        return options

    async def _delete_collection(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        options = await self._delete_options(request)
        opts = WriteOptions(dry_run=bool(options.get("dryRun")))
        deleted = self.store.delete_collection(
            rt,
            namespace,
            request.query.get("labelSelector"),
            request.query.get("fieldSelector"),
            options=opts,
            propagation=_propagation(options),
        )
        return self._json(
            200,
            {
                "apiVersion": rt.api_version,
                "kind": rt.list_kind,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": deleted,
            },
        )

    # -- list -------------------------------------------------------------------------

    def _query(self, request: web.Request, rt: ResourceType, namespace: str | None) -> ListResult:
        query = request.query
        _validate_list_options(query)
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise errors.bad_request(f'invalid limit: "{query.get("limit")}"') from None
        return self.store.query(
            rt,
            namespace,
            label_selector=query.get("labelSelector"),
            field_selector=query.get("fieldSelector"),
            limit=max(0, limit),
            continue_token=query.get("continue"),
            resource_version=query.get("resourceVersion"),
            resource_version_match=query.get("resourceVersionMatch"),
        )

    def _list(
        self, request: web.Request, rt: ResourceType, namespace: str | None, output: negotiation.Output
    ) -> web.Response:
        if output.convert == "PartialObjectMetadata":
            raise errors.not_acceptable_conversion(
                f"you requested PartialObjectMetadata, but the requested object is a list ({_go_type(rt)}List)"
            )
        result = self._query(request, rt, namespace)
        meta: dict[str, Any] = {"resourceVersion": str(result.resource_version)}
        if result.continue_token:
            meta["continue"] = result.continue_token
        if result.remaining is not None:
            meta["remainingItemCount"] = result.remaining
        if output.convert == "Table":
            objects = [e.obj for e in result.entries]
            return self._json(200, tables.table(rt, objects, meta, request.query.get("includeObject", "Metadata")))
        if output.convert == "PartialObjectMetadataList":
            return self._json(
                200,
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": f"meta.k8s.io/{output.version}",
                    "metadata": meta,
                    "items": [negotiation.partial(e.obj, output.version) for e in result.entries],
                },
            )
        head = orjson.dumps({"apiVersion": rt.api_version, "kind": rt.list_kind, "metadata": meta})
        items = b",".join(entry_bytes(e, rt) for e in result.entries)
        return self._raw(200, head[:-1] + b',"items":[' + items + b"]}")

    # -- watch ------------------------------------------------------------------------

    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None, output: negotiation.Output
    ) -> web.StreamResponse:
        query = request.query
        try:
            timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
        except ValueError:
            raise errors.bad_request(f'invalid timeoutSeconds: "{query.get("timeoutSeconds")}"') from None
        if timeout is None:
            # kube-apiserver ends long-running requests between 30 and 60 minutes.
            timeout = 1800 * (1 + random.random())
        bookmarks = _truthy(query.get("allowWatchBookmarks"))
        send_initial = query.get("sendInitialEvents")
        initial: bool | None = None
        if send_initial is not None:
            initial = _truthy(send_initial)
        _validate_watch_options(query, initial, bookmarks)
        as_table = output.convert == "Table"
        # Each event is converted on its own: PartialObjectMetadataList cannot convert one object,
        # and the real server then sends it whole.
        metadata_only = output.convert == "PartialObjectMetadata"
        include = query.get("includeObject", "Metadata")
        watcher, expired = self.store.watch(
            rt,
            namespace,
            query.get("labelSelector"),
            query.get("fieldSelector"),
            query.get("resourceVersion"),
            initial,
        )
        resp = web.StreamResponse(status=200, headers=self._headers())
        resp.content_type = "application/json"
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        if expired is not None:
            self.store.unwatch(watcher)
            watcher.offer_error(expired.status())
            await resp.write(watcher.drain())
            await resp.write_eof()
            return resp
        if initial:
            self.store.progress(watcher, initial_events_end=True)
        self.streams[watcher] = request
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def bookmark_after(now: float) -> float:
            # Every bookmark_interval, and once more PRE_TIMEOUT_BOOKMARK before the deadline.
            if not bookmarks:
                return float("inf")
            at = min(now + self.bookmark_interval, deadline - PRE_TIMEOUT_BOOKMARK)
            return at if at >= now else float("inf")

        next_bookmark = bookmark_after(loop.time())
        try:
            while True:
                if watcher.buffer:
                    data = watcher.drain()
                    if as_table:
                        data = self._tableize(rt, data, include)
                    elif metadata_only:
                        data = self._partialize(data, output.version)
                    await resp.write(data)
                if watcher.closed:
                    break
                now = loop.time()
                if now >= deadline:
                    break
                if now >= next_bookmark:
                    self.store.progress(watcher)
                    next_bookmark = bookmark_after(now)
                watcher.wake.clear()
                if watcher.buffer or watcher.closed:
                    continue
                try:
                    async with asyncio.timeout(min(deadline, next_bookmark) - now):
                        await watcher.wake.wait()
                except TimeoutError:
                    pass
        except ConnectionError:  # the client went away mid-write
            return resp
        finally:
            self.streams.pop(watcher, None)
            self.store.unwatch(watcher)
        if request.transport is not None and not request.transport.is_closing():
            await resp.write_eof()
        return resp

    @staticmethod
    def _tableize(rt: ResourceType, data: bytes, include: str) -> bytes:
        out = []
        for line in data.splitlines():
            event = orjson.loads(line)
            obj = event.get("object") or {}
            if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                meta = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
                event["object"] = tables.table(rt, [obj], meta, include)
            out.append(orjson.dumps(event) + b"\n")
        return b"".join(out)

    @staticmethod
    def _partialize(data: bytes, version: str) -> bytes:
        out = []
        for line in data.splitlines():
            event = orjson.loads(line)
            if event.get("type") != "ERROR":
                event["object"] = negotiation.partial(event.get("object") or {}, version)
            out.append(orjson.dumps(event) + b"\n")
        return b"".join(out)

    def drop_streams(self, abrupt: bool) -> int:
        """End every open watch (on the event loop)."""
        streams = list(self.streams.items())
        for watcher, request in streams:
            self.store.unwatch(watcher)
            watcher.close()
            if abrupt and request.transport is not None:
                request.transport.close()
        return len(streams)

    # -- reviews ----------------------------------------------------------------------

    async def _review(self, request: web.Request, rt: ResourceType, token: Token) -> web.Response:
        body = await self._body(request, rt)
        impersonated = request.headers.get("Impersonate-User")
        if rt.plural == "subjectaccessreviews" or (rt.plural == "selfsubjectaccessreviews" and impersonated):
            groups = request.headers.getall("Impersonate-Group", []) or rbac.service_account_groups(impersonated or "")
            return self._json(201, rbac.review(self.store, body, (impersonated or "", groups)))
        spec = body.get("spec") or {}
        out = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"creationTimestamp": None}}
        if rt.plural == "selfsubjectaccessreviews":
            out["spec"] = spec
            out["status"] = self._access_review(rt, spec, token)
        elif rt.plural == "selfsubjectrulesreviews":
            if not spec.get("namespace"):
                raise errors.bad_request("no namespace on request")
            out["spec"] = {}  # the registry answers with a new object holding the status only
            out["status"] = self._rules_review(token, spec["namespace"])
        else:
            out["status"] = {"userInfo": {"username": token.user, "groups": token.groups}}
        return self._json(201, out)

    @staticmethod
    def _access_review(rt: ResourceType, spec: dict, token: Token) -> dict[str, Any]:
        attrs = spec.get("resourceAttributes")
        non_resource = spec.get("nonResourceAttributes")
        causes = []
        if attrs is not None and non_resource is not None:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: "
                    + orjson.dumps(non_resource).decode()
                    + ": cannot be specified in combination with resourceAttributes",
                    "field": "spec.nonResourceAttributes",
                }
            )
        if attrs is None and non_resource is None:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "message": 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
                    "must be specified",
                    "field": "spec.resourceAttributes",
                }
            )
        if causes:
            texts = [f"{c['field']}: {c['message']}" for c in causes]
            summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
            raise ApiError(
                422,
                "Invalid",
                f'{rt.kind}.{rt.group} "" is invalid: {summary}',
                {"group": rt.group, "kind": rt.kind, "causes": causes},
            )
        if attrs is not None:
            resource = attrs.get("resource", "")
            if attrs.get("subresource"):
                resource += "/" + attrs["subresource"]
            allowed = Auth.allowed(
                token,
                attrs.get("verb", ""),
                attrs.get("group", ""),
                resource,
                attrs.get("namespace", ""),
                attrs.get("name", ""),
            )
        else:
            allowed = not token.deny or (
                non_resource.get("verb") == "get" and non_resource.get("path") in _PUBLIC_PATHS
            )
        status: dict[str, Any] = {"allowed": allowed}
        if allowed:
            status["reason"] = "allowed by the sandbox: no rule of this token denies it"
        return status

    def _rules_review(self, token: Token, namespace: str) -> dict[str, Any]:
        """The rules this token is granted in `namespace`, as RBAC would list them.

        A token without deny rules holds everything; otherwise each served resource is
        listed with the verbs no deny rule of the token takes away.
        """
        public = {"verbs": ["get"], "nonResourceURLs": list(_PUBLIC_PATHS)}
        if not token.deny:
            return {
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": False,
            }
        granted: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for rt in self.store.registry.types:
            names = [rt.plural] + ([f"{rt.plural}/status"] if rt.status_subresource else [])
            for resource in names:
                where = namespace if rt.namespaced else ""
                verbs = tuple(v for v in rt.verbs if Auth.allowed(token, v, rt.group, resource, where, ""))
                if verbs:
                    granted.setdefault((rt.group, verbs), [])
                    if resource not in granted[(rt.group, verbs)]:
                        granted[(rt.group, verbs)].append(resource)
        rules = [
            {"verbs": list(verbs), "apiGroups": [group], "resources": resources}
            for (group, verbs), resources in granted.items()
        ]
        discovery_paths = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*"]
        return {
            "resourceRules": rules,
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": discovery_paths}, public],
            "incomplete": False,
        }

    # -- /_sandbox --------------------------------------------------------------------

    async def _admin(self, request: web.Request, path: str) -> web.Response:
        if self.admin is None:
            return self._not_found_page()
        action = path[len("/_sandbox/") :].strip("/")
        body: Any = None
        if request.method == "POST":
            raw = await request.read()
            try:
                body = orjson.loads(raw) if raw.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise errors.bad_request(f"invalid JSON: {exc}") from None
        if action == "state" and request.method == "GET":
            return self._json(200, self.admin.state())
        if action == "faults":
            if request.method == "GET":
                return self._json(200, self.faults.state())
            if request.method == "POST":
                return self._json(200, self.faults.apply(body))
        if action == "tokens" and request.method == "POST":
            try:
                token = Token.from_dict(body)
            except (KeyError, TypeError, AttributeError) as exc:
                raise errors.bad_request(f"invalid token: {exc}") from None
            self.auth.add(token)
            return self._json(200, {"user": token.user, "deny": [r.to_dict() for r in token.deny]})
        if action == "populate" and request.method == "POST":
            try:
                return self._json(200, self.admin.populate(body or {}))
            except TypeError as exc:
                raise errors.bad_request(f"invalid populate request: {exc}") from None
        raise errors.method_not_allowed()


class AdminHooks:
    """What `/_sandbox/` exposes beyond faults; implemented by the Sandbox."""

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def populate(self, spec: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError
