"""The guide's three alert rules, evaluated by Vitiweb from the mirror as Prometheus would evaluate them.

Each rule's expression is computed from the same series `/metrics` exports
(`vitiweb.monitoring.series`). A series for which it holds is an alert
instance, pending until it has held for the rule's `for:` duration, then
firing; it ends when the expression stops holding. Instances are rows, so
"since when" survives restarts and every web process shows the same state.
The monitor of each cluster (`vitiweb.monitoring.runner`) evaluates its
cluster's rules when its mirrored objects change and when `next_change`
says time alone changes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone

from vitiweb import live
from vitiweb.monitoring import series as metrics
from vitiweb.monitoring.models import AlertInstance, ProvisioningFailure

#: The live group of pages listing alerts.
LIST_GROUP = "alert-list"


@dataclass(frozen=True)
class Rule:
    name: str
    group: str
    expr: str
    for_seconds: int
    severity: str
    summary: str
    description: str

    @property
    def for_text(self) -> str:
        return f"{self.for_seconds // 60}m" if self.for_seconds else "0s"


#: As written in the guide's PrometheusRule `vitistack-alerts`.
RULES = (
    Rule(
        "VitistackProviderDown",
        "vitistack.rules",
        'vitistack_vitistack_provider_status{status="ready"} == 0',
        300,
        "critical",
        "Vitistack provider is down",
        "Provider {provider} in vitistack {vitistack} has been down for more than 5 minutes",
    ),
    Rule(
        "MachineProvisioningFailed",
        "machine.rules",
        "increase(vitistack_machine_provisioning_failures_total[5m]) > 0",
        0,
        "warning",
        "Machine provisioning is failing",
        "{value} machine provisioning failures in the last 5 minutes",
    ),
    Rule(
        "KubernetesClusterUnhealthy",
        "kubernetes.rules",
        'vitistack_kubernetes_cluster_ready{status="ready"} == 0',
        600,
        "critical",
        "Kubernetes cluster is unhealthy",
        "Cluster {cluster} has been unhealthy for more than 10 minutes",
    ),
)
RULES_BY_NAME = {rule.name: rule for rule in RULES}


def _series_key(labels: dict) -> str:
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))[:800]


def active_series(cluster_id: int, now: datetime) -> dict[tuple[str, str], tuple[Rule, dict, float, list]]:
    """(rule name, series key) -> (rule, labels, value, targets) for every series whose expression holds now."""
    active = {}
    down, failed, unhealthy = (
        RULES_BY_NAME[name]
        for name in ("VitistackProviderDown", "MachineProvisioningFailed", "KubernetesClusterUnhealthy")
    )
    for s in metrics.provider_status(cluster_id):
        if s.labels["status"] == "ready" and s.value == 0:
            active[(down.name, _series_key(s.labels))] = (down, s.labels, s.value, s.targets)
    for s in metrics.kubernetes_cluster_ready(cluster_id):
        if s.labels["status"] == "ready" and s.value == 0:
            active[(unhealthy.name, _series_key(s.labels))] = (unhealthy, s.labels, s.value, s.targets)
    count, machines = metrics.failures_since(cluster_id, now - metrics.WINDOW)
    if count > 0:
        from vitiweb.models import Cluster

        labels = {"management_cluster": Cluster.objects.filter(pk=cluster_id).values_list("name", flat=True).first()}
        active[(failed.name, _series_key(labels))] = (failed, labels, float(count), machines)
    return active


def evaluate(cluster_id: int, now: datetime | None = None) -> bool:
    """Bring the cluster's alert instances up to date; True if anything a page shows changed."""
    now = now or timezone.now()
    active = active_series(cluster_id, now)
    changed_targets: list[dict] = []
    with transaction.atomic():
        existing = {
            (a.rule, a.series): a for a in AlertInstance.objects.select_for_update().filter(cluster_id=cluster_id)
        }
        gone = [a for key, a in existing.items() if key not in active]
        for alert in gone:
            changed_targets.extend(alert.targets)
        AlertInstance.objects.filter(pk__in=[a.pk for a in gone]).delete()
        for key, (rule, labels, value, targets) in active.items():
            alert = existing.get(key)
            if alert is None:
                alert = AlertInstance(
                    rule=rule.name, cluster_id=cluster_id, series=key[1], active_since=now, severity=rule.severity
                )
            state = (
                AlertInstance.State.FIRING
                if now - alert.active_since >= timedelta(seconds=rule.for_seconds)
                else AlertInstance.State.PENDING
            )
            text = {k: v for k, v in labels.items()}
            description = rule.description.format_map(_Labels({**text, "value": f"{value:g}"}))
            if (
                alert.pk is not None
                and alert.state == state
                and alert.value == value
                and alert.targets == targets
                and alert.description == description
            ):
                continue
            if state == AlertInstance.State.FIRING and alert.fired_at is None:
                alert.fired_at = now
            alert.state, alert.value, alert.targets, alert.labels = state, value, targets, labels
            alert.summary, alert.description, alert.evaluated_at = rule.summary, description, now
            alert.save()
            changed_targets.extend(targets)
        if gone or changed_targets:
            objects = {(t["kind"], t["id"]) for t in changed_targets if t.get("id")}
            live.publish_related_changes(cluster_id, "Alert", LIST_GROUP, sorted(objects))
    return bool(gone or changed_targets)


def next_change(cluster_id: int, now: datetime) -> datetime | None:
    """When the cluster's alerts change with time alone, if its mirrored objects do not change first: a
    pending alert's `for:` duration ends, or a provisioning failure leaves the failure window."""
    due = [
        alert.active_since + timedelta(seconds=RULES_BY_NAME[alert.rule].for_seconds)
        for alert in AlertInstance.objects.filter(cluster_id=cluster_id, state=AlertInstance.State.PENDING).only(
            "rule", "active_since"
        )
        if alert.rule in RULES_BY_NAME
    ]
    oldest_failure = ProvisioningFailure.objects.filter(
        cluster_id=cluster_id, observed_at__gte=now - metrics.WINDOW
    ).aggregate(oldest=Min("observed_at"))["oldest"]
    if oldest_failure is not None:
        due.append(oldest_failure + metrics.WINDOW)
    return min(due, default=None)


class _Labels(dict):
    def __missing__(self, key):
        return ""


# -- what pages show ---------------------------------------------------------------------------------


def controller_for(kind: str) -> str:
    """The Deployment whose log says what happened to an object of this kind (the guide's two controllers)."""
    return "machine-controller" if kind == "Machine" else "vitistack-controller"


def alert_links(alert: AlertInstance) -> dict:
    """Where a firing alert sends the operator: the first object's events, and its controller's logs."""
    from vitiweb.kinds import KINDS, model_for

    first = next((t for t in alert.targets if t.get("id") and t.get("kind") in KINDS), None)
    links = {"events": None, "logs": None, "object": None}
    if first is not None:
        name = model_for(first["kind"])._meta.model_name
        links["object"] = reverse(f"{name}_detail", args=[first["id"]])
        links["events"] = reverse(f"{name}_events", args=[first["id"]])
    kind = first["kind"] if first else ("Machine" if alert.rule == "MachineProvisioningFailed" else "Vitistack")
    links["logs"] = reverse("cluster_logs", args=[alert.cluster_id]) + f"?deployment={controller_for(kind)}"
    return links


def for_object(kind: str, pk: int) -> list[AlertInstance]:
    """Alerts about one object (its targets name it)."""
    found = []
    for alert in AlertInstance.objects.select_related("cluster").order_by("state", "active_since"):
        if any(t.get("kind") == kind and t.get("id") == pk for t in alert.targets):
            found.append(alert)
    return found
