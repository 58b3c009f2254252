"""A machine's spec as sections: placement, networking, access, software."""

from __future__ import annotations

from providers.models import MachineProvider
from vitiweb.sections import (
    Section,
    SpecReader,
    as_dict,
    block_section,
    build,
    dicts,
    fields,
    hourly,
    pairs,
    table,
    text,
)


def provider_of(machine) -> MachineProvider | None:
    """The machine's provider in its own cluster, when we hold it."""
    return (
        MachineProvider.objects.only("name", "namespace", "spec", "cluster_id")
        .filter(
            cluster_id=machine.cluster_id,
            namespace=machine.provider_namespace or machine.namespace,
            name=machine.provider_name,
        )
        .first()
    )


def _entry(entries: list[dict], name) -> dict:
    return next((entry for entry in entries if entry.get("name") == name), {}) if name else {}


def ssh_keys(keys) -> list:
    """The guide's ``[{name, publicKey}]`` as a table; the published shape's plain strings as a list."""
    keys = keys if isinstance(keys, list) else []
    strings = [key for key in keys if isinstance(key, str)]
    return [
        table(keys, [("name", "Name"), ("publicKey", "Public key")]),
        pairs([(f"Key {index}", key) for index, key in enumerate(strings, 1)]),
    ]


def machine_sections(machine) -> list[Section]:
    spec = SpecReader(machine.spec)
    provider = provider_of(machine) if machine.provider_name else None
    provider_spec = provider.spec if provider else {}
    instance = _entry(MachineProvider.instance_types(provider_spec), spec.take("instanceType"))
    image = _entry(MachineProvider.machine_images(provider_spec), spec.take("machineImage"))
    pricing = as_dict(instance.get("pricing"))
    placement = [
        (
            "Machine provider",
            f"{as_dict(spec.take('machineProvider')).get('namespace') or machine.namespace}/{machine.provider_name}"
            if machine.provider_name
            else None,
        ),
        ("Instance type", machine.instance_type or None),
        ("vCPUs", instance.get("vcpus")),
        ("Memory", instance.get("memory")),
        ("Storage", instance.get("storage")),
        ("Network performance", instance.get("networkPerformance")),
        ("On-demand price", hourly(pricing.get("onDemand")) or None),
        ("Spot price", hourly(pricing.get("spot")) or None),
        ("Machine image", machine.machine_image or None),
        ("Provider type", spec.take("provider")),
        ("Machine class", spec.take("machineClass")),
        ("Network namespace", machine.network_namespace or None),
        ("Image id", image.get("imageId")),
        ("Operating system", " ".join(str(image[k]) for k in ("operatingSystem", "version") if image.get(k)) or None),
        ("Architecture", image.get("architecture")),
    ]
    software = as_dict(spec.take("software"))
    sections = [
        Section("Placement", [pairs(placement)]),
        block_section("Networking", spec.take("networking")),
        Section("SSH access", ssh_keys(spec.take("sshKeys"))),
        Section(
            "Software",
            [
                table(software.get("packages"), [("name", "Package"), ("version", "Version")], title="Packages"),
                *[
                    text(script.get("content"), title=f"Script {script.get('name') or ''}".strip())
                    for script in dicts(software.get("scripts"))
                ],
                fields(software, skip=("packages", "scripts")),
            ],
        ),
        Section(
            "Labels and annotations in the spec",
            [fields(spec.take("labels"), title="Labels"), fields(spec.take("annotations"), title="Annotations")],
        ),
    ]
    return build(spec, sections)
