"""A Vitistack's spec as sections: networking, providers, quotas, security, DR, edge, hierarchy."""

from __future__ import annotations

from vitiweb.sections import (
    Section,
    SpecReader,
    as_dict,
    block_section,
    build,
    column,
    dicts,
    fields,
    first_of,
    pairs,
    table,
)


def _ref(key="name"):
    """``namespace/name`` of a reference block (the namespace defaults to the referrer's)."""
    return column(
        lambda entry: f"{entry.get('namespace')}/{entry.get(key)}" if entry.get("namespace") else entry.get(key),
        key,
        "namespace",
    )


def vitistack_sections(stack) -> list[Section]:
    spec = SpecReader(stack.spec)
    networking = as_dict(spec.take("networking"))
    vpc_blocks = []
    for vpc in dicts(networking.get("vpcs")):
        vpc_blocks.append(
            pairs(
                [("VPC", vpc.get("name")), ("CIDR", vpc.get("cidr"))]
                + [(k, v) for k, v in vpc.items() if k not in ("name", "cidr", "subnets")]
            )
        )
        vpc_blocks.append(
            table(
                vpc.get("subnets"),
                [("name", "Subnet"), ("cidr", "CIDR"), ("type", "Type"), ("availabilityZone", "Availability zone")],
            )
        )
    dr = as_dict(spec.take("disasterRecovery"))
    backup = as_dict(spec.take("backup"))
    published_dr = as_dict(backup.get("disasterRecovery"))
    location = as_dict(spec.take("location"))
    coordinates = as_dict(location.get("coordinates"))
    status = as_dict(stack.status)
    edge_management = as_dict(spec.take("edgeManagement"))
    parent = as_dict(spec.take("parentVitistack"))
    sections = [
        Section(
            "General",
            [
                pairs(
                    [
                        ("Display name", spec.take("displayName")),
                        ("Region", spec.take("region")),
                        ("Zone", spec.take("zone")),
                        ("Infrastructure", spec.take("infrastructure")),
                        ("Role", spec.take("role")),
                        ("Description", spec.take("description")),
                        (
                            "Location",
                            ", ".join(str(location[k]) for k in ("address", "city", "country") if location.get(k)),
                        ),
                        (
                            "Coordinates",
                            f"{coordinates.get('latitude')}, {coordinates.get('longitude')}" if coordinates else None,
                        ),
                        ("Tags", spec.take("tags")),
                    ]
                )
            ],
        ),
        Section(
            "Networking",
            [
                *vpc_blocks,
                table(
                    networking.get("loadBalancers"),
                    [("name", "Load balancer"), ("type", "Type"), ("internal", "Internal")],
                    title="Load balancers",
                ),
                table(
                    networking.get("firewallRules"),
                    [
                        ("name", "Rule"),
                        ("direction", "Direction"),
                        ("protocol", "Protocol"),
                        (first_of("port", "ports"), "Port"),
                        ("source", "Source"),
                    ],
                    title="Firewall rules",
                ),
                fields(networking, skip=("vpcs", "loadBalancers", "firewallRules")),
            ],
        ),
        Section(
            "Providers",
            [
                table(
                    spec.take("machineProviders"),
                    [(_ref(), "Machine provider"), ("priority", "Priority"), ("enabled", "Enabled")],
                    title="Declared in the spec",
                ),
                table(
                    spec.take("kubernetesProviders"),
                    [(_ref(), "Kubernetes provider"), ("priority", "Priority"), ("enabled", "Enabled")],
                ),
                table(
                    status.get("machineProviders"),
                    [(_ref(), "Machine provider"), ("providerType", "Type"), ("region", "Region"), ("ready", "Ready")],
                    title="Reported by the operator (status)",
                ),
                table(
                    status.get("kubernetesProviders"),
                    [
                        (_ref(), "Kubernetes provider"),
                        ("providerType", "Type"),
                        ("region", "Region"),
                        ("ready", "Ready"),
                    ],
                ),
            ],
        ),
        Section(
            "Kubernetes clusters",
            [
                table(
                    status.get("clusters"),
                    [
                        (_ref(), "Cluster"),
                        ("phase", "Phase"),
                        ("ready", "Ready"),
                        ("version", "Version"),
                        ("controlPlaneReplicas", "Control plane"),
                        ("workerReplicas", "Workers"),
                    ],
                    title="Reported by the operator (status)",
                )
            ],
        ),
        block_section("Resource quotas", spec.take("resourceQuotas"), anchor="quotas"),
        block_section("Security", spec.take("security")),
        block_section("Monitoring", spec.take("monitoring")),
        block_section("Logging", spec.take("logging")),
        block_section("Backup", {k: v for k, v in backup.items() if k != "disasterRecovery"}),
        Section(
            "Disaster recovery",
            [
                fields(dr, skip=("replicationTargets",)),
                pairs(
                    [
                        ("Enabled", published_dr.get("enabled")),
                        ("Target Vitistack", published_dr.get("targetVitistack")),
                        ("RPO", f"{published_dr['rpoMinutes']} minutes" if published_dr.get("rpoMinutes") else None),
                        ("RTO", f"{published_dr['rtoMinutes']} minutes" if published_dr.get("rtoMinutes") else None),
                    ]
                ),
                table(
                    dr.get("replicationTargets"),
                    [
                        (_ref(), "Target"),
                        ("region", "Region"),
                        ("provider", "Provider"),
                        ("replicationMode", "Mode"),
                        ("rpo", "RPO"),
                        ("rto", "RTO"),
                    ],
                    title="Replication targets",
                ),
                pairs([("Primary Vitistack", _ref()(as_dict(spec.take("primaryVitistack"))))]),
            ],
            anchor="disaster-recovery",
        ),
        Section(
            "Edge management",
            [
                fields(edge_management, skip=("edgeLocations",)),
                table(
                    edge_management.get("edgeLocations"),
                    [
                        ("name", "Edge location"),
                        ("region", "Region"),
                        ("maxMachines", "Max machines"),
                        ("maxClusters", "Max clusters"),
                    ],
                ),
            ],
            anchor="edge-management",
        ),
        Section(
            "Edge",
            [
                fields(spec.take("edge")),
                pairs([("Management Vitistack", _ref()(as_dict(spec.take("managementVitistack"))))]),
            ],
        ),
        Section(
            "Hierarchy",
            [
                pairs([("Parent Vitistack", _ref()(parent)), ("Inherits policies", spec.take("inheritPolicies"))]),
                table(spec.take("childVitistacks"), [(_ref(), "Child Vitistack")]),
                fields(spec.take("globalPolicies"), title="Global policies"),
            ],
        ),
    ]
    return build(spec, sections)
