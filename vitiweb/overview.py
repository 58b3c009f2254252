"""What the fleet overview shows, read with a fixed number of aggregate queries.

Counts come from ``GROUP BY`` queries (one per kind); quota use and cost per
Vitistack from ``vitiweb.attribution``, which counts every object for exactly
one Vitistack (or "shared", or "unattributed"), so each figure's parts add up
to the fleet's total. Every number carries the URL of the list that shows
exactly its rows, and totals say when they include objects of clusters that
are not current (``vitiweb.freshness``). Nothing is cut silently: where a
chart or list shows the first N, it says "N of M" and links to the rest.

No request computes these figures: the process holding the derivation lease
runs ``derive_overview`` after sync commits (``vitiweb.derive``) and stores
what it returns (``store_overview``, an ``OverviewRun``); every web process
reads the latest stored run (``stored_overview``) and adds only what changes
with the clock, not with commits: which clusters are current, read per
request (``fleet_overview``). The page says when the figures were derived.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache, cached_property
from urllib.parse import urlencode

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from machines.models import Machine
from providers.filters import UNSET
from providers.models import KubernetesProvider, MachineProvider
from stacks.models import Vitistack
from vitiweb import stored
from vitiweb.attribution import BUCKET_TEXT, COST_TEXT, SHARED, UNATTRIBUTED, Bucket, Fleet, rule_texts
from vitiweb.filters import NO_PHASE, PROBLEM_PHASES, needs_attention
from vitiweb.freshness import fleet_freshness
from vitiweb.kinds import all_models
from vitiweb.models import Cluster, OverviewRun, Reference
from vitiweb.templatetags.vitiweb_ui import phase_tone
from vitiweb.ui import CLUSTER_FRESHNESS, url_name

ATTENTION_SHOWN = 8
#: Rows of the per-Vitistack table before "show all"; the charts show the first CHART_SHOWN.
STACKS_SHOWN = 100
CHART_SHOWN = 25

#: What a trace's values are (its ``meta``), for the chart's table: counts of the rows its bar links to
#: (the default), sums over the items its bar links to, or limits read from the object it links to.
COUNT, SUM, LIMIT = "count", "sum", "limit"

#: Columns of a cluster the overview never reads (its credentials above all: never in a stored overview).
CLUSTER_UNREAD = ("credentials_encrypted", "discovered_kinds", "permissions")

TONE_COLOURS = {"ok": "#2e9e5b", "warn": "#d08a1a", "bad": "#d2453a", "idle": "#8792a2"}


def list_url(model, **filters) -> str:
    """The list page of ``model`` filtered to exactly the rows a number counts."""
    base = _list_path(model)
    query = urlencode({k: v for k, v in filters.items() if v is not None})
    return f"{base}?{query}" if query else base


def cost_url(bucket: str = "", part: str = "", price: str = "") -> str:
    """The cost page filtered to exactly the items one cost figure adds up (``vitiweb.views.cost``)."""
    query = urlencode({k: v for k, v in (("vitistack", bucket), ("part", part), ("price", price)) if v})
    return f"{_cost_path()}?{query}" if query else _cost_path()


@cache
def _cost_path() -> str:
    return reverse("cost_list")


def cluster_list_url(**filters) -> str:
    """The cluster list filtered (``state``, ``current``) to exactly the clusters a number counts."""
    query = urlencode({k: v for k, v in filters.items() if v is not None})
    return reverse("cluster_list") + (f"?{query}" if query else "")


@cache
def _list_path(model) -> str:
    # Thousands of links per overview: each list's path is reversed once per process.
    return reverse(url_name(model, "list"))


@dataclass
class KindSummary:
    kind: str
    label: str
    list_url: str
    model: type = None
    total: int = 0
    ready: int = 0
    not_ready: int = 0
    unknown: int = 0
    phases: Counter = field(default_factory=Counter)
    by_cluster: Counter = field(default_factory=Counter)
    problems: int = 0
    stale: int = 0  # objects of clusters that are not current

    @cached_property
    def phase_list(self):
        return [
            (phase or NO_PHASE, count, phase_tone(phase), list_url(self.model, phase=phase or NO_PHASE))
            for phase, count in self.phases.most_common()
        ]

    def url(self, **filters) -> str:
        return list_url(self.model, **filters)

    @cached_property
    def urls(self) -> dict:
        return {
            "ready": self.url(ready="true"),
            "not_ready": self.url(ready="false"),
            "unknown": self.url(ready="unknown"),
            "attention": self.url(attention="yes"),
            "stale": self.url(current="no"),
        }


def kind_summaries(models, stale_ids=frozenset()) -> tuple[list[KindSummary], dict]:
    """Per kind: totals, readiness, phases and per-cluster counts (one query per kind).

    Also returns machine phases per cluster for the chart.
    """
    summaries, machine_phases = [], defaultdict(Counter)
    for model in models:
        summary = KindSummary(
            model.KIND, model._meta.verbose_name_plural.capitalize(), reverse(url_name(model, "list")), model
        )
        rows = model.objects.order_by().values("cluster_id", "phase", "ready").annotate(n=Count("*"))
        for row in rows:
            n = row["n"]
            summary.total += n
            summary.phases[row["phase"]] += n
            summary.by_cluster[row["cluster_id"]] += n
            if row["cluster_id"] in stale_ids:
                summary.stale += n
            if row["ready"] is True:
                summary.ready += n
            elif row["ready"] is False:
                summary.not_ready += n
            else:
                summary.unknown += n
            if row["ready"] is False or row["phase"] in PROBLEM_PHASES:
                summary.problems += n
            if model.KIND == "Machine":
                machine_phases[row["cluster_id"]][row["phase"] or NO_PHASE] += n
        summaries.append(summary)
    return summaries, machine_phases


def attention_objects(models) -> list:
    """The first objects of each kind that are not ready or failed (one query per kind)."""
    found = []
    for model in models:
        found.extend(
            model.objects.filter(needs_attention())
            .select_related("cluster")
            .only("name", "namespace", "phase", "ready", "message", "cluster__name", "synced_at", *CLUSTER_FRESHNESS)
            .order_by("-pk")[:ATTENTION_SHOWN]
        )
    return found


def broken_references():
    """({state: count}, first rows) of references that do not resolve."""
    from vitiweb.ui import RelatedRow, _load_ends

    states = (Reference.State.DANGLING, Reference.State.AMBIGUOUS)
    queryset = Reference.objects.filter(state__in=states)
    refs = queryset.select_related("source_cluster").defer(*(f"source_cluster__{f}" for f in CLUSTER_UNREAD))
    rows = [RelatedRow(ref) for ref in refs.order_by("-id")[:10]]
    _load_ends(rows, lambda ref: ref.source_kind, lambda ref: ref.source_id)
    counts = dict(queryset.order_by().values_list("state").annotate(n=Count("*")))
    api = reverse("api-reference-list")
    return [(state.label, counts.get(state.value, 0), f"{api}?state={state.value}") for state in states], rows


def broken_references_url(**filters) -> str:
    """The API's list of every reference that does not resolve (dangling or ambiguous)."""
    states = ",".join((Reference.State.DANGLING, Reference.State.AMBIGUOUS))
    return f"{reverse('api-reference-list')}?{urlencode({**filters, 'state__in': states})}"


# -- per-Vitistack figures (vitiweb.attribution) ------------------------------------------------------------


@dataclass
class UsageRow:
    """One row of the quota and cost table: a bucket and the URLs of the rows behind each of its numbers."""

    bucket: Bucket
    stale_names: list = field(default_factory=list)
    sharing_stacks: list = field(default_factory=list)  # for the shared row: the Vitistacks sharing providers

    @cached_property
    def urls(self) -> dict:
        return usage_urls(self.bucket.key)


def usage_urls(key: str | None = None) -> dict:
    """The lists behind each number of a usage row (``key`` None: the fleet total)."""
    return {
        "machines": list_url(Machine, vitistack=key),
        "machine_providers": list_url(MachineProvider, vitistack=key),
        "kubernetes_providers": list_url(KubernetesProvider, vitistack=key),
        "priced": list_url(Machine, vitistack=key, cost="priced"),
        "unpriced": list_url(Machine, vitistack=key, cost="unpriced"),
        "nodes": list_url(Machine, vitistack=key, cost="node"),
        "cost": cost_url(key or ""),
        "machine_cost": cost_url(key or "", "machines"),
        "nodegroup_cost": cost_url(key or "", "node-groups"),
        "node_groups": cost_url(key or "", "node-groups"),
        "unpriced_groups": cost_url(key or "", "node-groups", "unknown"),
        "unknown": cost_url(key or "", price="unknown"),
    }


def usage_rows(fleet: Fleet, stale_names: dict[int, str]) -> tuple[list[UsageRow], list[UsageRow], Bucket]:
    """(one row per Vitistack by name, the shared and unattributed rows, the fleet total)."""
    buckets = fleet.buckets()
    total = Bucket("total")
    for bucket in buckets.values():
        total.add(bucket)

    def row(bucket):
        return UsageRow(bucket, sorted(stale_names[pk] for pk in bucket.stale_clusters))

    stacks = sorted(
        (row(b) for b in buckets.values() if b.stack is not None),
        key=lambda r: (r.bucket.stack.name, r.bucket.stack.cluster.name, r.bucket.stack.namespace),
    )
    others = [row(buckets[key]) for key in (SHARED, UNATTRIBUTED) if key in buckets]
    for other in others:
        if other.bucket.key == SHARED:
            other.sharing_stacks = sorted(buckets[str(pk)].label for pk in other.bucket.sharing if str(pk) in buckets)
    return stacks, others, total


# -- figures: plain dicts for Plotly, drawn by static/vitiweb/charts.js ------------------------------------
# Each bar carries in ``customdata`` the URL of the list that shows its rows; a click opens it.


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
    # A stale cluster's bar is its last known state, and says so.
    labels = {c.pk: c.name if getattr(c, "is_current", True) else f"{c.name} (not current)" for c in clusters}
    phases = sorted({phase for counter in machine_phases.values() for phase in counter})
    ordered = [pk for pk in names if machine_phases.get(pk)]
    data = [
        {
            "type": "bar",
            "name": phase,
            "x": [labels[pk] for pk in ordered],
            "y": [machine_phases[pk].get(phase, 0) for pk in ordered],
            "customdata": [list_url(Machine, cluster=names[pk], phase=phase) for pk in ordered],
            "marker": {"color": TONE_COLOURS[phase_tone(phase)]} if phase_tone(phase) != "idle" else {},
        }
        for phase in phases
    ]
    return {"data": data, "layout": _layout()}


def providers_by_type_figure() -> dict:
    data = []
    for model in (MachineProvider, KubernetesProvider):
        rows = model.objects.order_by("provider_type").values("provider_type").annotate(n=Count("*"))
        types = [row["provider_type"] or UNSET for row in rows]
        data.append(
            {
                "type": "bar",
                "name": model._meta.verbose_name_plural.capitalize(),
                "x": types,
                "y": [row["n"] for row in rows],
                "customdata": [list_url(model, provider_type=t) for t in types],
            }
        )
    return {"data": data, "layout": _layout(barmode="group")}


def quota_figure(rows: list[UsageRow], shown: int = CHART_SHOWN) -> tuple[dict, int]:
    """(figure of the fullest ``shown`` Vitistacks with a machine limit, how many have one)."""
    limited = [r for r in rows if r.bucket.stack.max_machines]
    limited.sort(key=lambda r: r.bucket.machines / r.bucket.stack.max_machines, reverse=True)
    count = len(limited)
    limited = list(reversed(limited[:shown]))
    labels = [r.bucket.label for r in limited]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "Machines counted",
            "y": labels,
            "x": [r.bucket.machines for r in limited],
            "customdata": [r.urls["machines"] for r in limited],
        },
        {
            "type": "bar",
            "orientation": "h",
            "name": "Machine limit",
            "y": labels,
            "x": [r.bucket.stack.max_machines for r in limited],
            "customdata": [r.bucket.stack.get_absolute_url() for r in limited],
            "meta": LIMIT,
            "marker": {"color": "rgba(135,146,162,0.45)"},
        },
    ]
    layout = _layout(
        barmode="group", height=max(220, 60 + 44 * len(limited)), margin={"l": 200, "r": 10, "t": 10, "b": 40}
    )
    return {"data": data, "layout": layout}, count


def cost_figure(rows: list[UsageRow], shown: int = CHART_SHOWN) -> tuple[dict, int]:
    """(figure of the ``shown`` costliest buckets, shared and unattributed included, how many have a cost)."""
    costed = sorted((r for r in rows if r.bucket.cost), key=lambda r: r.bucket.cost, reverse=True)
    count = len(costed)
    costed = list(reversed(costed[:shown]))
    labels = [r.bucket.label for r in costed]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "Machines (on demand)",
            "y": labels,
            "x": [round(r.bucket.machine_cost, 3) for r in costed],
            "customdata": [r.urls["machine_cost"] for r in costed],
            "meta": SUM,
        },
        {
            "type": "bar",
            "orientation": "h",
            "name": "Node groups (desired or found size)",
            "y": labels,
            "x": [round(r.bucket.nodegroup_cost, 3) for r in costed],
            "customdata": [r.urls["nodegroup_cost"] for r in costed],
            "meta": SUM,
        },
    ]
    layout = _layout(
        height=max(220, 60 + 34 * len(costed)),
        margin={"l": 200, "r": 10, "t": 10, "b": 40},
        xaxis={"tickprefix": "$", "ticksuffix": "/h"},
    )
    return {"data": data, "layout": layout}, count


# -- derived off the request path (vitiweb.derive), read by every web process -------------------------------


def derive_overview() -> dict:
    """Everything the overview shows that costs more than a few indexed queries, for ``store_overview``.

    Called by the process holding the derivation lease after sync commits (``vitiweb.derive``), never in a
    request. Which clusters are current changes with the clock, not with commits, so it is left to the page
    (``fleet_overview``): each number keeps the clusters it comes from (``KindSummary.by_cluster``, the
    machine phases per cluster, and ``Bucket.stale_clusters``, here every cluster counted in the bucket).
    """
    models = all_models()
    clusters = list(Cluster.objects.only("name").order_by("name"))
    names = {cluster.pk: cluster.name for cluster in clusters}
    summaries, machine_phases = kind_summaries(models)
    stacks, others, total = usage_rows(Fleet(set(names)), names)
    quota, quota_count = quota_figure(stacks)
    cost, cost_count = cost_figure(stacks + others)
    broken, broken_rows = broken_references()
    return {
        "summaries": summaries,
        "machine_phases": machine_phases,
        "kind_counts": {
            pk: [(s.label, s.by_cluster.get(pk, 0), list_url(s.model, cluster=name)) for s in summaries]
            for pk, name in names.items()
        },
        "attention": attention_objects(models),
        "attention_total": sum(s.problems for s in summaries),
        "broken": broken_rows,
        "broken_counts": broken,
        "broken_count": sum(n for _, n, _ in broken),
        "usages": stacks,
        "usage_others": others,
        "usage_total": total,
        "usage_total_urls": usage_urls(),
        "broken_url": broken_references_url(),
        "stacks_url": list_url(Vitistack),
        "limited_stacks_url": list_url(Vitistack, limit="machines"),
        "quota_count": quota_count,
        "cost_count": cost_count,
        "figures": {"providers_by_type": providers_by_type_figure(), "quota": quota, "cost": cost},
        "total_cost": total.cost,
    }


def _nothing_derived() -> dict:
    """What the page shows before the first derivation is stored: no counts, not zeros from a computation."""
    total = Bucket("total")
    return {
        "summaries": [],
        "machine_phases": {},
        "kind_counts": {},
        "attention": [],
        "attention_total": 0,
        "broken": [],
        "broken_counts": [],
        "broken_count": 0,
        "usages": [],
        "usage_others": [],
        "usage_total": total,
        "usage_total_urls": usage_urls(),
        "broken_url": broken_references_url(),
        "stacks_url": list_url(Vitistack),
        "limited_stacks_url": list_url(Vitistack, limit="machines"),
        "quota_count": 0,
        "cost_count": 0,
        "figures": {
            "providers_by_type": {"data": [], "layout": _layout(barmode="group")},
            "quota": quota_figure([])[0],
            "cost": cost_figure([])[0],
        },
        "total_cost": 0.0,
    }


def store_overview(current: str):
    """Derive the overview unless the stored one was derived from the fleet state ``current``; the stored run.

    ``current`` is the fleet's fingerprint (``vitiweb.integrity.fingerprint``). Only the holder of the
    derivation lease calls this (and tests, playing it).
    """
    latest = OverviewRun.objects.only("id", "fingerprint", "digest").first()
    if latest is not None and latest.fingerprint == current:
        return latest
    started = time.monotonic()
    data = stored.dumps(derive_overview())
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    digest = hashlib.sha1(data.encode()).hexdigest()
    now = timezone.now()
    if latest is not None and latest.digest == digest:
        # Nothing the page shows changed: readers keep the copy they decoded; the time says it is current.
        OverviewRun.objects.filter(id=latest.id).update(fingerprint=current, duration_ms=duration_ms, computed_at=now)
        return latest
    run = OverviewRun.objects.create(
        fingerprint=current, duration_ms=duration_ms, computed_at=now, digest=digest, data=data
    )
    # Readers take the newest run; the one before is kept for a reader already loading it.
    OverviewRun.objects.filter(id__lt=run.id).exclude(id__in=[latest.id] if latest else []).delete()
    return run


#: The parsed data of the latest run this process read: ((run id, digest), parsed JSON). A run's data never
#: changes once stored; each request decodes its own objects from it (the page sets what is current on them).
_parsed: tuple[tuple[int, str], object] | None = None


def stored_overview() -> tuple[OverviewRun | None, dict]:
    """(the latest run without its data, the objects it stores); (None, empty figures) before the first run.

    One indexed query, and a second when this process has not read that run yet.
    """
    global _parsed
    latest = OverviewRun.objects.defer("data").first()
    if latest is None:
        return None, _nothing_derived()
    parsed = _parsed
    if parsed is None or parsed[0] != (latest.id, latest.digest):
        text = OverviewRun.objects.filter(id=latest.id).values_list("data", flat=True).first()
        if text is None:  # replaced between the two queries: the next page reads the newer one
            if parsed is None:
                return None, _nothing_derived()
        else:
            parsed = _parsed = ((latest.id, latest.digest), json.loads(text))
    return latest, stored.decode(parsed[1])


def fleet_overview(all_stacks: bool = False) -> dict:
    """The overview's context: the clusters and how current they are, read now; the rest as last derived."""
    clusters = list(Cluster.objects.defer(*CLUSTER_UNREAD).order_by("name"))
    freshness = fleet_freshness(clusters)
    stale_ids = freshness.stale_ids
    names = {cluster.pk: cluster.name for cluster in clusters}
    run, derived = stored_overview()
    summaries = derived["summaries"]
    for summary in summaries:
        summary.stale = sum(n for pk, n in summary.by_cluster.items() if pk in stale_ids)
    for cluster in clusters:
        cluster.kind_counts = derived["kind_counts"].get(cluster.pk) or [
            (s.label, 0, list_url(s.model, cluster=cluster.name)) for s in summaries
        ]
    stacks, others, total = derived["usages"], derived["usage_others"], derived["usage_total"]
    for row in stacks + others:
        row.bucket.stale_clusters &= stale_ids
        row.stale_names = sorted(names[pk] for pk in row.bucket.stale_clusters)
    total.stale_clusters &= stale_ids
    by_id = {cluster.pk: cluster for cluster in clusters}
    for obj in derived["attention"]:  # their "last seen" badges say how current their cluster is now
        obj.cluster = by_id.get(obj.cluster_id, obj.cluster)
    return {
        **derived,
        "derived_at": run.computed_at if run else None,
        "derived_ms": run.duration_ms if run else None,
        "clusters": clusters,
        "freshness": freshness,
        "attention_shown": ATTENTION_SHOWN,
        "unhealthy_clusters": [c for c in clusters if c.state in (Cluster.State.DEGRADED, Cluster.State.UNREACHABLE)],
        "cluster_urls": {
            "all": cluster_list_url(),
            "current": cluster_list_url(current="yes"),
            "not_current": cluster_list_url(current="no"),
            "unhealthy": cluster_list_url(state="unhealthy"),
        },
        "usages": stacks if all_stacks else stacks[:STACKS_SHOWN],
        "usages_total": len(stacks),
        "usage_stale_names": sorted(c.name for c in freshness.stale if c.pk in total.stale_clusters),
        "rule_texts": rule_texts(),
        "bucket_text": BUCKET_TEXT,
        "cost_text": COST_TEXT,
        "chart_shown": CHART_SHOWN,
        "figures": {
            **derived["figures"],
            "machines_by_phase": machines_by_phase_figure(clusters, derived["machine_phases"]),
        },
    }
