"""`manage.py embedded`: the one-process start behind `make run`.

A sandbox cluster loaded with examples/ (the integration guide's shape) and
two serving the VitiStack project's published API (examples-published/: a
disaster-recovery pair, Oslo and Bergen, with Kubernetes clusters and their
Machines), simulated controllers on, registered as clusters, synced by a sync
worker running in threads, the periodic Celery tasks run in-process, and the
dashboard served over ASGI.
"""

import threading
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from vitiweb import tasks
from vitiweb.derive import Deriver
from vitiweb.models import Cluster
from vitiweb.sandbox import cli as sandbox_cli
from vitiweb.sync.clusters import check_connection, register_cluster
from vitiweb.sync.worker import Worker


class Command(BaseCommand):
    help = "Serve the dashboard with an embedded sandbox cluster and sync worker (the `make run` start)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--sandbox-port", type=int, default=0, help="port of the sandbox API server (0: a free one)"
        )
        parser.add_argument("--no-simulate", action="store_true", help="do not run the simulated controllers")
        parser.add_argument(
            "--periodic-seconds",
            type=float,
            default=300.0,
            help="interval of the in-process periodic tasks (resync, connection tests)",
        )

    def handle(self, *args, addrport, sandbox_port, no_simulate, periodic_seconds, **options):
        var = Path(settings.VAR_DIR)
        fleet = sandbox_cli.serve(
            {
                "port": sandbox_port,
                "crds": settings.VITIWEB_CRDS_DIR,
                "load": [settings.VITIWEB_EXAMPLES_DIR],
                "simulate": not no_simulate,
                "kubeconfig_out": var / "sandbox.kubeconfig",
            },
            out=lambda line: self.stdout.write(f"[sandbox] {line}"),
        )
        cluster = register_cluster(
            "sandbox",
            kubeconfig_path=str(var / "sandbox.kubeconfig"),
            context=fleet[0].name,
            source=Cluster.Source.SANDBOX,
        )
        check_connection(cluster)
        fleets = [fleet]
        for name in ("oslo", "bergen"):
            fleets.append(self._published_cluster(name, sandbox_port, not no_simulate, var))
        worker = Worker(tick_seconds=2.0)
        worker.start()
        deriver = Deriver(worker.name)
        deriver.start()
        stop = threading.Event()
        periodic = threading.Thread(target=self._periodic, args=(stop, periodic_seconds), daemon=True)
        periodic.start()
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            stop.set()
            deriver.stop()
            worker.stop()
            for running in fleets:
                running.stop()

    def _published_cluster(self, name: str, sandbox_port: int, simulate: bool, var: Path):
        """One more sandbox, serving the published CRDs and loaded with one cluster of the published fleet."""
        kubeconfig = var / f"sandbox-{name}.kubeconfig"
        fleet = sandbox_cli.serve(
            {
                "port": sandbox_port + 1 + ("oslo", "bergen").index(name) if sandbox_port else 0,
                "crds": settings.VITIWEB_CRDS_DIR,
                "shape": "published",
                "load": [Path(settings.BASE_DIR) / "examples-published" / name],
                "simulate": simulate,
                "kubeconfig_out": kubeconfig,
            },
            out=lambda line: self.stdout.write(f"[sandbox {name}] {line}"),
        )
        cluster = register_cluster(
            name, kubeconfig_path=str(kubeconfig), context=fleet[0].name, source=Cluster.Source.SANDBOX
        )
        check_connection(cluster)
        return fleet

    @staticmethod
    def _periodic(stop: threading.Event, seconds: float) -> None:
        # Celery beat's schedule, in-process: with no broker the tasks run eagerly here.
        while not stop.wait(seconds):
            tasks.test_connections.delay()
            tasks.resync_clusters.delay()
