"""The guide's metrics as series computed from the mirror, shared by /metrics and the in-app alerts.

- `vitistack_vitistack_provider_status{vitistack, provider, status}`: for each
  provider a Vitistack lists (machineProviders, kubernetesProviders) that
  resolves to an object, one series per status (`ready`, `not_ready`,
  `unknown`), 1 for the provider's current one, as kube-state-metrics exports
  conditions. An unresolved provider has no series (it is an integrity finding).
- `vitistack_kubernetes_cluster_ready{cluster, status}`: per KubernetesProvider
  (the Kubernetes cluster it runs), the same three statuses.
- `vitistack_machine_provisioning_failures_total`: Machines observed moving
  into Failed (`ProvisioningFailure` rows).

Every series also carries `management_cluster` (the cluster Vitiweb mirrors it
from) and `namespace`, so one PrometheusRule covers the fleet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count

from machines.models import Machine
from providers.models import KubernetesProvider
from stacks.models import Vitistack
from vitiweb.kinds import model_for
from vitiweb.models import Cluster, Reference
from vitiweb.monitoring.models import ProvisioningFailure

STATUSES = ("ready", "not_ready", "unknown")
PROVIDER_RELATIONS = ("machine-provider", "kubernetes-provider")


def status_word(ready: bool | None) -> str:
    return "ready" if ready is True else "not_ready" if ready is False else "unknown"


@dataclass
class Series:
    labels: dict[str, str]
    value: float
    #: The mirrored objects behind the series: [{"kind", "id", "namespace", "name"}].
    targets: list[dict] = field(default_factory=list)


def _target(kind: str, pk: int, namespace: str, name: str) -> dict:
    return {"kind": kind, "id": pk, "namespace": namespace, "name": name}


def _cluster_names() -> dict[int, str]:
    return dict(Cluster.objects.values_list("pk", "name"))


def provider_status(cluster_id: int | None = None) -> list[Series]:
    """One series per (Vitistack, provider, status)."""
    refs = Reference.objects.filter(
        source_kind="Vitistack", relation__in=PROVIDER_RELATIONS, state=Reference.State.RESOLVED
    )
    if cluster_id is not None:
        refs = refs.filter(source_cluster_id=cluster_id)
    refs = list(refs.values_list("source_id", "target_kind", "target_id").distinct())
    stacks = {
        row[0]: row
        for row in Vitistack.objects.filter(pk__in={r[0] for r in refs}).values_list(
            "pk", "namespace", "name", "cluster_id"
        )
    }
    wanted: dict[str, set[int]] = defaultdict(set)
    for _, kind, pk in refs:
        wanted[kind].add(pk)
    providers = {}
    for kind, ids in wanted.items():
        for pk, namespace, name, ready in (
            model_for(kind).objects.filter(pk__in=ids).values_list("pk", "namespace", "name", "ready")
        ):
            providers[(kind, pk)] = (namespace, name, ready)
    clusters = _cluster_names()
    out = []
    for stack_id, kind, pk in sorted(refs):
        stack, provider = stacks.get(stack_id), providers.get((kind, pk))
        if stack is None or provider is None:
            continue
        current = status_word(provider[2])
        base = {
            "management_cluster": clusters.get(stack[3], ""),
            "namespace": stack[1],
            "vitistack": stack[2],
            "provider": provider[1],
            "provider_kind": kind,
        }
        targets = [_target(kind, pk, provider[0], provider[1]), _target("Vitistack", stack_id, stack[1], stack[2])]
        out.extend(
            Series({**base, "status": status}, 1.0 if status == current else 0.0, targets) for status in STATUSES
        )
    return out


def kubernetes_cluster_ready(cluster_id: int | None = None) -> list[Series]:
    """One series per (KubernetesProvider, status)."""
    rows = KubernetesProvider.objects.values_list("pk", "namespace", "name", "ready", "cluster_id")
    if cluster_id is not None:
        rows = rows.filter(cluster_id=cluster_id)
    clusters = _cluster_names()
    out = []
    for pk, namespace, name, ready, cid in rows.order_by("cluster_id", "namespace", "name"):
        current = status_word(ready)
        base = {"management_cluster": clusters.get(cid, ""), "namespace": namespace, "cluster": name}
        targets = [_target("KubernetesProvider", pk, namespace, name)]
        out.extend(
            Series({**base, "status": status}, 1.0 if status == current else 0.0, targets) for status in STATUSES
        )
    return out


def provisioning_failures_total() -> list[Series]:
    """The counter per management cluster (every cluster has one, from 0)."""
    counted = dict(ProvisioningFailure.objects.order_by().values_list("cluster_id").annotate(n=Count("id")))
    return [
        Series({"management_cluster": name}, float(counted.get(pk, 0)))
        for pk, name in Cluster.objects.order_by("name").values_list("pk", "name")
    ]


def failures_since(cluster_id: int, since: datetime) -> tuple[int, list[dict]]:
    """(how many failures were observed since, the Machines they were), for the increase(...[5m]) rule."""
    rows = list(
        ProvisioningFailure.objects.filter(cluster_id=cluster_id, observed_at__gte=since).values_list(
            "machine_id", "namespace", "name"
        )
    )
    seen: dict[tuple[str, str], dict] = {}
    for machine_id, namespace, name in rows:
        seen.setdefault((namespace, name), _target("Machine", machine_id, namespace, name))
    existing = set(
        Machine.objects.filter(pk__in=[t["id"] for t in seen.values() if t["id"]]).values_list("pk", flat=True)
    )
    for target in seen.values():
        if target["id"] not in existing:
            target["id"] = None  # deleted since: no page to link
    return len(rows), list(seen.values())


WINDOW = timedelta(minutes=5)
