import os

from django.core.management.base import BaseCommand, CommandError

from gitops.models import GitSource
from gitops.sources import SourceError, register_source
from gitops.tasks import fetch_and_compare


class Command(BaseCommand):
    help = "Register a Git repository (or a local path) as the desired state of a cluster, and fetch it."

    def add_arguments(self, parser):
        parser.add_argument("name")
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--url", help="repository URL (https://, ssh://, git@host:path, file://)")
        where.add_argument("--local", help="a local repository or folder")
        parser.add_argument("--branch", default="main")
        parser.add_argument("--path", default="", help="folder inside the repository")
        parser.add_argument("--cluster", required=True, action="append", help="cluster it describes (repeatable)")
        parser.add_argument("--namespace", default="", help="only this namespace of the clusters")
        parser.add_argument(
            "--token-env", help="name of an environment variable holding an HTTPS token (never on the command line)"
        )
        parser.add_argument("--ssh-key", help="file holding an SSH private key")
        parser.add_argument("--push", action="store_true", help="allow Vitiweb to push new branches")

    def handle(self, *args, name, url, local, branch, path, cluster, namespace, token_env, ssh_key, push, **options):
        auth, credentials = GitSource.Auth.NONE, ""
        if token_env:
            auth, credentials = GitSource.Auth.TOKEN, os.environ.get(token_env, "")
            if not credentials:
                raise CommandError(f"environment variable {token_env} is empty or unset")
        elif ssh_key:
            try:
                auth, credentials = GitSource.Auth.SSH_KEY, open(ssh_key).read()
            except OSError as exc:
                raise CommandError(f"cannot read {ssh_key}: {exc}") from None
        if local:
            local = os.path.abspath(local)
        try:
            source = register_source(
                name,
                url=url or "",
                local_path=local or "",
                branch=branch,
                path=path,
                targets=[(c, namespace) for c in cluster],
                auth=auth,
                credentials=credentials,
                push_enabled=push,
            )
        except SourceError as exc:
            raise CommandError(f"source {name!r} not registered: {exc}") from None
        self.stdout.write(f"Registered Git source {source.name!r} ({source.location}, branch {source.branch}).")
        result = fetch_and_compare(source)
        source.refresh_from_db()
        if source.commit:
            self.stdout.write(f"Revision in use: {source.short_commit} {source.commit_message}")
        if not result.ok:
            raise CommandError(f"the source's newest revision could not be used:\n{source.last_error}")
        self.stdout.write(self.style.SUCCESS(f"{source.desired_objects.count()} objects read."))
