"""The Vitistack: a datacenter or region, with hierarchy, DR, edge and quotas.

Read in both API shapes: the guide's (namespaced; ``role``, top-level
``disasterRecovery.replicationTargets[]``, hierarchy and edge references) and
the published one (cluster-scoped; displayName, zone, infrastructure,
location; DR at ``backup.disasterRecovery.targetVitistack``; and the
providers and Kubernetes clusters the operator found, in status lists).
"""

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
    # The published shape's identity fields.
    display_name = models.CharField(max_length=253, blank=True)
    zone = models.CharField(max_length=100, blank=True, db_index=True)
    infrastructure = models.CharField(max_length=100, blank=True, db_index=True)
    location = models.CharField(max_length=253, blank=True, help_text="City, country")

    #: The status lists the VitiStack operator writes are references too: rebuilt when status changes.
    REFERENCES_READ_STATUS = True

    class Meta(MirroredObject.Meta):
        verbose_name = "Vitistack"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        quotas = as_dict(spec.get("resourceQuotas"))
        location = as_dict(spec.get("location"))
        return {
            "region": as_str(spec.get("region")),
            "role": as_str(spec.get("role")),
            "description": as_str(spec.get("description"), limit=None),
            "max_machines": as_int(quotas.get("maxMachines")),
            "max_clusters": as_int(quotas.get("maxClusters")),
            "max_providers": as_int(quotas.get("maxProviders")),
            "display_name": as_str(spec.get("displayName")),
            "zone": as_str(spec.get("zone")),
            "infrastructure": as_str(spec.get("infrastructure")),
            "location": ", ".join(part for part in (as_str(location.get(k)) for k in ("city", "country")) if part),
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
                        relation,
                        f"spec.{field}[{index}]",
                        kind,
                        item,
                        namespace,
                        priority=item.get("priority"),
                        enabled=item.get("enabled"),
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
        published_dr = as_dict(as_dict(spec.get("backup")).get("disasterRecovery"))
        target = published_dr.get("targetVitistack")
        if isinstance(target, str) and target and published_dr.get("enabled", True) is not False:
            # The published shape names one DR target by name; it is the same edge as the guide's.
            refs.append(
                object_reference(
                    "replication-target",
                    "spec.backup.disasterRecovery.targetVitistack",
                    cls.KIND,
                    {"name": target},
                    namespace,
                    rpo=f"{published_dr['rpoMinutes']}m" if as_int(published_dr.get("rpoMinutes")) else None,
                    rto=f"{published_dr['rtoMinutes']}m" if as_int(published_dr.get("rtoMinutes")) else None,
                )
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

    def references(self) -> list:
        """The spec's references, and the associations the operator reports in status (published shape)."""
        refs = super().references()
        status = self.status if isinstance(self.status, dict) else {}
        for field, kind, relation in (
            ("machineProviders", "MachineProvider", "reported-machine-provider"),
            ("kubernetesProviders", "KubernetesProvider", "reported-kubernetes-provider"),
            ("clusters", "KubernetesCluster", "reported-cluster"),
        ):
            for index, item in list_of_dicts(status.get(field)):
                refs.append(
                    object_reference(
                        relation,
                        f"status.{field}[{index}]",
                        kind,
                        item,
                        self.namespace,
                        providerType=item.get("providerType"),
                        ready=item.get("ready"),
                        phase=item.get("phase"),
                    )
                )
        return [ref for ref in refs if ref]
