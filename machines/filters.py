"""Filters of the machine list."""

from __future__ import annotations

from collections import defaultdict

import django_filters
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from machines.models import Machine
from providers.models import MachineProvider
from vitiweb.attribution import BUCKET_HELP, COST_CHOICES, filter_bucket, filter_cost, validate_bucket
from vitiweb.filters import IndexedValues, MirroredObjectFilterSet, fill_choices


def on_providers(queryset, providers: MachineProvider.objects):
    """Machines whose ``machineProvider`` names one of ``providers`` in the machine's own cluster.

    A machine's provider namespace defaults to the machine's namespace, as
    Kubernetes references do. Providers of one name and namespace are matched
    together, whatever the number of clusters holding them (fleets deployed
    from one Git layout repeat them: one condition per provider was an OR of
    300 at 100 clusters).
    """
    clusters_of: dict[tuple[str, str], list[int]] = defaultdict(list)
    for cluster_id, namespace, name in providers.values_list("cluster_id", "namespace", "name"):
        clusters_of[(namespace, name)].append(cluster_id)
    condition = Q()
    for (namespace, name), cluster_ids in clusters_of.items():
        condition |= Q(cluster_id__in=cluster_ids, provider_name=name) & (
            Q(provider_namespace=namespace) | Q(provider_namespace="", namespace=namespace)
        )
    return queryset.filter(condition) if condition else queryset.none()


class MachineFilterSet(MirroredObjectFilterSet):
    # Name and labels only: both have trigram indexes (see migration 0003); the
    # provider, instance type and image have filters of their own.
    search_fields = ()

    provider = django_filters.CharFilter(
        field_name="provider_name",
        label="Provider",
        widget=django_filters.widgets.forms.TextInput(attrs={"placeholder": "any"}),
    )
    provider_type = django_filters.ChoiceFilter(
        method="filter_provider_type", label="Provider type", empty_label="Any provider type"
    )
    region = django_filters.ChoiceFilter(method="filter_region", label="Region", empty_label="Any region")
    instance_type = django_filters.ChoiceFilter(
        field_name="instance_type", label="Instance type", empty_label="Any instance type"
    )
    # The rows behind the overview's per-Vitistack figures (vitiweb.attribution).
    vitistack = django_filters.CharFilter(
        method=filter_bucket, label="Counted for Vitistack", help_text=BUCKET_HELP, validators=[validate_bucket]
    )
    cost = django_filters.ChoiceFilter(
        choices=COST_CHOICES, method=filter_cost, label="Cost counted as", empty_label="Any"
    )
    machine_class = django_filters.ChoiceFilter(
        field_name="machine_class", label="Machine class", empty_label="Any machine class"
    )

    class Meta:
        model = Machine
        fields = [
            "q",
            "cluster",
            "namespace",
            "provider",
            "provider_type",
            "region",
            "instance_type",
            "machine_class",
            "phase",
            "ready",
            "label",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fill_choices(self, ("instance_type", "machine_class"))
        self.filters["provider_type"].extra["choices"] = IndexedValues(MachineProvider, "provider_type")
        self.filters["region"].extra["choices"] = IndexedValues(MachineProvider, "region")

    @extend_schema_field(OpenApiTypes.STR)  # the API schema: choices come from the database at request time
    def filter_provider_type(self, queryset, name, value):
        # A published-shape Machine names its provider type itself (spec.provider).
        return on_providers(queryset, MachineProvider.objects.filter(provider_type=value)) | queryset.filter(
            provider_type=value
        )

    @extend_schema_field(OpenApiTypes.STR)
    def filter_region(self, queryset, name, value):
        return on_providers(queryset, MachineProvider.objects.filter(region=value))
