"""A KubernetesCluster's spec as sections: identity, control plane, node pools."""

from __future__ import annotations

from vitiweb.sections import Section, SpecReader, as_dict, block_section, build, column, pairs, table


def kubernetescluster_sections(cluster) -> list[Section]:
    spec = SpecReader(cluster.spec)
    data = as_dict(spec.take("data"))
    topology = as_dict(spec.take("topology"))
    controlplane = as_dict(topology.get("controlplane"))
    workers = as_dict(topology.get("workers"))
    identity = [
        ("Cluster id", data.get("clusterId")),
        ("Cluster uid", data.get("clusterUid")),
        ("Provider", data.get("provider")),
        ("Region", data.get("region")),
        ("Zone", data.get("zone")),
        ("Datacenter", data.get("datacenter")),
        ("Environment", data.get("environment")),
        ("Network namespace", data.get("networkNamespaceName")),
        ("Project", data.get("project")),
        ("Workspace", data.get("workspace")),
        ("Work order", data.get("workorder")),
    ]
    known = {k for k in ("clusterId", "clusterUid", "provider", "region", "zone", "datacenter", "environment")}
    known |= {"networkNamespaceName", "project", "workspace", "workorder"}
    identity += [(key, value) for key, value in data.items() if key not in known]
    plane = [
        ("Kubernetes version", topology.get("version")),
        ("Machine class", controlplane.get("machineClass")),
        ("Provider type", controlplane.get("provider")),
        ("Replicas", controlplane.get("replicas")),
        ("Version", controlplane.get("version")),
        ("Architecture", controlplane.get("architecture")),
    ]
    autoscaling = column(
        lambda pool: (
            f"{as_dict(pool.get('autoscaling')).get('minReplicas')}–{as_dict(pool.get('autoscaling')).get('maxReplicas')}"
            if as_dict(pool.get("autoscaling")).get("enabled")
            else "off"
        ),
        "autoscaling",
    )
    sections = [
        Section("General", [pairs(identity)]),
        Section(
            "Control plane",
            [
                pairs(plane),
                table(controlplane.get("storage"), [("class", "Class"), ("path", "Path"), ("size", "Size")]),
            ],
        ),
        Section(
            "Node pools",
            [
                table(
                    workers.get("nodePools"),
                    [
                        ("name", "Pool"),
                        ("machineClass", "Machine class"),
                        ("provider", "Provider type"),
                        ("replicas", "Replicas"),
                        (autoscaling, "Autoscaling"),
                        ("version", "Version"),
                    ],
                )
            ],
        ),
        block_section(
            "Other topology", {k: v for k, v in topology.items() if k not in ("version", "controlplane", "workers")}
        ),
    ]
    return build(spec, sections)
