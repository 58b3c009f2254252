"""The Machine: one server on a machine provider.

In the guide's shape it names its provider (``machineProvider``), instance
type and image; in the published shape it names a provider *type*
(``provider``), a MachineClass, a NetworkNamespace, and its KubernetesCluster
through the label ``vitistack.io/clusterid`` (and a KubevirtConfig through the
annotation ``vitistack.io/kubevirt-config``).
"""

from __future__ import annotations

from django.db import models

from providers.models import INSTANCE_TYPE, MACHINE_IMAGE, MachineProvider, entry_reference
from vitiweb.models import MirroredObject
from vitiweb.references import object_reference, secret_references
from vitiweb.spec import as_dict, as_str

CLUSTER_ID_LABEL = "vitistack.io/clusterid"
KUBEVIRT_CONFIG_ANNOTATION = "vitistack.io/kubevirt-config"


class Machine(MirroredObject):
    KIND = "Machine"
    PLURAL = "machines"

    provider_namespace = models.CharField(max_length=253, blank=True)
    provider_name = models.CharField(max_length=253, blank=True, db_index=True)
    instance_type = models.CharField(max_length=100, blank=True, db_index=True)
    machine_image = models.CharField(max_length=200, blank=True)
    # The published shape's placement.
    provider_type = models.CharField(max_length=50, blank=True, db_index=True)
    machine_class = models.CharField(max_length=253, blank=True, db_index=True)
    network_namespace = models.CharField(max_length=253, blank=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "machine"
        # The fleet overview's GROUP BY queries and the list's age sort (see migration 0002).
        indexes = [
            models.Index(fields=["cluster", "phase", "ready"], name="machine_overview"),
            models.Index(
                fields=["cluster", "provider_name", "provider_namespace", "namespace", "instance_type"],
                name="machine_usage",
            ),
            models.Index(fields=["created_at"], name="machine_created"),
        ]

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        provider = as_dict(spec.get("machineProvider"))
        return {
            "provider_name": as_str(provider.get("name")),
            "provider_namespace": as_str(provider.get("namespace")),
            "instance_type": as_str(spec.get("instanceType")),
            "machine_image": as_str(spec.get("machineImage")),
            "provider_type": as_str(spec.get("provider")),
            "machine_class": as_str(spec.get("machineClass")),
            "network_namespace": as_str(as_dict(spec.get("network")).get("networkNamespaceName")),
        }

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        provider = object_reference(
            "machine-provider", "spec.machineProvider", MachineProvider.KIND, spec.get("machineProvider"), namespace
        )
        refs = [
            provider,
            entry_reference("instance-type", "spec.instanceType", provider, spec.get("instanceType"), INSTANCE_TYPE),
            entry_reference("machine-image", "spec.machineImage", provider, spec.get("machineImage"), MACHINE_IMAGE),
            *secret_references(spec, namespace),
        ]
        machine_class = spec.get("machineClass")
        if isinstance(machine_class, str) and machine_class:
            refs.append(
                object_reference("machine-class", "spec.machineClass", "MachineClass", {"name": machine_class}, "")
            )
        network = as_dict(spec.get("network")).get("networkNamespaceName")
        if isinstance(network, str) and network:
            refs.append(
                object_reference(
                    "network-namespace",
                    "spec.network.networkNamespaceName",
                    "NetworkNamespace",
                    {"name": network},
                    namespace,
                )
            )
        return [ref for ref in refs if ref]

    def references(self) -> list:
        """The spec's references, the KubernetesCluster its label names and the KubevirtConfig its annotation names."""
        refs = super().references()
        labels = self.labels if isinstance(self.labels, dict) else {}
        annotations = self.annotations if isinstance(self.annotations, dict) else {}
        refs.append(
            object_reference(
                "kubernetes-cluster",
                f"metadata.labels[{CLUSTER_ID_LABEL}]",
                "KubernetesCluster",
                {"name": labels.get(CLUSTER_ID_LABEL)},
                self.namespace,
            )
        )
        refs.append(
            object_reference(
                "kubevirt-config",
                f"metadata.annotations[{KUBEVIRT_CONFIG_ANNOTATION}]",
                "KubevirtConfig",
                {"name": annotations.get(KUBEVIRT_CONFIG_ANNOTATION)},
                "",
            )
        )
        return [ref for ref in refs if ref]
