"""Drift follows the clusters: a committed sync change refreshes the drift of the sources that target it.

Refreshes are debounced per source (a burst of watch events costs one
comparison) and run in the process that wrote the change, the one holding the
cluster's lease, so no web request ever computes drift.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from vitiweb.signals import mirror_changed

log = logging.getLogger(__name__)


class Debouncer:
    """Runs ``action(key)`` once, ``delay`` seconds after the last of a burst of ``trigger(key)`` calls."""

    def __init__(self, action, delay: float):
        self.action = action
        self.delay = delay
        self._timers: dict[int, threading.Timer] = {}
        self._lock = threading.Lock()

    def trigger(self, key: int) -> None:
        with self._lock:
            if key in self._timers:
                self._timers[key].cancel()
            timer = threading.Timer(self.delay, self._run, args=(key,))
            timer.daemon = True
            self._timers[key] = timer
            timer.start()

    def _run(self, key: int) -> None:
        with self._lock:
            self._timers.pop(key, None)
        try:
            self.action(key)
        except Exception:  # a failed refresh must not kill the timer thread; the next change retries
            log.exception("drift refresh of git source %s failed", key)
        finally:
            close_old_connections()


def _refresh(source_id: int) -> None:
    from gitops import drift
    from gitops.models import GitSource

    source = GitSource.objects.filter(pk=source_id).first()
    if source is not None:
        drift.refresh(source)


debouncer = Debouncer(_refresh, settings.VITIWEB_GIT_DRIFT_DEBOUNCE_SECONDS)


#: Seconds a cluster's targeting sources are remembered: every committed batch of every cluster asks,
#: and at a hundred clusters' watch events one query each was a tenth of a sync worker's time. Targets
#: saved in this process clear it at once (the receivers below); in another, a source's own fetch
#: computes its drift.
TARGETS_TTL = 5.0
_targeting: dict[int, tuple[float, set[int]]] = {}


def sources_targeting(cluster_id: int) -> set[int]:
    from gitops.models import GitTarget

    now = time.monotonic()
    remembered = _targeting.get(cluster_id)
    if remembered is None or now - remembered[0] > TARGETS_TTL:
        sources = set(GitTarget.objects.filter(cluster_id=cluster_id).values_list("source_id", flat=True))
        remembered = _targeting[cluster_id] = (now, sources)
    return remembered[1]


@receiver(mirror_changed)
def refresh_drift_of_targeting_sources(sender, cluster_id: int, kind: str, pks, **kwargs):
    for source_id in sources_targeting(cluster_id):
        debouncer.trigger(source_id)


@receiver(post_save, sender="gitops.GitTarget")
@receiver(post_delete, sender="gitops.GitTarget")
def forget_targeting_sources(sender, **kwargs):
    _targeting.clear()
