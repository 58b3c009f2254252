"""Which Vitistack a Machine, a provider and a node group count for, and what they cost.

Every object is counted for exactly one **bucket**: one Vitistack, "shared"
(several Vitistacks claim it), or "unattributed" (none does). So the parts
of every figure (machines, providers, cost) add up to the fleet's total, and
nothing is counted twice.

Each API shape has its own rule (``RULES``), a class below that says which
Vitistacks claim each provider and each Machine, and states itself on the
page (``text``):

- The published API (``PublishedShape``): a Machine belongs to its
  KubernetesCluster (label ``vitistack.io/clusterid`` = the cluster's
  ``spec.data.clusterId``, in the Machine's cluster and namespace), and a
  KubernetesCluster to the Vitistacks whose ``status.clusters[]`` list it; a
  provider to the Vitistacks whose ``status.machineProviders[]`` /
  ``status.kubernetesProviders[]`` (or spec) list it.
- The guide's (``GuideShape``): a provider belongs to the Vitistacks whose
  ``spec.machineProviders`` / ``spec.kubernetesProviders`` list it; a Machine
  to its ``machineProvider`` (the provider of that name in the Machine's
  cluster, in the namespace it names or its own).

A node group belongs with its Kubernetes provider. The rules are tried in
order and the first that places a Machine decides (one cluster serves one
shape); provider claims of all rules are merged.

Cost is an hourly estimate from the providers' ``instanceTypes[].pricing``:
a Machine at its instance type's on-demand price; a node group at its
capacity type's price (``SPOT``: the spot price, otherwise on demand) times
its desired size, or the number of its nodes found when more. The guide
defines no link from a Machine to a node group (its node groups' nodes are
made by the Kubernetes provider, and Machines are "individual machines, if
needed"), so Vitiweb reads two labels as that link (``NODE_GROUP_LABELS``):
a Machine carrying both is a node of that group, and its cost is in the
group's, not added again. No price known is "unknown", never 0.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from django.db.models import Count, Q, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from clusters.models import KubernetesCluster
from machines.models import CLUSTER_ID_LABEL, Machine
from providers.models import KubernetesProvider, MachineProvider, NodeGroup, hourly_price
from stacks.models import Vitistack
from vitiweb.models import Reference

SHARED = "shared"
UNATTRIBUTED = "none"

#: The labels that make a Machine a node of a node group (the guide defines no link; Vitiweb reads these).
KUBERNETES_PROVIDER_LABEL = "vitistack.io/kubernetes-provider"
NODE_GROUP_LABEL = "vitistack.io/node-group"
NODE_GROUP_LABELS = (KUBERNETES_PROVIDER_LABEL, NODE_GROUP_LABEL)

BUCKET_TEXT = (
    "Where several Vitistacks claim the same provider or Kubernetes cluster, it and everything on it count once, "
    "in the “shared” row; where none does, in “unattributed”."
)
COST_TEXT = (
    "Hourly estimate from the providers' instanceTypes[].pricing. Machines at the on-demand price. "
    "Node groups at the price of their capacityType (SPOT: the spot price; otherwise on demand) × desiredSize, "
    "or × the Machines found as their nodes when those are more. The guide defines no link from a Machine to a "
    f"node group, so Vitiweb reads one: a Machine labelled {KUBERNETES_PROVIDER_LABEL} and {NODE_GROUP_LABEL} "
    "(naming a node group of a Kubernetes provider in its cluster and namespace) is a node of that group, its cost "
    "is in the group's and not added again; any other Machine is priced as a machine. Where a provider lists no "
    "price for the instance type (the published API lists none), the cost is unknown, never counted as zero."
)


# -- the rule of each shape ---------------------------------------------------------------------------------


class MachineRow(NamedTuple):
    """One group of Machines alike in everything a rule reads (the figures count groups, not single rows)."""

    cluster_id: int
    namespace: str
    provider_name: str
    provider_namespace: str
    instance_type: str
    labels: dict  # the values of the labels the rules declare (``Shape.labels``), "" when absent


NOTHING = Q(pk__in=[])


def _stack_claims(relations: dict[str, str]) -> dict[tuple[str, int], set[int]]:
    """{(target kind, target pk): {Vitistack pk, ...}} from the Vitistacks' resolved references of ``relations``."""
    claims: dict[tuple[str, int], set[int]] = defaultdict(set)
    refs = Reference.objects.filter(
        source_kind=Vitistack.KIND, state=Reference.State.RESOLVED, relation__in=list(relations)
    ).values_list("relation", "source_id", "target_id")
    for relation, stack_pk, target_pk in refs:
        claims[(relations[relation], target_pk)].add(stack_pk)
    return claims


class PublishedShape:
    """The published API: a Machine belongs where its KubernetesCluster does, a KubernetesCluster to the
    Vitistacks whose ``status.clusters[]`` list it; providers to the Vitistacks whose status lists name them."""

    name = "Published API"
    text = (
        "a Machine counts for the Vitistacks whose status.clusters[] lists its KubernetesCluster (the one in the "
        f"Machine's cluster and namespace whose spec.data.clusterId equals the Machine's label {CLUSTER_ID_LABEL}); "
        "a provider for the Vitistacks whose status.machineProviders[] or status.kubernetesProviders[] (or spec) "
        "list it; a node group with its Kubernetes provider. A Machine without that label, or naming a cluster "
        "that is not there, is unattributed."
    )
    #: Machine labels this rule reads.
    labels: tuple[str, ...] = (CLUSTER_ID_LABEL,)

    def provider_claims(self) -> dict[tuple[str, int], set[int]]:
        return _stack_claims(
            {
                "reported-machine-provider": MachineProvider.KIND,
                "reported-kubernetes-provider": KubernetesProvider.KIND,
            }
        )

    def _clusters(self, fleet: Fleet) -> dict[tuple[int, str, str], set[int]]:
        """{(cluster, namespace, clusterId): the Vitistacks claiming the KubernetesCluster(s) of that id}."""

        def compute():
            claims = _stack_claims({"reported-cluster": KubernetesCluster.KIND})
            found: dict[tuple[int, str, str], set[int]] = defaultdict(set)
            rows = KubernetesCluster.objects.exclude(cluster_identifier="").values_list(
                "pk", "cluster_id", "namespace", "cluster_identifier"
            )
            for pk, cluster_id, namespace, cluster_identifier in rows:
                found[(cluster_id, namespace, cluster_identifier)] |= claims.get((KubernetesCluster.KIND, pk), set())
            return dict(found)

        return fleet.memo("published-clusters", compute)

    def other_claims(self, fleet: Fleet):
        """The sets of Vitistacks claiming each KubernetesCluster (those claimed by several make "shared")."""
        return self._clusters(fleet).values()

    def machine_claims(self, fleet: Fleet, row: MachineRow) -> set[int] | None:
        """The Vitistacks claiming these Machines; None when this rule does not place them (no cluster found)."""
        cluster_id = row.labels.get(CLUSTER_ID_LABEL, "")
        return self._clusters(fleet).get((row.cluster_id, row.namespace, cluster_id)) if cluster_id else None

    def machines_q(self, fleet: Fleet, claimed) -> Q:
        """The Machines this rule places with claims for which ``claimed(stacks)`` holds (a list filter)."""
        ids: dict[tuple[int, str], list[str]] = defaultdict(list)
        for (cluster_id, namespace, cluster_identifier), stacks in self._clusters(fleet).items():
            if claimed(stacks):
                ids[(cluster_id, namespace)].append(cluster_identifier)
        condition = NOTHING
        alias = label_alias(CLUSTER_ID_LABEL)
        for (cluster_id, namespace), values in ids.items():
            condition |= Q(cluster_id=cluster_id, namespace=namespace, **{f"{alias}__in": values})
        return condition


class GuideShape:
    """The guide's shape: a Vitistack claims the providers its spec lists (resolved references); a Machine
    belongs where its ``machineProvider`` does."""

    name = "Guide's shape"
    text = (
        "a Machine counts for the Vitistacks whose spec.machineProviders lists its machineProvider; a provider for "
        "the Vitistacks whose spec.machineProviders or spec.kubernetesProviders list it; a node group with its "
        "Kubernetes provider."
    )
    labels: tuple[str, ...] = ()

    def provider_claims(self) -> dict[tuple[str, int], set[int]]:
        return _stack_claims({"machine-provider": MachineProvider.KIND, "kubernetes-provider": KubernetesProvider.KIND})

    def other_claims(self, fleet: Fleet):
        return ()

    def machine_claims(self, fleet: Fleet, row: MachineRow) -> set[int] | None:
        """The Vitistacks claiming these Machines; None when this rule does not place them (no provider found)."""
        provider_pk = fleet.machine_provider(row)
        return None if provider_pk is None else fleet.claims.get((MachineProvider.KIND, provider_pk), set())

    def machines_q(self, fleet: Fleet, claimed) -> Q:
        """The Machines this rule places with claims for which ``claimed(stacks)`` holds (a list filter)."""
        return fleet.machines_on(
            pk for pk in fleet.mp_keys if claimed(fleet.claims.get((MachineProvider.KIND, pk), set()))
        )


#: One rule per API shape, tried in order: the first that places a Machine decides (one cluster serves one
#: shape). Their provider claims are merged.
RULES = [PublishedShape(), GuideShape()]


def rule_texts() -> list[tuple[str, str]]:
    """(shape, rule) for the page: each shape's rule as it is applied."""
    return [(rule.name, rule.text) for rule in RULES]


def provider_claims() -> dict[tuple[str, int], set[int]]:
    merged: dict[tuple[str, int], set[int]] = defaultdict(set)
    for rule in RULES:
        for key, stacks in rule.provider_claims().items():
            merged[key] |= stacks
    return merged


def bucket_of(stacks: set[int]) -> str:
    """The one bucket a set of claiming Vitistacks makes."""
    if not stacks:
        return UNATTRIBUTED
    return str(next(iter(stacks))) if len(stacks) == 1 else SHARED


# -- figures ------------------------------------------------------------------------------------------------


@dataclass
class Bucket:
    key: str  # a Vitistack pk, SHARED or UNATTRIBUTED
    stack: Vitistack | None = None
    sharing: set = field(default_factory=set)  # for SHARED: the Vitistacks claiming its providers
    machines: int = 0
    machine_providers: int = 0
    kubernetes_providers: int = 0
    priced_machines: int = 0
    unpriced_machines: int = 0
    node_machines: int = 0  # nodes of node groups: their cost is in the group's
    machine_cost: float = 0.0
    node_groups: int = 0
    unpriced_node_groups: int = 0
    nodegroup_cost: float = 0.0
    nodes_wanted: int = 0  # nodes the node groups want beyond the Machines found as their nodes
    stale_clusters: set = field(default_factory=set)  # clusters not current whose objects are counted here

    @property
    def label(self) -> str:
        if self.stack is not None:
            return f"{self.stack.cluster.name}/{self.stack.name}"
        return "Shared" if self.key == SHARED else "Unattributed"

    @property
    def providers(self) -> int:
        return self.machine_providers + self.kubernetes_providers

    @property
    def cost(self) -> float:
        return self.machine_cost + self.nodegroup_cost

    @property
    def unknown(self) -> int:
        """How many machines and node groups have no price (their cost is unknown, not counted as 0)."""
        return self.unpriced_machines + self.unpriced_node_groups

    def add(self, other: Bucket) -> None:
        for name in (
            "machines",
            "machine_providers",
            "kubernetes_providers",
            "priced_machines",
            "unpriced_machines",
            "node_machines",
            "machine_cost",
            "node_groups",
            "unpriced_node_groups",
            "nodegroup_cost",
            "nodes_wanted",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.stale_clusters |= other.stale_clusters


@dataclass
class MachineItem:
    """Machines alike in everything their count and cost depend on."""

    bucket: str
    cluster_id: int
    namespace: str
    provider_pk: int | None  # the MachineProvider found (None: not found, or the published API's)
    provider_name: str
    instance_type: str
    node_group: int | None  # the node group they are nodes of: their cost is in the group's
    price: float | None = None  # on demand, per machine and hour; None: unknown (or a node)
    count: int = 0

    part = "machines"

    @property
    def cost(self) -> float | None:
        return None if self.price is None else self.price * self.count

    @property
    def sort_name(self) -> tuple:
        return (self.namespace, self.provider_name, self.instance_type)


@dataclass
class GroupItem:
    """One node group: priced per node at its capacity type's price, × desired size or the nodes found."""

    bucket: str
    pk: int
    provider_id: int
    cluster_id: int
    name: str
    instance_type: str
    capacity_type: str
    desired: int
    found: int
    price: float | None

    part = "node-groups"
    count = 1

    @property
    def size(self) -> int:
        return max(self.desired, self.found)

    @property
    def sort_name(self) -> tuple:
        return ("", self.name, self.instance_type)

    @property
    def cost(self) -> float | None:
        return None if self.price is None else self.price * self.size


def _price_table(providers) -> dict[int, dict[str, dict[str, float]]]:
    """{provider pk: {instance type: {onDemand, spot}}} (prices that can be read only)."""
    table = {}
    for provider in providers:
        entries = {}
        for entry in MachineProvider.instance_types(provider.spec if isinstance(provider.spec, dict) else {}):
            pricing = entry.get("pricing") if isinstance(entry.get("pricing"), dict) else {}
            prices = {k: hourly_price(v) for k, v in pricing.items()}
            entries[entry.get("name")] = {k: v for k, v in prices.items() if v is not None}
        table[provider.pk] = entries
    return table


def label_alias(key: str) -> str:
    """The alias a label's value is read through on querysets: ``vitistack.io/node-group`` -> ``_l_vitistack_io_node_group``."""
    return "_l_" + re.sub(r"\W", "_", key)


def _label(key: str):
    # Never NULL: a NOT over a NULL comparison would drop rows from ``exclude``.
    return Coalesce(Cast(KeyTextTransform(key, "labels"), TextField()), Value(""), output_field=TextField())


class Fleet:
    """The attribution of the whole fleet, read with a fixed number of queries.

    Holds what both the figures and the list filters need, so that a number and
    the rows it links to come from the same rule.
    """

    def __init__(self, stale_cluster_ids: set[int] = frozenset()):
        self.stale_cluster_ids = set(stale_cluster_ids)
        self._memo: dict = {}
        self.claims = provider_claims()
        self.mp_keys = {
            pk: (cluster_id, namespace, name)
            for pk, cluster_id, namespace, name in MachineProvider.objects.values_list(
                "pk", "cluster_id", "namespace", "name"
            )
        }
        self.mp_by_key = {key: pk for pk, key in self.mp_keys.items()}
        self.kp_keys = {
            pk: (cluster_id, namespace, name)
            for pk, cluster_id, namespace, name in KubernetesProvider.objects.values_list(
                "pk", "cluster_id", "namespace", "name"
            )
        }
        self.groups = list(
            NodeGroup.objects.values_list(
                "pk",
                "provider_id",
                "name",
                "machine_provider_namespace",
                "machine_provider_name",
                "instance_type",
                "capacity_type",
                "desired_size",
            )
        )

    def memo(self, key, compute):
        """What a rule reads of the fleet, read once per Fleet (the rules themselves hold no state)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def bucket(self, kind: str, provider_pk: int | None) -> str:
        return UNATTRIBUTED if provider_pk is None else bucket_of(self.claims.get((kind, provider_pk), set()))

    def machine_provider(self, row: MachineRow) -> int | None:
        """The MachineProvider a Machine names, in its own cluster (namespace: the one named, or the Machine's)."""
        return self.mp_by_key.get((row.cluster_id, row.provider_namespace or row.namespace, row.provider_name))

    def machine_bucket(self, row: MachineRow) -> str:
        for rule in RULES:
            claims = rule.machine_claims(self, row)
            if claims is not None:
                return bucket_of(claims)
        return UNATTRIBUTED

    @cached_property
    def groups_by_name(self) -> dict[tuple, int]:
        """{(cluster, namespace, Kubernetes provider name, node group name): node group pk}."""
        index = {}
        for pk, provider_id, name, *_ in self.groups:
            index.setdefault((*self.kp_keys[provider_id], name), pk)
        return index

    def node_group_of(self, cluster_id, namespace, kp_name, group_name) -> int | None:
        """The node group a Machine's labels name (its Kubernetes provider in the Machine's cluster and namespace)."""
        return self.groups_by_name.get((cluster_id, namespace, kp_name, group_name))

    # -- the figures --------------------------------------------------------------------------------------

    def buckets(self) -> dict[str, Bucket]:
        """{bucket key: Bucket}: every Machine, provider and node group counted exactly once."""
        buckets: dict[str, Bucket] = {}

        def get(key: str) -> Bucket:
            if key not in buckets:
                buckets[key] = Bucket(key)
            return buckets[key]

        stale = self.stale_cluster_ids
        for kind, keys, attribute in (
            (MachineProvider.KIND, self.mp_keys, "machine_providers"),
            (KubernetesProvider.KIND, self.kp_keys, "kubernetes_providers"),
        ):
            for pk, (cluster_id, _, _) in keys.items():
                bucket = get(self.bucket(kind, pk))
                setattr(bucket, attribute, getattr(bucket, attribute) + 1)
                if cluster_id in stale:
                    bucket.stale_clusters.add(cluster_id)

        for item in self.machine_items:
            bucket = get(item.bucket)
            bucket.machines += item.count
            if item.cluster_id in stale:
                bucket.stale_clusters.add(item.cluster_id)
            if item.node_group is not None:
                bucket.node_machines += item.count
            elif item.price is None:
                bucket.unpriced_machines += item.count
            else:
                bucket.priced_machines += item.count
                bucket.machine_cost += item.cost

        for item in self.group_items:
            bucket = get(item.bucket)
            bucket.node_groups += 1
            bucket.nodes_wanted += max(item.desired - item.found, 0)
            if item.price is None:
                bucket.unpriced_node_groups += 1
            else:
                bucket.nodegroup_cost += item.cost
            if item.cluster_id in stale:
                bucket.stale_clusters.add(item.cluster_id)

        stacks = Vitistack.objects.select_related("cluster").only(
            "name", "namespace", "cluster__name", "max_machines", "max_clusters", "max_providers"
        )
        for stack in stacks:
            get(str(stack.pk)).stack = stack
        if SHARED in buckets:
            claims = [*self.claims.values(), *(stacks_ for rule in RULES for stacks_ in rule.other_claims(self))]
            buckets[SHARED].sharing = {pk for stacks_ in claims if len(stacks_) > 1 for pk in stacks_}
        return buckets

    # -- the items the figures add up (also listed one by one on the cost page) ---------------------------------

    @cached_property
    def machine_items(self) -> list[MachineItem]:
        """Every Machine, in groups alike in bucket, place, provider and instance type, with its price."""
        items: dict[tuple, MachineItem] = {}
        for row, n in self.machine_rows():
            provider_pk = self.machine_provider(row)
            group_pk = self.node_group_of(
                row.cluster_id, row.namespace, row.labels[KUBERNETES_PROVIDER_LABEL], row.labels[NODE_GROUP_LABEL]
            )
            price = None
            if group_pk is None:
                price = self.prices.get(provider_pk, {}).get(row.instance_type, {}).get("onDemand")
            key = (self.machine_bucket(row), row.cluster_id, row.namespace, provider_pk, row.provider_name)
            key = (*key, row.instance_type, group_pk)
            if key in items:
                items[key].count += n
            else:
                items[key] = MachineItem(*key, price=price, count=n)
        return list(items.values())

    @cached_property
    def group_items(self) -> list[GroupItem]:
        """Every node group, with its price per node and the Machines found as its nodes."""
        found: dict[int, int] = defaultdict(int)
        for item in self.machine_items:
            if item.node_group is not None:
                found[item.node_group] += item.count
        items = []
        for pk, provider_id, name, mp_namespace, mp_name, instance_type, capacity_type, desired in self.groups:
            items.append(
                GroupItem(
                    bucket=self.bucket(KubernetesProvider.KIND, provider_id),
                    pk=pk,
                    provider_id=provider_id,
                    cluster_id=self.kp_keys[provider_id][0],
                    name=name,
                    instance_type=instance_type,
                    capacity_type=capacity_type,
                    desired=desired or 0,
                    found=found.get(pk, 0),
                    price=self.group_price(
                        self.prices, provider_id, mp_namespace, mp_name, instance_type, capacity_type
                    ),
                )
            )
        return items

    def cost_items(self, bucket: str = "", part: str = "", price: str = "") -> list[MachineItem | GroupItem]:
        """The items a cost figure adds up: Machines priced as machines (not nodes of a node group) and node
        groups, of one bucket, one part (``machines``, ``node-groups``) and known or unknown price, if given."""
        items = [item for item in self.machine_items if item.node_group is None] if part != "node-groups" else []
        if part != "machines":
            items += self.group_items
        return [
            item
            for item in items
            if (not bucket or item.bucket == bucket) and (not price or (item.price is None) == (price == "unknown"))
        ]

    def machine_rows(self):
        """(MachineRow, count) over every Machine, grouped.

        The columns come from an index-only scan (``machine_usage``); label values are read only for the
        Machines that carry one of the labels the rules read (the labels' GIN index), and taken off the rest.
        """
        columns = ("cluster_id", "namespace", "provider_name", "provider_namespace", "instance_type")
        labels = sorted({*NODE_GROUP_LABELS, *self.rule_labels})
        plain = Counter(
            {tuple(key): n for *key, n in Machine.objects.order_by().values_list(*columns).annotate(n=Count("*"))}
        )
        labelled = Q(pk__in=[])
        for label in labels:
            labelled |= Q(labels__has_key=label)
        rows = (
            Machine.objects.filter(labelled)
            .order_by()
            .annotate(**{label_alias(label): _label(label) for label in labels})
            .values_list(*columns, *(label_alias(label) for label in labels))
            .annotate(n=Count("*"))
        )
        for *values, n in rows:
            key = tuple(values[: len(columns)])
            plain[key] -= n
            yield MachineRow(*key, labels=dict(zip(labels, values[len(columns) :], strict=True))), n
        empty = dict.fromkeys(labels, "")
        for key, n in plain.items():
            if n:
                yield MachineRow(*key, labels=empty), n

    @cached_property
    def prices(self) -> dict[int, dict[str, dict[str, float]]]:
        return _price_table(MachineProvider.objects.only("spec"))

    def group_price(self, priced, provider_id, mp_namespace, mp_name, instance_type, capacity_type) -> float | None:
        """A node group's hourly price per node: spot for SPOT capacity, else on demand; None when not listed."""
        provider_pk = self.mp_by_key.get((self.kp_keys[provider_id][0], mp_namespace, mp_name))
        entry = priced.get(provider_pk, {}).get(instance_type, {})
        return entry.get("spot") if (capacity_type or "").upper() == "SPOT" else entry.get("onDemand")

    # -- the rows behind each figure (list filters) -----------------------------------------------------------

    def providers_in(self, kind: str, bucket: str) -> list[int]:
        keys = self.mp_keys if kind == MachineProvider.KIND else self.kp_keys
        return [pk for pk in keys if self.bucket(kind, pk) == bucket]

    def machines_on(self, provider_pks) -> Q:
        """Machines whose machineProvider is one of ``provider_pks`` (by the rule ``buckets`` counts with).

        One condition per cluster and namespace, with the names in a list: a condition per provider would
        make an expression deeper than SQLite allows on a large fleet.
        """
        names: dict[tuple[int, str], list[str]] = defaultdict(list)
        for pk in provider_pks:
            cluster_id, namespace, name = self.mp_keys[pk]
            names[(cluster_id, namespace)].append(name)
        condition = NOTHING
        for (cluster_id, namespace), in_namespace in names.items():
            condition |= Q(cluster_id=cluster_id, provider_name__in=in_namespace) & (
                Q(provider_namespace=namespace) | Q(provider_namespace="", namespace=namespace)
            )
        return condition

    def _placed(self, claimed) -> Q:
        """Machines the rules place with claims for which ``claimed(stacks)`` holds, each by the first rule
        that places it (as ``machine_bucket`` decides), so that no Machine is listed in two buckets."""
        condition, earlier = NOTHING, None
        for rule in RULES:
            mine = rule.machines_q(self, claimed)
            condition |= mine if earlier is None else mine & ~earlier
            placed = rule.machines_q(self, lambda stacks: True)
            earlier = placed if earlier is None else earlier | placed
        return condition

    def machines_in(self, queryset, bucket: str):
        """The Machines ``buckets`` counts for ``bucket``, by the same rules."""
        queryset = queryset.alias(**{label_alias(label): _label(label) for label in self.rule_labels})
        if bucket != UNATTRIBUTED:
            return queryset.filter(self._placed(lambda stacks: bucket_of(stacks) == bucket))
        # Unattributed: no rule places them with a claim.
        return queryset.exclude(self._placed(bool))

    @property
    def rule_labels(self) -> list[str]:
        """Labels the rules read, each aliased ``label_alias(label)`` on querysets (for their ``machines_q``)."""
        return sorted({label for rule in RULES for label in rule.labels})

    def node_machines(self, queryset, nodes: bool):
        """Machines that are (or are not) nodes of a node group."""
        condition = Q(pk__in=[])
        kp, ng = label_alias(KUBERNETES_PROVIDER_LABEL), label_alias(NODE_GROUP_LABEL)
        for cluster_id, namespace, kp_name, group_name in self.groups_by_name:
            condition |= Q(cluster_id=cluster_id, namespace=namespace, **{kp: kp_name, ng: group_name})
        queryset = queryset.alias(**{kp: _label(KUBERNETES_PROVIDER_LABEL), ng: _label(NODE_GROUP_LABEL)})
        return queryset.filter(condition) if nodes else queryset.exclude(condition)

    def priced_machines(self, queryset, priced: bool):
        """Machines that are not nodes of a node group, with (or without) an on-demand price for their type."""
        condition = Q(pk__in=[])
        for pk, types in self.prices.items():
            known = [name for name, prices in types.items() if "onDemand" in prices and isinstance(name, str)]
            if known:
                condition |= self.machines_on([pk]) & Q(instance_type__in=known)
        queryset = self.node_machines(queryset, nodes=False)
        return queryset.filter(condition) if priced else queryset.exclude(condition)


# -- list filters: the rows behind each figure --------------------------------------------------------------

BUCKET_HELP = "a Vitistack's id, “shared” or “none” (unattributed), as the overview counts them"


def validate_bucket(value: str) -> None:
    from django.core.exceptions import ValidationError

    if value not in (SHARED, UNATTRIBUTED) and not value.isdigit():
        raise ValidationError(f"give {BUCKET_HELP}")


def filter_bucket(queryset, name, value):
    """Objects counted for one bucket (``?vitistack=12``, ``shared``, ``none``)."""
    if not value:
        return queryset
    fleet = Fleet()
    model = queryset.model
    if model is Machine:
        return fleet.machines_in(queryset, value)
    return queryset.filter(pk__in=fleet.providers_in(model.KIND, value))


COST_CHOICES = (
    ("priced", "Priced as a machine"),
    ("unpriced", "No price known"),
    ("node", "Node of a node group (in the group's cost)"),
)


def filter_cost(queryset, name, value):
    """Machines by how the cost figure counts them."""
    fleet = Fleet()
    if value == "node":
        return fleet.node_machines(queryset, nodes=True)
    return fleet.priced_machines(queryset, priced=value == "priced")
