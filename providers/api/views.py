"""REST endpoints of the provider kinds."""

from providers.filters import KubernetesProviderFilterSet, MachineProviderFilterSet
from providers.models import KubernetesProvider, MachineProvider
from vitiweb.api import object_viewset

MachineProviderViewSet = object_viewset(MachineProvider, MachineProviderFilterSet, ("provider_type", "region"))
KubernetesProviderViewSet = object_viewset(
    KubernetesProvider, KubernetesProviderFilterSet, ("provider_type", "version", "region")
)
