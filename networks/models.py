"""The published API's networks: NetworkNamespace and NetworkConfiguration."""

from __future__ import annotations

from django.db import models

from clusters.models import named
from vitiweb.models import MirroredObject
from vitiweb.spec import as_dict, as_str


class NetworkNamespace(MirroredObject):
    KIND = "NetworkNamespace"
    PLURAL = "networknamespaces"

    datacenter = models.CharField("datacenter", max_length=100, blank=True, db_index=True)
    supervisor = models.CharField("supervisor", max_length=100, blank=True, db_index=True)
    allocation = models.CharField("IP allocation", max_length=20, blank=True, db_index=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "network namespace"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        return {
            "datacenter": as_str(spec.get("datacenterIdentifier")),
            "supervisor": as_str(spec.get("supervisorIdentifier")),
            "allocation": as_str(as_dict(spec.get("ipAllocation")).get("type")),
        }


class NetworkConfiguration(MirroredObject):
    KIND = "NetworkConfiguration"
    PLURAL = "networkconfigurations"

    network_namespace = models.CharField("network namespace", max_length=253, blank=True, db_index=True)
    cluster_identifier = models.CharField("cluster id", max_length=253, blank=True, db_index=True)
    datacenter = models.CharField("datacenter", max_length=100, blank=True, db_index=True)
    provider = models.CharField("provider", max_length=100, blank=True, db_index=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "network configuration"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        return {
            "network_namespace": as_str(spec.get("networkNamespaceName")),
            "cluster_identifier": as_str(spec.get("clusterIdentifier")),
            "datacenter": as_str(spec.get("datacenterIdentifier")),
            "provider": as_str(spec.get("provider")),
        }

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        refs = [
            named(
                "network-namespace",
                "spec.networkNamespaceName",
                "NetworkNamespace",
                spec.get("networkNamespaceName"),
                namespace,
            ),
            named(
                "kubernetes-cluster",
                "spec.clusterIdentifier",
                "KubernetesCluster",
                spec.get("clusterIdentifier"),
                namespace,
            ),
        ]
        return [ref for ref in refs if ref]
