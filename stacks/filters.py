"""Filters of the Vitistack list."""

from __future__ import annotations

import django_filters

from stacks.models import Vitistack
from vitiweb.filters import MirroredObjectFilterSet, fill_choices


class VitistackFilterSet(MirroredObjectFilterSet):
    search_fields = ("region", "role", "description")

    region = django_filters.ChoiceFilter(field_name="region", label="Region", empty_label="Any region")
    role = django_filters.ChoiceFilter(field_name="role", label="Role", empty_label="Any role")

    class Meta:
        model = Vitistack
        fields = ["q", "cluster", "namespace", "region", "role", "phase", "ready", "label"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fill_choices(self, ("region", "role"))
