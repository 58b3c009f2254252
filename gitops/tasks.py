"""Fetching Git sources on a schedule (Celery beat) and on demand."""

from __future__ import annotations

import logging

from celery import shared_task

import vitiweb.celery  # noqa: F401 - the project's Celery app, which these shared tasks are sent through
from gitops import desired, drift
from gitops.models import GitSource

log = logging.getLogger(__name__)


def fetch_and_compare(source: GitSource) -> desired.FetchResult:
    """Fetch the newest revision and refresh the drift (also when the revision is unchanged: clusters move)."""
    result = desired.fetch(source)
    source.refresh_from_db()
    drift.refresh(source)
    return result


@shared_task
def fetch_source(source_id: int) -> str:
    source = GitSource.objects.filter(pk=source_id).first()
    if source is None:
        return "gone"
    result = fetch_and_compare(source)
    return "ok" if result.ok else "failed"


@shared_task
def fetch_all_sources() -> int:
    count = 0
    for source in GitSource.objects.all():
        try:
            fetch_and_compare(source)
        except Exception:  # one broken source must not stop the others
            log.exception("fetching git source %s failed", source.name)
        count += 1
    return count
