"""Filters of the Vitistack list."""

from __future__ import annotations

import django_filters

from stacks.models import Vitistack
from vitiweb.filters import MirroredObjectFilterSet, fill_choices


class VitistackFilterSet(MirroredObjectFilterSet):
    search_fields = ("region", "role", "description")

    region = django_filters.ChoiceFilter(field_name="region", label="Region", empty_label="Any region")
    role = django_filters.ChoiceFilter(field_name="role", label="Role", empty_label="Any role")
    # The Vitistacks the overview's quota chart considers.
    limit = django_filters.ChoiceFilter(
        choices=(("machines", "Sets resourceQuotas.maxMachines"),),
        method="filter_limit",
        label="Quota",
        empty_label="Any",
    )

    class Meta:
        model = Vitistack
        fields = ["q", "cluster", "namespace", "region", "role", "phase", "ready", "label"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fill_choices(self, ("region", "role"))

    def filter_limit(self, queryset, name, value):
        # As the chart reads it: a limit that is set and not 0.
        return queryset.exclude(max_machines=None).exclude(max_machines=0)
