"""The cluster registry: registering clusters, connecting to them, testing them.

A kubeconfig is cut down to the one context used and split: the part that
may be shown (server, names, flags) is stored as JSON, the credentials
(tokens, keys, CA data, exec configs) are stored encrypted and only ever
decrypted to build an API client.
"""

from __future__ import annotations

import os

import orjson
from django.db import transaction
from django.utils import timezone

from vitiweb import live
from vitiweb.kube import clients
from vitiweb.kube.discovery import ConnectionReport, connection_test
from vitiweb.kube.errors import KubeconfigError
from vitiweb.kube.kubeconfig import (
    inline_file_references,
    merge_kubeconfig,
    minimal_kubeconfig,
    resolve_context,
    split_kubeconfig,
)
from vitiweb.models import Cluster
from vitiweb.shapes import kind_specs

__all__ = ["KubeconfigError", "api_client_for", "prepare_kubeconfig", "check_connection", "register_cluster"]


def prepare_kubeconfig(text: str, context: str | None = None, base_dir: str | None = None) -> tuple[dict, dict, str]:
    """(public part, secret part, context name) of one context of a kubeconfig.

    With ``base_dir`` (a kubeconfig read from a file) paths to certificate and
    token files are read and inlined, so what is stored stands alone.
    """
    config = inline_file_references(text, base_dir) if base_dir is not None else text
    resolved = resolve_context(config, context)
    split = split_kubeconfig(minimal_kubeconfig(config, resolved.name))
    return split.public, split.secret, resolved.name


def api_client_for(cluster: Cluster, timeouts: clients.Timeouts | None = None):
    """An API client for a registered cluster, its credentials decrypted in memory only."""
    options = {"timeouts": timeouts} if timeouts else {}
    if cluster.source == Cluster.Source.IN_CLUSTER:
        return clients.api_client_in_cluster(**options)
    if cluster.source == Cluster.Source.MANIFESTS:
        raise KubeconfigError(f"{cluster.name} is a manifest source, not a cluster")
    secret = orjson.loads(cluster.get_credentials()) if cluster.credentials_encrypted else {}
    config = merge_kubeconfig(cluster.kubeconfig_public, secret)
    return clients.api_client_from_kubeconfig(config, cluster.context or None, allow_exec=cluster.allow_exec, **options)


def check_connection(cluster: Cluster, timeout: float = 5.0) -> ConnectionReport:
    """Run the connection test and record what it found on the cluster."""
    try:
        api_client = api_client_for(cluster)
    except KubeconfigError as exc:
        report = ConnectionReport(
            server=cluster.server, context=cluster.context, error=str(exc), error_category="config"
        )
    else:
        try:
            report = connection_test(api_client, timeout=timeout, kinds=kind_specs())
        finally:
            api_client.close()
    record_connection_test(cluster, report)
    return report


def record_connection_test(cluster: Cluster, report: ConnectionReport) -> None:
    now = timezone.now()
    fields = {
        "server_version": report.server_version or cluster.server_version,
        "discovered_kinds": {
            check.kind: {
                "installed": check.installed,
                "version": check.version,
                "plural": check.plural,
                "scope": check.scope,
                "problem": check.problem,
            }
            for check in report.kinds
        }
        or cluster.discovered_kinds,
        "permissions": {
            "tested_at": now.isoformat(),
            "ok": report.ok,
            "problems": report.problems,
            "kinds": {
                check.kind: {verb: access.allowed for verb, access in check.access.items()} for check in report.kinds
            },
            "secrets": report.secrets.allowed if report.secrets else None,
        },
    }
    if report.error:
        fields.update(last_error=report.error, last_error_at=now)
        if cluster.state in (Cluster.State.UNKNOWN, Cluster.State.CONNECTED):
            fields["state"] = Cluster.State.UNREACHABLE
    with transaction.atomic():
        Cluster.objects.filter(pk=cluster.pk).update(**fields)
        live.publish_cluster_state(cluster.pk)
    for name, value in fields.items():
        setattr(cluster, name, value)


def register_cluster(
    name: str,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    kubeconfig_path: str | None = None,
    in_cluster: bool = False,
    source: str = Cluster.Source.KUBECONFIG,
    allow_exec: bool = False,
) -> Cluster:
    """Create or update a cluster from a kubeconfig (text or file) or the in-cluster service account."""
    if in_cluster:
        public, secret, context_name, server = {}, {}, "", "in-cluster"
        source = Cluster.Source.IN_CLUSTER
    else:
        if kubeconfig_path is not None:
            with open(kubeconfig_path) as handle:
                kubeconfig = handle.read()
            base_dir = os.path.dirname(os.path.abspath(kubeconfig_path))
        else:
            base_dir = None
        if not kubeconfig:
            raise KubeconfigError("no kubeconfig given")
        public, secret, context_name = prepare_kubeconfig(kubeconfig, context, base_dir)
        server = public["clusters"][0]["cluster"].get("server", "")
        # Refuse now, not at the first sync, what a client could not be built from (exec plugins, bad keys).
        clients.api_client_from_kubeconfig(
            merge_kubeconfig(public, secret), context_name, allow_exec=allow_exec
        ).close()
    cluster, _ = Cluster.objects.get_or_create(name=name, defaults={"source": source})
    if cluster.source == Cluster.Source.MANIFESTS:
        raise KubeconfigError(f"{name} is a manifest source; choose another name for the cluster")
    cluster.source, cluster.server, cluster.context, cluster.kubeconfig_public = source, server, context_name, public
    cluster.allow_exec = allow_exec
    cluster.set_credentials(orjson.dumps(secret).decode() if secret else "")
    cluster.save()
    return cluster
