"""Fleet-wide derivations, computed once for the whole deployment and stored.

Integrity findings cost a scan of the fleet. Pages never compute them, and
several web processes must not each pay for them: one process at a time,
the holder of the ``derive`` lease, does. A sync worker process runs a
``Deriver`` beside its cluster syncs (``manage.py sync``, and the embedded
start); whichever holds the lease re-reads the fleet's fingerprint every
``poll_seconds`` and, when sync commits changed it, recomputes and stores the
findings. Recomputation is throttled: after a run of ``d`` seconds the next
waits at least ``max(min_interval, 4 d)``, so a fleet under a constant stream
of changes costs its holder at most a fifth of a core, and a small fleet
(``make run``) shows new findings within about a second.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections

from vitiweb import integrity, leases

logger = logging.getLogger(__name__)

LEASE = "derive"


class Deriver:
    def __init__(
        self, holder: str, *, lease_seconds: float = 20.0, poll_seconds: float = 1.0, min_interval: float = 1.0
    ):
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.min_interval = min_interval
        self._next_run = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> bool:
        """One round: renew the lease and, if ours and the fleet changed, recompute. True if it recomputed."""
        if not leases.hold(LEASE, self.holder, self.lease_seconds):
            return False
        if time.monotonic() < self._next_run:
            return False
        current = integrity.fingerprint()
        started = time.monotonic()
        run = integrity.store_findings(current)
        took = time.monotonic() - started
        self._next_run = time.monotonic() + max(self.min_interval, 4 * took)
        if took > 0.05:
            logger.info("findings recomputed in %.0f ms: %s", took * 1000, run.counts)
        return True

    def run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:  # the database may be briefly away; the next round tries again
                    logger.exception("deriving fleet-wide findings failed")
                finally:
                    close_old_connections()
                self._stop.wait(self.poll_seconds)
        finally:
            try:
                leases.release(LEASE, self.holder)
            finally:
                close_old_connections()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=f"derive-{self.holder}", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
