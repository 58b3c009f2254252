"""The monitor of one cluster, run beside its sync by the worker holding it.

It mirrors the cluster's Events (`events.EventMirror`), evaluates the alert
rules for the cluster, and asks the cluster about the controllers' RBAC every
`rbac_interval` seconds and whenever its references change. One cluster is
held by one worker at a time, so each of these runs once per cluster in the
whole deployment.

The rules read only what syncs write, so they are evaluated when the
cluster's writer says it changed what they read (`changed`): its stacks and
providers, or a Machine that recorded a provisioning failure. They are also
evaluated when time alone changes an alert (a `for:` duration ends, a failure
leaves the window: `alerts.next_change`), and otherwise every `idle_interval`
seconds, which catches what other clusters' syncs change (a stack's provider
may live in another cluster); never more often than every `alert_interval`
seconds. Evaluating every cluster every second, changed or not, cost a worker
holding 50 clusters more than half its interpreter time; evaluating every
cluster on any provider change in the process made that worker's initial
sync take over three times as long.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections
from django.db.models import Count, Max
from django.utils import timezone

from vitiweb.models import Cluster, Reference
from vitiweb.monitoring import alerts, events, rbac
from vitiweb.monitoring.models import ClusterMonitoring, ProvisioningFailure
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
        self._wake = threading.Event()
        # What the writer said changed since the last pass (set by the writer's thread, taken by the monitor's).
        self._changes_lock = threading.Lock()
        self._rules_input_changed = False
        self._machines_changed = False
        self._references_may_have_changed = False
        self._thread: threading.Thread | None = None
        self.mirror: events.EventMirror | None = None
        self.evaluations = 0

    def changed(self, kinds, references: bool = True) -> None:
        """This cluster's sync wrote changes to objects of ``kinds`` (and to their ``references``)."""
        kinds = set(kinds)
        if not kinds:
            return
        with self._changes_lock:
            self._references_may_have_changed |= references
            self._rules_input_changed |= bool(kinds - {"Machine"})
            self._machines_changed |= "Machine" in kinds
        self._wake.set()

    def _take_changes(self) -> tuple[bool, bool, bool]:
        """(rules' input changed, Machines changed, references may have changed) since the last call."""
        with self._changes_lock:
            taken = (self._rules_input_changed, self._machines_changed, self._references_may_have_changed)
            self._rules_input_changed = self._machines_changed = self._references_may_have_changed = False
        return taken

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"monitor-{self.cluster_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self.mirror is not None:
            self.mirror.stop(timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        api_client = None
        next_rbac = 0.0
        checked_references = None
        newest_failure = None
        due = 0.0  # the first pass evaluates
        wait = 0.0
        try:
            while not self._stop.is_set():
                self._wake.wait(wait)
                self._wake.clear()
                if self._stop.is_set():
                    return
                started = time.monotonic()
                rules_input_changed, machines_changed, references_changed = self._take_changes()
                try:
                    cluster = Cluster.objects.get(pk=self.cluster_id)
                    if cluster.read_only:
                        return
                    if api_client is None:
                        api_client = api_client_for(cluster)
                    if self.mirror is None:
                        namespaces = {ClusterMonitoring.for_cluster(cluster).controller_namespace}
                        self.mirror = events.start_mirror(self.cluster_id, api_client, namespaces)
                    if machines_changed and not rules_input_changed:
                        failure = self._newest_failure()
                        rules_input_changed = failure != newest_failure
                    if rules_input_changed or started >= due:
                        now = timezone.now()
                        newest_failure = self._newest_failure()
                        alerts.evaluate(self.cluster_id, now)
                        self.evaluations += 1
                        next_change = alerts.next_change(self.cluster_id, now)
                        due = started + (
                            self.idle_interval if next_change is None else (next_change - now).total_seconds()
                        )
                    # Asked again on a timer (RBAC changes unseen) and as soon as the references change.
                    if references_changed or checked_references is None:
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
                    due = started + self.alert_interval
                finally:
                    close_old_connections()
                # At most one pass per alert_interval, however often the writers say something changed.
                self._stop.wait(max(0.0, self.alert_interval - (time.monotonic() - started)))
                wait = max(0.0, min(due, started + self.idle_interval, next_rbac) - time.monotonic())
        finally:
            if self.mirror is not None:
                self.mirror.stop()
            if api_client is not None:
                api_client.close()

    def _newest_failure(self) -> int | None:
        """The id of this cluster's newest provisioning failure: a new one is a change the rules read."""
        return ProvisioningFailure.objects.filter(cluster_id=self.cluster_id).aggregate(newest=Max("id"))["newest"]
