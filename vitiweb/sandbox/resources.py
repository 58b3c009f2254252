"""The kinds a sandbox cluster serves: the built-in ones and those its CRDs define.

A `ResourceType` is one served (group, version, resource). The `Registry` is
rebuilt from the stored CustomResourceDefinitions on every CRD write, which is
why a CRD installed at run time is served at once, as on a real server once the
CRD is Established.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .schema import Node, compile_root
from .tables import since

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class Column:
    """A server-side printing column (a CRD's additionalPrinterColumns entry)."""

    name: str
    type: str
    json_path: str | None = None
    cell: Callable[[dict], Any] | None = None
    priority: int = 0
    description: str = ""
    format: str = ""


@dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    schema: Node
    raw_schema: dict[str, Any]
    list_kind: str = ""
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=lambda: list(ALL_VERBS))
    status_subresource: bool = False
    columns: list[Column] = field(default_factory=list)
    # Field selectors beyond metadata.name / metadata.namespace (dotted paths).
    selectable: tuple[str, ...] = ()
    storage_version: str = ""
    from_crd: bool = False
    # Core kinds get strategic merge patch; custom resources answer 415 to it.
    strategic_merge: bool = False
    # Reviews are answered, never stored.
    virtual: bool = False

    def __post_init__(self):
        self.list_kind = self.list_kind or self.kind + "List"
        self.storage_version = self.storage_version or self.version

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_api_version(self) -> str:
        """Objects are stored at the storage version whichever version wrote them."""
        return f"{self.group}/{self.storage_version}" if self.group else self.storage_version

    @property
    def qualified(self) -> str:
        """`machines.vitistack.io`, `namespaces`: how error messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def table_key(self) -> tuple[str, str]:
        """All served versions of a resource share one table of stored objects."""
        return (self.group, self.plural)


def _age(obj: dict) -> str:
    return since(obj.get("metadata", {}).get("creationTimestamp"))


def _name_column() -> Column:
    return Column(
        "Name",
        "string",
        cell=lambda o: o["metadata"].get("name", ""),
        format="name",
        description="Name must be unique within a namespace. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    )


def _age_column() -> Column:
    return Column(
        "Age",
        "string",
        cell=_age,
        description="CreationTimestamp is a timestamp representing the server time when this object was created.",
    )


_PRESERVE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def _builtin(group, version, plural, singular, kind, namespaced, schema, **kw) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=singular,
        kind=kind,
        namespaced=namespaced,
        schema=compile_root(schema),
        raw_schema=schema,
        **kw,
    )


def builtin_types() -> list[ResourceType]:
    namespace_schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"finalizers": {"type": "array", "items": {"type": "string"}}}},
            "status": {
                "type": "object",
                "properties": {"phase": {"type": "string"}, "conditions": {"type": "array", "items": _PRESERVE}},
            },
        },
    }
    secret_schema = {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "immutable": {"type": "boolean"},
            "data": _STRING_MAP,
            "stringData": _STRING_MAP,
        },
    }
    event_schema = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "involvedObject": _PRESERVE,
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "type": {"type": "string"},
            "count": {"type": "integer"},
        },
    }
    crd_schema = {
        "type": "object",
        "properties": {"spec": _PRESERVE, "status": _PRESERVE},
    }
    review_schema = {"type": "object", "properties": {"spec": _PRESERVE, "status": _PRESERVE}}
    return [
        _builtin(
            "",
            "v1",
            "namespaces",
            "namespace",
            "Namespace",
            False,
            namespace_schema,
            short_names=["ns"],
            status_subresource=True,
            strategic_merge=True,
            columns=[
                _name_column(),
                Column(
                    "Status",
                    "string",
                    cell=lambda o: o.get("status", {}).get("phase", ""),
                    description="The status of the namespace",
                ),
                _age_column(),
            ],
            selectable=("status.phase",),
        ),
        _builtin(
            "",
            "v1",
            "secrets",
            "secret",
            "Secret",
            True,
            secret_schema,
            strategic_merge=True,
            columns=[
                _name_column(),
                Column("Type", "string", cell=lambda o: o.get("type", ""), description="The type of the secret"),
                Column(
                    "Data",
                    "integer",
                    cell=lambda o: len(o.get("data") or {}),
                    description="The number of items in the secret",
                ),
                _age_column(),
            ],
            selectable=("type",),
        ),
        _builtin(
            "",
            "v1",
            "events",
            "event",
            "Event",
            True,
            event_schema,
            short_names=["ev"],
            strategic_merge=True,
            columns=[
                Column("Last Seen", "string", cell=lambda o: _event_last_seen(o)),
                Column("Type", "string", cell=lambda o: o.get("type", "")),
                Column("Reason", "string", cell=lambda o: o.get("reason", "")),
                Column("Object", "string", cell=lambda o: _event_object(o)),
                Column("Message", "string", cell=lambda o: o.get("message", "")),
            ],
            selectable=(
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ),
        ),
        _builtin(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            False,
            crd_schema,
            short_names=["crd", "crds"],
            status_subresource=True,
            columns=[
                _name_column(),
                Column(
                    "Created At",
                    "date",
                    cell=lambda o: o["metadata"].get("creationTimestamp") or "",
                    description="CreationTimestamp is a timestamp representing the server time when this object was created.",
                ),
            ],
        ),
        _builtin(
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
            "selfsubjectaccessreview",
            "SelfSubjectAccessReview",
            False,
            review_schema,
            verbs=["create"],
            virtual=True,
        ),
        _builtin(
            "authorization.k8s.io",
            "v1",
            "selfsubjectrulesreviews",
            "selfsubjectrulesreview",
            "SelfSubjectRulesReview",
            False,
            review_schema,
            verbs=["create"],
            virtual=True,
        ),
        _builtin(
            "authentication.k8s.io",
            "v1",
            "selfsubjectreviews",
            "selfsubjectreview",
            "SelfSubjectReview",
            False,
            review_schema,
            verbs=["create"],
            virtual=True,
        ),
    ]


def _event_last_seen(obj: dict) -> str:
    return since(obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp"))


def _event_object(obj: dict) -> str:
    ref = obj.get("involvedObject") or {}
    return f"{(ref.get('kind') or '').lower()}/{ref.get('name', '')}"


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def crd_problems(crd: dict[str, Any]) -> list[dict[str, str]]:
    """The checks kube-apiserver makes on a CRD that the sandbox depends on."""
    causes: list[dict[str, str]] = []

    def fail(reason, fld, msg):
        causes.append({"reason": reason, "field": fld, "message": msg})

    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    for key in ("plural", "kind"):
        if not names.get(key):
            fail("FieldValueRequired", f"spec.names.{key}", "Required value")
    if not group:
        fail("FieldValueRequired", "spec.group", "Required value")
    elif "." not in group:
        fail("FieldValueInvalid", "spec.group", f'Invalid value: "{group}": should be a domain with at least one dot')
    plural = names.get("plural") or ""
    if plural and not _DNS_LABEL.match(plural):
        fail(
            "FieldValueInvalid",
            "spec.names.plural",
            f"Invalid value: \"{plural}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        fail(
            "FieldValueNotSupported",
            "spec.scope",
            f'Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", "Namespaced"',
        )
    versions = spec.get("versions") or []
    if not versions:
        fail(
            "FieldValueRequired",
            "spec.versions",
            "Required value: must have exactly one version marked as storage version",
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        fail(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        )
    for i, v in enumerate(versions):
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            fail(
                "FieldValueRequired",
                f"spec.versions[{i}].schema.openAPIV3Schema",
                "Required value: schemas are required",
            )
    expected = f"{plural}.{group}"
    name = (crd.get("metadata") or {}).get("name")
    if plural and group and name != expected:
        fail("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    return causes


def crd_types(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd["spec"]
    names = spec["names"]
    storage = next((v["name"] for v in spec["versions"] if v.get("storage")), spec["versions"][0]["name"])
    out = []
    for v in spec["versions"]:
        if not v.get("served", True):
            continue
        raw_schema = (v.get("schema") or {}).get("openAPIV3Schema") or {}
        out.append(
            ResourceType(
                group=spec["group"],
                version=v["name"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                kind=names["kind"],
                list_kind=names.get("listKind") or "",
                namespaced=spec.get("scope") == "Namespaced",
                schema=compile_root(raw_schema),
                raw_schema=raw_schema,
                short_names=list(names.get("shortNames") or []),
                categories=list(names.get("categories") or []),
                status_subresource="status" in (v.get("subresources") or {}),
                columns=_crd_columns(v),
                selectable=tuple(f["jsonPath"].lstrip(".") for f in v.get("selectableFields") or []),
                storage_version=storage,
                from_crd=True,
            )
        )
    return out


def _crd_columns(version: dict[str, Any]) -> list[Column]:
    extra = version.get("additionalPrinterColumns")
    if not extra:
        return [_name_column(), _age_column()]
    cols = [_name_column()]
    for c in extra:
        cols.append(
            Column(
                c["name"],
                c.get("type", "string"),
                json_path=c["jsonPath"],
                priority=int(c.get("priority", 0)),
                description=c.get("description", ""),
                format=c.get("format", ""),
            )
        )
    return cols


class Registry:
    """Lookup of served resources by (group, version, plural) and by kind."""

    def __init__(self, types: list[ResourceType]):
        self.types = types
        self.by_gvr = {(t.group, t.version, t.plural): t for t in types}
        self.by_gvk = {(t.group, t.version, t.kind): t for t in types}
        self.by_table: dict[tuple[str, str], ResourceType] = {}
        for t in types:
            if t.version == t.storage_version or t.table_key not in self.by_table:
                self.by_table[t.table_key] = t
        # group -> versions in preference order (the order the CRD lists them).
        self.groups: dict[str, list[str]] = {}
        for t in types:
            versions = self.groups.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.by_gvr.get((group, version, plural))

    def for_api_version(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        return self.by_gvk.get((group, version, kind))

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.types if t.group == group and t.version == version]

    def storage_type(self, table_key: tuple[str, str]) -> ResourceType | None:
        return self.by_table.get(table_key)
