"""The reference graph: what each object's spec points at, and whether it resolves.

A reference resolves in the referrer's cluster first, then across the fleet
(disaster-recovery targets and children often live in another cluster). No
match makes it dangling, several fleet-wide matches make it ambiguous. A
reference to an entry of its target (an instance type or image a provider
declares) also needs the entry to exist.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import F, Q

from vitiweb.bulk import insert_all
from vitiweb.models import KnownSecret, Reference

SECRET = "Secret"
_CHUNK = 1000
_RESOLUTION = ("target_id", "target_cluster_id", "state", "detail")


@dataclass(frozen=True)
class DeclaredReference:
    relation: str
    path: str
    target_kind: str
    target_name: str
    target_namespace: str
    target_entry: str = ""
    attributes: dict = field(default_factory=dict, hash=False, compare=False)


def object_reference(relation, path, target_kind, ref, default_namespace, name_key="name", **attributes):
    """A reference from a ``{name, namespace}`` block; None if it names nothing.

    The namespace defaults to the referrer's, as Kubernetes references do.
    """
    if not isinstance(ref, dict) or not isinstance(ref.get(name_key), str) or not ref[name_key]:
        return None
    namespace = ref.get("namespace") if isinstance(ref.get("namespace"), str) else ""
    return DeclaredReference(
        relation=relation,
        path=path,
        target_kind=target_kind,
        target_name=ref[name_key],
        target_namespace=namespace or default_namespace,
        attributes={key: value for key, value in attributes.items() if value not in (None, "", [], {})},
    )


def list_of_dicts(value) -> Iterator[tuple[int, dict]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield index, item


def secret_references(spec, default_namespace: str, path: str = "spec") -> Iterator[DeclaredReference]:
    """Every ``secretRef`` anywhere in the spec, and every ``{secretName, namespace}`` block the published
    API uses (``credentialsRef``, ``keyRef``, ``clientSecretRef``...): existence only, data is never read."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            child = f"{path}.{key}"
            if isinstance(value, dict) and isinstance(value.get("secretName"), str) and value["secretName"]:
                ref = object_reference("secret", child, SECRET, value, default_namespace, name_key="secretName")
                if ref:
                    yield ref
            elif key == "secretRef":
                ref = object_reference(
                    "secret",
                    child,
                    SECRET,
                    value,
                    default_namespace,
                    key=value.get("key") if isinstance(value, dict) else None,
                )
                if ref:
                    yield ref
            else:
                yield from secret_references(value, default_namespace, child)
    elif isinstance(spec, list):
        for index, item in enumerate(spec):
            yield from secret_references(item, default_namespace, f"{path}[{index}]")


def _kind_model(kind):
    from vitiweb.kinds import model_for

    return model_for(kind)


def _alias_field(kind: str) -> str:
    from vitiweb import registry

    try:
        return registry.get(kind).alias_field
    except LookupError:
        return ""


def _candidates(kind: str, addresses: set[tuple[str, str]]) -> dict[tuple[str, str], list[dict]]:
    """Objects of ``kind`` at each (namespace, name), across the fleet.

    A cluster-scoped object (no namespace) answers to its name whatever namespace the reference
    assumed: a published-shape provider is cluster-scoped where a guide-shape one was namespaced.
    A kind with an alias field (a KubernetesCluster's cluster id) also answers to that value.
    """
    found: dict[tuple[str, str], list[dict]] = defaultdict(list)
    if not addresses:
        return found
    alias = "" if kind == SECRET else _alias_field(kind)
    if kind == SECRET:
        queryset, fields = KnownSecret.objects.all(), ("id", "cluster_id", "namespace", "name")
    else:
        fields = ("id", "cluster_id", "namespace", "name", "spec", *((alias,) if alias else ()))
        queryset = _kind_model(kind).objects.all()
    namespaces_of: dict[str, set[str]] = defaultdict(set)
    for namespace, name in addresses:
        namespaces_of[name].add(namespace)
    # Filter by name in the database (indexed, one parameter list), by namespace here:
    # a long OR of (namespace, name) pairs costs more to build than to run.
    names = sorted(namespaces_of)
    for start in range(0, len(names), _CHUNK):
        chunk = names[start : start + _CHUNK]
        condition = Q(name__in=chunk) | (Q(**{f"{alias}__in": chunk}) if alias else Q(pk__in=[]))
        for row in queryset.filter(condition).values(*fields):
            keys = {row["name"], row[alias]} if alias and row.get(alias) else {row["name"]}
            for key in keys:
                wanted = namespaces_of.get(key, ())
                matching = wanted if row["namespace"] == "" else {row["namespace"]} & set(wanted)
                for namespace in matching:
                    if row not in found[(namespace, key)]:
                        found[(namespace, key)].append(row)
    return found


def resolve(references: Iterable[Reference]) -> list[Reference]:
    """Set target, state and detail on each reference (not saved)."""
    references = list(references)
    wanted: dict[str, set] = defaultdict(set)
    for reference in references:
        wanted[reference.target_kind].add((reference.target_namespace, reference.target_name))
    candidates = {kind: _candidates(kind, addresses) for kind, addresses in wanted.items()}
    by_cluster = {
        (kind, address): {row["cluster_id"]: row for row in rows}
        for kind, found in candidates.items()
        for address, rows in found.items()
    }
    offered_by_target: dict[tuple, set[str]] = {}

    for reference in references:
        address_key = (reference.target_namespace, reference.target_name)
        matches = candidates[reference.target_kind].get(address_key, [])
        local = by_cluster.get((reference.target_kind, address_key), {}).get(reference.source_cluster_id)
        chosen = [local] if local else matches
        address = f"{reference.target_kind} {reference.target_namespace}/{reference.target_name}"
        reference.target_id = reference.target_cluster_id = None
        if not chosen:
            reference.state, reference.detail = Reference.State.DANGLING, f"{address} does not exist in the fleet"
            continue
        if len(chosen) > 1:
            reference.state = Reference.State.AMBIGUOUS
            reference.detail = f"{address} exists in {len(chosen)} clusters and none of them is the referrer's"
            continue
        target = chosen[0]
        reference.target_id, reference.target_cluster_id = target["id"], target["cluster_id"]
        reference.state, reference.detail = Reference.State.RESOLVED, ""
        if reference.target_entry:
            entry_kind = reference.attributes.get("entry")
            key = (reference.target_kind, target["id"], entry_kind)
            if key not in offered_by_target:
                offered_by_target[key] = _kind_model(reference.target_kind).declared_entries(
                    target["spec"] or {}, entry_kind
                )
            offered = offered_by_target[key]
            if reference.target_entry not in offered:
                reference.state = Reference.State.DANGLING
                reference.detail = f"{entry_kind} {reference.target_entry} is not declared by {address}" + (
                    f" (it declares {', '.join(sorted(offered))})" if offered else ""
                )
    return references


def rebuild_outgoing(model, objects, fresh: bool = False) -> None:
    """Replace the references declared by ``objects`` (rows of ``model``) and resolve them.

    ``fresh``: the objects were just inserted, so they have no references yet to delete. The delete is
    not free even then: on a table the planner has no statistics for yet (a first sync into a new
    database), it scanned every reference of the kind for each chunk of ids.
    """
    objects = list(objects)
    if not objects:
        return
    if not fresh:
        delete_outgoing(model.KIND, [obj.pk for obj in objects])
    rows = []
    for obj in objects:
        for declared in obj.references():
            rows.append(
                Reference(
                    source_kind=model.KIND,
                    source_id=obj.pk,
                    source_cluster_id=obj.cluster_id,
                    relation=declared.relation,
                    path=declared.path,
                    target_kind=declared.target_kind,
                    target_namespace=declared.target_namespace,
                    target_name=declared.target_name,
                    target_entry=declared.target_entry,
                    attributes=declared.attributes,
                )
            )
    insert_all(Reference, resolve(rows))


def reresolve_incoming(
    kind: str,
    addresses: Iterable[tuple[str, str]],
    cluster_id: int | None = None,
    changed_ids: dict[tuple[str, str], int] | None = None,
) -> None:
    """Re-resolve references pointing at these (namespace, name) addresses of ``kind``.

    Called whenever such objects appear, change or disappear, so a dangling
    reference resolves when its target arrives (and the reverse). With the
    ``cluster_id`` where that happened, references that stay as they are are
    not even read: one whose target is in its own cluster keeps it (the
    referrer's cluster wins) unless it is from this cluster or points at one
    of the ``changed_ids`` (objects whose spec changed or that are gone).
    Only references whose resolution changed are written, one UPDATE per outcome.
    """
    addresses = set(addresses)
    changed_ids = changed_ids or {}
    names = sorted({name for _, name in addresses})
    pointing = []
    for start in range(0, len(names), _CHUNK):
        chunk = names[start : start + _CHUNK]
        chunk_names = set(chunk)
        queryset = Reference.objects.filter(target_kind=kind, target_name__in=chunk)
        if cluster_id is not None:
            # Found in the referrer's own cluster (resolved, or with an undeclared entry): local wins.
            stays = Q(target_cluster=F("source_cluster"))
            ids = [pk for (_, name), pk in changed_ids.items() if name in chunk_names]
            if ids:
                stays &= ~Q(target_id__in=ids)
            queryset = queryset.filter(Q(source_cluster_id=cluster_id) | ~stays)
        pointing.extend(
            reference
            for reference in queryset.only(
                "id",
                "source_cluster_id",
                "target_kind",
                "target_namespace",
                "target_name",
                "target_entry",
                "attributes",
                *_RESOLUTION,
            )
            if (reference.target_namespace, reference.target_name) in addresses
            or ("", reference.target_name) in addresses
        )
    before = {reference.pk: tuple(getattr(reference, f) for f in _RESOLUTION) for reference in pointing}
    outcomes: dict[tuple, list[int]] = defaultdict(list)
    for reference in resolve(pointing):
        after = tuple(getattr(reference, f) for f in _RESOLUTION)
        if after != before[reference.pk]:
            outcomes[after].append(reference.pk)
    for outcome, pks in outcomes.items():
        for start in range(0, len(pks), _CHUNK):
            Reference.objects.filter(pk__in=pks[start : start + _CHUNK]).update(
                **dict(zip(_RESOLUTION, outcome, strict=True))
            )


def delete_outgoing(kind: str, ids: Iterable[int]) -> None:
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        # _raw_delete: no signals or cascades hang off references, so skip the collector's per-row work.
        queryset = Reference.objects.filter(source_kind=kind, source_id__in=ids[start : start + _CHUNK])
        queryset._raw_delete(queryset.db)
