import os

from django.core.management.base import BaseCommand, CommandError

from vitiweb import policy
from vitiweb.kube.errors import KubeconfigError
from vitiweb.kube.kubeconfig import resolve_context
from vitiweb.sync.clusters import check_connection, register_cluster


class Command(BaseCommand):
    help = "Register a cluster from a kubeconfig (or the in-cluster service account) and test the connection."

    def add_arguments(self, parser):
        parser.add_argument("name")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
        source.add_argument("--in-cluster", action="store_true", help="use this pod's service account")
        parser.add_argument("--context", help="context to use (default: the kubeconfig's current context)")
        parser.add_argument("--skip-test", action="store_true", help="do not test the connection")
        parser.add_argument(
            "--allow-exec",
            action="store_true",
            help="let the kubeconfig run its exec credential plugin (e.g. aws eks get-token) on the hosts that sync "
            "this cluster; the plugin must be installed there",
        )

    def handle(self, *args, name, kubeconfig, in_cluster, context, skip_test, allow_exec, **options):
        if not in_cluster and not kubeconfig:
            kubeconfig = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
        if not in_cluster:
            try:
                with open(kubeconfig) as handle:
                    resolved = resolve_context(handle.read(), context)
            except (KubeconfigError, OSError) as exc:
                raise CommandError(f"cluster {name!r} not registered: {exc}") from None
            problems = policy.cluster_address_problems(resolved.cluster)
            if problems:
                raise CommandError(f"cluster {name!r} not registered: {'; '.join(problems)}")
        try:
            cluster = register_cluster(
                name, kubeconfig_path=kubeconfig, context=context, in_cluster=in_cluster, allow_exec=allow_exec
            )
        except (KubeconfigError, OSError) as exc:
            raise CommandError(f"cluster {name!r} not registered: {exc}") from None
        self.stdout.write(f"Registered cluster {cluster.name!r} ({cluster.server}, context {cluster.context or '-'}).")
        if skip_test:
            return
        report = check_connection(cluster)
        if report.server_version:
            self.stdout.write(f"Server version: {report.server_version}")
        for check in report.kinds:
            if check.installed:
                allowed = ", ".join(
                    f"{verb} {'allowed' if a.allowed else 'DENIED'}" for verb, a in check.access.items()
                )
                self.stdout.write(f"  {check.kind}: {check.version}, {check.plural}, {check.scope}; {allowed}")
        for problem in report.problems:
            self.stderr.write(f"  problem: {problem}")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("Connection test passed."))
        else:
            self.stdout.write(self.style.WARNING("Registered, but the connection test found problems (see above)."))
