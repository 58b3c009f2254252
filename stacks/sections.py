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
    edge_management = as_dict(spec.take("edgeManagement"))
    parent = as_dict(spec.take("parentVitistack"))
    sections = [
        Section(
            "General",
            [
                pairs(
                    [
                        ("Region", spec.take("region")),
                        ("Role", spec.take("role")),
                        ("Description", spec.take("description")),
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
                table(spec.take("machineProviders"), [(_ref(), "Machine provider"), ("priority", "Priority")]),
                table(spec.take("kubernetesProviders"), [(_ref(), "Kubernetes provider"), ("priority", "Priority")]),
            ],
        ),
        block_section("Resource quotas", spec.take("resourceQuotas"), anchor="quotas"),
        block_section("Security", spec.take("security")),
        block_section("Monitoring", spec.take("monitoring")),
        block_section("Logging", spec.take("logging")),
        block_section("Backup", spec.take("backup")),
        Section(
            "Disaster recovery",
            [
                fields(dr, skip=("replicationTargets",)),
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
