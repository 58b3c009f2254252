"""The published API's storage: ClusterStorage and ClusterStorageClass."""

from __future__ import annotations

from django.db import models

from clusters.models import named
from vitiweb.models import MirroredObject
from vitiweb.spec import as_str


class ClusterStorageClass(MirroredObject):
    KIND = "ClusterStorageClass"
    PLURAL = "clusterstorageclasses"

    storage_type = models.CharField("type", max_length=100, blank=True, db_index=True)
    version = models.CharField("version", max_length=50, blank=True)
    enabled = models.BooleanField("enabled", null=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "cluster storage class"
        verbose_name_plural = "cluster storage classes"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        enabled = spec.get("enabled")
        return {
            "storage_type": as_str(spec.get("type")),
            "version": as_str(spec.get("version")),
            "enabled": enabled if isinstance(enabled, bool) else None,
        }


class ClusterStorage(MirroredObject):
    KIND = "ClusterStorage"
    PLURAL = "clusterstorages"

    cluster_identifier = models.CharField("cluster id", max_length=253, blank=True, db_index=True)
    storage_class = models.CharField("storage class", max_length=253, blank=True, db_index=True)
    storage_type = models.CharField("type", max_length=100, blank=True, db_index=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "cluster storage"
        verbose_name_plural = "cluster storages"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        return {
            "cluster_identifier": as_str(spec.get("clusterId")),
            "storage_class": as_str(spec.get("clusterStorageClass")),
            "storage_type": as_str(spec.get("type")),
        }

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        refs = [
            named(
                "storage-class", "spec.clusterStorageClass", "ClusterStorageClass", spec.get("clusterStorageClass"), ""
            ),
            named("kubernetes-cluster", "spec.clusterId", "KubernetesCluster", spec.get("clusterId"), namespace),
        ]
        return [ref for ref in refs if ref]
