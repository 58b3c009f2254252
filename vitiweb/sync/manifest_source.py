"""Manifest folders as read-only sources.

A source is a ``Cluster`` of kind ``manifests``: importing replaces exactly
what the source holds, so a document removed from the folder disappears
from the dashboard, and re-importing unchanged files changes nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from vitiweb import schema
from vitiweb.kinds import KINDS
from vitiweb.manifests import Document, ManifestError, read_manifests
from vitiweb.models import Cluster
from vitiweb.registry import CLUSTER
from vitiweb.shapes import scope_in
from vitiweb.sync.mirror import Summary, apply_snapshot, replace_known_secrets

_NAMESPACE = uuid.UUID("6f1d3c1e-8e0a-4f57-9d1e-5a0c6a7f1b2d")


class ImportFailed(Exception):
    def __init__(self, errors: list[ManifestError]):
        self.errors = errors
        super().__init__("\n".join(map(str, errors)))


@dataclass
class ImportResult:
    cluster: Cluster
    per_kind: dict[str, Summary] = field(default_factory=dict)
    secrets: int = 0
    skipped: list[Document] = field(default_factory=list)


def _as_object(source: str, document: Document) -> dict:
    body = document.body
    metadata = dict(body["metadata"])
    shape, _ = schema.matching_shape(body)
    if scope_in(body["kind"], shape) == CLUSTER:
        # A cluster-scoped object (the published shape's Vitistack, providers...) has no namespace.
        metadata["namespace"] = ""
    else:
        # Namespaced objects without a namespace land in "default", as kubectl would put them.
        metadata.setdefault("namespace", "default")
    # Files carry no uid; derive a stable one so re-imports are recognised as the same object.
    metadata.setdefault(
        "uid", str(uuid.uuid5(_NAMESPACE, f"{source}/{body['kind']}/{metadata['namespace']}/{metadata['name']}"))
    )
    return {**body, "metadata": metadata}


def import_manifests(paths: list[str | Path], source: str) -> ImportResult:
    """Load every document under ``paths`` into the read-only source ``source``.

    All or nothing: any bad document fails the whole run with every error
    found, and the database is left as it was.
    """
    documents, errors = read_manifests(paths)
    if errors:
        raise ImportFailed(errors)
    by_kind: dict[str, list[dict]] = defaultdict(list)
    secrets: set[tuple[str, str]] = set()
    skipped = []
    seen: dict[tuple, Document] = {}
    for document in documents:
        if document.is_vitistack:
            obj = _as_object(source, document)
            key = (document.kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
            if key in seen:
                errors.append(
                    ManifestError(
                        document.file,
                        document.index,
                        "metadata.name",
                        f"{document.kind} {key[1]}/{key[2]} is already defined in {seen[key].where}",
                    )
                )
            seen[key] = document
            by_kind[document.kind].append(obj)
        elif document.body.get("apiVersion") == "v1" and document.kind == "Secret":
            # Only the name is kept: the dashboard checks existence, never reads secret data.
            secrets.add(((document.body["metadata"].get("namespace") or "default"), document.name))
        else:
            skipped.append(document)
    if errors:
        raise ImportFailed(errors)

    paths_text = ", ".join(str(Path(p).resolve()) for p in paths)
    with transaction.atomic():
        cluster, _ = Cluster.objects.get_or_create(
            name=source, defaults={"source": Cluster.Source.MANIFESTS, "manifest_path": paths_text}
        )
        if cluster.source != Cluster.Source.MANIFESTS:
            raise ImportFailed(
                [ManifestError(source, None, "--source", f"{source} is a live cluster, not a manifest source")]
            )
        result = ImportResult(cluster=cluster, skipped=skipped)
        replace_known_secrets(cluster, secrets)
        result.secrets = len(secrets)
        for kind in KINDS:
            result.per_kind[kind] = apply_snapshot(cluster, kind, by_kind.get(kind, []), changed_by=f"import:{source}")
        Cluster.objects.filter(pk=cluster.pk).update(
            manifest_path=paths_text,
            state=Cluster.State.CONNECTED,
            last_error="",
            last_sync_at=timezone.now(),
        )
    return result
