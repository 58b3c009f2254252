"""Marks on what comes from a cluster that is not current (see vitiweb.freshness)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from vitiweb.freshness import is_current, stale_clusters

register = template.Library()


def duration(since: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in words an operator reads at a glance: 40 s, 14 min, 2 h 5 min, 3 d."""
    if not isinstance(since, datetime):
        return ""
    seconds = max(0, int(((now or timezone.now()) - since).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{seconds // 86400} d"


register.filter("duration", duration)


@register.inclusion_tag("vitiweb/_stale_badge.html")
def stale_badge(cluster) -> dict:
    """'last seen N min ago' on an object whose cluster is not current; nothing when it is."""
    if cluster is None or is_current(cluster):
        return {"stale": False}
    return {"stale": True, "cluster": cluster, "since": cluster.last_sync_at}


@register.inclusion_tag("vitiweb/_stale_findings.html")
def stale_findings_note() -> dict:
    """Findings are computed from what the database holds: say which clusters' part of it is not current."""
    return {"freshness": stale_clusters()}
