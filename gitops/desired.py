"""Turning a revision of a Git source into its desired objects, or into precise reasons why not.

A revision is used only when every document of every file reads cleanly:
YAML, identity (apiVersion, kind, metadata.name), the CRD schema for the
VitiStack kinds, and no object declared twice. Otherwise the source keeps
its last good revision and reports the new one's problems, each naming the
file, the document and the field path.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from gitops.models import DesiredObject, GitSource
from gitops.repository import GitSourceError, Revision, read_revision
from vitiweb import schema
from vitiweb.manifests import Document, parse_stream

#: How many problems a source's error keeps: enough to fix a commit, bounded for the page.
MAX_REPORTED_PROBLEMS = 50


@dataclass
class FetchResult:
    changed: bool
    commit: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def default_namespace(kind: str, target_namespace: str = "") -> str:
    """Where an object that names no namespace lands, as ``kubectl apply`` would put it."""
    if kind in ("Namespace",):
        return ""
    return target_namespace or "default"


def read_documents(revision: Revision) -> tuple[list[Document], list[str]]:
    documents: list[Document] = []
    problems: list[str] = []
    seen: dict[tuple, str] = {}
    for file, text in sorted(revision.files.items()):
        file_documents, errors = parse_stream(text, file)
        problems.extend(str(error) for error in errors)
        bad = {error.index for error in errors}
        for document in file_documents:
            if document.index in bad:
                continue
            if document.is_vitistack:
                problems.extend(
                    f"{document.where}: {error.path}: {error.message}" if error.path else f"{document.where}: {error}"
                    for error in schema.validate(document.body)
                )
            meta = document.body["metadata"]
            key = (document.kind, meta.get("namespace") or default_namespace(document.kind), document.name)
            if key in seen:
                problems.append(f"{document.where}: {document.kind} {key[1]}/{key[2]} is also declared in {seen[key]}")
                continue
            seen[key] = document.where
            documents.append(document)
    return documents, problems


def fetch(source: GitSource) -> FetchResult:
    """Read the source's newest revision; use it if it is good, keep the last good one otherwise."""
    now = timezone.now()
    try:
        revision = read_revision(source)
    except GitSourceError as exc:
        _fail(source, "", [str(exc)], now)
        return FetchResult(False, source.commit, [str(exc)])
    if revision.commit == source.commit and not source.last_error:
        GitSource.objects.filter(pk=source.pk).update(fetched_at=now)
        return FetchResult(False, revision.commit, [])
    documents, problems = read_documents(revision)
    if problems:
        _fail(source, revision.commit, problems, now)
        return FetchResult(False, source.commit, problems)
    with transaction.atomic():
        source.desired_objects.all().delete()
        DesiredObject.objects.bulk_create(
            DesiredObject(
                source=source,
                api_version=document.body["apiVersion"],
                kind=document.kind,
                namespace=document.body["metadata"].get("namespace") or "",
                name=document.name,
                file=document.file,
                index=document.index,
                body=document.body,
            )
            for document in documents
        )
        changed = revision.commit != source.commit
        source.commit = revision.commit
        source.commit_message = revision.message
        source.commit_author = revision.author
        source.commit_at = revision.committed_at
        source.fetched_at = now
        source.error_commit = ""
        source.last_error = ""
        source.last_error_at = None
        source.save()
    return FetchResult(changed, revision.commit, [])


def _fail(source: GitSource, commit: str, problems: list[str], now) -> None:
    shown = problems[:MAX_REPORTED_PROBLEMS]
    more = len(problems) - len(shown)
    text = "\n".join(shown) + (f"\n... and {more} more problems" if more else "")
    if commit:
        text = f"revision {commit[:12]} is not used ({len(problems)} problems); still using the last good one.\n{text}"
    source.error_commit = commit
    source.last_error = text
    source.last_error_at = now
    source.fetched_at = now
    GitSource.objects.filter(pk=source.pk).update(
        error_commit=commit, last_error=text, last_error_at=now, fetched_at=now
    )
