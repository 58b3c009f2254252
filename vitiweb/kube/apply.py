"""Writing to a cluster: server-side apply, get, delete; a Namespace and a Secret for the forms.

Apply is ``PATCH`` with ``application/apply-patch+yaml`` and
``fieldManager=vitiweb``: the server merges, validates and tracks field
ownership, so the dashboard never read-modify-writes. A refusal comes back as
an ``ApiStatusError`` carrying the Status's code, reason, message and
``causes[]`` (field paths for 422 Invalid); a 409 from apply is an
``ApplyConflict`` naming each disputed field and the manager that owns it,
so the operator can decide whether to ``force``.

Plural and scope come from the server's discovery, never from the kind's name.
Secret values are never logged and never returned.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kubernetes.client

from vitiweb import safeyaml

from .discovery import forget_resources, resolve_resource
from .errors import INVALID, ApiStatusError, KubeError
from .resources import Resource
from .secrets import strip_secret_data
from .transport import call_json

log = logging.getLogger(__name__)

FIELD_MANAGER = "vitiweb"
APPLY_PATCH = "application/apply-patch+yaml"


class ManifestError(KubeError):
    """A manifest that cannot be sent as it is; ``field`` is the path at fault."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(f"{field}: {message}" if field else message, category=INVALID)
        self.field = field


def load_manifest(manifest: str | bytes | Mapping[str, Any]) -> dict:
    """One manifest as a dict (YAML or JSON text with exactly one document, or a mapping)."""
    if isinstance(manifest, Mapping):
        obj = dict(manifest)
    else:
        try:
            documents = [d for d in safeyaml.load_all(manifest) if d is not None]
        except safeyaml.YamlError as exc:
            raise ManifestError(str(exc), field=exc.path or None) from None
        if len(documents) != 1:
            raise ManifestError(f"expected one document, found {len(documents)}")
        obj = documents[0]
    if not isinstance(obj, dict):
        raise ManifestError("a manifest must be a mapping")
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise ManifestError("is required", field=key)
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        raise ManifestError("is required", field="metadata")
    if not isinstance(metadata.get("name"), str) or not metadata["name"]:
        raise ManifestError("is required", field="metadata.name")
    return obj


def _resource_for(api_client: Any, api_version: str, kind: str, resource: Resource | None, timeout: Any) -> Resource:
    if resource is not None:
        return resource
    if "/" not in api_version:
        raise ManifestError(f"core API kinds ({kind}) are not applied here", field="apiVersion")
    return resolve_resource(api_client, api_version, kind, timeout=timeout)


def _namespace_for(resource: Resource, namespace: str | None, default_namespace: str | None) -> str | None:
    if resource.namespaced:
        return namespace or default_namespace or "default"
    if namespace:
        raise ManifestError(
            f"{resource.kind or resource.plural} is cluster-scoped in this cluster; remove the namespace",
            field="metadata.namespace",
        )
    return None


def apply(
    api_client: Any,
    manifest: str | bytes | Mapping[str, Any],
    *,
    field_manager: str = FIELD_MANAGER,
    force: bool = False,
    dry_run: bool = False,
    default_namespace: str | None = None,
    resource: Resource | None = None,
    timeout: Any = None,
) -> dict:
    """Server-side apply one manifest; returns the object as the server has (or would have) it."""
    obj = load_manifest(manifest)
    metadata = obj["metadata"]
    res = _resource_for(api_client, obj["apiVersion"], obj["kind"], resource, timeout)
    namespace = _namespace_for(res, metadata.get("namespace"), default_namespace)
    if res.namespaced and metadata.get("namespace") != namespace:
        obj = {**obj, "metadata": {**metadata, "namespace": namespace}}
    api = kubernetes.client.CustomObjectsApi(api_client)
    kwargs: dict[str, Any] = {"field_manager": field_manager, "_content_type": APPLY_PATCH, "timeout": timeout}
    if force:
        kwargs["force"] = True
    if dry_run:
        kwargs["dry_run"] = "All"
    try:
        if res.namespaced:
            return call_json(
                api_client,
                api.patch_namespaced_custom_object,
                res.group,
                res.version,
                namespace,
                res.plural,
                metadata["name"],
                obj,
                **kwargs,
            )
        return call_json(
            api_client,
            api.patch_cluster_custom_object,
            res.group,
            res.version,
            res.plural,
            metadata["name"],
            obj,
            **kwargs,
        )
    except ApiStatusError as exc:
        if exc.code == 404:
            forget_resources(api_client)  # the CRD may have changed under the cache
        raise


def get_object(
    api_client: Any,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    resource: Resource | None = None,
    timeout: Any = None,
) -> dict | None:
    """The live object, or None if it does not exist."""
    res = _resource_for(api_client, api_version, kind, resource, timeout)
    api = kubernetes.client.CustomObjectsApi(api_client)
    try:
        if res.namespaced:
            return call_json(
                api_client,
                api.get_namespaced_custom_object,
                res.group,
                res.version,
                _namespace_for(res, namespace, None),
                res.plural,
                name,
                timeout=timeout,
            )
        return call_json(
            api_client, api.get_cluster_custom_object, res.group, res.version, res.plural, name, timeout=timeout
        )
    except ApiStatusError as exc:
        if exc.code == 404:
            return None
        raise


def delete_object(
    api_client: Any,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    dry_run: bool = False,
    propagation_policy: str | None = "Background",
    missing_ok: bool = True,
    resource: Resource | None = None,
    timeout: Any = None,
) -> dict | None:
    """Delete an object; returns what the server answered (the object or a Status), None if it was already gone."""
    res = _resource_for(api_client, api_version, kind, resource, timeout)
    api = kubernetes.client.CustomObjectsApi(api_client)
    kwargs: dict[str, Any] = {"timeout": timeout}
    if propagation_policy:
        kwargs["propagation_policy"] = propagation_policy
    if dry_run:
        kwargs["dry_run"] = "All"
    try:
        if res.namespaced:
            return call_json(
                api_client,
                api.delete_namespaced_custom_object,
                res.group,
                res.version,
                _namespace_for(res, namespace, None),
                res.plural,
                name,
                **kwargs,
            )
        return call_json(
            api_client, api.delete_cluster_custom_object, res.group, res.version, res.plural, name, **kwargs
        )
    except ApiStatusError as exc:
        if exc.code == 404 and missing_ok:
            return None
        raise


def create_namespace(
    api_client: Any,
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    exist_ok: bool = True,
    dry_run: bool = False,
    timeout: Any = None,
) -> dict:
    """Create a Namespace; with ``exist_ok`` an existing one is returned as it is."""
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, **({"labels": dict(labels)} if labels else {})},
    }
    api = kubernetes.client.CoreV1Api(api_client)
    kwargs: dict[str, Any] = {"field_manager": FIELD_MANAGER, "timeout": timeout}
    if dry_run:
        kwargs["dry_run"] = "All"
    try:
        return call_json(api_client, api.create_namespace, body, **kwargs)
    except ApiStatusError as exc:
        if exc.code == 409 and exist_ok:
            return call_json(api_client, api.read_namespace, name, timeout=timeout)
        raise


def create_secret(
    api_client: Any,
    namespace: str,
    name: str,
    string_data: Mapping[str, str],
    *,
    secret_type: str = "Opaque",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    dry_run: bool = False,
    timeout: Any = None,
) -> dict:
    """Create a Secret from plain strings; returns the created Secret without its data.

    An existing Secret of that name is an ``ApiStatusError`` (409, AlreadyExists):
    credentials are not silently overwritten.
    """
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": secret_type,
        "metadata": metadata,
        "stringData": {str(k): str(v) for k, v in string_data.items()},
    }
    api = kubernetes.client.CoreV1Api(api_client)
    kwargs: dict[str, Any] = {"field_manager": FIELD_MANAGER, "timeout": timeout}
    if dry_run:
        kwargs["dry_run"] = "All"
    created = call_json(api_client, api.create_namespaced_secret, namespace, body, **kwargs) or {}
    log.info("created secret %s/%s (%d keys)%s", namespace, name, len(string_data), " [dry run]" if dry_run else "")
    return strip_secret_data(created)
