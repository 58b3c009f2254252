"""The Vitistack: a datacenter or region, with hierarchy, DR, edge and quotas."""

from __future__ import annotations

from django.db import models

from vitiweb.models import MirroredObject
from vitiweb.references import list_of_dicts, object_reference, secret_references
from vitiweb.spec import as_dict, as_int, as_str


class Vitistack(MirroredObject):
    KIND = "Vitistack"
    PLURAL = "vitistacks"

    region = models.CharField(max_length=100, blank=True, db_index=True)
    role = models.CharField(max_length=50, blank=True, db_index=True)
    description = models.TextField(blank=True)
    max_machines = models.IntegerField(null=True, blank=True)
    max_clusters = models.IntegerField(null=True, blank=True)
    max_providers = models.IntegerField(null=True, blank=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "Vitistack"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        quotas = as_dict(spec.get("resourceQuotas"))
        return {
            "region": as_str(spec.get("region")),
            "role": as_str(spec.get("role")),
            "description": as_str(spec.get("description"), limit=None),
            "max_machines": as_int(quotas.get("maxMachines")),
            "max_clusters": as_int(quotas.get("maxClusters")),
            "max_providers": as_int(quotas.get("maxProviders")),
        }

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        refs = []
        for field, kind, relation in (
            ("machineProviders", "MachineProvider", "machine-provider"),
            ("kubernetesProviders", "KubernetesProvider", "kubernetes-provider"),
        ):
            for index, item in list_of_dicts(spec.get(field)):
                refs.append(
                    object_reference(
                        relation, f"spec.{field}[{index}]", kind, item, namespace, priority=item.get("priority")
                    )
                )
        for index, item in list_of_dicts(spec.get("childVitistacks")):
            refs.append(object_reference("child", f"spec.childVitistacks[{index}]", cls.KIND, item, namespace))
        refs.append(
            object_reference(
                "parent",
                "spec.parentVitistack",
                cls.KIND,
                spec.get("parentVitistack"),
                namespace,
                inheritPolicies=spec.get("inheritPolicies"),
            )
        )
        dr = as_dict(spec.get("disasterRecovery"))
        for index, target in list_of_dicts(dr.get("replicationTargets")):
            refs.append(
                object_reference(
                    "replication-target",
                    f"spec.disasterRecovery.replicationTargets[{index}]",
                    cls.KIND,
                    target,
                    namespace,
                    mode=target.get("replicationMode"),
                    rpo=target.get("rpo"),
                    rto=target.get("rto"),
                    region=target.get("region"),
                    provider=target.get("provider"),
                )
            )
        refs.append(
            object_reference("primary", "spec.primaryVitistack", cls.KIND, spec.get("primaryVitistack"), namespace)
        )
        edge = as_dict(spec.get("edgeManagement"))
        for index, location in list_of_dicts(edge.get("edgeLocations")):
            refs.append(
                object_reference(
                    "edge-location",
                    f"spec.edgeManagement.edgeLocations[{index}]",
                    cls.KIND,
                    location,
                    namespace,
                    region=location.get("region"),
                    maxMachines=location.get("maxMachines"),
                    maxClusters=location.get("maxClusters"),
                )
            )
        refs.append(
            object_reference(
                "management", "spec.managementVitistack", cls.KIND, spec.get("managementVitistack"), namespace
            )
        )
        refs.extend(secret_references(spec, namespace))
        return [ref for ref in refs if ref]
