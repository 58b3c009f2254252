import django_filters
from django.db.models import Q

from gitops.models import DriftRecord, GitSource
from vitiweb.models import Cluster


class DriftFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Object")
    source = django_filters.ModelChoiceFilter(queryset=GitSource.objects.all(), to_field_name="name")
    cluster = django_filters.ModelChoiceFilter(queryset=Cluster.objects.all(), to_field_name="name")
    kind = django_filters.ChoiceFilter(choices=[])
    state = django_filters.ChoiceFilter(choices=DriftRecord.State.choices)

    class Meta:
        model = DriftRecord
        fields = ["q", "source", "cluster", "kind", "state"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from vitiweb.kinds import KINDS

        self.filters["kind"].extra["choices"] = [(k, k) for k in ("Secret", *KINDS)]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(namespace__icontains=value))
