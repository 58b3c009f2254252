"""A MachineClass as sections: its size, and the providers in the fleet that offer its provider types."""

from __future__ import annotations

from machineclasses.models import provider_types
from providers.models import MachineProvider
from vitiweb.sections import Section, SpecReader, as_dict, build, pairs, table


def offering_providers(machine_class) -> list[dict]:
    """Machine providers whose type is one the class may run on, in the class's cluster first."""
    types = provider_types(machine_class.spec if isinstance(machine_class.spec, dict) else {})
    rows = (
        MachineProvider.objects.filter(provider_type__in=types)
        .select_related("cluster")
        .only("name", "namespace", "provider_type", "cluster__name")
        .order_by("cluster__name", "name")[:50]
    )
    return [
        {
            "provider": f"{p.cluster.name}/{p.name}",
            "type": p.provider_type,
            "same cluster": p.cluster_id == machine_class.cluster_id,
        }
        for p in rows
    ]


def machineclass_sections(machine_class) -> list[Section]:
    spec = SpecReader(machine_class.spec)
    cpu = as_dict(spec.take("cpu"))
    memory = as_dict(spec.take("memory"))
    gpu = as_dict(spec.take("gpu"))
    size = [
        ("Display name", spec.take("displayName")),
        ("Description", spec.take("description")),
        ("Category", spec.take("category")),
        ("Enabled", spec.take("enabled")),
        ("Default class", spec.take("default")),
        ("CPU cores", cpu.get("cores")),
        ("CPU sockets", cpu.get("sockets")),
        ("CPU threads", cpu.get("threads")),
        ("Memory", memory.get("quantity")),
        (
            "Memory range",
            f"{memory.get('minQuantity')}–{memory.get('maxQuantity')}" if memory.get("maxQuantity") else None,
        ),
        ("GPU", f"{gpu.get('cores')} × {gpu.get('manufacturer') or 'GPU'}" if gpu else None),
    ]
    types = spec.take("machineProviders")
    offering = offering_providers(machine_class)
    sections = [
        Section("General", [pairs(size)]),
        Section(
            "Provider types",
            [
                pairs([("May run on", ", ".join(str(t) for t in types) if isinstance(types, list) else types)]),
                table(
                    offering, [("provider", "Provider offering it"), ("type", "Type"), ("same cluster", "Same cluster")]
                ),
                pairs([("No provider in the fleet offers these types", "⚠") if types and not offering else ("", None)]),
            ],
        ),
    ]
    return build(spec, sections)
