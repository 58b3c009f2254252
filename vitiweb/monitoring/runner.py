"""The monitor of one cluster, run beside its sync by the worker holding it.

It mirrors the cluster's Events (`events.EventMirror`), evaluates the alert
rules for the cluster, and asks the cluster about the controllers' RBAC every
`rbac_interval` seconds and whenever its references change. One cluster is
held by one worker at a time, so each of these runs once per cluster in the
whole deployment.

The rules read only what the cluster's sync writes, so they are evaluated
when its writer says something changed (`changed`), every `alert_interval`
seconds while an alert of the cluster is pending or firing (a `for:` duration
and the failure window need a clock), and otherwise every `idle_interval`
seconds as a safety net. Evaluating every cluster every second, changed or
not, cost a worker holding 50 clusters more than half its interpreter time.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections
from django.db.models import Count, Max

from vitiweb.models import Cluster, Reference
from vitiweb.monitoring import alerts, events, rbac
from vitiweb.monitoring.models import AlertInstance, ClusterMonitoring
from vitiweb.sync.clusters import api_client_for

logger = logging.getLogger(__name__)


class ClusterMonitor:
    def __init__(
        self, cluster_id: int, alert_interval: float = 1.0, rbac_interval: float = 60.0, idle_interval: float = 30.0
    ):
        self.cluster_id = cluster_id
        self.alert_interval = alert_interval
        self.rbac_interval = rbac_interval
        self.idle_interval = idle_interval
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._thread: threading.Thread | None = None
        self.mirror: events.EventMirror | None = None
        self.evaluations = 0

    def changed(self) -> None:
        """The cluster's mirrored objects changed: evaluate its rules (and check its references) now."""
        self._changed.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"monitor-{self.cluster_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._changed.set()
        if self.mirror is not None:
            self.mirror.stop(timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        api_client = None
        next_rbac = 0.0
        checked_references = None
        wait = 0.0
        try:
            while not self._stop.is_set():
                changed = self._changed.wait(wait)
                self._changed.clear()
                if self._stop.is_set():
                    return
                started = time.monotonic()
                try:
                    cluster = Cluster.objects.get(pk=self.cluster_id)
                    if cluster.read_only:
                        return
                    if api_client is None:
                        api_client = api_client_for(cluster)
                    if self.mirror is None:
                        namespaces = {ClusterMonitoring.for_cluster(cluster).controller_namespace}
                        self.mirror = events.start_mirror(self.cluster_id, api_client, namespaces)
                    alerts.evaluate(self.cluster_id)
                    self.evaluations += 1
                    ticking = AlertInstance.objects.filter(cluster_id=self.cluster_id).exists()
                    # Asked again on a timer (RBAC changes unseen) and as soon as the references change.
                    if changed or checked_references is None:
                        references = Reference.objects.filter(source_cluster_id=self.cluster_id).aggregate(
                            n=Count("id"), m=Max("id")
                        )
                    else:
                        references = checked_references
                    if time.monotonic() >= next_rbac or references != checked_references:
                        rbac.check_cluster(cluster, api_client)
                        next_rbac = time.monotonic() + self.rbac_interval
                        checked_references = references
                except Cluster.DoesNotExist:
                    return
                except Exception:  # the monitor must outlive one bad pass (a database hiccup, an odd answer)
                    logger.exception("cluster %s: monitoring pass failed", self.cluster_id)
                    ticking = True
                finally:
                    close_old_connections()
                # At most one pass per alert_interval, however often the writer says something changed.
                self._stop.wait(max(0.0, self.alert_interval - (time.monotonic() - started)))
                idle = self.alert_interval if ticking else self.idle_interval
                wait = max(0.0, min(idle, next_rbac - time.monotonic()) - self.alert_interval)
        finally:
            if self.mirror is not None:
                self.mirror.stop()
            if api_client is not None:
                api_client.close()
