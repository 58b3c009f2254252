"""`manage.py sandbox`: serve sandbox Kubernetes clusters (see vitiweb.sandbox)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from vitiweb.sandbox import cli


class Command(BaseCommand):
    help = (
        "Serve emulated Kubernetes API servers with the VitiStack CRDs: one cluster per port, "
        "a kubeconfig with one context per cluster; serves until Ctrl-C."
    )

    def add_arguments(self, parser):
        base = Path(settings.BASE_DIR)
        cli.add_arguments(parser, default_kubeconfig=base / "var" / "sandbox.kubeconfig", default_crds=base / "crds")

    def handle(self, *args, **options):
        cli.run(options, out=lambda line: self.stdout.write(line))
