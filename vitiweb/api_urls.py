"""URLs of the REST API, version 1, and its OpenAPI schema."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from machines.api.views import MachineViewSet
from providers.api.views import KubernetesProviderViewSet, MachineProviderViewSet
from stacks.api.views import VitistackViewSet
from vitiweb.api import ClusterViewSet, ReferenceViewSet

router = DefaultRouter()
router.register("vitistacks", VitistackViewSet, basename="api-vitistack")
router.register("machineproviders", MachineProviderViewSet, basename="api-machineprovider")
router.register("kubernetesproviders", KubernetesProviderViewSet, basename="api-kubernetesprovider")
router.register("machines", MachineViewSet, basename="api-machine")
router.register("clusters", ClusterViewSet, basename="api-cluster")
router.register("references", ReferenceViewSet, basename="api-reference")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
]
