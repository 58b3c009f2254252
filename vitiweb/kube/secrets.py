"""Secrets: whether they exist, never what they hold.

References to Secrets (``credentials.secretRef``) are checked for existence
only. Lists ask for metadata alone (``PartialObjectMetadataList``, as
client-go's metadata client does, with plain JSON as the fallback the server
may pick); a server that answers with full Secrets anyway has ``data`` and
``stringData`` dropped from every item before anything else sees them.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiStatusError
from .transport import ListResult, get_json, paginate

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
    path = f"/api/v1/namespaces/{namespace}/secrets" if namespace else "/api/v1/secrets"
    query = {"labelSelector": label_selector}
    try:
        result = paginate(
            api_client,
            path,
            query,
            accept=f"{METADATA_LIST_ACCEPT},application/json",
            page_size=page_size,
            timeout=timeout,
        )
    except ApiStatusError as exc:
        if exc.code != 406:
            raise
        result = paginate(api_client, path, query, page_size=page_size, timeout=timeout)
    for item in result:
        strip_secret_data(item)
    return result


def secret_exists(api_client: Any, namespace: str, name: str, *, timeout: Any = None) -> bool:
    """Whether Secret ``namespace/name`` exists (asks for its metadata only)."""
    try:
        obj = get_json(
            api_client,
            f"/api/v1/namespaces/{namespace}/secrets/{name}",
            accept=f"{METADATA_ACCEPT},application/json",
            timeout=timeout,
        )
    except ApiStatusError as exc:
        if exc.code == 404:
            return False
        raise
    if isinstance(obj, dict):
        strip_secret_data(obj)
    return True
