"""The kinds this app owns, declared for the registry (see vitiweb.registry)."""

from providers import tables
from vitiweb.registry import CLUSTER, GUIDE, NAMESPACED, PUBLISHED, KindDeclaration, register

register(
    KindDeclaration(
        kind="MachineProvider",
        model="providers.MachineProvider",
        plural="machineproviders",
        scopes={GUIDE: NAMESPACED, PUBLISHED: CLUSTER},
        order=20,
        expected=True,
        nav_label="Machine providers",
        nav_icon="☁",
        topology_symbol="diamond",
        filterset="providers.filters.MachineProviderFilterSet",
        columns=tables.MACHINEPROVIDER_COLUMNS,
        fields=tables.MACHINEPROVIDER_FIELDS,
        row_template="providers/_machineprovider_row.html",
        sections="providers.sections.machineprovider_sections",
        api_fields=("provider_type", "region"),
        form="providers.forms.MachineProviderForm",
        export_folder="providers/machine-providers",
    )
)
register(
    KindDeclaration(
        kind="KubernetesProvider",
        model="providers.KubernetesProvider",
        plural="kubernetesproviders",
        scopes={GUIDE: NAMESPACED, PUBLISHED: CLUSTER},
        order=30,
        expected=True,
        nav_label="Kubernetes providers",
        nav_icon="☸",
        topology_symbol="hexagon",
        filterset="providers.filters.KubernetesProviderFilterSet",
        list_view="providers.views.KubernetesProviderListView",
        columns=tables.KUBERNETESPROVIDER_COLUMNS,
        fields=tables.KUBERNETESPROVIDER_FIELDS,
        row_template="providers/_kubernetesprovider_row.html",
        sections="providers.sections.kubernetesprovider_sections",
        api_fields=("provider_type", "version", "region"),
        form="providers.forms.KubernetesProviderForm",
        export_folder="providers/kubernetes-providers",
    )
)
