"""URLs of the REST API, version 1, and its OpenAPI schema."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from vitiweb import registry
from vitiweb.api import ClusterViewSet, ReferenceViewSet, object_viewset

router = DefaultRouter()
for declaration in registry.declarations():
    router.register(
        declaration.plural,
        object_viewset(declaration.get_model(), declaration.filterset_class, declaration.api_fields),
        basename=f"api-{declaration.model_name}",
    )
router.register("clusters", ClusterViewSet, basename="api-cluster")
router.register("references", ReferenceViewSet, basename="api-reference")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
]
