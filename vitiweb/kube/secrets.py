"""Secrets: whether they exist, never what they hold.

References to Secrets (``credentials.secretRef``) are checked for existence
only. Lists ask for metadata alone (``PartialObjectMetadataList``, as
client-go's metadata client does, with plain JSON as the fallback the server
may pick); a server that answers with full Secrets anyway has ``data`` and
``stringData`` dropped from every item before anything else sees them.
"""

from __future__ import annotations

from typing import Any

import kubernetes.client

from .errors import ApiStatusError
from .transport import ListResult, call_json, paginate

METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
METADATA_ACCEPT = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
_SECRET_FIELDS = ("data", "stringData")


def strip_secret_data(obj: dict) -> dict:
    for key in _SECRET_FIELDS:
        obj.pop(key, None)
    return obj


def list_secret_metadata(
    api_client: Any,
    namespace: str | None = None,
    *,
    page_size: int = 500,
    timeout: Any = None,
    label_selector: str | None = None,
) -> ListResult:
    """Every Secret's metadata (all namespaces unless one is named); never its data."""
    api = kubernetes.client.CoreV1Api(api_client)
    method, args = (api.list_namespaced_secret, (namespace,)) if namespace else (api.list_secret_for_all_namespaces, ())
    kwargs: dict[str, Any] = {"page_size": page_size, "timeout": timeout}
    if label_selector:
        kwargs["label_selector"] = label_selector
    try:
        result = paginate(
            api_client, method, *args, _headers={"Accept": f"{METADATA_LIST_ACCEPT},application/json"}, **kwargs
        )
    except ApiStatusError as exc:
        if exc.code != 406:
            raise
        result = paginate(api_client, method, *args, _headers={"Accept": "application/json"}, **kwargs)
    for item in result:
        strip_secret_data(item)
    return result


def secret_exists(api_client: Any, namespace: str, name: str, *, timeout: Any = None) -> bool:
    """Whether Secret ``namespace/name`` exists (asks for its metadata only)."""
    api = kubernetes.client.CoreV1Api(api_client)
    try:
        obj = call_json(
            api_client,
            api.read_namespaced_secret,
            name,
            namespace,
            timeout=timeout,
            _headers={"Accept": f"{METADATA_ACCEPT},application/json"},
        )
    except ApiStatusError as exc:
        if exc.code == 404:
            return False
        raise
    if isinstance(obj, dict):
        strip_secret_data(obj)
    return True
