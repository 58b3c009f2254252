from django import template

from gitops.models import DriftRecord
from gitops.summary import drift_summary
from vitiweb.fleet import detail_url

register = template.Library()


@register.filter
def object_url(record: DriftRecord) -> str:
    """The detail page of the mirrored object a drift record is about."""
    return detail_url(record.kind, record.object_id) if record.object_id else ""


@register.inclusion_tag("gitops/_drift_badge.html")
def object_drift(obj):
    """The object's drift against each Git source that describes it, with the fields that differ."""
    records = DriftRecord.objects.filter(kind=obj.kind, object_id=obj.pk, cluster_id=obj.cluster_id).select_related(
        "source"
    )
    return {"drift_records": records}


@register.inclusion_tag("gitops/_overview_drift.html")
def overview_drift():
    return drift_summary()
