"""Background work, on Celery's beat schedule (settings.CELERY_BEAT_SCHEDULE).

Both tasks are idempotent: running one twice, or concurrently with the sync
workers, leaves the same result.
"""

import logging

from celery import shared_task
from django.utils import timezone

import vitiweb.celery  # noqa: F401 - the project's Celery app, which these shared tasks are sent through
from vitiweb.kube.errors import KubeError
from vitiweb.models import Cluster
from vitiweb.sync.clusters import check_connection
from vitiweb.sync.engine import sync_once

logger = logging.getLogger(__name__)


def _live_clusters():
    return Cluster.objects.exclude(source=Cluster.Source.MANIFESTS)


@shared_task
def resync_clusters() -> dict:
    """A full relist of every cluster.

    A cluster held by a live sync worker is relisted by that worker (asked
    through the database), so that two writers never race on its rows; one
    that no worker holds is reconciled here.
    """
    now = timezone.now()
    held = _live_clusters().filter(lease_expires_at__gt=now).exclude(lease_holder="")
    requested = held.update(resync_requested_at=now)
    reconciled, failed = 0, 0
    for cluster in _live_clusters().exclude(pk__in=held.values("pk")):
        try:
            sync_once(cluster)
            reconciled += 1
        except KubeError as exc:
            logger.warning("resync of %s failed: %s", cluster.name, exc)
            Cluster.objects.filter(pk=cluster.pk).update(
                state=Cluster.State.UNREACHABLE, last_error=str(exc), last_error_at=timezone.now()
            )
            failed += 1
    return {"requested": requested, "reconciled": reconciled, "failed": failed}


@shared_task
def test_connections() -> dict:
    """The connection test of every cluster, recorded on the cluster."""
    results = {}
    for cluster in _live_clusters():
        results[cluster.name] = check_connection(cluster).ok
    return results
