"""Objects of ``vitistack.io`` kinds no app declares: listed, detailed and shown as YAML, generically."""

from __future__ import annotations

import django_filters

from vitiweb.filters import MirroredObjectFilterSet, fill_choices
from vitiweb.models import DiscoveredObject
from vitiweb.ui import DEFAULT_COLUMNS, Column, ObjectDetailView, ObjectListView


class DiscoveredObjectFilterSet(MirroredObjectFilterSet):
    search_fields = ("kind",)
    kind = django_filters.ChoiceFilter(field_name="kind", label="Kind", empty_label="Any kind")

    class Meta:
        model = DiscoveredObject
        fields = ["q", "kind", "cluster", "namespace", "phase", "ready", "label"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fill_choices(self, ("kind",))


class DiscoveredObjectListView(ObjectListView):
    model = DiscoveredObject
    filterset_class = DiscoveredObjectFilterSet
    columns = [Column("kind", "Kind", ("kind", "name"), attr="kind"), *DEFAULT_COLUMNS]
    fields = ("name", "namespace", "phase", "ready", "message", "created_at", "cluster__name", "kind")
    row_template = "vitiweb/_generic_row.html"
    template_name = "vitiweb/object_list.html"


class DiscoveredObjectDetailView(ObjectDetailView):
    model = DiscoveredObject
    template_name = "vitiweb/object_detail.html"
