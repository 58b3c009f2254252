"""Drift counts for the overview and the navigation: a few indexed counts, no comparison."""

from __future__ import annotations

from django.db.models import Count

from gitops.models import DriftRecord, GitSource


def drift_summary() -> dict:
    counts = dict(DriftRecord.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    states = [
        {"state": value, "label": label, "count": counts.get(value, 0)} for value, label in DriftRecord.State.choices
    ]
    return {
        "drift_states": states,
        "drift_out_of_line": sum(counts.get(s, 0) for s in ("differs", "git-only", "cluster-only")),
        "git_sources": GitSource.objects.count(),
        "git_sources_failing": GitSource.objects.exclude(last_error="").count(),
    }
