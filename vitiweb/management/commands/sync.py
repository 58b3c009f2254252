"""`manage.py sync`: heavy imports are deferred to handle() so that the command starts fast."""

import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a sync worker (clusters leased through the database), or with --once reconcile every cluster and exit."

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
        from vitiweb.derive import derive
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
        derive()
        if failed:
            raise CommandError(f"{len(failed)} cluster(s) could not be synced: {', '.join(failed)}")
