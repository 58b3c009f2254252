from django.core.management.base import BaseCommand

from vitiweb.derive import serve
from vitiweb.sync.worker import default_worker_name


class Command(BaseCommand):
    help = (
        "Derive the fleet's integrity findings and overview after sync commits, while holding the derive lease. "
        "Each `manage.py sync` already runs this in a child process; run it alone to derive elsewhere."
    )

    def add_arguments(self, parser):
        parser.add_argument("--holder", help="lease holder name (default: host:pid:random)")
        parser.add_argument("--lease-seconds", type=float, default=20.0)
        parser.add_argument("--poll-seconds", type=float, default=1.0)

    def handle(self, *args, holder, lease_seconds, poll_seconds, **options):
        serve(holder or default_worker_name(), lease_seconds=lease_seconds, poll_seconds=poll_seconds)
