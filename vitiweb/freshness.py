"""Whether what the database holds of a cluster is current, and since when it is not.

A cluster is **current** when a sync worker holds its lease (``lease_expires_at``
not yet passed) and every installed kind is listed and watched (state
``connected``). The worker renews the lease and stamps ``last_sync_at`` on every
tick while the cluster is connected (``vitiweb.sync.worker``), so
``last_sync_at`` is the last moment its objects were known to equal the
cluster's: the "last seen" of a cluster that is not current. A cluster goes
stale when its watches fail (``degraded``/``unreachable``, written by the
engine at once) or when no worker renews its lease (a dead worker: at most one
lease time later). A manifest directory is what was imported: always current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from vitiweb.models import Cluster

#: The columns ``is_current`` and ``last_seen`` read, for ``only()`` on querysets through a cluster.
FIELDS = ("source", "state", "lease_expires_at", "last_sync_at")


def is_current(cluster: Cluster, now: datetime | None = None) -> bool:
    if cluster.source == Cluster.Source.MANIFESTS:
        return True
    now = now or timezone.now()
    return (
        cluster.state == Cluster.State.CONNECTED
        and cluster.lease_expires_at is not None
        and cluster.lease_expires_at >= now
    )


def last_seen(cluster: Cluster, now: datetime | None = None) -> datetime | None:
    """When a cluster that is not current was last known in sync (None: current, or never synced)."""
    return None if is_current(cluster, now) else cluster.last_sync_at


def current_q(prefix: str = "", now: datetime | None = None) -> Q:
    """``is_current`` as a query condition; ``prefix`` is the path to the cluster (``"cluster__"``)."""
    now = now or timezone.now()
    return Q(**{f"{prefix}source": Cluster.Source.MANIFESTS}) | Q(
        **{f"{prefix}state": Cluster.State.CONNECTED, f"{prefix}lease_expires_at__gte": now}
    )


@dataclass
class FleetFreshness:
    total: int
    current: int
    stale: list  # clusters not current, each with ``.last_seen`` set, longest stale first

    @property
    def partial(self) -> bool:
        return bool(self.stale)

    @property
    def stale_ids(self) -> set[int]:
        return {cluster.pk for cluster in self.stale}


def fleet_freshness(clusters, now: datetime | None = None) -> FleetFreshness:
    """How many of ``clusters`` are current; the others with their last seen time."""
    now = now or timezone.now()
    stale = []
    for cluster in clusters:
        cluster.is_current = is_current(cluster, now)
        cluster.last_seen = last_seen(cluster, now)
        if not cluster.is_current:
            stale.append(cluster)
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    stale.sort(key=lambda c: (c.last_seen or epoch, c.name))
    return FleetFreshness(total=len(clusters), current=len(clusters) - len(stale), stale=stale)


def stale_clusters(now: datetime | None = None) -> FleetFreshness:
    """``fleet_freshness`` of every registered cluster (one query)."""
    clusters = list(Cluster.objects.only("name", *FIELDS).order_by("name"))
    return fleet_freshness(clusters, now)
