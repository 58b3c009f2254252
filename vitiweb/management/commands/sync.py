"""`manage.py sync`: heavy imports are deferred to handle() so that the command starts fast."""

import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

#: glibc's mallopt parameter for the number of malloc arenas (malloc.h).
M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Have glibc's malloc share a few arenas among all threads instead of one per thread, up to 8 per core.

    A worker runs some sixteen threads per cluster, and each decodes pages of a megabyte or more: with an
    arena each, the memory freed after a snapshot stayed in the arena of the thread that had used it, and
    the worker's peak grew with the number of clusters (1.4 MB per 1,000 objects at 12 clusters; 0.6 with
    two arenas, tests/bench/bench_sync_memory.py). Elsewhere (not glibc) nothing is done.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return
    mallopt(M_ARENA_MAX, arenas)


class Command(BaseCommand):
    help = "Run a sync worker (clusters leased through the database), or with --once reconcile every cluster and exit."
    # Django's system checks import every URLconf and view (0.7 s, the Kubernetes client, Celery, Dulwich) to
    # check pages this process never serves. `manage.py check --deploy` is where they run (CI, `make check`).
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="list every cluster, reconcile, exit")
        parser.add_argument("--cluster", action="append", dest="clusters", help="only this cluster (repeatable)")
        parser.add_argument("--name", help="worker name (default: host:pid:random)")
        parser.add_argument("--lease-seconds", type=float, default=20.0)
        parser.add_argument("--tick-seconds", type=float, default=5.0)
        parser.add_argument(
            "--heartbeat-file", help="touched after every leasing round (for a liveness probe: its age says stuck)"
        )

    def handle(self, *args, once, clusters, name, lease_seconds, tick_seconds, heartbeat_file, **options):
        from vitiweb.derive import start_process, stop_process
        from vitiweb.models import Cluster
        from vitiweb.sync.worker import Worker

        known = Cluster.objects.exclude(source=Cluster.Source.MANIFESTS)
        if clusters:
            missing = sorted(set(clusters) - set(known.filter(name__in=clusters).values_list("name", flat=True)))
            if missing:
                raise CommandError(f"no such cluster: {', '.join(missing)}")
            known = known.filter(name__in=clusters)
        if once:
            self._once(known)
            return
        limit_malloc_arenas()  # before the worker starts its threads
        worker = Worker(
            name,
            lease_seconds=lease_seconds,
            tick_seconds=tick_seconds,
            cluster_names=clusters,
            on_tick=(lambda: Path(heartbeat_file).touch()) if heartbeat_file else None,
        )
        # Whichever sync worker holds the derivation lease also stores the fleet's findings and overview,
        # in a child process: a derivation must not hold up this process's writes.
        deriver = start_process(worker.name, lease_seconds)

        def stop(*_):
            worker.stop()  # the clusters' leases first: the other replicas take them over at once
            stop_process(deriver)

        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"Sync worker {worker.name} started.")
        worker.start()
        try:
            while not worker.join(1.0):
                pass
        except KeyboardInterrupt:
            stop()
        finally:
            stop_process(deriver)
        self.stdout.write(f"Sync worker {worker.name} stopped.")

    def _once(self, clusters):
        from vitiweb.derive import derive, derived_elsewhere
        from vitiweb.kube.errors import KubeError
        from vitiweb.models import Cluster
        from vitiweb.sync.engine import sync_once

        failed = []
        for cluster in clusters:
            try:
                results = sync_once(cluster)
            except KubeError as exc:
                Cluster.objects.filter(pk=cluster.pk).update(state=Cluster.State.UNREACHABLE, last_error=str(exc))
                self.stderr.write(f"{cluster.name}: {exc}")
                failed.append(cluster.name)
                continue
            parts = ", ".join(
                f"{kind} +{len(s.created)} ~{len(s.updated)} -{len(s.deleted)} ={s.unchanged}"
                for kind, s in results.items()
            )
            self.stdout.write(f"{cluster.name}: {parts}")
            self.stdout.flush()
        if derived_elsewhere():
            self.stdout.write("Findings and overview: left to the running sync worker, which derives them.")
        else:
            derive()
        if failed:
            raise CommandError(f"{len(failed)} cluster(s) could not be synced: {', '.join(failed)}")
