"""The published API's Kubernetes clusters: KubernetesCluster, its etcd backups and control-plane IPs."""

from __future__ import annotations

from django.db import models

from vitiweb.models import MirroredObject
from vitiweb.references import SECRET, DeclaredReference, list_of_dicts
from vitiweb.spec import as_dict, as_int, as_str


def named(relation: str, path: str, kind: str, name, namespace: str, **attributes) -> DeclaredReference | None:
    """A reference by a bare name (the published API names its targets with plain strings)."""
    if not isinstance(name, str) or not name:
        return None
    return DeclaredReference(
        relation=relation,
        path=path,
        target_kind=kind,
        target_name=name,
        target_namespace=namespace,
        attributes={key: value for key, value in attributes.items() if value not in (None, "", [], {})},
    )


def worker_pools(spec: dict) -> list[tuple[int, dict]]:
    return list(list_of_dicts(as_dict(as_dict(spec.get("topology")).get("workers")).get("nodePools")))


class KubernetesCluster(MirroredObject):
    KIND = "KubernetesCluster"
    PLURAL = "kubernetesclusters"

    cluster_identifier = models.CharField("cluster id", max_length=253, blank=True, db_index=True)
    provider = models.CharField("provider", max_length=100, blank=True, db_index=True)
    region = models.CharField("region", max_length=100, blank=True, db_index=True)
    zone = models.CharField("zone", max_length=100, blank=True)
    environment = models.CharField("environment", max_length=100, blank=True, db_index=True)
    network_namespace = models.CharField("network namespace", max_length=253, blank=True)
    version = models.CharField("version", max_length=50, blank=True, db_index=True)
    control_plane_replicas = models.IntegerField("control-plane replicas", null=True, blank=True)
    worker_replicas = models.IntegerField("worker replicas", null=True, blank=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "Kubernetes cluster"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        data = as_dict(spec.get("data"))
        topology = as_dict(spec.get("topology"))
        workers = [as_int(pool.get("replicas")) or 0 for _, pool in worker_pools(spec)]
        return {
            "cluster_identifier": as_str(data.get("clusterId")),
            "provider": as_str(data.get("provider")),
            "region": as_str(data.get("region")),
            "zone": as_str(data.get("zone")),
            "environment": as_str(data.get("environment")),
            "network_namespace": as_str(data.get("networkNamespaceName")),
            "version": as_str(topology.get("version")),
            "control_plane_replicas": as_int(as_dict(topology.get("controlplane")).get("replicas")),
            "worker_replicas": sum(workers) if workers else None,
        }

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        data = as_dict(spec.get("data"))
        controlplane = as_dict(as_dict(spec.get("topology")).get("controlplane"))
        refs = [
            named(
                "network-namespace",
                "spec.data.networkNamespaceName",
                "NetworkNamespace",
                data.get("networkNamespaceName"),
                namespace,
            ),
            named(
                "machine-class",
                "spec.topology.controlplane.machineClass",
                "MachineClass",
                controlplane.get("machineClass"),
                "",
                pool="control plane",
                replicas=controlplane.get("replicas"),
            ),
        ]
        for index, pool in worker_pools(spec):
            refs.append(
                named(
                    "machine-class",
                    f"spec.topology.workers.nodePools[{index}].machineClass",
                    "MachineClass",
                    pool.get("machineClass"),
                    "",
                    pool=pool.get("name"),
                    replicas=pool.get("replicas"),
                )
            )
        return [ref for ref in refs if ref]


class EtcdBackup(MirroredObject):
    KIND = "EtcdBackup"
    PLURAL = "etcdbackups"

    cluster_name = models.CharField("cluster", max_length=253, blank=True, db_index=True)
    storage_type = models.CharField("storage type", max_length=50, blank=True, db_index=True)
    schedule = models.CharField("schedule", max_length=100, blank=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "etcd backup"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        return {
            "cluster_name": as_str(spec.get("clusterName")),
            "storage_type": as_str(as_dict(spec.get("storageLocation")).get("type")),
            "schedule": as_str(spec.get("schedule")),
        }

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        location = as_dict(spec.get("storageLocation"))
        refs = [
            named("kubernetes-cluster", "spec.clusterName", "KubernetesCluster", spec.get("clusterName"), namespace),
            named("secret", "spec.storageLocation.secretRef", SECRET, location.get("secretRef"), namespace),
        ]
        return [ref for ref in refs if ref]


class ControlPlaneVirtualSharedIP(MirroredObject):
    KIND = "ControlPlaneVirtualSharedIP"
    PLURAL = "controlplanevirtualsharedips"

    cluster_identifier = models.CharField("cluster id", max_length=253, blank=True, db_index=True)
    datacenter = models.CharField("datacenter", max_length=100, blank=True, db_index=True)
    network_namespace = models.CharField("network namespace", max_length=253, blank=True)
    provider = models.CharField("provider", max_length=100, blank=True, db_index=True)
    method = models.CharField("method", max_length=50, blank=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "control-plane virtual shared IP"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        return {
            "cluster_identifier": as_str(spec.get("clusterIdentifier")),
            "datacenter": as_str(spec.get("datacenterIdentifier")),
            "network_namespace": as_str(spec.get("networkNamespaceIdentifier")),
            "provider": as_str(spec.get("provider")),
            "method": as_str(spec.get("method")),
        }

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        refs = [
            named(
                "kubernetes-cluster",
                "spec.clusterIdentifier",
                "KubernetesCluster",
                spec.get("clusterIdentifier"),
                namespace,
            ),
            named(
                "network-namespace",
                "spec.networkNamespaceIdentifier",
                "NetworkNamespace",
                spec.get("networkNamespaceIdentifier"),
                namespace,
            ),
        ]
        return [ref for ref in refs if ref]
