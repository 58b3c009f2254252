"""Provider specs as sections: instance types with pricing, images, node groups, add-ons, failover."""

from __future__ import annotations

from providers.models import KubernetesProvider, MachineProvider, hourly_price
from vitiweb.sections import (
    Link,
    Section,
    SpecReader,
    as_dict,
    block_section,
    build,
    column,
    dicts,
    fields,
    first_of,
    hourly,
    pairs,
    table,
)


def _price(key):
    return column(lambda entry: hourly(as_dict(entry.get("pricing")).get(key)) or None, "pricing")


def _security_groups(networking: dict) -> list:
    blocks = []
    for group in dicts(networking.get("securityGroups")):
        blocks.append(
            table(
                group.get("rules"),
                [("protocol", "Protocol"), (first_of("port", "ports"), "Port(s)"), ("source", "Source")],
                title=f"Security group {group.get('name') or ''}".strip(),
            )
        )
    return blocks


def _credentials(block: dict) -> list:
    ref = as_dict(as_dict(block.get("credentials")).get("secretRef"))
    return (
        [("Credentials (Secret)", f"{ref.get('namespace') or ''}/{ref.get('name')}".lstrip("/"))]
        if ref.get("name")
        else []
    )


def _name_ref(ref) -> str | None:
    ref = as_dict(ref)
    return f"{ref['namespace']}/{ref.get('name')}" if ref.get("namespace") else ref.get("name")


def _credentials_ref(authentication) -> list:
    """The published shape's ``authentication``: its type and the Secret holding the credentials."""
    authentication = as_dict(authentication)
    ref = as_dict(authentication.get("credentialsRef"))
    rows = [("Authentication", authentication.get("type"))]
    if ref.get("secretName"):
        rows.append(("Credentials (Secret)", f"{ref.get('namespace') or ''}/{ref['secretName']}".lstrip("/")))
    rest = {k: v for k, v in authentication.items() if k not in ("type", "credentialsRef")}
    return rows + list(rest.items())


def machineprovider_sections(provider) -> list[Section]:
    spec = SpecReader(provider.spec)
    provider_type = spec.take("type")
    block_key = provider_type if isinstance(provider_type, str) else ""
    block = as_dict(spec.take(block_key)) if block_key else {}
    networking = as_dict(block.get("networking"))
    failover = as_dict(spec.take("failover"))
    placed = {"credentials", "instanceTypes", "machineImages", "networking", "storage"}
    sections = [
        Section(
            "Provider",
            [
                pairs(
                    [
                        ("Type", provider_type or spec.take("providerType")),
                        ("Display name", spec.take("displayName")),
                        ("Region", spec.take("region")),
                        ("Zones", ", ".join(map(str, spec.take("zones") or [])) or None),
                        *_credentials(block),
                        *_credentials_ref(spec.take("authentication")),
                    ]
                ),
                fields(block, skip=placed),
            ],
        ),
        Section(
            "Instance types",
            [
                table(
                    MachineProvider.instance_types(provider.spec),
                    [
                        ("name", "Name"),
                        ("vcpus", "vCPUs"),
                        ("memory", "Memory"),
                        ("storage", "Storage"),
                        ("networkPerformance", "Network"),
                        (_price("onDemand"), "On demand"),
                        (_price("spot"), "Spot"),
                    ],
                )
            ],
            anchor="instance-types",
        ),
        Section(
            "Machine images",
            [
                table(
                    MachineProvider.machine_images(provider.spec),
                    [
                        ("name", "Name"),
                        ("imageId", "Image id"),
                        ("operatingSystem", "OS"),
                        ("version", "Version"),
                        ("architecture", "Architecture"),
                    ],
                )
            ],
            anchor="machine-images",
        ),
        Section("Networking", [fields(networking, skip=("securityGroups",)), *_security_groups(networking)]),
        Section("Storage", [fields(block.get("storage")), fields(spec.take("storage"))]),
        block_section("Health check", spec.take("healthCheck")),
        block_section("Auto-scaling", spec.take("autoScaling")),
        block_section("Lifecycle", spec.take("lifecycle")),
        Section(
            "Failover",
            [
                fields(failover, skip=("targets",)),
                table(
                    failover.get("targets"),
                    [("name", "Target"), ("namespace", "Namespace"), ("priority", "Priority"), ("conditions", "When")],
                    title="Targets",
                ),
            ],
        ),
        Section(
            "Shared with",
            [table(spec.take("shareWith"), [("vitistack", "Vitistack"), ("namespace", "Namespace")])],
            anchor="sharing",
        ),
        _machine_classes(provider),
    ]
    return build(spec, sections)


def _machine_classes(provider) -> Section:
    """The machine classes (published API) that may run on this provider's type: it offers them."""
    from machineclasses.models import classes_offered_by

    classes, total = classes_offered_by(provider)
    rows = [
        {
            "class": Link(f"{c.cluster.name}/{c.name}", c.get_absolute_url()),
            "category": c.category,
            "cpu": c.cpu_cores,
            "memory": c.memory,
            "types": c.provider_types,
            "same cluster": c.cluster_id == provider.cluster_id,
        }
        for c in classes
    ]
    blocks = [
        table(
            rows,
            [
                ("class", "Machine class"),
                ("category", "Category"),
                ("cpu", "CPU cores"),
                ("memory", "Memory"),
                ("types", "May run on"),
                ("same cluster", "Same cluster"),
            ],
        )
    ]
    if total > len(classes):
        blocks.append(pairs([("Classes shown", f"first {len(classes)} of {total}: all on the machine classes list")]))
    return Section("Machine classes it offers", blocks, anchor="machine-classes")


def nodegroup_cost(group: dict, instance_prices: dict) -> float | None:
    """Estimated hourly cost of a node group at its desired size."""
    prices = instance_prices.get(group.get("instanceType")) or {}
    spot = str(group.get("capacityType") or "").upper() == "SPOT"
    price = prices.get("spot" if spot else "onDemand") or prices.get("onDemand")
    size = as_dict(group.get("scaling")).get("desiredSize")
    return price * size if price is not None and isinstance(size, int) else None


def kubernetesprovider_sections(provider) -> list[Section]:
    spec = SpecReader(provider.spec)
    provider_type = spec.take("type")
    block_key = provider_type if isinstance(provider_type, str) else ""
    block = as_dict(spec.take(block_key)) if block_key else {}
    groups = [group for _, group in KubernetesProvider.node_groups(provider.spec)]
    prices = instance_prices_for(provider, groups)

    def machine_provider(group):
        ref = as_dict(group.get("machineProvider"))
        return f"{ref.get('namespace') or provider.namespace}/{ref.get('name')}" if ref.get("name") else None

    def scaling(key):
        return column(lambda group: as_dict(group.get("scaling")).get(key), "scaling")

    def cost(group):
        value = nodegroup_cost(group, prices)
        return f"${value:.2f}/h" if value is not None else None

    column(machine_provider, "machineProvider")

    sections = [
        Section(
            "Provider",
            [
                pairs(
                    [
                        ("Type", provider_type or spec.take("providerType")),
                        ("Display name", spec.take("displayName")),
                        ("Kubernetes version", spec.take("version")),
                        ("Region", spec.take("region")),
                        ("Machine provider", _name_ref(spec.take("machineProviderRef"))),
                        *_credentials(block),
                    ]
                ),
                fields(block, skip=("credentials", "nodeGroups")),
            ],
        ),
        Section(
            "Node pools",
            [
                table(
                    spec.take("nodePools"),
                    [
                        ("name", "Pool"),
                        ("machineClass", "Machine class"),
                        ("minNodes", "Min"),
                        ("desiredNodes", "Desired"),
                        ("maxNodes", "Max"),
                        ("zones", "Zones"),
                    ],
                )
            ],
        ),
        Section(
            "Node groups",
            [
                table(
                    groups,
                    [
                        ("name", "Name"),
                        (machine_provider, "Machine provider"),
                        ("instanceType", "Instance type"),
                        ("capacityType", "Capacity"),
                        (scaling("minSize"), "Min"),
                        (scaling("desiredSize"), "Desired"),
                        (scaling("maxSize"), "Max"),
                        (cost, "Est. cost"),
                    ],
                )
            ],
            anchor="node-groups",
        ),
        block_section("Networking", spec.take("networking")),
        block_section("Security", spec.take("security")),
        Section(
            "Add-ons",
            [
                table(
                    spec.take("addons"),
                    [("name", "Add-on"), ("version", "Version"), ("enabled", "Enabled"), ("config", "Configuration")],
                )
            ],
            anchor="addons",
        ),
        block_section("Monitoring", spec.take("monitoring")),
        block_section("Backup", spec.take("backup")),
    ]
    return build(spec, sections)


def instance_prices_for(provider, groups) -> dict[str, dict[str, float]]:
    """{instance type: {onDemand, spot}} from the machine providers the node groups use (one query)."""
    names = {as_dict(g.get("machineProvider")).get("name") for g in groups} - {None}
    if not names:
        return {}
    prices: dict[str, dict[str, float]] = {}
    candidates = MachineProvider.objects.filter(name__in=names).only("spec", "cluster_id")
    # The provider's own cluster first, as references resolve.
    for machine_provider in sorted(candidates, key=lambda p: p.cluster_id != provider.cluster_id, reverse=True):
        for entry in MachineProvider.instance_types(machine_provider.spec):
            pricing = as_dict(entry.get("pricing"))
            prices[entry.get("name")] = {k: hourly_price(v) for k, v in pricing.items() if hourly_price(v) is not None}
    return prices
