"""Write what a cluster holds into the database.

The cluster is the source of truth: this module never invents an object. A
full snapshot (a list) replaces what the database holds for one cluster and
kind, deleting what the cluster no longer has; an event batch (from a watch)
upserts and deletes single objects. Objects are keyed on their uid; a row is
rewritten only when its resourceVersion (or, for manifest sources without
one, its content) changed, so unchanged objects make neither writes nor
journal noise. Every change leaves a journal row, re-resolves the reference
graph around it, and is announced to live pages after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.dateparse import parse_datetime

from vitiweb import credentials, live, registry
from vitiweb.bulk import insert_all, upsert_all
from vitiweb.kinds import mirror_model_for
from vitiweb.kube.transport import gc_paused
from vitiweb.models import Cluster, JournalEntry, KnownSecret
from vitiweb.monitoring.failures import record_failures
from vitiweb.references import SECRET, delete_outgoing, rebuild_outgoing, reresolve_incoming

#: Metadata fields that have columns of their own, or that are dropped:
#: managedFields is write bookkeeping, large, and changes on every write.
_METADATA_COLUMNS = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "labels",
    "annotations",
    "managedFields",
}
_TOP_LEVEL_COLUMNS = {"apiVersion", "kind", "metadata", "spec", "status"}
_DIFFED = ("spec", "status", "labels", "annotations")


@dataclass
class Summary:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    unchanged: int = 0
    #: Objects whose outgoing references were rebuilt (new, or what references are read from changed).
    references_rebuilt: int = 0
    #: The kinds of the objects created, updated or deleted.
    kinds: set[str] = field(default_factory=set)

    def __iadd__(self, other: Summary) -> Summary:
        self.created += other.created
        self.updated += other.updated
        self.deleted += other.deleted
        self.unchanged += other.unchanged
        self.references_rebuilt += other.references_rebuilt
        self.kinds |= other.kinds
        return self

    @property
    def changed(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)


def derive_status(status: dict) -> tuple[str, bool | None, str]:
    """(phase, ready, message) as the object's own status reports them."""
    if not isinstance(status, dict):
        return "", None, ""
    ready, ready_message = None, ""
    conditions = status.get("conditions")
    for condition in conditions if isinstance(conditions, list) else []:
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            ready = {"True": True, "False": False}.get(condition.get("status"))
            ready_message = condition.get("message") if isinstance(condition.get("message"), str) else ""
    phase = status.get("phase") if isinstance(status.get("phase"), str) else ""
    message = status.get("message") if isinstance(status.get("message"), str) else ready_message
    return phase[:50], ready, message


def last_manager(metadata: dict) -> str:
    """The field manager of the newest managedFields entry: who changed the object last."""
    entries = [entry for entry in metadata.get("managedFields") or [] if isinstance(entry, dict)]
    if not entries:
        return ""
    newest = max(entries, key=lambda entry: entry.get("time") or "")
    return str(newest.get("manager") or "")[:200]


def json_diff(old, new, path: str = "") -> list[dict]:
    """The leaves that differ between two JSON values, as ``{path, old, new}``."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(set(old) | set(new), key=str):
            child = f"{path}.{key}" if path else str(key)
            if key not in old:
                changes.append({"path": child, "old": None, "new": new[key]})
            elif key not in new:
                changes.append({"path": child, "old": old[key], "new": None})
            else:
                changes.extend(json_diff(old[key], new[key], child))
        return changes
    return [] if old == new else [{"path": path, "old": old, "new": new}]


def row_values(model, obj: dict) -> dict:
    """The column values of ``model`` for a raw Kubernetes object (credential fields dropped first)."""
    obj = credentials.strip(obj)
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    phase, ready, message = derive_status(status)
    generation = metadata.get("generation")
    return {
        "api_version": str(obj.get("apiVersion") or ""),
        "kind": str(obj.get("kind") or model.KIND),
        "namespace": metadata.get("namespace") or "",
        "name": metadata["name"],
        "uid": str(metadata.get("uid") or ""),
        "resource_version": str(metadata.get("resourceVersion") or ""),
        "generation": generation if isinstance(generation, int) else None,
        "labels": metadata.get("labels") or {},
        "annotations": metadata.get("annotations") or {},
        "spec": spec,
        "status": status,
        "metadata_extra": {k: v for k, v in metadata.items() if k not in _METADATA_COLUMNS},
        "extra": {k: v for k, v in obj.items() if k not in _TOP_LEVEL_COLUMNS},
        "phase": phase,
        "ready": ready,
        "message": message,
        "created_at": parse_datetime(metadata["creationTimestamp"]) if metadata.get("creationTimestamp") else None,
        **model.derived_fields(spec),
    }


def _content(values: dict) -> tuple:
    return tuple(
        values[key] for key in ("spec", "status", "labels", "annotations", "metadata_extra", "extra", "api_version")
    )


_ROW = ("id", "namespace", "name", "uid", "resource_version")
#: What an update is compared on (``_content``) and diffed on for the journal.
_CONTENT = (*_DIFFED, "metadata_extra", "extra", "api_version")


def _existing(model, cluster: Cluster, addresses: list[tuple[str, str]] | None) -> dict[tuple[str, str], dict]:
    """Current rows by (namespace, name): all of the cluster's (keys and versions), or just ``addresses``.

    For ``addresses`` (an event batch: few rows) the rows come whole, with what ``_upsert`` compares, in one
    query per 500 names over the (cluster, namespace, name) index, instead of a second query by id.
    """
    queryset = model.objects.filter(cluster=cluster)
    if addresses is None:
        rows = queryset.values(*_ROW)
        return {(row["namespace"], row["name"]): row for row in rows}
    wanted = set(addresses)
    found = {}
    for start in range(0, len(addresses), 500):
        chunk = addresses[start : start + 500]
        # Namespaces x names is a superset of the addresses: the rows of other addresses are dropped.
        rows = queryset.filter(namespace__in={ns for ns, _ in chunk}, name__in={name for _, name in chunk})
        for row in rows.values(*_ROW, *_CONTENT):
            address = (row["namespace"], row["name"])
            if address in wanted:
                found[address] = row
    return found


def _upsert(
    model, cluster: Cluster, objects: list[dict], existing: dict, changed_by: str, first: bool = False
) -> Summary:
    """Write ``objects`` over the ``existing`` rows; ``first``: the cluster holds no row of this kind at all."""
    summary = Summary()
    incoming = {}
    for obj in objects:
        values = row_values(model, obj)
        incoming[(values["namespace"], values["name"])] = (values, last_manager(obj.get("metadata") or {}))

    # Only rows whose version moved (or which have no version to compare) are candidates.
    candidates = {}
    for address, (values, manager) in incoming.items():
        row = existing.get(address)
        if (
            row
            and values["resource_version"]
            and row["resource_version"] == values["resource_version"]
            and row["uid"] == values["uid"]
        ):
            summary.unchanged += 1
        else:
            candidates[address] = (values, manager)
    if not candidates:
        return summary

    # Rows read whole already (an event batch) are compared as they are; a snapshot's are read now, by id.
    whole = {address: existing[address] for address in candidates if "spec" in existing.get(address, ())}
    old_ids = [existing[address]["id"] for address in candidates if address in existing and address not in whole]
    old = {
        (row["namespace"], row["name"]): row
        for start in range(0, len(old_ids), 500)
        for row in model.objects.filter(id__in=old_ids[start : start + 500]).values(*_ROW, *_CONTENT)
    }
    old.update(whole)

    instances, journal, spec_changed = [], [], []
    for address, (values, manager) in candidates.items():
        before = old.get(address)
        if before and before["uid"] == values["uid"]:
            if _content(values) == _content(before):
                summary.unchanged += 1
                continue
            action = JournalEntry.Action.UPDATED
            changes = [
                {**change, "path": f"{key}.{change['path']}" if change["path"] else key}
                for key in _DIFFED
                for change in json_diff(before[key], values[key])
            ]
            # What references are read from: the spec, labels and annotations (a Machine's cluster id
            # label), and for some kinds the status (a Vitistack's reported providers).
            read = (
                "spec",
                "labels",
                "annotations",
                *(("status",) if getattr(model, "REFERENCES_READ_STATUS", False) else ()),
            )
            if any(before[key] != values[key] for key in read):
                spec_changed.append(address)
        else:
            # New, or deleted and recreated under the same name (a new uid).
            action = JournalEntry.Action.CREATED
            changes = []
            spec_changed.append(address)
        instances.append(model(cluster=cluster, **values))
        journal.append(
            JournalEntry(
                cluster=cluster,
                kind=model.KIND,
                namespace=values["namespace"],
                name=values["name"],
                uid=values["uid"],
                action=action,
                resource_version=values["resource_version"],
                changed_by=manager or changed_by,
                changes=changes,
            )
        )
    if not instances:
        return summary

    unique_fields = list(getattr(model, "UNIQUE_FIELDS", ("cluster", "namespace", "name")))
    update_fields = [f.name for f in model._meta.concrete_fields if f.name not in {"id", *unique_fields}]
    if first:
        # Nothing to update or conflict with (the cluster's first list of this kind): plain inserts,
        # without the staging table and the conflict checks of an upsert.
        insert_all(model, instances, set_pks=True)
    else:
        upsert_all(model, instances, unique_fields, update_fields)
    insert_all(JournalEntry, journal)
    if model.KIND == "Machine":
        record_failures(cluster, instances, journal)
    for instance, entry in zip(instances, journal, strict=True):
        (summary.created if entry.action == JournalEntry.Action.CREATED else summary.updated).append(instance.pk)

    spec_changed_set = set(spec_changed)
    rebuilt = [instance for instance in instances if (instance.namespace, instance.name) in spec_changed_set]
    rebuild_outgoing(model, rebuilt, fresh=first)
    summary.references_rebuilt = len(rebuilt)
    summary.kinds.add(model.KIND)
    if hasattr(model, "after_upsert"):
        model.after_upsert(rebuilt)
    alias = _alias_field(model)
    aliases = {(i.namespace, getattr(i, alias)): i.pk for i in rebuilt if getattr(i, alias)} if alias else {}
    reresolve_incoming(
        model.KIND,
        [*spec_changed, *aliases],
        cluster_id=cluster.pk,
        changed_ids={**aliases, **{(i.namespace, i.name): i.pk for i in rebuilt}},
    )
    return summary


def _alias_field(model) -> str:
    """The column references may name an object by besides its name (see KindDeclaration.alias_field)."""
    declaration = registry.for_model(model)
    return declaration.alias_field if declaration else ""


def _delete(model, cluster: Cluster, rows: list[dict], changed_by: str) -> Summary:
    summary = Summary()
    if not rows:
        return summary
    ids = [row["id"] for row in rows]
    alias = _alias_field(model)
    aliases = (
        {
            (row["namespace"], row[alias]): row["id"]
            for row in model.objects.filter(id__in=ids).values("id", "namespace", alias)
        }
        if alias
        else {}
    )
    for start in range(0, len(ids), 500):
        model.objects.filter(id__in=ids[start : start + 500]).delete()
    insert_all(
        JournalEntry,
        [
            JournalEntry(
                cluster=cluster,
                kind=model.KIND,
                namespace=row["namespace"],
                name=row["name"],
                uid=row["uid"],
                action=JournalEntry.Action.DELETED,
                resource_version=row["resource_version"],
                changed_by=changed_by,
            )
            for row in rows
        ],
    )
    delete_outgoing(model.KIND, ids)
    reresolve_incoming(
        model.KIND,
        [(row["namespace"], row["name"]) for row in rows] + list(aliases),
        cluster_id=cluster.pk,
        changed_ids={**aliases, **{(row["namespace"], row["name"]): row["id"] for row in rows}},
    )
    summary.deleted = ids
    summary.kinds.add(model.KIND)
    return summary


def _publish(cluster: Cluster, kind: str, summary: Summary) -> None:
    live.publish_object_changes(
        cluster.pk,
        kind,
        [("created", pk) for pk in summary.created]
        + [("updated", pk) for pk in summary.updated]
        + [("deleted", pk) for pk in summary.deleted],
    )


def apply_snapshot(cluster: Cluster, kind: str, objects: Iterable[dict], changed_by: str = "") -> Summary:
    """Make the database hold exactly ``objects`` for this cluster and kind."""
    model = mirror_model_for(kind)
    objects = list(objects)
    # A snapshot's rows, journal and references are tens of thousands of acyclic objects; with the snapshot
    # itself alive, every collection they would start traverses all of it, for nothing.
    with gc_paused(), transaction.atomic():
        existing = _existing(model, cluster, None)
        summary = _upsert(model, cluster, objects, existing, changed_by, first=not existing)
        present = {((obj["metadata"].get("namespace") or ""), obj["metadata"]["name"]) for obj in objects}
        gone = [row for address, row in existing.items() if address not in present]
        summary += _delete(model, cluster, gone, changed_by)
        _publish(cluster, kind, summary)
    return summary


def apply_events(cluster: Cluster, kind: str, events: Iterable[tuple[str, dict]], changed_by: str = "") -> Summary:
    """Apply a batch of watch events (ADDED, MODIFIED, DELETED) in one transaction.

    Within a batch only the last event of each object counts: the database
    must end where the cluster ended, not replay every step.
    """
    model = mirror_model_for(kind)
    latest: dict[tuple[str, str], tuple[str, dict]] = {}
    for event_type, obj in events:
        metadata = obj.get("metadata") or {}
        latest[(metadata.get("namespace") or "", metadata["name"])] = (event_type, obj)
    if not latest:
        return Summary()
    with transaction.atomic():
        existing = _existing(model, cluster, list(latest))
        upserts = [obj for event_type, obj in latest.values() if event_type != "DELETED"]
        summary = _upsert(model, cluster, upserts, existing, changed_by)
        gone = []
        for address, (event_type, obj) in latest.items():
            row = existing.get(address)
            uid = (obj.get("metadata") or {}).get("uid")
            # A late DELETED for an older incarnation must not remove the new one.
            if event_type == "DELETED" and row and (not uid or row["uid"] == uid):
                gone.append(row)
        summary += _delete(model, cluster, gone, changed_by)
        _publish(cluster, kind, summary)
    return summary


def forget_cluster(cluster: Cluster) -> None:
    """Remove a cluster and everything mirrored from it, re-resolving references into it."""
    from vitiweb.kinds import all_models
    from vitiweb.models import DiscoveredObject

    cluster_id = cluster.pk
    with transaction.atomic():
        addresses = {
            model.KIND: list(model.objects.filter(cluster=cluster).values_list("namespace", "name"))
            for model in all_models()
        }
        for model in all_models():
            delete_outgoing(model.KIND, model.objects.filter(cluster=cluster).values_list("id", flat=True))
        for kind, pk in DiscoveredObject.objects.filter(cluster=cluster).values_list("kind", "id"):
            delete_outgoing(kind, [pk])
        cluster.delete()
        for kind, kind_addresses in addresses.items():
            reresolve_incoming(kind, kind_addresses)
        live.publish_cluster_state(cluster_id)


def replace_known_secrets(cluster: Cluster, secrets: set[tuple[str, str]]) -> None:
    """Make the cluster's known Secrets exactly ``secrets`` ((namespace, name) pairs)."""
    existing = set(KnownSecret.objects.filter(cluster=cluster).values_list("namespace", "name"))
    gone, new = existing - secrets, secrets - existing
    for namespace, name in gone:
        KnownSecret.objects.filter(cluster=cluster, namespace=namespace, name=name).delete()
    KnownSecret.objects.bulk_create([KnownSecret(cluster=cluster, namespace=ns, name=name) for ns, name in new])
    if gone or new:
        reresolve_incoming(SECRET, gone | new, cluster_id=cluster.pk)
