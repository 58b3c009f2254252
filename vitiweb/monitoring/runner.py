"""The monitor of one cluster, run beside its sync by the worker holding it.

It mirrors the cluster's Events (`events.EventMirror`), evaluates the alert
rules for the cluster every `alert_interval` seconds (the `for:` durations
need a clock, not only changes), and asks the cluster about the controllers'
RBAC every `rbac_interval` seconds. One cluster is held by one worker at a
time, so each of these runs once per cluster in the whole deployment.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections
from django.db.models import Count, Max

from vitiweb.models import Cluster, Reference
from vitiweb.monitoring import alerts, events, rbac
from vitiweb.monitoring.models import ClusterMonitoring
from vitiweb.sync.clusters import api_client_for

logger = logging.getLogger(__name__)


class ClusterMonitor:
    def __init__(self, cluster_id: int, alert_interval: float = 1.0, rbac_interval: float = 60.0):
        self.cluster_id = cluster_id
        self.alert_interval = alert_interval
        self.rbac_interval = rbac_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.mirror: events.EventMirror | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"monitor-{self.cluster_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self.mirror is not None:
            self.mirror.stop(timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        api_client = None
        next_rbac = 0.0
        checked_references = None
        try:
            while not self._stop.is_set():
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
                    # Asked again on a timer (RBAC changes unseen) and as soon as the references change.
                    references = Reference.objects.filter(source_cluster_id=self.cluster_id).aggregate(
                        n=Count("id"), m=Max("id")
                    )
                    if time.monotonic() >= next_rbac or references != checked_references:
                        rbac.check_cluster(cluster, api_client)
                        next_rbac = time.monotonic() + self.rbac_interval
                        checked_references = references
                except Cluster.DoesNotExist:
                    return
                except Exception:  # the monitor must outlive one bad pass (a database hiccup, an odd answer)
                    logger.exception("cluster %s: monitoring pass failed", self.cluster_id)
                finally:
                    close_old_connections()
                self._stop.wait(self.alert_interval)
        finally:
            if self.mirror is not None:
                self.mirror.stop()
            if api_client is not None:
                api_client.close()
