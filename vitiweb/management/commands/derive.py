import os
import signal
import threading

from django.core.management.base import BaseCommand

from vitiweb.derive import Deriver
from vitiweb.sync.worker import default_worker_name


class Command(BaseCommand):
    help = (
        "Derive the fleet's integrity findings and overview after sync commits, while holding the derive lease. "
        "`manage.py sync` runs this as a process of its own, so a derivation never holds up the sync's writes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--holder", help="lease holder name (default: host:pid:random)")
        parser.add_argument("--lease-seconds", type=float, default=20.0)
        parser.add_argument("--poll-seconds", type=float, default=1.0)
        parser.add_argument("--parent-pid", type=int, help="stop when this process (the sync worker) is gone")

    def handle(self, *args, holder, lease_seconds, poll_seconds, parent_pid, **options):
        deriver = Deriver(holder or default_worker_name(), lease_seconds=lease_seconds, poll_seconds=poll_seconds)
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        deriver.start()
        # A sync worker killed outright (SIGKILL) cannot stop its child: the child notices it was orphaned.
        while not stopping.wait(1.0):
            if parent_pid and os.getppid() != parent_pid:
                break
        deriver.stop()
