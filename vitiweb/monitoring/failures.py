"""Provisioning failures as the mirror observes them: a Machine whose phase changes into Failed.

Counted from rows written when the journal records the transition, so the
counter `vitistack_machine_provisioning_failures_total` survives restarts of
every process and is the same in all of them. A Machine first seen already
Failed is not a transition Vitiweb observed, so it is not counted.
"""

from __future__ import annotations

from vitiweb.monitoring.models import ProvisioningFailure

FAILED = "Failed"


def record_failures(cluster, instances, journal) -> int:
    """Rows for the journal entries (paired with their Machine instances) that moved a Machine into Failed."""
    rows = []
    for instance, entry in zip(instances, journal, strict=True):
        if entry.action != "updated":
            continue
        if any(_into_failed(change) for change in entry.changes):
            rows.append(
                ProvisioningFailure(
                    cluster=cluster,
                    machine_id=instance.pk,
                    namespace=instance.namespace,
                    name=instance.name,
                    message=(instance.message or "")[:2000],
                )
            )
    ProvisioningFailure.objects.bulk_create(rows)
    return len(rows)


def _into_failed(change: dict) -> bool:
    new = change.get("new")
    if change.get("path") == "status.phase":
        return new == FAILED
    # A status that was not an object before is diffed as a whole.
    return change.get("path") == "status" and isinstance(new, dict) and new.get("phase") == FAILED
