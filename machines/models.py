"""The Machine: one server on a machine provider."""

from __future__ import annotations

from django.db import models

from providers.models import INSTANCE_TYPE, MACHINE_IMAGE, MachineProvider, entry_reference
from vitiweb.models import MirroredObject
from vitiweb.references import object_reference, secret_references
from vitiweb.spec import as_dict, as_str


class Machine(MirroredObject):
    KIND = "Machine"
    PLURAL = "machines"

    provider_namespace = models.CharField(max_length=253, blank=True)
    provider_name = models.CharField(max_length=253, blank=True, db_index=True)
    instance_type = models.CharField(max_length=100, blank=True, db_index=True)
    machine_image = models.CharField(max_length=200, blank=True)

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
        return [ref for ref in refs if ref]
