"""Registering a Git source: one place for the command line and the form."""

from __future__ import annotations

from django.db import transaction

from gitops.models import GitSource, GitTarget
from vitiweb.models import Cluster


class SourceError(ValueError):
    pass


def register_source(
    name: str,
    *,
    url: str = "",
    local_path: str = "",
    branch: str = "main",
    path: str = "",
    targets: list[tuple[str, str]],
    auth: str = GitSource.Auth.NONE,
    credentials: str = "",
    push_enabled: bool = False,
) -> GitSource:
    """Create or update the source ``name`` with its targets ([(cluster name, namespace)])."""
    if bool(url) == bool(local_path):
        raise SourceError("give either a repository URL or a local path")
    if not targets:
        raise SourceError("a source describes at least one cluster")
    clusters = {c.name: c for c in Cluster.objects.filter(name__in={cluster for cluster, _ in targets})}
    missing = sorted({cluster for cluster, _ in targets} - set(clusters))
    if missing:
        raise SourceError(f"no registered cluster named {', '.join(missing)}")
    if auth != GitSource.Auth.NONE and not credentials:
        raise SourceError(f"{auth} authentication needs its credentials")
    with transaction.atomic():
        source, _ = GitSource.objects.update_or_create(
            name=name,
            defaults={
                "url": url,
                "local_path": local_path,
                "branch": branch or "main",
                "path": path.strip("/"),
                "auth": auth,
                "push_enabled": push_enabled,
            },
        )
        source.set_credentials(credentials if auth != GitSource.Auth.NONE else "")
        source.save(update_fields=["credentials_encrypted"])
        source.targets.all().delete()
        for cluster, namespace in dict.fromkeys(targets):
            GitTarget.objects.create(source=source, cluster=clusters[cluster], namespace=namespace or "")
    return source
