from django.db.models import Count, Sum

from providers import sections, tables
from providers.filters import KubernetesProviderFilterSet, MachineProviderFilterSet
from providers.models import KubernetesProvider, MachineProvider
from vitiweb.ui import ObjectDetailView, ObjectListView


class MachineProviderListView(ObjectListView):
    model = MachineProvider
    filterset_class = MachineProviderFilterSet
    columns = tables.MACHINEPROVIDER_COLUMNS
    fields = tables.MACHINEPROVIDER_FIELDS
    row_template = "providers/_machineprovider_row.html"
    template_name = "providers/machineprovider_list.html"


class MachineProviderDetailView(ObjectDetailView):
    model = MachineProvider
    template_name = "providers/machineprovider_detail.html"
    sections = staticmethod(sections.machineprovider_sections)


class KubernetesProviderListView(ObjectListView):
    model = KubernetesProvider
    filterset_class = KubernetesProviderFilterSet
    columns = tables.KUBERNETESPROVIDER_COLUMNS
    fields = tables.KUBERNETESPROVIDER_FIELDS
    row_template = "providers/_kubernetesprovider_row.html"
    template_name = "providers/kubernetesprovider_list.html"

    def base_queryset(self):
        # Counted in the same query as the page, not per row.
        return (
            super()
            .base_queryset()
            .annotate(nodegroup_count=Count("nodegroups"), desired_nodes=Sum("nodegroups__desired_size"))
        )


class KubernetesProviderDetailView(ObjectDetailView):
    model = KubernetesProvider
    template_name = "providers/kubernetesprovider_detail.html"
    sections = staticmethod(sections.kubernetesprovider_sections)
