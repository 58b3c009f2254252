"""Machine providers (clouds, instance types, failover, sharing) and
Kubernetes providers (managed clusters with node groups).

Both kinds are read in both API shapes: the guide's (``spec.type`` and a block
per type holding instance types or node groups) and the published one
(``spec.providerType``; a KubernetesProvider's ``nodePools[]`` name machine
classes and ``machineProviderRef`` names its machine provider).
"""

from __future__ import annotations

import re

from django.db import models

from vitiweb.models import MirroredObject
from vitiweb.references import DeclaredReference, list_of_dicts, object_reference, secret_references
from vitiweb.spec import as_dict, as_int, as_str

INSTANCE_TYPE = "instance type"
MACHINE_IMAGE = "machine image"

_PRICE = re.compile(r"(\d+(?:\.\d+)?)")


def hourly_price(text) -> float | None:
    """``"$0.096/hour"`` -> 0.096; None when no price can be read."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    match = _PRICE.search(text) if isinstance(text, str) else None
    return float(match.group(1)) if match else None


def provider_type(spec: dict) -> str:
    """The guide's ``spec.type`` or the published ``spec.providerType``."""
    return as_str(spec.get("type")) or as_str(spec.get("providerType"))


def provider_block(spec: dict) -> dict:
    """The provider-specific configuration block, keyed by ``spec.type`` (``spec.aws`` for type aws)."""
    return as_dict(spec.get(spec.get("type"))) if isinstance(spec.get("type"), str) else {}


class MachineProvider(MirroredObject):
    KIND = "MachineProvider"
    PLURAL = "machineproviders"

    provider_type = models.CharField(max_length=50, blank=True, db_index=True)
    region = models.CharField(max_length=100, blank=True, db_index=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "machine provider"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        return {"provider_type": provider_type(spec), "region": as_str(spec.get("region"))}

    @staticmethod
    def instance_types(spec: dict) -> list[dict]:
        return [item for _, item in list_of_dicts(provider_block(spec).get("instanceTypes"))]

    @staticmethod
    def machine_images(spec: dict) -> list[dict]:
        return [item for _, item in list_of_dicts(provider_block(spec).get("machineImages"))]

    @classmethod
    def declared_entries(cls, spec: dict, entry_kind: str) -> set[str]:
        entries = cls.instance_types(spec) if entry_kind == INSTANCE_TYPE else cls.machine_images(spec)
        return {item["name"] for item in entries if isinstance(item.get("name"), str)}

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        refs = []
        failover = as_dict(spec.get("failover"))
        for index, target in list_of_dicts(failover.get("targets")):
            refs.append(
                object_reference(
                    "failover-target",
                    f"spec.failover.targets[{index}]",
                    cls.KIND,
                    target,
                    namespace,
                    priority=target.get("priority"),
                    conditions=target.get("conditions"),
                )
            )
        for index, share in list_of_dicts(spec.get("shareWith")):
            refs.append(
                object_reference(
                    "shared-with", f"spec.shareWith[{index}]", "Vitistack", share, namespace, name_key="vitistack"
                )
            )
        refs.extend(secret_references(spec, namespace))
        return [ref for ref in refs if ref]


def entry_reference(relation, path, provider_ref, entry_name, entry_kind, **attributes):
    """A reference to an entry (instance type, image) of the provider ``provider_ref`` points at."""
    if provider_ref is None or not isinstance(entry_name, str) or not entry_name:
        return None
    return DeclaredReference(
        relation=relation,
        path=path,
        target_kind=MachineProvider.KIND,
        target_name=provider_ref.target_name,
        target_namespace=provider_ref.target_namespace,
        target_entry=entry_name,
        attributes={"entry": entry_kind, **{k: v for k, v in attributes.items() if v not in (None, "")}},
    )


class KubernetesProvider(MirroredObject):
    KIND = "KubernetesProvider"
    PLURAL = "kubernetesproviders"

    provider_type = models.CharField(max_length=50, blank=True, db_index=True)
    version = models.CharField(max_length=50, blank=True, db_index=True)
    region = models.CharField(max_length=100, blank=True, db_index=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "Kubernetes provider"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        return {
            "provider_type": provider_type(spec),
            "version": as_str(spec.get("version")),
            "region": as_str(spec.get("region")),
        }

    @staticmethod
    def node_groups(spec: dict) -> list[tuple[str, dict]]:
        """(path, node group) pairs from the provider-specific block."""
        block_key = spec.get("type") if isinstance(spec.get("type"), str) else ""
        return [
            (f"spec.{block_key}.nodeGroups[{index}]", group)
            for index, group in list_of_dicts(provider_block(spec).get("nodeGroups"))
        ]

    @staticmethod
    def node_pools(spec: dict) -> list[tuple[str, dict]]:
        """(path, node pool) pairs of the published shape's ``spec.nodePools[]``."""
        return [(f"spec.nodePools[{index}]", pool) for index, pool in list_of_dicts(spec.get("nodePools"))]

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        refs = [
            object_reference(
                "machine-provider",
                "spec.machineProviderRef",
                MachineProvider.KIND,
                spec.get("machineProviderRef"),
                namespace,
            )
        ]
        control_plane = as_dict(as_dict(spec.get("cluster")).get("controlPlane"))
        machine_classes = [
            ("spec.cluster.controlPlane.machineClass", control_plane.get("machineClass"), "control plane")
        ]
        machine_classes += [
            (f"{path}.machineClass", pool.get("machineClass"), pool.get("name")) for path, pool in cls.node_pools(spec)
        ]
        for path, machine_class, pool in machine_classes:
            if isinstance(machine_class, str) and machine_class:
                # MachineClass is cluster-scoped: no namespace.
                refs.append(
                    object_reference("machine-class", path, "MachineClass", {"name": machine_class}, "", pool=pool)
                )
        for path, group in cls.node_groups(spec):
            node_group = group.get("name")
            provider = object_reference(
                "node-group-provider",
                f"{path}.machineProvider",
                MachineProvider.KIND,
                group.get("machineProvider"),
                namespace,
                nodeGroup=node_group,
                instanceType=group.get("instanceType"),
            )
            refs.append(provider)
            refs.append(
                entry_reference(
                    "instance-type",
                    f"{path}.instanceType",
                    provider,
                    group.get("instanceType"),
                    INSTANCE_TYPE,
                    nodeGroup=node_group,
                )
            )
        refs.extend(secret_references(spec, namespace))
        return [ref for ref in refs if ref]

    @classmethod
    def after_upsert(cls, providers) -> None:
        """Rebuild the node group rows of these providers from their specs."""
        providers = list(providers)
        NodeGroup.objects.filter(provider__in=providers).delete()
        rows = []
        for provider in providers:
            for _, group in cls.node_groups(provider.spec or {}):
                scaling = as_dict(group.get("scaling"))
                machine_provider = as_dict(group.get("machineProvider"))
                rows.append(
                    NodeGroup(
                        provider=provider,
                        name=as_str(group.get("name")),
                        machine_provider_name=as_str(machine_provider.get("name")),
                        machine_provider_namespace=as_str(machine_provider.get("namespace")) or provider.namespace,
                        instance_type=as_str(group.get("instanceType")),
                        capacity_type=as_str(group.get("capacityType")),
                        min_size=as_int(scaling.get("minSize")),
                        max_size=as_int(scaling.get("maxSize")),
                        desired_size=as_int(scaling.get("desiredSize")),
                    )
                )
            provider_ref = as_dict((provider.spec or {}).get("machineProviderRef"))
            for _, pool in cls.node_pools(provider.spec or {}):
                # A published node pool: its machine class stands where a guide's instance type does.
                rows.append(
                    NodeGroup(
                        provider=provider,
                        name=as_str(pool.get("name")),
                        machine_provider_name=as_str(provider_ref.get("name")),
                        machine_provider_namespace=as_str(provider_ref.get("namespace")) or provider.namespace,
                        instance_type=as_str(pool.get("machineClass")),
                        min_size=as_int(pool.get("minNodes")),
                        max_size=as_int(pool.get("maxNodes")),
                        desired_size=as_int(pool.get("desiredNodes")),
                    )
                )
        NodeGroup.objects.bulk_create(rows, batch_size=500)


class NodeGroup(models.Model):
    """A node group of a Kubernetes provider, derived from its spec."""

    provider = models.ForeignKey(KubernetesProvider, on_delete=models.CASCADE, related_name="nodegroups")
    name = models.CharField(max_length=253)
    machine_provider_namespace = models.CharField(max_length=253, blank=True)
    machine_provider_name = models.CharField(max_length=253, blank=True, db_index=True)
    instance_type = models.CharField(max_length=100, blank=True, db_index=True)
    capacity_type = models.CharField(max_length=50, blank=True)
    min_size = models.IntegerField(null=True, blank=True)
    max_size = models.IntegerField(null=True, blank=True)
    desired_size = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["provider_id", "name"]

    def __str__(self) -> str:
        return f"{self.provider}/{self.name}"
