from django.core.management.base import BaseCommand, CommandError

from vitiweb.sync.manifest_source import ImportFailed, import_manifests


class Command(BaseCommand):
    help = "Load YAML manifests (files or folders, multi-document) as a read-only source."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="YAML files or folders (searched recursively)")
        parser.add_argument("--source", required=True, help="name of the read-only source to load into")

    def handle(self, *args, paths, source, **options):
        try:
            result = import_manifests(paths, source)
        except ImportFailed as failure:
            for error in failure.errors:
                self.stderr.write(str(error))
            raise CommandError(f"nothing imported: {len(failure.errors)} problem(s) found") from None
        for kind, summary in result.per_kind.items():
            self.stdout.write(
                f"{kind}: {len(summary.created)} created, {len(summary.updated)} updated, "
                f"{len(summary.deleted)} removed, {summary.unchanged} unchanged"
            )
        self.stdout.write(f"Secrets (names only): {result.secrets}")
        for document in result.skipped:
            self.stdout.write(
                f"skipped {document.where}: {document.body.get('apiVersion')} {document.kind} is not a VitiStack kind"
            )
        self.stdout.write(self.style.SUCCESS(f"Imported into source {result.cluster.name!r}."))
