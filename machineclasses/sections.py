"""A MachineClass as sections: its size, and the providers in the fleet that offer its provider types."""

from __future__ import annotations

from machineclasses.models import providers_offering
from vitiweb.sections import Link, Section, SpecReader, as_dict, build, pairs, table


def offering_providers(machine_class) -> tuple[list[dict], int]:
    """Machine providers whose type is one the class may run on (its cluster first), and how many there are."""
    rows, total = providers_offering(machine_class)
    return [
        {
            "provider": Link(f"{p.cluster.name}/{p.name}", p.get_absolute_url()),
            "type": p.provider_type,
            "same cluster": p.cluster_id == machine_class.cluster_id,
        }
        for p in rows
    ], total


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
    offering, total = offering_providers(machine_class)
    more = f"first {len(offering)} of {total}: all on the machine providers list" if total > len(offering) else None
    sections = [
        Section("General", [pairs(size)]),
        Section(
            "Provider types",
            [
                pairs([("May run on", ", ".join(str(t) for t in types) if isinstance(types, list) else types)]),
                table(
                    offering, [("provider", "Provider offering it"), ("type", "Type"), ("same cluster", "Same cluster")]
                ),
                pairs(
                    [
                        ("No provider in the fleet offers these types", "⚠") if types and not offering else ("", None),
                        ("Providers shown", more),
                    ]
                ),
            ],
        ),
    ]
    return build(spec, sections)
