"""The CustomResourceDefinitions a cluster serves: what a kind accepts there, read from the cluster.

A cluster is the authority on the schema of its custom resources: the
editor builds its forms and checks from the CRD the target cluster serves,
not from files that may be older or newer than it. Reading a whole CRD
costs tens of kilobytes, so a caller that keeps one asks first for its
metadata alone (``PartialObjectMetadata``, as client-go's metadata client
does) and reads it again only when its ``resourceVersion`` moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kubernetes.client

from .errors import ApiStatusError
from .secrets import METADATA_ACCEPT
from .transport import call_json


def crd_resource_version(api_client: Any, name: str, *, timeout: Any = None) -> str | None:
    """The resourceVersion of CRD ``name`` (``machines.vitistack.io``); None if it is not installed."""
    api = kubernetes.client.ApiextensionsV1Api(api_client)
    try:
        body = call_json(
            api_client,
            api.read_custom_resource_definition,
            name,
            timeout=timeout,
            _headers={"Accept": f"{METADATA_ACCEPT},application/json"},
        )
    except ApiStatusError as exc:
        if exc.code == 404:
            return None
        raise
    return str(((body or {}).get("metadata") or {}).get("resourceVersion") or "")


def read_crd(api_client: Any, name: str, *, timeout: Any = None) -> dict | None:
    """CRD ``name`` whole; None if it is not installed."""
    api = kubernetes.client.ApiextensionsV1Api(api_client)
    try:
        return call_json(api_client, api.read_custom_resource_definition, name, timeout=timeout) or None
    except ApiStatusError as exc:
        if exc.code == 404:
            return None
        raise


@dataclass(frozen=True)
class ServedCrd:
    """What a CRD says of its kind: scope and the schema of each version it serves."""

    name: str
    resource_version: str
    kind: str
    scope: str  # "Namespaced" or "Cluster"
    schemas: dict[str, dict]  # served version name -> openAPIV3Schema

    def schema(self, version: str) -> dict | None:
        return self.schemas.get(version)


def served_crd(crd: dict) -> ServedCrd:
    """The parts of a CRD the editor needs (versions that are not served are left out)."""
    spec = crd.get("spec") or {}
    schemas = {}
    for version in spec.get("versions") or []:
        if not isinstance(version, dict) or not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        schemas[str(version.get("name"))] = schema if isinstance(schema, dict) else {}
    return ServedCrd(
        name=str((crd.get("metadata") or {}).get("name") or ""),
        resource_version=str((crd.get("metadata") or {}).get("resourceVersion") or ""),
        kind=str((spec.get("names") or {}).get("kind") or ""),
        scope="Cluster" if spec.get("scope") == "Cluster" else "Namespaced",
        schemas=schemas,
    )
