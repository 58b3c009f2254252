from providers.models import KubernetesProvider, MachineProvider
from providers.views import (
    KubernetesProviderDetailView,
    KubernetesProviderListView,
    MachineProviderDetailView,
    MachineProviderListView,
)
from vitiweb.ui import object_urls

urlpatterns = [
    *object_urls(MachineProvider, MachineProviderListView, MachineProviderDetailView),
    *object_urls(KubernetesProvider, KubernetesProviderListView, KubernetesProviderDetailView),
]
