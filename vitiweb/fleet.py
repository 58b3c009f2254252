"""The fleet graph: what the topology pages and the integrity checks both read
(a module of its own, so that neither package imports the other for it): the
fleet's objects and the reference graph, loaded once per request with only
the columns they use.

Everything is read through ``Fleet``: each part is one query, made the first
time it is asked for, so a view pays only for what it draws. Machines are
never loaded whole; they are counted per provider in the database, and
listed only for the providers one picture shows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import NamedTuple

from django.db.models import Count, Q
from django.urls import NoReverseMatch, reverse

from vitiweb import attribution, registry
from vitiweb.models import Cluster, Reference

VITISTACK, MACHINE_PROVIDER, KUBERNETES_PROVIDER, MACHINE, SECRET = (
    "Vitistack",
    "MachineProvider",
    "KubernetesProvider",
    "Machine",
    "Secret",
)
STACK_RELATIONS = (
    "machine-provider",
    "kubernetes-provider",
    "child",
    "parent",
    "replication-target",
    "primary",
    "edge-location",
    "management",
    # The published shape: what the VitiStack operator reports in a Vitistack's status.
    "reported-machine-provider",
    "reported-kubernetes-provider",
    "reported-cluster",
)
PROVIDER_RELATIONS = ("failover-target", "shared-with", "node-group-provider")

#: Status read from the object, reduced to the few states a picture colours.
READY, PROGRESSING, FAILED, UNKNOWN, MISSING = "ready", "progressing", "failed", "unknown", "missing"
_FAILED_PHASES = {"failed", "error", "degraded", "unhealthy", "terminated", "unavailable"}
_READY_PHASES = {"ready", "running", "active", "available", "healthy", "provisioned", "succeeded"}


def state_of(phase: str, ready: bool | None) -> str:
    """One of ready/progressing/failed/unknown, from what the object's status says."""
    lowered = (phase or "").lower()
    if ready is False or lowered in _FAILED_PHASES:
        return FAILED
    if ready is True or lowered in _READY_PHASES:
        return READY
    if lowered:
        return PROGRESSING
    return UNKNOWN


_PLACEHOLDER = 987654321


@cache
def url_pattern(name: str) -> str:
    """``reverse(name, args=[pk])`` as a format string: reversing thousands of URLs one by one is slow."""
    try:
        return reverse(name, args=[_PLACEHOLDER]).replace(str(_PLACEHOLDER), "{}")
    except NoReverseMatch:
        return ""


def detail_url(kind: str, pk: int | None) -> str:
    """The object's page (its kind's ``detail`` URL in the registry); empty for a kind without pages
    or a missing object."""
    if pk is None:
        return ""
    try:
        name = registry.get(kind).url_name("detail")
    except LookupError:
        return ""
    pattern = url_pattern(name)
    return pattern.format(int(pk)) if pattern else ""


@dataclass
class Obj:
    """One mirrored object, as much of it as pictures and checks need."""

    kind: str
    id: int
    cluster_id: int
    namespace: str
    name: str
    phase: str = ""
    ready: bool | None = None
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def address(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def state(self) -> str:
        return state_of(self.phase, self.ready)

    def __getattr__(self, item):
        try:
            return self.__dict__["extra"][item]
        except KeyError:
            raise AttributeError(item) from None


class Ref(NamedTuple):
    """One row of the reference graph (a tuple: thousands are read per picture)."""

    id: int
    source_kind: str
    source_id: int
    source_cluster_id: int
    relation: str
    path: str
    target_kind: str
    target_namespace: str
    target_name: str
    target_entry: str
    target_id: int | None
    target_cluster_id: int | None
    state: str
    detail: str
    attributes: dict

    @property
    def source_key(self) -> str:
        return f"{self.source_kind}:{self.source_id}"

    @property
    def target_key(self) -> str | None:
        return f"{self.target_kind}:{self.target_id}" if self.target_id is not None else None

    @property
    def target_address(self) -> str:
        return f"{self.target_namespace}/{self.target_name}" if self.target_namespace else self.target_name

    @property
    def resolved(self) -> bool:
        return self.state == "resolved"


_REF_FIELDS = (
    "id",
    "source_kind",
    "source_id",
    "source_cluster_id",
    "relation",
    "path",
    "target_kind",
    "target_namespace",
    "target_name",
    "target_entry",
    "target_id",
    "target_cluster_id",
    "state",
    "detail",
    "attributes",
)


def _machine_provider_refs():
    """The resolved references of machines to their machine provider. The target kind is always that, and
    naming it lets the (target kind, target id) index find one provider's machines among 500,000."""
    return Reference.objects.filter(
        source_kind=MACHINE,
        relation="machine-provider",
        state=Reference.State.RESOLVED,
        target_kind=MACHINE_PROVIDER,
    )


def load_refs(queryset) -> list[Ref]:
    return [Ref._make(row) for row in queryset.values_list(*_REF_FIELDS)]


class Fleet:
    """Lazily loaded view of the fleet for one request (or one run of the checks)."""

    def __init__(self):
        self._memo: dict = {}

    def memo(self, key, compute):
        """A value derived from the fleet, computed once per Fleet."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @cached_property
    def clusters(self) -> dict[int, str]:
        return dict(Cluster.objects.values_list("id", "name"))

    @cached_property
    def stacks(self) -> dict[int, Obj]:
        from stacks.models import Vitistack

        rows = Vitistack.objects.values_list(
            "id",
            "cluster_id",
            "namespace",
            "name",
            "phase",
            "ready",
            "role",
            "region",
            "max_machines",
            "max_clusters",
            "max_providers",
            "spec",
        )
        return {
            row[0]: Obj(
                VITISTACK,
                *row[:6],
                extra={
                    "role": row[6],
                    "region": row[7],
                    "max_machines": row[8],
                    "max_clusters": row[9],
                    "max_providers": row[10],
                    "spec": row[11] if isinstance(row[11], dict) else {},
                },
            )
            for row in rows
        }

    @cached_property
    def machine_providers(self) -> dict[int, Obj]:
        from providers.models import MachineProvider

        rows = MachineProvider.objects.values_list(
            "id", "cluster_id", "namespace", "name", "phase", "ready", "provider_type", "region"
        )
        return {
            row[0]: Obj(MACHINE_PROVIDER, *row[:6], extra={"provider_type": row[6], "region": row[7]}) for row in rows
        }

    @cached_property
    def machine_provider_specs(self) -> dict[int, dict]:
        from providers.models import MachineProvider

        return {
            pk: spec if isinstance(spec, dict) else {} for pk, spec in MachineProvider.objects.values_list("id", "spec")
        }

    @cached_property
    def kubernetes_providers(self) -> dict[int, Obj]:
        from providers.models import KubernetesProvider

        rows = KubernetesProvider.objects.values_list(
            "id", "cluster_id", "namespace", "name", "phase", "ready", "provider_type", "version", "region"
        )
        return {
            row[0]: Obj(
                KUBERNETES_PROVIDER, *row[:6], extra={"provider_type": row[6], "version": row[7], "region": row[8]}
            )
            for row in rows
        }

    @cached_property
    def node_groups(self) -> dict[int, list[dict]]:
        """Kubernetes provider id -> its node groups."""
        from providers.models import NodeGroup

        found: dict[int, list[dict]] = defaultdict(list)
        for row in NodeGroup.objects.values(
            "provider_id",
            "name",
            "machine_provider_namespace",
            "machine_provider_name",
            "instance_type",
            "capacity_type",
            "min_size",
            "max_size",
            "desired_size",
        ):
            found[row["provider_id"]].append(row)
        return found

    def objects_of(self, kind: str) -> dict[int, Obj]:
        return {
            VITISTACK: self.stacks,
            MACHINE_PROVIDER: self.machine_providers,
            KUBERNETES_PROVIDER: self.kubernetes_providers,
        }.get(kind, {})

    def get(self, kind: str, pk: int | None) -> Obj | None:
        if pk is None:
            return None
        if kind == MACHINE:
            return self.machines_by_id([pk]).get(pk)
        if kind in (VITISTACK, MACHINE_PROVIDER, KUBERNETES_PROVIDER):
            return self.objects_of(kind).get(pk)
        return self.other(kind, pk)

    def other(self, kind: str, pk: int) -> Obj | None:
        """One object of any other declared kind (the published API's), read when a finding names it."""
        from vitiweb import registry

        try:
            model = registry.get(kind).get_model()
        except LookupError:
            return None
        row = model.objects.filter(pk=pk).values_list("id", "cluster_id", "namespace", "name", "phase", "ready").first()
        return Obj(kind, *row) if row else None

    # -- the reference graph ------------------------------------------------------------------------

    @cached_property
    def stack_refs(self) -> list[Ref]:
        return load_refs(Reference.objects.filter(source_kind=VITISTACK, relation__in=STACK_RELATIONS).order_by("id"))

    @cached_property
    def provider_refs(self) -> list[Ref]:
        return load_refs(Reference.objects.filter(relation__in=PROVIDER_RELATIONS).order_by("id"))

    def refs(self, *relations: str) -> list[Ref]:
        pool = self.stack_refs if relations and set(relations) <= set(STACK_RELATIONS) else None
        if pool is None:
            pool = self.stack_refs + self.provider_refs
        return [ref for ref in pool if not relations or ref.relation in relations]

    @cached_property
    def stack_provider_ids(self) -> dict[int, list[tuple[str, int, object]]]:
        """Stack id -> [(kind, provider id, priority)] of the providers it lists that resolve."""
        found: dict[int, list] = defaultdict(list)
        for ref in self.refs("machine-provider", "kubernetes-provider"):
            if ref.resolved:
                found[ref.source_id].append((ref.target_kind, ref.target_id, ref.attributes.get("priority")))
        return found

    @cached_property
    def machines_per_provider(self) -> dict[int, int]:
        """Machine provider id -> how many machines run on it (through their resolved reference)."""
        rows = _machine_provider_refs().values("target_id").annotate(n=Count("id")).values_list("target_id", "n")
        return dict(rows)

    def machine_count(self, provider_id: int) -> int:
        """How many machines run on one machine provider: the fleet's count when it was read already, else
        counted for this provider alone through the (target kind, target id) index."""
        if "machines_per_provider" in self.__dict__:
            return self.machines_per_provider.get(provider_id, 0)
        return self.memo(
            ("machine_count", provider_id), lambda: _machine_provider_refs().filter(target_id=provider_id).count()
        )

    def machines_on(self, provider_ids) -> dict[int, list[Obj]]:
        """Machine provider id -> its machines (for the few providers one picture shows)."""
        provider_ids = list(provider_ids)
        found: dict[int, list[Obj]] = defaultdict(list)
        if not provider_ids:
            return found
        pairs = list(_machine_provider_refs().filter(target_id__in=provider_ids).values_list("source_id", "target_id"))
        machines = self.machines_by_id([source for source, _ in pairs])
        for source, target in pairs:
            if source in machines:
                found[target].append(machines[source])
        return found

    def machines_by_id(self, ids) -> dict[int, Obj]:
        from machines.models import Machine

        ids = list(ids)
        found = {}
        for start in range(0, len(ids), 2000):
            for row in Machine.objects.filter(id__in=ids[start : start + 2000]).values_list(
                "id", "cluster_id", "namespace", "name", "phase", "ready", "instance_type"
            ):
                found[row[0]] = Obj(MACHINE, *row[:6], extra={"instance_type": row[6]})
        return found

    # -- derived quantities ---------------------------------------------------------------------------

    def stack_usage(self, stack_id: int) -> dict:
        return self.memo(("usage", stack_id), lambda: self._stack_usage(stack_id))

    @cached_property
    def attribution(self) -> dict[str, attribution.Bucket]:
        """Every Machine, provider and node group counted for exactly one Vitistack, shared or unattributed:
        the overview's figures and the quota checks count by the same rule (``vitiweb.attribution``)."""
        return attribution.Fleet().buckets()

    def _stack_usage(self, stack_id: int) -> dict:
        """What a stack uses of its quotas, as the overview counts it (``attribution``).

        A Machine or provider counts for the stack only when no other stack claims it too: what several
        claim is in the shared bucket, counted for none of them (never twice). ``node_group_nodes`` are the
        nodes the stack's node groups want beyond the Machines already found as their nodes.
        """
        return _usage(self.attribution.get(str(stack_id)) or attribution.Bucket(str(stack_id)))

    def shown_stack_usage(self, stack_id: int) -> dict:
        """``stack_usage`` as the deriving process last counted it, stored with the overview: what pages draw.

        Counting the fleet is a derivation (``vitiweb.derive``); a page reads its result and never pays for it.
        """
        return _usage(self.stored_attribution.get(str(stack_id)) or attribution.Bucket(str(stack_id)))

    @cached_property
    def stored_attribution(self) -> dict[str, attribution.Bucket]:
        from vitiweb import overview

        _, derived = overview.stored_overview()
        return {row.bucket.key: row.bucket for row in derived["usages"] + derived["usage_others"]}

    def stacks_listing(self) -> dict[str, list[int]]:
        """Provider key -> the stacks that list it."""
        return self.memo("stacks_listing", self._stacks_listing)

    def _stacks_listing(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = defaultdict(list)
        for stack_id, entries in self.stack_provider_ids.items():
            for kind, pk, _ in entries:
                found[f"{kind}:{pk}"].append(stack_id)
        return found

    def find_by_address(self, kind: str, namespace: str, name: str) -> list[Obj]:
        return [obj for obj in self.objects_of(kind).values() if obj.name == name and obj.namespace == namespace]

    def find_by_name(self, kind: str, name: str) -> list[Obj]:
        return [obj for obj in self.objects_of(kind).values() if obj.name == name]

    @cached_property
    def secrets_by_cluster(self) -> dict[int, set[tuple[str, str]]]:
        from vitiweb.models import KnownSecret

        found: dict[int, set] = defaultdict(set)
        for cluster_id, namespace, name in KnownSecret.objects.values_list("cluster_id", "namespace", "name"):
            found[cluster_id].add((namespace, name))
        return found


def search_objects(query: str, limit: int = 20) -> list[Obj]:
    """Stacks and providers whose name contains ``query`` (for the pickers)."""
    from providers.models import KubernetesProvider, MachineProvider
    from stacks.models import Vitistack

    found = []
    for model in (Vitistack, MachineProvider, KubernetesProvider):
        rows = (
            model.objects.filter(Q(name__icontains=query))
            .order_by("name")[:limit]
            .values_list("id", "cluster_id", "namespace", "name", "phase", "ready")
        )
        found.extend(Obj(model.KIND, *row) for row in rows)
    return found[:limit]


def _usage(bucket: attribution.Bucket) -> dict:
    return {
        "machines": bucket.machines,
        "node_group_nodes": bucket.nodes_wanted,
        "clusters": bucket.kubernetes_providers,
        "providers": bucket.providers,
    }
