"""The items behind every cost figure of the overview: each number there links here, filtered to exactly the
items it adds up (``vitiweb.attribution``), with their prices, sizes and the Machines they stand for."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.urls import reverse

from machines.models import Machine
from providers.models import KubernetesProvider, MachineProvider
from vitiweb.attribution import (
    COST_TEXT,
    KUBERNETES_PROVIDER_LABEL,
    NODE_GROUP_LABEL,
    SHARED,
    UNATTRIBUTED,
    Fleet,
    GroupItem,
)
from vitiweb.fleet import detail_url
from vitiweb.freshness import stale_clusters
from vitiweb.models import Cluster
from vitiweb.overview import cost_url, list_url
from vitiweb.ui import render_page, viewer_required

PARTS = {"machines": "Machines priced as machines", "node-groups": "Node groups"}
PRICES = {"known": "Price known", "unknown": "No price known"}
ROWS_SHOWN = 200


def _choice(request, name: str, choices) -> str:
    value = request.GET.get(name, "")
    return value if value in choices else ""


def _bucket(request) -> tuple[str, str]:
    """(bucket, error): a Vitistack's id, "shared" or "none"."""
    value = request.GET.get("vitistack", "")
    if not value or value in (SHARED, UNATTRIBUTED) or (value.isdigit() and len(value) < 19):
        return value, ""
    return "", "Give a Vitistack's id, “shared” or “none”."


def money(value: float | None) -> str:
    """``$0.096/h``; "unknown" when no price is known (never 0)."""
    return "unknown" if value is None else f"${value:,.4f}".rstrip("0").rstrip(".") + "/h"


def _row(item, labels, clusters, fleet: Fleet) -> dict:
    cluster = clusters.get(item.cluster_id, "")
    row = {
        "item": item,
        "bucket_label": labels.get(item.bucket, item.bucket),
        "cluster": cluster,
        "price": money(item.price),
        "cost": money(item.cost),
    }
    if isinstance(item, GroupItem):
        _, kp_namespace, kp_name = fleet.kp_keys[item.provider_id]
        row["provider_url"] = detail_url(KubernetesProvider.KIND, item.provider_id)
        row["provider_name"] = kp_name
        row["namespace"] = kp_namespace
        selector = f"{KUBERNETES_PROVIDER_LABEL}={kp_name},{NODE_GROUP_LABEL}={item.name}"
        row["nodes_url"] = list_url(Machine, cluster=cluster, namespace=kp_namespace, label=selector)
    else:
        row["provider_url"] = detail_url(MachineProvider.KIND, item.provider_pk) if item.provider_pk else ""
        row["provider_name"] = item.provider_name
        row["namespace"] = item.namespace
        row["machines_url"] = list_url(
            Machine,
            cluster=cluster,
            namespace=item.namespace,
            provider=item.provider_name or None,
            instance_type=item.instance_type or None,
            vitistack=item.bucket,
            cost="unpriced" if item.price is None else "priced",
        )
    return row


def _page_url(request, param: str, number: int) -> str:
    query = request.GET.copy()
    query[param] = number
    return f"?{query.urlencode()}"


@viewer_required
def cost_list(request):
    """Items of the estimated cost, filtered as an overview number links to them."""
    bucket, error = _bucket(request)
    part = _choice(request, "part", PARTS)
    price = _choice(request, "price", PRICES)
    freshness = stale_clusters()
    fleet = Fleet(freshness.stale_ids)
    buckets = fleet.buckets()
    labels = {key: b.label for key, b in buckets.items()}
    items = [] if error else fleet.cost_items(bucket, part, price)
    known = [item.cost for item in items if item.cost is not None]
    clusters = dict(Cluster.objects.values_list("pk", "name"))
    tables = []
    for name, title in PARTS.items():
        mine = [item for item in items if item.part == name]
        if part and part != name:
            continue
        # Costliest first; unknown after the known, then by name: the order the overview's bars read.
        mine.sort(key=lambda i: (i.cost is None, -(i.cost or 0), labels.get(i.bucket, ""), i.cluster_id, i.sort_name))
        page = Paginator(mine, ROWS_SHOWN).get_page(request.GET.get(f"{name}-page"))
        tables.append(
            {
                "part": name,
                "title": title,
                "page": page,
                "previous_url": _page_url(request, f"{name}-page", page.previous_page_number())
                if page.has_previous()
                else "",
                "next_url": _page_url(request, f"{name}-page", page.next_page_number()) if page.has_next() else "",
                "rows": [_row(item, labels, clusters, fleet) for item in page.object_list],
                "count": sum(item.count for item in mine),
            }
        )
    context = {
        "error": error,
        "bucket": bucket,
        "bucket_label": labels.get(bucket, "") if bucket else "",
        "part": part,
        "part_label": PARTS.get(part, ""),
        "price": price,
        "price_label": PRICES.get(price, ""),
        "tables": tables,
        "count": sum(item.count for item in items),
        "noun": {"machines": "machine", "node-groups": "node group"}.get(part, "machine or node group"),
        "nouns": {"machines": "machines", "node-groups": "node groups"}.get(part, "machines and node groups"),
        "total": sum(known),
        "unknown": sum(item.count for item in items if item.cost is None),
        "unknown_url": cost_url(bucket, part, "unknown"),
        "stale": [c for c in freshness.stale if any(i.cluster_id == c.pk for i in items)],
        "rows_shown": ROWS_SHOWN,
        "parts": PARTS.items(),
        # Vitistacks by name, then the shared and unattributed rows: as the overview's table.
        "buckets": sorted(
            ((key, b.label) for key, b in buckets.items()),
            key=lambda item: (item[0] in (SHARED, UNATTRIBUTED), item[1]),
        ),
        "prices": PRICES.items(),
        "cost_text": COST_TEXT,
        "overview_url": reverse("home") + "#usage-heading",
    }
    return render_page(request, "vitiweb/cost_list.html", context)
