"""Discovery documents (legacy and aggregated) and the OpenAPI v3 documents.

kubectl 1.32 asks `/api` and `/apis` for aggregated discovery
(`apidiscovery.k8s.io/v2`) and falls back to the legacy per-group documents;
both are served. The OpenAPI v3 documents declare the `fieldValidation` query
parameter on every PATCH operation: that is how kubectl decides to let the
server validate (`fieldValidation=Strict`) instead of validating client-side.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from .resources import Registry, ResourceType
from .schema import OBJECT_META_SCHEMA

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-vitiweb-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_STATUS_VERBS = ["get", "patch", "update"]


def aggregated_media(accept: str) -> str | None:
    """The aggregated-discovery media type the client asked for, if any."""
    for part in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in part.split(";")[1:] if "=" in p}
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") == "v2":
                return AGGREGATED_V2
            if params.get("v") == "v2beta1":
                return AGGREGATED_V2BETA1
        elif part.split(";")[0].strip() in ("application/json", "*/*"):
            return None
    return None


def _groups(registry: Registry, core: bool) -> list[str]:
    return [g for g in registry.groups if (g == "") == core]


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _group_doc(registry: Registry, group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in registry.groups[group]]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(registry, g) for g in _groups(registry, False)],
    }


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    if group not in registry.groups or group == "":
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(registry, group)}


def _storage_hash(rt: ResourceType) -> str:
    digest = hashlib.sha256(f"{rt.group}/{rt.storage_version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    resources = []
    for rt in types:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": rt.verbs,
        }
        if rt.short_names:
            entry["shortNames"] = rt.short_names
        if rt.categories:
            entry["categories"] = rt.categories
        if not rt.virtual:
            entry["storageVersionHash"] = _storage_hash(rt)
        resources.append(entry)
        if rt.status_subresource:
            resources.append(
                {
                    "name": f"{rt.plural}/status",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": _STATUS_VERBS,
                }
            )
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": rt.api_version, "resources": resources}


def aggregated(registry: Registry, core: bool, media: str) -> dict[str, Any]:
    items = []
    for group in _groups(registry, core):
        versions = []
        for version in registry.groups[group]:
            resources = []
            for rt in registry.in_group_version(group, version):
                kind = {"group": group, "version": version, "kind": rt.kind}
                entry: dict[str, Any] = {
                    "resource": rt.plural,
                    "responseKind": kind,
                    "scope": "Namespaced" if rt.namespaced else "Cluster",
                    "singularResource": rt.singular,
                    "verbs": rt.verbs,
                }
                if rt.short_names:
                    entry["shortNames"] = rt.short_names
                if rt.categories:
                    entry["categories"] = rt.categories
                if rt.status_subresource:
                    entry["subresources"] = [{"subresource": "status", "responseKind": kind, "verbs": _STATUS_VERBS}]
                resources.append(entry)
            versions.append({"version": version, "resources": resources, "freshness": "Current"})
        meta: dict[str, Any] = {"creationTimestamp": None}
        if group:
            meta["name"] = group
        items.append({"metadata": meta, "versions": versions})
    version = "v2" if media == AGGREGATED_V2 else "v2beta1"
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }


# -- OpenAPI v2 -----------------------------------------------------------------

OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _proto_string(field_number: int, text: str) -> bytes:
    data = text.encode()
    return bytes([field_number << 3 | 2, len(data)]) + data


def openapi_v2(accept: str) -> tuple[bytes, str]:
    """A v2 document without definitions, as protobuf or JSON.

    kubectl only falls back to v2 for kinds the v3 documents do not describe (it
    validates those client-side); with no definition there it lets them through
    to the "no matches for kind" error a real cluster gives.
    """
    if "protobuf" in accept:
        info = _proto_string(1, "Kubernetes") + _proto_string(2, SERVER_VERSION["gitVersion"])
        doc = _proto_string(1, "2.0") + bytes([2 << 3 | 2, len(info)]) + info
        return doc, OPENAPI_V2_PROTOBUF
    body = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": {},
        "definitions": {},
    }
    return orjson.dumps(body), "application/json"


# -- OpenAPI v3 -----------------------------------------------------------------

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"


def _schema_name(rt: ResourceType) -> str:
    if rt.group == "":
        return f"io.k8s.api.core.{rt.version}.{rt.kind}"
    if rt.from_crd:
        return ".".join(reversed(rt.group.split("."))) + f".{rt.version}.{rt.kind}"
    prefix = rt.group.split(".")[0]
    return f"io.k8s.api.{prefix}.{rt.version}.{rt.kind}"


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if group == "" else f"apis/{group}/{version}"


def _param(name: str, type_: str = "string", where: str = "query", required: bool = False) -> dict[str, Any]:
    out = {"name": name, "in": where, "schema": {"type": type_, "uniqueItems": True}}
    if required:
        out["required"] = True
    return out


_LIST_PARAMS = [
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
]
_WRITE_PARAMS = ["dryRun", "fieldManager", "fieldValidation"]


def _op(
    rt: ResourceType, action: str, op_id: str, params: list[str], body: list[str] | None, ok: str
) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{_schema_name(rt)}"}
    list_ref = {"$ref": f"#/components/schemas/{_schema_name(rt)}List"}
    schema = list_ref if action == "list" else ref
    out: dict[str, Any] = {
        "tags": [rt.api_version.replace("/", "_")],
        "operationId": op_id,
        "parameters": [
            _param(
                p,
                "integer"
                if p in ("limit", "timeoutSeconds")
                else "boolean"
                if p in ("watch", "allowWatchBookmarks", "sendInitialEvents", "force")
                else "string",
            )
            for p in params
        ],
        "responses": {ok: {"description": "OK", "content": {"application/json": {"schema": schema}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    }
    if body:
        out["requestBody"] = {"content": {media: {"schema": ref} for media in body}, "required": True}
    return out


def _paths(rt: ResourceType) -> dict[str, Any]:
    base = "/" + _gv_path(rt.group, rt.version)
    collection = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    title = rt.kind
    scope = "Namespaced" if rt.namespaced else ""
    gv = (rt.group.split(".")[0].capitalize() if rt.group else "Core") + rt.version.capitalize()
    patch_media = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
    if rt.strategic_merge:
        patch_media.insert(2, "application/strategic-merge-patch+json")
    paths: dict[str, Any] = {}
    if rt.virtual:
        paths[collection] = {"post": _op(rt, "post", f"create{gv}{title}", _WRITE_PARAMS, ["application/json"], "201")}
        return paths
    paths[collection] = {
        "get": _op(rt, "list", f"list{gv}{scope}{title}", _LIST_PARAMS, None, "200"),
        "post": _op(
            rt, "post", f"create{gv}{scope}{title}", _WRITE_PARAMS, ["application/json", "application/yaml"], "201"
        ),
        "delete": _op(rt, "deletecollection", f"deletecollection{gv}{scope}{title}", _LIST_PARAMS, None, "200"),
    }
    item = {
        "get": _op(rt, "get", f"read{gv}{scope}{title}", [], None, "200"),
        "put": _op(
            rt, "put", f"replace{gv}{scope}{title}", _WRITE_PARAMS, ["application/json", "application/yaml"], "200"
        ),
        "patch": _op(rt, "patch", f"patch{gv}{scope}{title}", _WRITE_PARAMS + ["force"], patch_media, "200"),
        "delete": _op(
            rt,
            "delete",
            f"delete{gv}{scope}{title}",
            ["dryRun", "gracePeriodSeconds", "propagationPolicy"],
            None,
            "200",
        ),
    }
    paths[f"{collection}/{{name}}"] = item
    if rt.status_subresource:
        paths[f"{collection}/{{name}}/status"] = {
            "get": _op(rt, "get", f"read{gv}{scope}{title}Status", [], None, "200"),
            "put": _op(rt, "put", f"replace{gv}{scope}{title}Status", _WRITE_PARAMS, ["application/json"], "200"),
            "patch": _op(rt, "patch", f"patch{gv}{scope}{title}Status", _WRITE_PARAMS + ["force"], patch_media, "200"),
        }
    if rt.namespaced:
        paths[f"{base}/{rt.plural}"] = {
            "get": _op(rt, "list", f"list{gv}{title}ForAllNamespaces", _LIST_PARAMS, None, "200")
        }
    return paths


def _object_meta_schema() -> dict[str, Any]:
    return {**OBJECT_META_SCHEMA, "description": "ObjectMeta is metadata that all persisted resources must have."}


def _kind_schema(rt: ResourceType) -> dict[str, Any]:
    schema = dict(rt.raw_schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    props = dict(schema.get("properties") or {})
    props["apiVersion"] = {
        "type": "string",
        "description": "APIVersion defines the versioned schema of this representation of an object.",
    }
    props["kind"] = {
        "type": "string",
        "description": "Kind is a string value representing the REST resource this object represents.",
    }
    props["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{_META}.ObjectMeta"}], "default": {}}
    schema["properties"] = props
    schema["type"] = "object"
    schema["x-kubernetes-group-version-kind"] = [{"group": rt.group, "kind": rt.kind, "version": rt.version}]
    return schema


def openapi_v3(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {f"{_META}.ObjectMeta": _object_meta_schema()}
    for rt in types:
        paths.update(_paths(rt))
        schemas[_schema_name(rt)] = _kind_schema(rt)
        schemas[_schema_name(rt) + "List"] = {
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{_schema_name(rt)}"}},
                "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
            "x-kubernetes-group-version-kind": [{"group": rt.group, "kind": rt.list_kind, "version": rt.version}],
        }
    title = "Kubernetes CRD Swagger" if types[0].from_crd else "Kubernetes"
    return {
        "openapi": "3.0.0",
        "info": {"title": title, "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_v3_index(registry: Registry) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The `/openapi/v3` index and the encoded documents it points to, by path."""
    docs: dict[str, bytes] = {}
    index: dict[str, Any] = {}
    for group, versions in registry.groups.items():
        for version in versions:
            doc = openapi_v3(registry, group, version)
            if doc is None:
                continue
            path = _gv_path(group, version)
            raw = orjson.dumps(doc)
            docs[path] = raw
            digest = hashlib.sha512(raw).hexdigest().upper()[:128]
            index[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": index}, docs
