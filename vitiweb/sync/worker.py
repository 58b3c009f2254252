"""Sync workers share the fleet through leases in the database.

Each worker heartbeats in ``SyncWorker`` and holds clusters by writing its
name and an expiry on the ``Cluster`` row with a conditional UPDATE, so two
workers can never both take the same cluster. Workers renew their leases
every tick; a worker that dies stops renewing and its clusters are taken
over once the lease expires. Each worker takes at most its fair share
(clusters divided by live workers, rounded up) and gives back what is over
it, so a worker that joins gets work.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from vitiweb.models import Cluster, SyncWorker
from vitiweb.sync.engine import ClusterSync, EngineTiming

logger = logging.getLogger(__name__)


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def connection_settings(pks) -> dict[int, str]:
    """A digest of how to reach each cluster (server, context, kubeconfig, encrypted credentials)."""
    digests = {}
    for pk, source, server, context, public, secret in Cluster.objects.filter(pk__in=pks).values_list(
        "pk", "source", "server", "context", "kubeconfig_public", "credentials_encrypted"
    ):
        material = repr((source, server, context, sorted(public.items()) if isinstance(public, dict) else public))
        digests[pk] = hashlib.sha256(material.encode() + bytes(secret or b"")).hexdigest()
    return digests


class Worker:
    def __init__(
        self,
        name: str | None = None,
        *,
        lease_seconds: float = 20.0,
        tick_seconds: float = 5.0,
        cluster_names: list[str] | None = None,
        timing: EngineTiming | None = None,
        sync_factory: Callable[[int], ClusterSync] | None = None,
        on_tick: Callable[[], None] | None = None,
    ):
        self.name = name or default_worker_name()
        self.lease = timedelta(seconds=lease_seconds)
        self.tick_seconds = tick_seconds
        self.cluster_names = cluster_names
        self.timing = timing
        self._sync_factory = sync_factory or (lambda pk: ClusterSync(pk, timing=self.timing))
        # Called after each completed round (a liveness signal for the process's probe).
        self._on_tick = on_tick
        self.syncs: dict[int, ClusterSync] = {}
        # What each running sync connected with, to notice a cluster re-registered under it.
        self._connection_of: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def run(self) -> None:
        """Hold and sync clusters until stopped."""
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                    if self._on_tick is not None:
                        self._on_tick()
                except Exception:  # the database may be briefly unavailable; try again next tick
                    logger.exception("sync worker %s: tick failed", self.name)
                finally:
                    close_old_connections()
                self._stop.wait(self.tick_seconds)
        finally:
            self.shutdown()
            close_old_connections()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=f"sync-worker-{self.name}", daemon=True)
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker's thread; True once it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def shutdown(self) -> None:
        """Stop every sync and give the leases back, so another worker takes over at once.

        The syncs stop side by side: stopping is waiting (for threads to notice, streams to close, queues
        to drain), and one after another a worker holding a hundred clusters took longer than Kubernetes'
        30 s grace period, was killed, and left its leases to expire instead of handing them over.
        """
        if self.syncs:
            with ThreadPoolExecutor(max_workers=min(len(self.syncs), 32), thread_name_prefix="sync-stop") as pool:
                list(pool.map(lambda sync: sync.stop(), self.syncs.values()))
        self.syncs.clear()
        Cluster.objects.filter(lease_holder=self.name).update(lease_holder="", lease_expires_at=None)
        SyncWorker.objects.filter(name=self.name).delete()

    # -- one round of leasing ------------------------------------------------------------------------

    def _candidates(self):
        clusters = Cluster.objects.exclude(source=Cluster.Source.MANIFESTS)
        if self.cluster_names:
            clusters = clusters.filter(name__in=self.cluster_names)
        return clusters

    def tick(self) -> None:
        now = timezone.now()
        expires = now + self.lease
        SyncWorker.objects.update_or_create(name=self.name, defaults={"heartbeat_at": now})
        SyncWorker.objects.filter(heartbeat_at__lt=now - self.lease).delete()
        live_workers = max(1, SyncWorker.objects.filter(heartbeat_at__gte=now - self.lease).count())

        candidates = self._candidates()
        self._candidates().filter(lease_holder=self.name).update(lease_expires_at=expires)
        held = set(candidates.filter(lease_holder=self.name).values_list("pk", flat=True))
        fair_share = math.ceil(candidates.count() / live_workers)

        # Give back what is over the fair share, so that a newly joined worker gets work.
        for pk in sorted(held)[fair_share:]:
            Cluster.objects.filter(pk=pk, lease_holder=self.name).update(lease_holder="", lease_expires_at=None)
            held.discard(pk)

        free = candidates.filter(Q(lease_holder="") | Q(lease_expires_at__lt=now) | Q(lease_expires_at=None)).exclude(
            lease_holder=self.name
        )
        for pk in free.order_by("pk").values_list("pk", flat=True):
            if len(held) >= fair_share:
                break
            taken = (
                Cluster.objects.filter(pk=pk)
                .filter(Q(lease_holder="") | Q(lease_expires_at__lt=now) | Q(lease_expires_at=None))
                .update(lease_holder=self.name, lease_expires_at=expires)
            )
            if taken:
                logger.info("sync worker %s: took cluster %s", self.name, pk)
                held.add(pk)

        for pk in list(self.syncs):
            if pk not in held:
                self.syncs.pop(pk).stop()
        connections = connection_settings(held)
        for pk in held:
            sync = self.syncs.get(pk)
            if sync is not None and self._connection_of.get(pk) != connections.get(pk):
                # Re-registered with another server or new credentials: connect afresh.
                self.syncs.pop(pk).stop()
                sync = None
            if sync is None or not sync.alive:
                self.syncs[pk] = sync = self._sync_factory(pk)
                self._connection_of[pk] = connections.get(pk)
                sync.start()
        # A connected cluster whose sync runs is in sync as of now: what "last seen" means (vitiweb.freshness).
        running = [pk for pk in held if self.syncs[pk].alive]
        Cluster.objects.filter(pk__in=running, state=Cluster.State.CONNECTED).update(last_sync_at=now)
        self._serve_resync_requests(held)

    def _serve_resync_requests(self, held: set[int]) -> None:
        requested = Cluster.objects.filter(pk__in=held, resync_requested_at__isnull=False)
        for pk in requested.values_list("pk", flat=True):
            self.syncs[pk].request_relist()
        requested.update(resync_requested_at=None)
