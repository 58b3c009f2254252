"""Fleet-wide derivations, computed once for the whole deployment and stored.

Integrity findings and the overview's figures cost a scan of the fleet.
Pages never compute them, and several web processes must not each pay for
them: one process at a time, the holder of the ``derive`` lease, does. A
sync worker process runs a ``Deriver`` beside its cluster syncs
(``manage.py sync``, and the embedded start); whichever holds the lease
re-reads the fleet's fingerprint every ``poll_seconds`` and, when sync
commits changed it, recomputes and stores both (``derive``): the findings
(``vitiweb.integrity``, a ``FindingsRun``) and the overview
(``vitiweb.overview``, an ``OverviewRun``), then tells open pages
(``vitiweb.live.publish_derived``). Recomputation is throttled: after a run of
``d`` seconds the next waits at least ``max(min_interval, 4 d)``, so a fleet
under a constant stream of changes costs its holder at most a fifth of a
core, and a small fleet (``make run``) shows new figures within about a
second.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time

from django.db import close_old_connections, connection, connections, transaction
from django.utils import timezone

from vitiweb import integrity, leases, live, overview
from vitiweb.models import FindingsRun, Lease, OverviewRun

logger = logging.getLogger(__name__)

LEASE = "derive"


def derive(current: str | None = None) -> bool:
    """Store the findings and the overview of the fleet state ``current`` (its fingerprint, read now when not
    given) unless both are stored already; True if they were derived (open pages are then told).

    Everything one derivation reads is one state of the fleet: the syncs commit while it runs, and figures
    read by successive queries from different states need not add up (a node group read after a provider
    created since could name a provider the derivation never saw: it failed with a KeyError at 2,000
    machines under 200 changes/s). On PostgreSQL the derivation is one REPEATABLE READ transaction.
    """
    # Inside a caller's transaction (a test's) the caller's isolation stands: it can only be set first.
    own_snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if own_snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        current = current or integrity.fingerprint()
        stored = [model.objects.values_list("fingerprint", flat=True).first() for model in (FindingsRun, OverviewRun)]
        if all(fingerprint == current for fingerprint in stored):
            return False
        integrity.store_findings(current)
        overview.store_overview(current)
        live.publish_derived()
    return True


def derived_elsewhere() -> bool:
    """True while a running ``Deriver`` holds the lease: it derives any change within about a second, so
    another process (``sync --once``) need not spend seconds of a large fleet's scan doing it too."""
    return Lease.objects.filter(name=LEASE, expires_at__gt=timezone.now()).exclude(holder="").exists()


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
        """One round: renew the lease and, if ours and the fleet changed, derive. True if it derived."""
        if not leases.hold(LEASE, self.holder, self.lease_seconds):
            return False
        if time.monotonic() < self._next_run:
            return False
        started = time.monotonic()
        derived = derive()
        took = time.monotonic() - started
        self._next_run = time.monotonic() + max(self.min_interval, 4 * took)
        if derived and took > 0.05:
            logger.info("findings and overview derived in %.0f ms", took * 1000)
        return derived

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
                # This thread's connection ends with it (close_old_connections would keep it for
                # CONN_MAX_AGE, held open by a thread that no longer runs).
                connections.close_all()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=f"derive-{self.holder}", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def serve(holder: str, lease_seconds: float = 20.0, poll_seconds: float = 1.0, parent_pid: int | None = None) -> None:
    """Derive while holding the lease, until SIGTERM or SIGINT, or until ``parent_pid`` is no longer this
    process's parent (a sync worker killed outright cannot stop its child: the child notices)."""
    deriver = Deriver(holder, lease_seconds=lease_seconds, poll_seconds=poll_seconds)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    deriver.start()
    while not stopping.wait(1.0):
        if parent_pid and os.getppid() != parent_pid:
            break
    deriver.stop()


def start_process(holder: str, lease_seconds: float) -> multiprocessing.Process:
    """``serve`` in a process of its own, forked from this one (nothing imported twice), stopped by
    ``stop_process`` or when this process dies.

    A derivation is CPU-bound Python for seconds at a large fleet; in a thread beside the sync's writers it
    would hold the interpreter lock they need between their queries, and their writes would fall behind
    (``tests/bench/bench_pages_under_sync.py`` measured a third of the rate). Call it before starting any
    thread: the child gets a copy of this process as it is, and opens its own database connections.
    """
    connections.close_all()
    for wrapper in connections.all(initialized_only=True):
        # A pool's connections and threads must not be shared with a child: it makes its own.
        if getattr(wrapper, "pool", None) is not None:
            wrapper.close_pool()
    process = multiprocessing.get_context("fork").Process(
        target=serve,
        args=(holder, lease_seconds),
        kwargs={"parent_pid": os.getpid()},
        name=f"derive-{holder}",
        daemon=True,
    )
    process.start()
    return process


def stop_process(process: multiprocessing.Process, timeout: float = 15.0) -> None:
    """Stop a ``start_process`` child: it gives the lease back unless it was in a derivation for ``timeout``."""
    if process.is_alive():
        process.terminate()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
