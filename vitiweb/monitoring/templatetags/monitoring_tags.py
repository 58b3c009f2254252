"""Troubleshooting pieces other pages include: alerts and Warning events, for an object or for the fleet."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone

from vitiweb.monitoring import alerts
from vitiweb.monitoring.models import AlertInstance, Event

register = template.Library()

#: Warning events shown in "Needs attention" and in an object's head, and how recent they must be.
WARNINGS_SHOWN = 8
ALERTS_SHOWN = 20
OBJECT_WARNINGS_SHOWN = 3
RECENT = timedelta(hours=1)


def _rows(found) -> list[dict]:
    return [{"alert": alert, "links": alerts.alert_links(alert)} for alert in found]


@register.inclusion_tag("monitoring/_fleet_troubles.html", takes_context=True)
def fleet_troubles(context):
    """Alerts pending or firing (the first ALERTS_SHOWN, or all with ``?alerts=all``), and the newest Warning
    events of the fleet (for "Needs attention")."""
    request = context.get("request")
    every = request is not None and request.GET.get("alerts") == "all"
    found = AlertInstance.objects.select_related("cluster").order_by("state", "-severity", "active_since")
    total = found.count()
    if not every:
        found = found[:ALERTS_SHOWN]
    warnings = (
        Event.objects.filter(type=Event.Type.WARNING, last_seen__gte=timezone.now() - RECENT)
        .select_related("cluster")
        .order_by("-last_seen", "-id")[:WARNINGS_SHOWN]
    )
    return {
        "alert_rows": _rows(found),
        "alerts_total": total,
        "warning_events": list(warnings),
        "perms": context.get("perms"),
    }


@register.inclusion_tag("monitoring/_object_troubles.html", takes_context=True)
def object_troubles(context, obj):
    """An object's alerts and its newest Warning events, for the head of its detail page."""
    warnings = Event.objects.filter(
        cluster_id=obj.cluster_id,
        regarding_kind=obj.KIND,
        regarding_namespace=obj.namespace,
        regarding_name=obj.name,
        type=Event.Type.WARNING,
        last_seen__gte=timezone.now() - RECENT,
    ).order_by("-last_seen", "-id")[:OBJECT_WARNINGS_SHOWN]
    return {
        "alert_rows": _rows(alerts.for_object(obj.KIND, obj.pk)),
        "warning_events": list(warnings),
        "object": obj,
        "perms": context.get("perms"),
    }
