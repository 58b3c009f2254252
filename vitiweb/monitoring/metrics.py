"""/metrics: every value is read from the database at scrape time, by a custom collector.

So any web process answers with the same numbers, whichever sync worker or web
process produced them (no per-process counters to add up). The guide's three
metric names (`vitiweb.monitoring.series`) make its PrometheusRule work for the
whole fleet; Vitiweb's own are prefixed `vitiweb_`.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

from vitiweb.kinds import all_models
from vitiweb.models import AuditEntry, Cluster
from vitiweb.monitoring import series
from vitiweb.monitoring.models import AlertInstance, Event, ProcessGauge

#: A process that has not refreshed its gauges for this long is gone; its values no longer count.
PROCESS_STALE = timedelta(seconds=180)


def _gauge(name, documentation, items, labels):
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for s in items:
        family.add_metric([s.labels.get(label, "") for label in labels], s.value)
    return family


class DatabaseCollector:
    def collect(self):
        yield _gauge(
            "vitistack_vitistack_provider_status",
            "1 for the current status (ready, not_ready, unknown) of each provider a Vitistack lists.",
            series.provider_status(),
            ["management_cluster", "namespace", "vitistack", "provider", "provider_kind", "status"],
        )
        failures = CounterMetricFamily(
            "vitistack_machine_provisioning_failures",
            "Machines observed moving into phase Failed.",
            labels=["management_cluster"],
        )
        for s in series.provisioning_failures_total():
            failures.add_metric([s.labels["management_cluster"]], s.value)
        yield failures
        yield _gauge(
            "vitistack_kubernetes_cluster_ready",
            "1 for the current readiness (ready, not_ready, unknown) of each Kubernetes cluster (KubernetesProvider).",
            series.kubernetes_cluster_ready(),
            ["management_cluster", "namespace", "cluster", "status"],
        )
        yield from self._vitiweb()

    def _vitiweb(self):
        clusters = list(Cluster.objects.order_by("name"))
        names = {c.pk: c.name for c in clusters}
        objects = GaugeMetricFamily(
            "vitiweb_objects", "Mirrored objects per cluster and kind.", labels=["cluster", "kind"]
        )
        for model in all_models():
            counted = dict(model.objects.order_by().values_list("cluster_id").annotate(n=Count("id")))
            for pk, name in names.items():
                objects.add_metric([name, model.KIND], counted.get(pk, 0))
        yield objects
        state = GaugeMetricFamily(
            "vitiweb_cluster_sync_state", "1 for each cluster's current sync state.", labels=["cluster", "state"]
        )
        lag = GaugeMetricFamily(
            "vitiweb_cluster_sync_lag_seconds",
            "From receiving the newest batch of changes to committing it.",
            labels=["cluster"],
        )
        last = GaugeMetricFamily(
            "vitiweb_cluster_last_sync_timestamp_seconds",
            "When the cluster last synced successfully.",
            labels=["cluster"],
        )
        lists = CounterMetricFamily(
            "vitiweb_reflector_lists",
            "Complete lists (initial and relists) by the worker holding the cluster.",
            labels=["cluster", "kind"],
        )
        watches = CounterMetricFamily(
            "vitiweb_reflector_watches",
            "Watches started (restarts included) by the worker holding the cluster.",
            labels=["cluster", "kind"],
        )
        for cluster in clusters:
            for value in Cluster.State.values:
                state.add_metric([cluster.name, value], 1.0 if cluster.state == value else 0.0)
            if cluster.lag_ms is not None:
                lag.add_metric([cluster.name], cluster.lag_ms / 1000)
            if cluster.last_sync_at is not None:
                last.add_metric([cluster.name], cluster.last_sync_at.timestamp())
            for kind, entry in (cluster.kind_states or {}).items() if isinstance(cluster.kind_states, dict) else ():
                if isinstance(entry, dict) and "lists" in entry:
                    lists.add_metric([cluster.name, kind], entry.get("lists") or 0)
                    watches.add_metric([cluster.name, kind], entry.get("watches") or 0)
        yield from (state, lag, last, lists, watches)

        fresh = ProcessGauge.objects.filter(updated_at__gte=timezone.now() - PROCESS_STALE)
        sockets = GaugeMetricFamily(
            "vitiweb_websocket_connections", "Open websockets, all web processes.", labels=["consumer"]
        )
        totals: dict[str, float] = {}
        for name, value in fresh.values_list("name", "value"):
            totals[name] = totals.get(name, 0.0) + value
        for consumer in ("live", "logs"):
            sockets.add_metric([consumer], totals.get(f"websockets_{consumer}", 0.0))
        yield sockets

        applies = CounterMetricFamily(
            "vitiweb_apply", "Dry-runs and applies from the dashboard by outcome.", labels=["action", "result"]
        )
        for action, result, n in AuditEntry.objects.order_by().values_list("action", "result").annotate(n=Count("id")):
            applies.add_metric([action, result], n)
        yield applies

        findings = GaugeMetricFamily("vitiweb_findings", "Integrity findings by severity.", labels=["severity"])
        from vitiweb.integrity import current_findings

        for severity, n in current_findings().counts().items():
            findings.add_metric([severity], n)
        yield findings

        events = GaugeMetricFamily(
            "vitiweb_events_stored", "Mirrored Events kept, per cluster and type.", labels=["cluster", "type"]
        )
        for cid, type_, n in Event.objects.order_by().values_list("cluster_id", "type").annotate(n=Count("id")):
            events.add_metric([names.get(cid, ""), type_], n)
        yield events

        alerts = GaugeMetricFamily(
            "vitiweb_alerts", "Alert instances Vitiweb evaluates, by rule and state.", labels=["rule", "state"]
        )
        for rule, state_, n in AlertInstance.objects.order_by().values_list("rule", "state").annotate(n=Count("id")):
            alerts.add_metric([rule, state_], n)
        yield alerts


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(DatabaseCollector())
