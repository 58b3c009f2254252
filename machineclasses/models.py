"""The published API's MachineClass: a size of machine, and the provider types that may run it."""

from __future__ import annotations

from django.db import models

from vitiweb.models import MirroredObject
from vitiweb.spec import as_dict, as_int, as_str


def provider_types(spec: dict) -> list[str]:
    """The provider types (kubevirt, proxmox, ...) a class may run on (``spec.machineProviders[]``)."""
    values = spec.get("machineProviders")
    return [value for value in values if isinstance(value, str) and value] if isinstance(values, list) else []


class MachineClass(MirroredObject):
    KIND = "MachineClass"
    PLURAL = "machineclasses"

    display_name = models.CharField("display name", max_length=253, blank=True)
    category = models.CharField("category", max_length=100, blank=True, db_index=True)
    cpu_cores = models.IntegerField("CPU cores", null=True, blank=True)
    memory = models.CharField("memory", max_length=50, blank=True)
    enabled = models.BooleanField("enabled", null=True)
    # Comma-separated, for the list and a contains filter; the spec keeps the list.
    provider_types = models.CharField("provider types", max_length=500, blank=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "machine class"
        verbose_name_plural = "machine classes"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        enabled = spec.get("enabled")
        return {
            "display_name": as_str(spec.get("displayName")),
            "category": as_str(spec.get("category")),
            "cpu_cores": as_int(as_dict(spec.get("cpu")).get("cores")),
            "memory": as_str(as_dict(spec.get("memory")).get("quantity")),
            "enabled": enabled if isinstance(enabled, bool) else None,
            "provider_types": ", ".join(provider_types(spec))[:500],
        }
