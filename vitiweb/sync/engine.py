"""The sync engine: keeps the database equal to what each cluster holds.

The cluster is the source of truth. For each cluster, one reflector per
installed VitiStack kind lists and watches it (``vitiweb.kube.reflector``
owns the list/watch/relist/backoff loop); their snapshots and events go,
in order, through one queue to one writer thread, which applies them in
batches through ``vitiweb.sync.mirror`` (bulk upserts, journal rows,
reference resolution, live updates after commit). Kinds are discovered, not
assumed: a kind the cluster lacks is synced as empty, and starts syncing as
soon as its CRD appears.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import OperationalError, close_old_connections, connection, transaction
from django.utils import timezone

from vitiweb import live, logs
from vitiweb.kinds import KINDS
from vitiweb.kube.discovery import Discovery, discover
from vitiweb.kube.errors import KubeError
from vitiweb.kube.reflector import BACKOFF, ERROR, LISTING, WATCHING, Reflector, ReflectorTiming, list_objects
from vitiweb.kube.secrets import list_secret_metadata
from vitiweb.models import Cluster
from vitiweb.monitoring.runner import ClusterMonitor
from vitiweb.shapes import kind_specs
from vitiweb.sync.clusters import api_client_for
from vitiweb.sync.mirror import Summary, apply_events, apply_snapshot, replace_known_secrets

logger = logging.getLogger(__name__)

#: Failures that mean the server cannot be reached at all, rather than that one kind has a problem.
UNREACHABLE_CATEGORIES = {"unreachable", "timeout", "tls", "dropped", "unauthorized"}


@dataclass(frozen=True)
class EngineTiming:
    """Timing of the engine around the reflectors; injectable so tests run fast."""

    #: How long the writer gathers events into one batch (one transaction).
    batch_window: float = 0.05
    max_batch: int = 2000
    #: How often discovery is repeated (a CRD installed later starts syncing).
    discovery_interval: float = 30.0
    #: How often the names of Secrets are refreshed (existence checks of secretRefs).
    secrets_interval: float = 60.0
    #: At most one write of the cluster's lag/last-event columns per this many seconds.
    status_interval: float = 1.0
    #: A writer idle this long closes its database connection: a worker mirroring a hundred clusters
    #: would otherwise hold one per cluster, past PostgreSQL's max_connections.
    idle_connection: float = 1.0
    reflector: ReflectorTiming = field(default_factory=ReflectorTiming)


@dataclass
class Handover:
    """A snapshot handed to the writer: set done once applied (error if it failed)."""

    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


#: Complete snapshots being listed or written at once, across every cluster of
#: this process: what bounds a worker's memory during the initial sync of a fleet.
LIST_GATE = threading.BoundedSemaphore(2)


def discovered_kinds(discovery: dict) -> dict:
    """What a cluster page shows of each kind's discovery (``Discovery.to_dict()``)."""
    return {
        kind: {key: info.get(key) for key in ("installed", "version", "plural", "scope", "problem")}
        for kind, info in discovery["kinds"].items()
    }


def secret_names(items) -> set[tuple[str, str]]:
    """(namespace, name) of listed Secrets: all the dashboard keeps of them."""
    return {((item.get("metadata") or {}).get("namespace") or "", item["metadata"]["name"]) for item in items}


def cluster_state(kind_states: dict[str, dict], discovery_error: str | None) -> str:
    """connected, degraded or unreachable, from the state of every kind's reflector."""
    if discovery_error:
        return Cluster.State.UNREACHABLE
    states = [entry for entry in kind_states.values() if entry.get("installed", True)]
    if not states:
        return Cluster.State.CONNECTED
    failing = [entry for entry in states if entry.get("state") in (BACKOFF, ERROR)]
    if failing and len(failing) == len(states) and all(e.get("category") in UNREACHABLE_CATEGORIES for e in failing):
        return Cluster.State.UNREACHABLE
    if failing or any(entry.get("state") not in (WATCHING, LISTING) for entry in states):
        return Cluster.State.DEGRADED
    return Cluster.State.CONNECTED


class ClusterSync:
    """Mirrors one cluster until stopped."""

    def __init__(self, cluster_id: int, timing: EngineTiming | None = None):
        self.cluster_id = cluster_id
        self.timing = timing or EngineTiming()
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue()
        self._reflectors: dict[str, Reflector] = {}
        self._kind_states: dict[str, dict] = {}
        self._discovery_error: str | None = None
        self._threads: list[threading.Thread] = []
        self._api_client = None
        self._last_status_write = 0.0
        self._relist = threading.Event()
        # Wakes the supervisor early: for a requested relist, or to stop.
        self._wake = threading.Event()
        self.batches = 0
        self.monitor = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        cluster = Cluster.objects.filter(pk=self.cluster_id).values_list("name", flat=True).first()
        for target, name in ((self._supervise, "supervisor"), (self._write_loop, "writer")):
            thread = logs.thread(target, name=f"sync-{self.cluster_id}-{name}", cluster=cluster or str(self.cluster_id))
            thread.start()
            self._threads.append(thread)
        if settings.VITIWEB_MONITOR:
            # Events, alerts and RBAC checks of this cluster run where its sync runs (one worker per cluster).
            self.monitor = ClusterMonitor(self.cluster_id)
            self.monitor.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self.monitor is not None:
            self.monitor.stop(timeout)
        for reflector in list(self._reflectors.values()):
            reflector.stop(timeout=timeout)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def request_relist(self) -> None:
        """Restart every reflector, so each kind is listed and reconciled afresh."""
        self._relist.set()
        self._wake.set()

    def reflector_status(self, kind: str):
        """The reflector's own account of a kind: state, lists, watches, events."""
        return self._reflectors[kind].status

    @property
    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    # -- supervisor: discovery, reflectors, secrets ------------------------------------------------

    def _supervise(self) -> None:
        next_secrets = 0.0
        backoff = 1.0
        try:
            while not self._stop.is_set():
                try:
                    if self._api_client is None:
                        self._api_client = api_client_for(Cluster.objects.get(pk=self.cluster_id))
                    found = discover(self._api_client, kinds=kind_specs(), timeout=(5.0, 15.0), undeclared=True)
                except Cluster.DoesNotExist:
                    return
                except KubeError as exc:
                    self._discovery_error = str(exc)
                    self._queue.put(("state", None))
                    self._sleep(min(backoff, self.timing.discovery_interval))
                    backoff = min(backoff * 2, self.timing.discovery_interval)
                    continue
                finally:
                    close_old_connections()
                backoff = 1.0
                self._discovery_error = None
                if self._relist.is_set():
                    self._relist.clear()
                    self._stop_reflectors()
                self._reconcile_reflectors(found)
                if time.monotonic() >= next_secrets:
                    self._refresh_secrets()
                    next_secrets = time.monotonic() + self.timing.secrets_interval
                self._sleep(self.timing.discovery_interval)
        finally:
            self._stop_reflectors()
            if self._api_client is not None:
                self._api_client.close()

    def _sleep(self, seconds: float) -> None:
        # The supervisor reads the database for moments a round: its connection is not kept through the wait.
        connection.close()
        self._wake.wait(seconds)
        self._wake.clear()

    def _stop_reflectors(self) -> None:
        for kind, reflector in list(self._reflectors.items()):
            reflector.stop()
            del self._reflectors[kind]

    def _reconcile_reflectors(self, found: Discovery) -> None:
        self._queue.put(("discovery", found.to_dict()))
        # Declared kinds, then any other vitistack.io kind the cluster serves (mirrored generically).
        for kind in dict.fromkeys([*KINDS, *found.kinds, *self._reflectors]):
            info = found.kinds.get(kind)
            running = self._reflectors.get(kind)
            if info is not None and info.installed:
                if running is None:
                    self._kind_states[kind] = {"installed": True, "state": LISTING}
                    self._start_reflector(kind, info.resource())
            else:
                if running is not None:
                    running.stop()
                    del self._reflectors[kind]
                # The cluster does not serve this kind (any more): it holds none of its objects. Said once
                # (first discovery, or when the kind goes away), not at every discovery: a cluster of one API
                # shape never serves the other shape's kinds.
                known_absent = self._kind_states.get(kind, {}).get("installed") is False
                self._kind_states[kind] = {
                    "installed": False,
                    "state": "not installed",
                    "error": info.problem if info else None,
                }
                if not known_absent:
                    self._queue.put(("snapshot", kind, [], None))

    def _start_reflector(self, kind: str, resource) -> None:
        def on_list(items, resource_version):
            # Wait until the writer has applied it, so the list gate also covers the write.
            handover = Handover()
            self._queue.put(("snapshot", kind, items, handover))
            while not handover.done.wait(0.5):
                if self._stop.is_set():
                    return
            if handover.error is not None:
                raise handover.error  # the reflector lists again after a backoff

        def on_event(event_type, obj):
            self._queue.put(("event", kind, (event_type, obj), time.monotonic()))

        def on_state(state, error=None):
            entry = {"installed": True, "state": state}
            if error is not None:
                entry.update(error=str(error), category=getattr(error, "category", None))
            self._kind_states[kind] = entry
            self._queue.put(("state", error))

        reflector = Reflector(
            self._api_client,
            resource,
            on_list=on_list,
            on_event=on_event,
            on_state=on_state,
            timing=self.timing.reflector,
            name=f"sync-{self.cluster_id}-{resource.plural}",
            list_gate=LIST_GATE,
        )
        self._reflectors[kind] = reflector
        with logs.bind(kind=kind):
            reflector.start()

    def _refresh_secrets(self) -> None:
        try:
            items = list_secret_metadata(self._api_client, timeout=(5.0, 30.0))
        except KubeError as exc:
            # Without list permission on Secrets, existence cannot be checked; keep what is known.
            logger.info("cluster %s: cannot list secrets: %s", self.cluster_id, exc)
            return
        self._queue.put(("secrets", secret_names(items)))

    # -- writer: the one thread that writes this cluster's rows --------------------------------------

    def _write_loop(self) -> None:
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set() or not self._queue.empty():
                try:
                    first = self._queue.get(timeout=0.2)
                except queue.Empty:
                    if idle_since is not None and time.monotonic() - idle_since >= self.timing.idle_connection:
                        connection.close()
                        idle_since = None
                    continue
                idle_since = time.monotonic()
                batch = [first]
                deadline = time.monotonic() + self.timing.batch_window
                while len(batch) < self.timing.max_batch:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(self._queue.get(timeout=remaining))
                    except queue.Empty:
                        break
                try:
                    self._write_with_retries(batch)
                except Cluster.DoesNotExist:
                    return  # the cluster was removed from the registry
                except Exception as exc:  # a failed batch must not end the sync: relist to converge
                    logger.exception("cluster %s: writing a batch failed; relisting", self.cluster_id)
                    self._record_error(f"writing to the database failed: {exc}")
                    for item in batch:
                        if item[0] == "snapshot" and item[3] is not None:
                            item[3].error = exc
                            item[3].done.set()
                    self.request_relist()
                finally:
                    close_old_connections()
        finally:
            close_old_connections()

    def _write_with_retries(self, batch: list[tuple], attempts: int = 4) -> None:
        """Write a batch, again if the database chose it as a deadlock victim.

        Writers of different clusters re-resolve each other's references (a
        reference resolves across the fleet), so their transactions can
        deadlock; every step is idempotent, so the batch is simply retried.
        """
        for attempt in range(attempts):
            try:
                return self._write(batch)
            except OperationalError as exc:
                if "deadlock" not in str(exc).lower() or attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))

    def _write(self, batch: list[tuple]) -> None:
        # Only what writing needs: the row's JSON columns (its kinds' states, discovery) cost more to decode
        # than a batch of one watch event costs to write.
        cluster = Cluster.objects.only("id", "state").get(pk=self.cluster_id)
        pending: dict[str, list] = {}
        oldest_event: float | None = None
        summary = Summary()
        state_changed = False
        discovery = None
        snapshots_written: list[Handover] = []

        def flush(kind):
            nonlocal summary
            if pending.get(kind):
                summary += apply_events(cluster, kind, pending.pop(kind))

        for item in batch:
            tag = item[0]
            if tag == "event":
                _, kind, event, received = item
                pending.setdefault(kind, []).append(event)
                oldest_event = received if oldest_event is None else min(oldest_event, received)
            elif tag == "snapshot":
                _, kind, items, written = item
                flush(kind)
                summary += apply_snapshot(cluster, kind, items)
                state_changed = True
                snapshots_written.append(written)
            elif tag == "secrets":
                replace_known_secrets(cluster, item[1])
            elif tag == "state":
                state_changed = True
            elif tag == "discovery":
                discovery = item[1]
        for kind in list(pending):
            flush(kind)
        for handover in snapshots_written:
            if handover is not None:
                handover.done.set()
        self.batches += 1
        self._write_status(cluster, oldest_event, summary, state_changed, discovery)
        if self.monitor is not None and summary.changed:
            self.monitor.changed(summary.kinds, references=bool(summary.references_rebuilt or summary.deleted))

    def _write_status(self, cluster: Cluster, oldest_event, summary: Summary, state_changed: bool, discovery) -> None:
        now = time.monotonic()
        if not state_changed and discovery is None and now - self._last_status_write < self.timing.status_interval:
            return
        self._last_status_write = now
        fields: dict = {"kind_states": self._kind_states_with_counts()}
        state = cluster_state(self._kind_states, self._discovery_error)
        fields["state"] = state
        if oldest_event is not None:
            fields["lag_ms"] = round((now - oldest_event) * 1000, 1)
            fields["last_event_at"] = timezone.now()
        if any(entry.get("state") == WATCHING for entry in self._kind_states.values()) or summary.changed:
            fields["last_sync_at"] = timezone.now()
        errors = [
            f"{kind}: {entry['error']}"
            for kind, entry in self._kind_states.items()
            if entry.get("error") and entry.get("state") in (BACKOFF, ERROR)
        ]
        if self._discovery_error:
            errors.insert(0, self._discovery_error)
        if errors:
            fields.update(last_error="\n".join(errors), last_error_at=timezone.now())
        if discovery is not None:
            fields["discovered_kinds"] = discovered_kinds(discovery)
        with transaction.atomic():
            Cluster.objects.filter(pk=cluster.pk).update(**fields)
            if state != cluster.state or state_changed:
                live.publish_cluster_state(cluster.pk)

    def _kind_states_with_counts(self) -> dict:
        """Each kind's state, with how many lists and watches its reflector made (for /metrics)."""
        states = {kind: dict(entry) for kind, entry in self._kind_states.items()}
        for kind, reflector in list(self._reflectors.items()):
            status = reflector.status
            states.setdefault(kind, {}).update(lists=status.lists, watches=status.watches)
        return states

    def _record_error(self, message: str) -> None:
        Cluster.objects.filter(pk=self.cluster_id).update(last_error=message, last_error_at=timezone.now())


def sync_once(cluster: Cluster, page_size: int = 500) -> dict[str, Summary]:
    """List every kind of one cluster and reconcile the database against it, once."""
    api_client = api_client_for(cluster)
    try:
        found = discover(api_client, kinds=kind_specs(), timeout=(5.0, 30.0), undeclared=True)
        snapshots = {}
        for kind in dict.fromkeys([*KINDS, *found.kinds]):
            info = found.kinds.get(kind)
            snapshots[kind] = (
                list_objects(api_client, info.resource(), page_size=page_size) if info and info.installed else []
            )
        try:
            secrets = list_secret_metadata(api_client, timeout=(5.0, 30.0))
        except KubeError:
            secrets = None
    finally:
        api_client.close()
    results = {kind: apply_snapshot(cluster, kind, items) for kind, items in snapshots.items()}
    if secrets is not None:
        replace_known_secrets(cluster, secret_names(secrets))
    with transaction.atomic():
        Cluster.objects.filter(pk=cluster.pk).update(
            state=Cluster.State.CONNECTED,
            last_sync_at=timezone.now(),
            discovered_kinds=discovered_kinds(found.to_dict()),
        )
        live.publish_cluster_state(cluster.pk)
    return results
