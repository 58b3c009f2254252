"""What the fleet overview shows, read with a fixed number of aggregate queries.

Counts come from ``GROUP BY`` queries (one per kind), usage and cost from
the reference graph (Vitistack -> providers, Machine -> provider and
instance type), so the page costs the same with 50 or 50,000 machines.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.urls import reverse

from machines.models import Machine
from providers.models import KubernetesProvider, MachineProvider, NodeGroup, hourly_price
from stacks.models import Vitistack
from vitiweb.kinds import all_models
from vitiweb.models import Cluster, Reference
from vitiweb.templatetags.vitiweb_ui import phase_tone
from vitiweb.ui import url_name

ATTENTION_SHOWN = 8
PROBLEM_PHASES = ("Failed", "Error", "Degraded", "Unhealthy")

TONE_COLOURS = {"ok": "#2e9e5b", "warn": "#d08a1a", "bad": "#d2453a", "idle": "#8792a2"}


def needs_attention() -> Q:
    return Q(ready=False) | Q(phase__in=PROBLEM_PHASES)


@dataclass
class KindSummary:
    kind: str
    label: str
    list_url: str
    total: int = 0
    ready: int = 0
    not_ready: int = 0
    unknown: int = 0
    phases: Counter = field(default_factory=Counter)
    by_cluster: Counter = field(default_factory=Counter)
    problems: int = 0

    @property
    def phase_list(self):
        return [(phase or "(none)", count, phase_tone(phase)) for phase, count in self.phases.most_common()]


def kind_summaries(models) -> tuple[list[KindSummary], dict]:
    """Per kind: totals, readiness, phases and per-cluster counts (one query per kind).

    Also returns machine phases per cluster for the chart.
    """
    summaries, machine_phases = [], defaultdict(Counter)
    for model in models:
        summary = KindSummary(
            model.KIND, model._meta.verbose_name_plural.capitalize(), reverse(url_name(model, "list"))
        )
        rows = model.objects.order_by().values("cluster_id", "phase", "ready").annotate(n=Count("*"))
        for row in rows:
            n = row["n"]
            summary.total += n
            summary.phases[row["phase"]] += n
            summary.by_cluster[row["cluster_id"]] += n
            if row["ready"] is True:
                summary.ready += n
            elif row["ready"] is False:
                summary.not_ready += n
            else:
                summary.unknown += n
            if row["ready"] is False or row["phase"] in PROBLEM_PHASES:
                summary.problems += n
            if model.KIND == "Machine":
                machine_phases[row["cluster_id"]][row["phase"] or "(none)"] += n
        summaries.append(summary)
    return summaries, machine_phases


def attention_objects(models) -> list:
    """The first objects of each kind that are not ready or failed (one query per kind)."""
    found = []
    for model in models:
        found.extend(
            model.objects.filter(needs_attention())
            .select_related("cluster")
            .only("name", "namespace", "phase", "ready", "message", "cluster__name", "synced_at")
            .order_by("-pk")[:ATTENTION_SHOWN]
        )
    return found


def broken_references():
    """(count, first rows) of references that do not resolve."""
    from vitiweb.ui import RelatedRow, _load_ends

    queryset = Reference.objects.filter(state__in=(Reference.State.DANGLING, Reference.State.AMBIGUOUS))
    rows = [RelatedRow(ref) for ref in queryset.select_related("source_cluster").order_by("-id")[:10]]
    _load_ends(rows, lambda ref: ref.source_kind, lambda ref: ref.source_id)
    return queryset.count(), rows


def _price_table(providers) -> dict[int, dict[str, dict[str, float]]]:
    """{provider pk: {instance type: {onDemand, spot}}}."""
    table = {}
    for provider in providers:
        entries = {}
        for entry in MachineProvider.instance_types(provider.spec):
            pricing = entry.get("pricing") if isinstance(entry.get("pricing"), dict) else {}
            prices = {k: hourly_price(v) for k, v in pricing.items()}
            entries[entry.get("name")] = {k: v for k, v in prices.items() if v is not None}
        table[provider.pk] = entries
    return table


@dataclass
class StackUsage:
    stack: Vitistack
    machines: int = 0
    clusters: int = 0
    providers: int = 0
    machine_cost: float = 0.0
    nodegroup_cost: float = 0.0

    @property
    def cost(self) -> float:
        return self.machine_cost + self.nodegroup_cost


def machine_counts_by_provider(provider_ids: set[int]) -> tuple[Counter, Counter, dict]:
    """Machines per provider pk and per (provider pk, instance type), for the providers given.

    Read from the machine table's provider columns (an index-only scan of
    ``machine_usage``), matching a machine to a provider in its own cluster
    and namespace as the reference graph resolves it first.
    """
    providers = {
        (cluster_id, namespace, name): pk
        for pk, cluster_id, namespace, name in MachineProvider.objects.filter(pk__in=provider_ids).values_list(
            "pk", "cluster_id", "namespace", "name"
        )
    }
    per_provider, per_type = Counter(), Counter()
    if not providers:
        return per_provider, per_type, providers
    names = {name for _, _, name in providers}
    rows = (
        Machine.objects.filter(provider_name__in=names)
        .order_by()
        .values_list("cluster_id", "provider_name", "provider_namespace", "namespace", "instance_type")
        .annotate(n=Count("*"))
    )
    for cluster_id, name, provider_namespace, namespace, instance_type, n in rows:
        pk = providers.get((cluster_id, provider_namespace or namespace, name))
        if pk is not None:
            per_provider[pk] += n
            per_type[(pk, instance_type)] += n
    return per_provider, per_type, providers


def stack_usage(stack_limit: int = 40) -> list[StackUsage]:
    """Quota use and estimated hourly cost per Vitistack, from the reference graph."""
    stacks = list(
        Vitistack.objects.select_related("cluster")
        .only("name", "namespace", "cluster__name", "max_machines", "max_clusters", "max_providers")
        .order_by("name")[:500]
    )
    if not stacks:
        return []
    by_pk = {stack.pk: StackUsage(stack) for stack in stacks}
    stack_refs = Reference.objects.filter(
        source_kind="Vitistack",
        source_id__in=list(by_pk),
        state=Reference.State.RESOLVED,
        relation__in=("machine-provider", "kubernetes-provider"),
    )
    machine_providers, kubernetes_providers = defaultdict(set), defaultdict(set)
    for source_id, relation, target_id in stack_refs.values_list("source_id", "relation", "target_id"):
        (machine_providers if relation == "machine-provider" else kubernetes_providers)[source_id].add(target_id)

    provider_ids = set().union(*machine_providers.values()) if machine_providers else set()
    per_provider, per_type, provider_keys = machine_counts_by_provider(provider_ids)

    kp_ids = set().union(*kubernetes_providers.values()) if kubernetes_providers else set()
    groups = list(
        NodeGroup.objects.filter(provider_id__in=kp_ids)
        .select_related("provider")
        .only(
            "provider_id",
            "provider__cluster_id",
            "machine_provider_name",
            "machine_provider_namespace",
            "instance_type",
            "capacity_type",
            "desired_size",
        )
    )
    group_provider_keys = {
        (g.provider.cluster_id, g.machine_provider_namespace, g.machine_provider_name) for g in groups
    }
    condition = Q(pk__in=provider_ids)
    for cluster_id, namespace, name in group_provider_keys - set(provider_keys):
        condition |= Q(cluster_id=cluster_id, namespace=namespace, name=name)
    providers = list(MachineProvider.objects.filter(condition).only("spec", "cluster_id", "namespace", "name"))
    prices = _price_table(providers)
    provider_by_key = {(p.cluster_id, p.namespace, p.name): p.pk for p in providers}

    group_cost = Counter()
    for group in groups:
        provider_pk = provider_by_key.get(
            (group.provider.cluster_id, group.machine_provider_namespace, group.machine_provider_name)
        )
        entry = prices.get(provider_pk, {}).get(group.instance_type, {})
        price = entry.get("spot") if (group.capacity_type or "").upper() == "SPOT" else None
        price = price if price is not None else entry.get("onDemand")
        if price is not None and group.desired_size:
            group_cost[group.provider_id] += price * group.desired_size

    for stack_pk, usage in by_pk.items():
        mps, kps = machine_providers.get(stack_pk, set()), kubernetes_providers.get(stack_pk, set())
        usage.providers = len(mps) + len(kps)
        usage.clusters = len(kps)
        usage.machines = sum(per_provider[pk] for pk in mps)
        usage.machine_cost = sum(
            n * prices.get(pk, {}).get(entry, {}).get("onDemand", 0.0)
            for (pk, entry), n in per_type.items()
            if pk in mps
        )
        usage.nodegroup_cost = sum(group_cost[pk] for pk in kps)
    return list(by_pk.values())


# -- figures: plain dicts for Plotly, drawn by static/vitiweb/charts.js ------------------------------------


def _layout(**extra) -> dict:
    return {
        "margin": {"l": 40, "r": 10, "t": 10, "b": 40},
        "barmode": "stack",
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.2},
        "height": 280,
        **extra,
    }


def machines_by_phase_figure(clusters, machine_phases) -> dict:
    names = {cluster.pk: cluster.name for cluster in clusters}
    phases = sorted({phase for counter in machine_phases.values() for phase in counter})
    ordered = [pk for pk in names if machine_phases.get(pk)]
    data = [
        {
            "type": "bar",
            "name": phase,
            "x": [names[pk] for pk in ordered],
            "y": [machine_phases[pk].get(phase, 0) for pk in ordered],
            "marker": {"color": TONE_COLOURS[phase_tone(phase)]} if phase_tone(phase) != "idle" else {},
        }
        for phase in phases
    ]
    return {"data": data, "layout": _layout()}


def providers_by_type_figure() -> dict:
    data = []
    for model in (MachineProvider, KubernetesProvider):
        rows = model.objects.order_by("provider_type").values("provider_type").annotate(n=Count("*"))
        data.append(
            {
                "type": "bar",
                "name": model._meta.verbose_name_plural.capitalize(),
                "x": [row["provider_type"] or "(unset)" for row in rows],
                "y": [row["n"] for row in rows],
            }
        )
    return {"data": data, "layout": _layout(barmode="group")}


def quota_figure(usages: list[StackUsage], shown: int = 25) -> dict:
    limited = [u for u in usages if u.stack.max_machines]
    limited.sort(key=lambda u: u.machines / u.stack.max_machines, reverse=True)
    limited = list(reversed(limited[:shown]))
    labels = [f"{u.stack.cluster.name}/{u.stack.name}" for u in limited]
    data = [
        {"type": "bar", "orientation": "h", "name": "Machines used", "y": labels, "x": [u.machines for u in limited]},
        {
            "type": "bar",
            "orientation": "h",
            "name": "Machine limit",
            "y": labels,
            "x": [u.stack.max_machines for u in limited],
            "marker": {"color": "rgba(135,146,162,0.45)"},
        },
    ]
    return {
        "data": data,
        "layout": _layout(
            barmode="group", height=max(220, 60 + 44 * len(limited)), margin={"l": 200, "r": 10, "t": 10, "b": 40}
        ),
    }


def cost_figure(usages: list[StackUsage], shown: int = 25) -> dict:
    costed = sorted((u for u in usages if u.cost), key=lambda u: u.cost, reverse=True)[:shown]
    costed.reverse()
    labels = [f"{u.stack.cluster.name}/{u.stack.name}" for u in costed]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "Machines",
            "y": labels,
            "x": [round(u.machine_cost, 3) for u in costed],
        },
        {
            "type": "bar",
            "orientation": "h",
            "name": "Node groups (desired size)",
            "y": labels,
            "x": [round(u.nodegroup_cost, 3) for u in costed],
        },
    ]
    return {
        "data": data,
        "layout": _layout(
            height=max(220, 60 + 34 * len(costed)),
            margin={"l": 200, "r": 10, "t": 10, "b": 40},
            xaxis={"tickprefix": "$", "ticksuffix": "/h"},
        ),
    }


def fleet_overview() -> dict:
    models = all_models()
    clusters = list(Cluster.objects.defer("credentials_encrypted", "discovered_kinds", "permissions").order_by("name"))
    summaries, machine_phases = kind_summaries(models)
    for cluster in clusters:
        cluster.kind_counts = [(s.label, s.by_cluster.get(cluster.pk, 0), s.list_url) for s in summaries]
    usages = stack_usage()
    broken_count, broken = broken_references()
    return {
        "clusters": clusters,
        "summaries": summaries,
        "attention": attention_objects(models),
        "attention_total": sum(s.problems for s in summaries),
        "broken_count": broken_count,
        "broken": broken,
        "unhealthy_clusters": [c for c in clusters if c.state in (Cluster.State.DEGRADED, Cluster.State.UNREACHABLE)],
        "usages": usages,
        "figures": {
            "machines_by_phase": machines_by_phase_figure(clusters, machine_phases),
            "providers_by_type": providers_by_type_figure(),
            "quota": quota_figure(usages),
            "cost": cost_figure(usages),
        },
        "total_cost": sum(u.cost for u in usages),
    }
