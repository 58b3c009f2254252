"""The REST API (DRF): read-only access to everything the dashboard mirrors.

Each kind's endpoint is declared in its app's ``api/`` with the same filter
set its list page uses, so ``/api/v1/machines/?phase=Failed&label=env=prod``
answers what ``/machines/?phase=Failed&label=env=prod`` shows. Writes go to
clusters through the apply path (the forms), never through this API.
"""

from __future__ import annotations

from datetime import datetime

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import permissions, serializers, viewsets

from vitiweb.freshness import is_current, last_seen
from vitiweb.models import Cluster, Reference


class ReadPermission(permissions.DjangoModelPermissions):
    """Reading needs the model's view permission too (DRF asks for none by default)."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class MirroredObjectSerializer(serializers.ModelSerializer):
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    manifest = serializers.SerializerMethodField(help_text="The object as the cluster holds it.")
    cluster_current = serializers.SerializerMethodField(
        help_text="Whether the object's cluster is current (synced and watched now); if not, it may have changed."
    )
    last_seen = serializers.SerializerMethodField(
        help_text="When the object's cluster was last known in sync, if it is not current (null when current)."
    )

    common_fields = (
        "id",
        "cluster",
        "api_version",
        "kind",
        "namespace",
        "name",
        "uid",
        "resource_version",
        "generation",
        "labels",
        "annotations",
        "phase",
        "ready",
        "message",
        "created_at",
        "synced_at",
        "spec",
        "status",
        "manifest",
        "cluster_current",
        "last_seen",
    )

    def get_manifest(self, obj) -> dict:
        return obj.as_manifest()

    def get_cluster_current(self, obj) -> bool:
        return is_current(obj.cluster)

    def get_last_seen(self, obj) -> datetime | None:
        return last_seen(obj.cluster)


def object_viewset(model_class, filterset, extra_fields: tuple[str, ...] = ()):
    """A read-only endpoint for one kind, filtered as its list page is."""
    serializer = type(
        f"{model_class.__name__}Serializer",
        (MirroredObjectSerializer,),
        {
            "Meta": type(
                "Meta", (), {"model": model_class, "fields": MirroredObjectSerializer.common_fields + extra_fields}
            )
        },
    )
    return type(
        f"{model_class.__name__}ViewSet",
        (viewsets.ReadOnlyModelViewSet,),
        {
            "queryset": model_class.objects.select_related("cluster").order_by(
                "cluster__name", "namespace", "name", "pk"
            ),
            "serializer_class": serializer,
            "filter_backends": [DjangoFilterBackend],
            "filterset_class": filterset,
            "permission_classes": [ReadPermission],
            "__doc__": f"{model_class.KIND} objects mirrored from every cluster (read-only).",
        },
    )


class ClusterSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="Synced and watched now (see vitiweb.freshness).")
    last_seen = serializers.SerializerMethodField(help_text="When last known in sync, if not current.")

    def get_current(self, obj) -> bool:
        return is_current(obj)

    def get_last_seen(self, obj) -> datetime | None:
        return last_seen(obj)

    class Meta:
        model = Cluster
        # Never the credentials: not the encrypted blob, not the kubeconfig.
        fields = (
            "id",
            "name",
            "source",
            "server",
            "context",
            "state",
            "server_version",
            "discovered_kinds",
            "permissions",
            "kind_states",
            "last_sync_at",
            "last_event_at",
            "lag_ms",
            "last_error",
            "last_error_at",
            "current",
            "last_seen",
        )


class ClusterViewSet(viewsets.ReadOnlyModelViewSet):
    """Registered clusters and their sync state."""

    queryset = Cluster.objects.order_by("name")
    serializer_class = ClusterSerializer
    permission_classes = [ReadPermission]


class ReferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reference
        fields = (
            "id",
            "source_kind",
            "source_id",
            "source_cluster",
            "relation",
            "path",
            "target_kind",
            "target_namespace",
            "target_name",
            "target_entry",
            "target_id",
            "target_cluster",
            "state",
            "detail",
            "attributes",
        )


class ReferenceViewSet(viewsets.ReadOnlyModelViewSet):
    """The reference graph: one row per relationship an object declares."""

    queryset = Reference.objects.order_by("pk")
    serializer_class = ReferenceSerializer
    permission_classes = [ReadPermission]
    filter_backends = [DjangoFilterBackend]
    # ``state__in=dangling,ambiguous``: every reference that does not resolve (the overview's total).
    filterset_fields = {
        "state": ["exact", "in"],
        **dict.fromkeys(
            ("relation", "source_kind", "source_id", "target_kind", "target_id", "source_cluster"), ["exact"]
        ),
    }
