import json

from django.core.management.base import BaseCommand, CommandError

from gitops.models import GitSource
from gitops.tasks import fetch_and_compare


class Command(BaseCommand):
    help = "Fetch Git sources and print how each object compares: in-sync, git-only, cluster-only or differs."

    def add_arguments(self, parser):
        parser.add_argument("--source", help="only this source")
        parser.add_argument("--json", action="store_true", help="a JSON list of objects")
        parser.add_argument("--no-fetch", action="store_true", help="compare with the revision already in use")

    def handle(self, *args, source, no_fetch, **options):
        as_json = options["json"]
        sources = GitSource.objects.all()
        if source:
            sources = sources.filter(name=source)
            if not sources.exists():
                raise CommandError(f"no Git source named {source!r}")
        rows = []
        for git_source in sources:
            if not no_fetch:
                result = fetch_and_compare(git_source)
                if not result.ok:
                    self.stderr.write(f"{git_source.name}: {git_source.last_error or 'fetch failed'}")
            for record in git_source.drift.select_related("cluster"):
                rows.append(
                    {
                        "source": git_source.name,
                        "cluster": record.cluster.name,
                        "kind": record.kind,
                        "namespace": record.namespace,
                        "name": record.name,
                        "state": record.state,
                        "fields": record.fields,
                    }
                )
        if as_json:
            self.stdout.write(_dumps(rows))
            return
        for row in rows:
            where = f"{row['namespace']}/{row['name']}" if row["namespace"] else row["name"]
            self.stdout.write(f"{row['state']:<13} {row['source']} {row['cluster']} {row['kind']} {where}")
            for field in row["fields"]:
                self.stdout.write(f"    {field['path']}: git {field['git']!r}, cluster {field['cluster']!r}")


def _dumps(rows) -> str:
    return json.dumps(rows, indent=2, default=str)
