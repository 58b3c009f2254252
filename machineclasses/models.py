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


#: How many offering providers or offered classes a page lists (it says how many more there are).
SHOWN = 50


def types_of(text: str) -> list[str]:
    """The provider types of the ``provider_types`` column (comma-separated)."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def providers_offering(machine_class, limit: int = SHOWN) -> tuple[list, int]:
    """(the first ``limit`` machine providers whose type the class may run on, how many there are):
    the class's own cluster first."""
    from providers.models import MachineProvider

    types = provider_types(machine_class.spec if isinstance(machine_class.spec, dict) else {})
    if not types:
        return [], 0
    queryset = MachineProvider.objects.filter(provider_type__in=types)
    rows = list(
        queryset.select_related("cluster")
        .only("name", "namespace", "provider_type", "cluster__name", "cluster_id")
        .order_by("cluster__name", "name")[:limit]
    )
    rows.sort(key=lambda p: p.cluster_id != machine_class.cluster_id)
    return rows, queryset.count()


def classes_offered_by(provider, limit: int = SHOWN) -> tuple[list[MachineClass], int]:
    """(the first ``limit`` machine classes that may run on the provider's type, how many there are):
    the provider's own cluster first."""
    provider_type = getattr(provider, "provider_type", "")
    if not provider_type:
        return [], 0
    # The column holds the types comma-separated: narrow in the database, match whole types here.
    candidates = (
        MachineClass.objects.filter(provider_types__icontains=provider_type)
        .select_related("cluster")
        .only("name", "display_name", "category", "cpu_cores", "memory", "provider_types", "cluster__name")
        .order_by("cluster__name", "name")
    )
    matching = [c for c in candidates.iterator(chunk_size=500) if provider_type in types_of(c.provider_types)]
    matching.sort(key=lambda c: c.cluster_id != provider.cluster_id)
    return matching[:limit], len(matching)
