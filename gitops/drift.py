"""How each object of the fleet compares with its Git source: in sync, in Git only, in the cluster only, or differs.

Only what Git says is compared: the fields a manifest sets (spec, labels,
annotations and any other top-level field), each at its path. What the
cluster owns is left out: status, server-set metadata, and fields the
manifest does not mention (defaults and fields that controllers or other
field managers set). Lists are compared whole, as server-side apply treats an
atomic list. A Secret is compared by existence only: its data is never read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction

from gitops.desired import default_namespace
from gitops.models import DesiredObject, DriftRecord, GitSource
from vitiweb import live
from vitiweb.kinds import KINDS, model_for
from vitiweb.models import KnownSecret

#: Annotations tools write on their own; never drift.
IGNORED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
#: Top-level fields that are identity or the cluster's, never compared.
NOT_COMPARED = frozenset({"apiVersion", "kind", "metadata", "status"})
MISSING = object()


@dataclass(frozen=True)
class FieldDifference:
    path: str
    git: object
    cluster: object

    def as_dict(self) -> dict:
        return {"path": self.path, "git": self.git, "cluster": None if self.cluster is MISSING else self.cluster}


def compared_fields(manifest: dict) -> dict:
    """The parts of a manifest that drift is measured on."""
    metadata = manifest.get("metadata") or {}
    fields = {key: value for key, value in manifest.items() if key not in NOT_COMPARED}
    labels = metadata.get("labels") or {}
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in IGNORED_ANNOTATIONS}
    if labels:
        fields["metadata.labels"] = labels
    if annotations:
        fields["metadata.annotations"] = annotations
    return fields


def differences(desired: object, live: object, path: str = "") -> list[FieldDifference]:
    """Every path ``desired`` sets whose value the live object does not hold."""
    if isinstance(desired, dict) and isinstance(live, dict):
        found = []
        for key, value in desired.items():
            child = f"{path}.{key}" if path else str(key)
            if key in live:
                found.extend(differences(value, live[key], child))
            elif value not in (None, {}, []):
                found.append(FieldDifference(child, value, MISSING))
        return found
    if desired == live or (isinstance(desired, int | float) and not isinstance(desired, bool) and desired == live):
        return []
    return [FieldDifference(path, desired, live)]


def compare(desired_manifest: dict, live_manifest: dict) -> list[dict]:
    want = compared_fields(desired_manifest)
    have = compared_fields(live_manifest)
    found = []
    for key, value in want.items():
        if key in have:
            found.extend(differences(value, have[key], key))
        else:
            found.extend(differences(value, {}, key) or [FieldDifference(key, value, MISSING)])
    return [difference.as_dict() for difference in found]


def _desired_by_cluster(source: GitSource):
    """(target, desired object, its namespace in that cluster) for every object and target it applies to."""
    desired = list(source.desired_objects.all())
    for target in source.targets.select_related("cluster"):
        for obj in desired:
            namespace = obj.namespace or default_namespace(obj.kind, target.namespace)
            if obj.kind == "Namespace" or (target.namespace and namespace != target.namespace):
                continue
            yield target, obj, namespace


def compute(source: GitSource) -> list[DriftRecord]:
    """The drift of every object a source and the clusters it targets hold (unsaved records)."""
    records: dict[tuple, DriftRecord] = {}
    wanted: dict[tuple[int, str], dict[tuple[str, str], DesiredObject]] = defaultdict(dict)
    for target, obj, namespace in _desired_by_cluster(source):
        wanted[(target.cluster_id, obj.kind)][(namespace, obj.name)] = obj
    scopes = defaultdict(set)  # cluster -> namespaces ("" for all) whose unmanaged objects count
    for target in source.targets.all():
        scopes[target.cluster_id].add(target.namespace)

    def record(cluster_id, kind, namespace, name, state, **extra):
        records[(cluster_id, kind, namespace, name)] = DriftRecord(
            source=source, cluster_id=cluster_id, kind=kind, namespace=namespace, name=name, state=state, **extra
        )

    for (cluster_id, kind), objects in wanted.items():
        if kind == "Secret":
            present = set(
                KnownSecret.objects.filter(cluster_id=cluster_id, name__in={n for _, n in objects}).values_list(
                    "namespace", "name"
                )
            )
            for (namespace, name), obj in objects.items():
                state = DriftRecord.State.IN_SYNC if (namespace, name) in present else DriftRecord.State.GIT_ONLY
                record(cluster_id, kind, namespace, name, state, desired=obj)
            continue
        if kind not in KINDS:
            continue  # not mirrored: nothing to compare with
        model = model_for(kind)
        live_objects = {
            (o.namespace, o.name): o
            for o in model.objects.filter(cluster_id=cluster_id, name__in={n for _, n in objects})
        }
        for (namespace, name), obj in objects.items():
            live_object = live_objects.get((namespace, name))
            if live_object is None:
                record(cluster_id, kind, namespace, name, DriftRecord.State.GIT_ONLY, desired=obj)
                continue
            fields = compare(obj.body, live_object.as_manifest())
            state = DriftRecord.State.DIFFERS if fields else DriftRecord.State.IN_SYNC
            record(cluster_id, kind, namespace, name, state, desired=obj, fields=fields, object_id=live_object.pk)
    for cluster_id, namespaces in scopes.items():
        for kind in KINDS:
            rows = model_for(kind).objects.filter(cluster_id=cluster_id)
            if "" not in namespaces:
                rows = rows.filter(namespace__in=namespaces)
            managed = wanted.get((cluster_id, kind), {})
            for pk, namespace, name in rows.values_list("pk", "namespace", "name"):
                if (namespace, name) not in managed:
                    record(cluster_id, kind, namespace, name, DriftRecord.State.CLUSTER_ONLY, object_id=pk)
    return list(records.values())


def _signature(record: DriftRecord) -> tuple:
    return (record.state, record.fields, record.desired_id, record.object_id)


def refresh(source: GitSource) -> bool:
    """Store the source's drift; True (and a live update) when anything changed."""
    fresh = {(r.cluster_id, r.kind, r.namespace, r.name): r for r in compute(source)}
    with transaction.atomic():
        stored = {(r.cluster_id, r.kind, r.namespace, r.name): r for r in source.drift.all()}
        gone = [r.pk for key, r in stored.items() if key not in fresh]
        new = [r for key, r in fresh.items() if key not in stored]
        changed = []
        for key, record in fresh.items():
            old = stored.get(key)
            if old is not None and _signature(old) != _signature(record):
                old.state, old.fields = record.state, record.fields
                old.desired_id, old.object_id = record.desired_id, record.object_id
                changed.append(old)
        if gone:
            DriftRecord.objects.filter(pk__in=gone).delete()
        DriftRecord.objects.bulk_create(new)
        for old in changed:
            old.save(update_fields=["state", "fields", "desired", "object_id", "updated_at"])
        touched = bool(gone or new or changed)
        if touched:
            objects = {(r.kind, r.object_id) for r in [*new, *changed] if r.object_id}
            live.publish_drift_changes(source.pk, sorted(objects))
    return touched
