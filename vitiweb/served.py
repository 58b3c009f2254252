"""The schema a target cluster serves for a kind: what the editor's forms, preview and checks follow.

A cluster is the authority on what its custom resources accept: its CRD may
be the guide's shape, the published one, or a version newer or older than
Vitiweb's own files. So the write path asks the target cluster for the CRD
(``apiextensions.k8s.io``) and builds the form, the namespace field (none
for a cluster-scoped kind) and the schema check from it.

The CRD is kept per cluster in the database (``ServedSchema``) with its
``resourceVersion``, so every web process shares one copy. After
``FRESH_FOR`` the cluster is asked again, for the CRD's metadata alone; the
whole CRD is read again only when its resourceVersion moved (the CRD
changed). A dry run or an apply asks every time (``max_age=0``): it talks to
the cluster anyway. A failure to read is kept for ``FRESH_FOR`` too, so an
unreachable cluster does not cost a timeout per keystroke.

When the cluster cannot be read, or does not serve the CRD, the form follows
Vitiweb's own CRD files for the cluster's shape (``crds/``,
``crds/published/``) and says so (``SchemaSource.note``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from django.db import IntegrityError, transaction
from django.utils import timezone

from vitiweb import registry, shapes
from vitiweb import schema as crd_schema
from vitiweb.kube import clients, crds
from vitiweb.kube.errors import KubeError
from vitiweb.models import Cluster, ServedSchema
from vitiweb.registry import API_VERSION, CLUSTER, NAMESPACED

log = logging.getLogger(__name__)

#: How long a check of a cluster's CRD holds before the cluster is asked again.
FRESH_FOR = timedelta(seconds=15)
#: A form waits at most this long for the cluster (then follows Vitiweb's own CRD files and says so).
READ_TIMEOUTS = clients.Timeouts(connect=3.0, read=10.0)

FROM_CLUSTER, SHIPPED = "cluster", "shipped"


@dataclass
class SchemaSource:
    """The openAPIV3Schema of one kind for one target, and where it came from."""

    kind: str
    api_version: str
    schema: dict
    scope: str
    origin: str  # FROM_CLUSTER or SHIPPED
    shape: str  # the API shape of the cluster (of the files, when shipped)
    cluster_name: str = ""
    crd_name: str = ""
    resource_version: str = ""
    problem: str = ""  # why the cluster's own CRD is not the one followed
    #: The cluster answered that it does not serve this CRD (a write there will fail).
    not_served: bool = False

    @property
    def from_cluster(self) -> bool:
        return self.origin == FROM_CLUSTER

    @property
    def namespaced(self) -> bool:
        return self.scope != CLUSTER

    @property
    def spec_schema(self) -> dict:
        spec = (self.schema.get("properties") or {}).get("spec")
        # A CRD that leaves spec open (x-kubernetes-preserve-unknown-fields) gets a free-form field.
        return spec if isinstance(spec, dict) else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

    @property
    def where(self) -> str:
        """How the preview names the schema: "as prod-east serves it" or "Vitiweb ships (published shape)"."""
        if self.from_cluster:
            return f"as {self.cluster_name} serves it"
        return f"Vitiweb ships for the {self.shape} shape"

    @property
    def note(self) -> str:
        """One sentence for the page: which schema the form and its checks follow, and why."""
        if self.from_cluster:
            return (
                f"Fields and checks follow the CRD {self.crd_name} as {self.cluster_name} serves it "
                f"(resourceVersion {self.resource_version})."
            )
        files = f"Vitiweb's own {self.kind} CRD for the {self.shape} shape"
        if self.problem:
            return f"{self.problem}: fields and checks follow {files}, which may differ from what the cluster serves."
        return f"No target cluster: fields and checks follow {files}."

    @cached_property
    def _validator(self):
        return crd_schema.validator_for(self.schema, strict=True)

    def validate(self, obj: dict) -> list[crd_schema.FieldError]:
        """Every violation of ``obj`` against this schema, unknown fields included (``fieldValidation=Strict``)."""
        if not self.from_cluster:
            return crd_schema.validate(obj, strict=True, shape=self.shape)
        validator, schema = self._validator
        return crd_schema.errors_of(validator, schema, obj)


def _shipped(
    cluster: Cluster | None, kind: str, api_version: str, problem: str = "", not_served: bool = False
) -> SchemaSource:
    shape = shapes.shape_of(cluster)
    if shapes.scope_in(kind, shape) is None:
        shape = next(iter(shapes.shapes_of_kind(kind)), shape)
    scope = shapes.scope_in(kind, shape) or NAMESPACED
    discovered = ((cluster.discovered_kinds if cluster is not None else None) or {}).get(kind)
    if (
        isinstance(discovered, dict)
        and discovered.get("installed")
        and discovered.get("scope") in (NAMESPACED, CLUSTER)
    ):
        scope = discovered["scope"]  # what the cluster said in discovery, even if its CRD cannot be read now
    schema = crd_schema.schema_for(api_version, kind, shape) or {}
    name = cluster.name if cluster else ""
    return SchemaSource(kind, api_version, schema, scope, SHIPPED, shape, name, problem=problem, not_served=not_served)


def crd_name_for(cluster: Cluster | None, kind: str) -> str:
    """``<plural>.<group>``: the plural the cluster's discovery found, or the declared one."""
    declaration = registry.get(kind)
    discovered = ((cluster.discovered_kinds if cluster is not None else None) or {}).get(kind)
    plural = discovered.get("plural") if isinstance(discovered, dict) and discovered.get("plural") else None
    return f"{plural or declaration.plural}.{declaration.group}"


def schema_for(
    cluster: Cluster | None, kind: str, api_version: str = API_VERSION, *, max_age: timedelta = FRESH_FOR
) -> SchemaSource:
    """The schema of ``kind`` that ``cluster`` serves (its CRD), or Vitiweb's own when it cannot be had."""
    if cluster is None:
        return _shipped(None, kind, api_version)
    if cluster.pk is None or cluster.read_only:
        return _shipped(cluster, kind, api_version, f"{cluster.name} is not a live cluster")
    crd_name = crd_name_for(cluster, kind)
    row = ServedSchema.objects.filter(cluster=cluster, crd_name=crd_name).first()
    if row is None or timezone.now() - row.checked_at >= max_age:
        row = refresh(cluster, crd_name, row)
    if row.error:
        return _shipped(cluster, kind, api_version, f"{cluster.name} could not be read ({row.error})")
    if not row.installed:
        return _shipped(cluster, kind, api_version, f"{cluster.name} does not serve the CRD {crd_name}", True)
    version = api_version.rpartition("/")[2]
    schema = (row.schemas or {}).get(version)
    if not isinstance(schema, dict):
        served = ", ".join(sorted(row.schemas or {})) or "none"
        return _shipped(
            cluster, kind, api_version, f"{cluster.name} serves {crd_name} in versions {served}, not {version}"
        )
    return SchemaSource(
        kind,
        api_version,
        schema,
        row.scope or NAMESPACED,
        FROM_CLUSTER,
        shapes.shape_of(cluster),
        cluster.name,
        crd_name,
        row.resource_version,
    )


def refresh(cluster: Cluster, crd_name: str, row: ServedSchema | None = None) -> ServedSchema:
    """Ask the cluster whether its CRD changed since ``row`` (read it whole only then); store what it says."""
    fields: dict = {"error": ""}
    try:
        from vitiweb.sync.clusters import api_client_for

        api_client = api_client_for(cluster, READ_TIMEOUTS)
    except KubeError as exc:
        fields["error"] = str(exc)
    else:
        try:
            fields.update(_read(api_client, crd_name, row))
        except KubeError as exc:
            fields["error"] = str(exc)
        finally:
            api_client.close()
    if fields["error"]:
        log.info("CRD %s of %s not read: %s", crd_name, cluster.name, fields["error"])
    fields["checked_at"] = timezone.now()
    return _store(cluster, crd_name, fields)


def _read(api_client, crd_name: str, row: ServedSchema | None) -> dict:
    resource_version = crds.crd_resource_version(api_client, crd_name, timeout=READ_TIMEOUTS.pair())
    if resource_version is None:
        return {"installed": False, "resource_version": "", "scope": "", "schemas": {}}
    if row is not None and row.installed and row.schemas and row.resource_version == resource_version:
        return {}  # unchanged: the copy kept holds
    crd = crds.read_crd(api_client, crd_name, timeout=READ_TIMEOUTS.pair())
    if crd is None:  # deleted between the two calls
        return {"installed": False, "resource_version": "", "scope": "", "schemas": {}}
    served = crds.served_crd(crd)
    return {
        "installed": True,
        "resource_version": served.resource_version[:64],
        "scope": served.scope,
        "schemas": served.schemas,
    }


def _store(cluster: Cluster, crd_name: str, fields: dict) -> ServedSchema:
    for _attempt in range(2):
        try:
            with transaction.atomic():
                row, _ = ServedSchema.objects.update_or_create(cluster=cluster, crd_name=crd_name, defaults=fields)
                return row
        except IntegrityError:
            continue  # another process stored it first: update that row
    return ServedSchema.objects.get(cluster=cluster, crd_name=crd_name)
