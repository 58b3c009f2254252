"""Filters of the machine provider and Kubernetes provider lists."""

from __future__ import annotations

import django_filters

from providers.models import KubernetesProvider, MachineProvider
from vitiweb.attribution import BUCKET_HELP, filter_bucket, validate_bucket
from vitiweb.filters import IndexedValues, MirroredObjectFilterSet, fill_choices

#: The provider type filter's value for providers that name no type (as the overview's chart labels them).
UNSET = "(unset)"


class ProviderFilterSet(MirroredObjectFilterSet):
    search_fields = ("region", "provider_type")
    choice_columns = ("provider_type", "region")

    provider_type = django_filters.ChoiceFilter(
        field_name="provider_type", method="filter_type", label="Provider type", empty_label="Any provider type"
    )
    region = django_filters.ChoiceFilter(field_name="region", label="Region", empty_label="Any region")
    # The rows behind the overview's per-Vitistack figures (vitiweb.attribution).
    vitistack = django_filters.CharFilter(
        method=filter_bucket, label="Counted for Vitistack", help_text=BUCKET_HELP, validators=[validate_bucket]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fill_choices(self, self.choice_columns)
        self.filters["provider_type"].extra["choices"] = IndexedValues(self._meta.model, "provider_type", also=(UNSET,))

    def filter_type(self, queryset, name, value):
        return queryset.filter(provider_type="" if value == UNSET else value)


class MachineProviderFilterSet(ProviderFilterSet):
    class Meta:
        model = MachineProvider
        fields = ["q", "cluster", "namespace", "provider_type", "region", "phase", "ready", "label"]


class KubernetesProviderFilterSet(ProviderFilterSet):
    search_fields = ("region", "provider_type", "version")
    choice_columns = ("provider_type", "region", "version")

    version = django_filters.ChoiceFilter(field_name="version", label="Kubernetes version", empty_label="Any version")

    class Meta:
        model = KubernetesProvider
        fields = ["q", "cluster", "namespace", "provider_type", "version", "region", "phase", "ready", "label"]
