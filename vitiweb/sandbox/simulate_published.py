"""Simulated controllers of the VitiStack project's published operators (the published API shape).

What the published operators do, as far as a dashboard can tell: Machines
go Pending -> Provisioning -> Running with IP addresses (their ``spec.provider``
is a provider type, not a reference); KubernetesClusters go Pending ->
Provisioning -> Running once their control-plane Machines run, with the
``status.state`` the operator reports; providers report Ready; and the
VitiStack operator writes what it finds in its cluster into each Vitistack's
status lists (``machineProviders[]``, ``kubernetesProviders[]``,
``clusters[]``). Decisions come from the same seeded generator as the
guide-shape controllers (``vitiweb.sandbox.simulate``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .strategy import now

if TYPE_CHECKING:
    from .simulate import Simulator

CLUSTER_ID_LABEL = "vitistack.io/clusterid"


def serves_published_shape(simulator: Simulator) -> bool:
    """Whether the store serves the published CRDs (a kind only they have is registered)."""
    return simulator.store.registry.for_api_version("vitistack.io/v1alpha1", "KubernetesCluster") is not None


def _condition(old, type_: str, ok: bool, reason: str, message: str) -> dict:
    from .simulate import _condition as condition

    return condition(old, type_, ok, reason, message, 1)


def _usage(capacity: str, used: str, percentage: int) -> dict:
    return {"capacity": capacity, "used": used, "percentage": percentage}


def _resources(cpus: int, memory_gi: int) -> dict:
    return {
        "cpu": _usage(str(cpus), str(cpus // 2), 50),
        "memory": _usage(f"{memory_gi}Gi", f"{memory_gi // 2}Gi", 50),
        "disk": _usage("100Gi", "20Gi", 20),
        "gpu": _usage("0", "0", 0),
    }


def step(simulator: Simulator) -> None:
    """One tick of every published controller (called with the store locked)."""
    machines = simulator._objects("Machine")
    for machine in machines:
        _machine(simulator, machine)
    running: dict[tuple[str, str], list[str]] = {}
    for m in machines:
        if (m.get("status") or {}).get("phase") == "Running":
            key = (m["metadata"].get("namespace", ""), (m["metadata"].get("labels") or {}).get(CLUSTER_ID_LABEL))
            running.setdefault(key, []).append(m["metadata"]["name"])
    clusters = simulator._objects("KubernetesCluster")
    for cluster in clusters:
        _kubernetes_cluster(simulator, cluster, running)
    providers = simulator._objects("MachineProvider")
    kubernetes_providers = simulator._objects("KubernetesProvider")
    for kind, objects in (("MachineProvider", providers), ("KubernetesProvider", kubernetes_providers)):
        for provider in objects:
            _provider(simulator, kind, provider)
    for stack in simulator._objects("Vitistack"):
        _vitistack(simulator, stack, providers, kubernetes_providers, clusters, machines)


def _machine(simulator: Simulator, machine: dict) -> None:
    old = machine.get("status") or {}
    phase = old.get("phase")
    if phase in ("Running", "Failed"):
        return
    rng = simulator._rng("Machine", machine)
    spec = machine.get("spec") or {}
    status: dict[str, Any] = {"provider": spec.get("provider", ""), "lastUpdated": now()}
    if not phase:
        status.update(phase="Pending", state="pending", message="waiting for the provider")
    elif rng.random() >= simulator.progress_rate:
        return
    elif phase == "Pending":
        status.update(phase="Provisioning", state="creating", message="creating the virtual machine")
    else:
        name = machine["metadata"]["name"]
        digest = hashlib.blake2b(name.encode(), digest_size=3).digest()
        status.update(
            phase="Running",
            state="running",
            message="machine is running",
            hostname=name,
            machineID=f"sandbox-{digest.hex()}",
            privateIPAddresses=[f"10.{digest[0]}.{digest[1]}.{digest[2]}"],
            ipAddresses=[f"10.{digest[0]}.{digest[1]}.{digest[2]}"],
            conditions=[_condition(old.get("conditions"), "Ready", True, "MachineRunning", "machine is running")],
        )
    simulator._write("Machine", machine, status)


def _nodes_by_pool(names: list[str], pools: list) -> tuple[list[str], dict[str, list[str]]]:
    """(control-plane nodes, pool name -> nodes) as the operator names its Machines: ``<cluster>-cp-<n>`` for
    the control plane, ``<cluster>-<pool>-<n>`` for a pool (others go to the first pool)."""
    names_of_pools = [p.get("name", "") for p in pools if isinstance(p, dict) and p.get("name")]
    control_plane, by_pool = [], {name: [] for name in names_of_pools}
    for name in sorted(names):
        if "-cp-" in name:
            control_plane.append(name)
        elif names_of_pools:
            pool = next((p for p in names_of_pools if f"-{p}-" in name), names_of_pools[0])
            by_pool[pool].append(name)
    return control_plane, by_pool


def _kubernetes_cluster(simulator: Simulator, cluster: dict, running: dict) -> None:
    old = cluster.get("status") or {}
    spec = cluster.get("spec") or {}
    data = spec.get("data") or {}
    topology = spec.get("topology") or {}
    controlplane = topology.get("controlplane") or {}
    pools = (topology.get("workers") or {}).get("nodePools") or []
    namespace = cluster["metadata"].get("namespace", "")
    up = (namespace, data.get("clusterId")) in running
    control_plane_nodes, pool_nodes = _nodes_by_pool(running.get((namespace, data.get("clusterId")), []), pools)
    phase = old.get("phase")
    if phase == "Running" or (phase == "Provisioning" and not up):
        return
    if not phase:
        phase, message = "Pending", "waiting for control-plane machines"
    elif phase == "Pending":
        phase, message = "Provisioning", "bootstrapping the control plane"
    else:
        phase, message = "Running", "cluster is running"
    stamp = now()
    state = {
        "cluster": {
            "externalId": data.get("clusterUid") or cluster["metadata"]["name"],
            "controlplane": {
                "machineClass": controlplane.get("machineClass", ""),
                "message": message,
                "nodes": control_plane_nodes,
                "resources": _resources(4, 16),
                "scale": controlplane.get("replicas", 1),
                "status": phase.lower(),
            },
            "nodepools": [
                {
                    "name": pool.get("name", ""),
                    "machineClass": pool.get("machineClass", ""),
                    "message": message,
                    "nodes": pool_nodes.get(pool.get("name", ""), []),
                    "scale": pool.get("replicas", 0),
                    "status": phase.lower(),
                    "autoscaling": {
                        "enabled": bool((pool.get("autoscaling") or {}).get("enabled")),
                        "minReplicas": (pool.get("autoscaling") or {}).get("minReplicas", 0),
                        "maxReplicas": (pool.get("autoscaling") or {}).get("maxReplicas", 0),
                    },
                    "resources": _resources(4, 16),
                }
                for pool in pools
                if isinstance(pool, dict)
            ],
            "price": {"monthly": 100, "yearly": 1200},
            "resources": _resources(8, 32),
        },
        "created": (old.get("state") or {}).get("created") or stamp,
        "egressIP": "192.0.2.10",
        "endpoints": [{"name": "api", "address": f"https://{cluster['metadata']['name']}.sandbox:6443"}],
        "lastUpdated": stamp,
        "lastUpdatedBy": "vitistack-operator",
        "versions": [{"name": "kubernetes", "version": topology.get("version", ""), "branch": "stable"}],
    }
    status = {
        "phase": phase,
        "message": message,
        "workers": sum(
            p.get("replicas", 0) for p in pools if isinstance(p, dict) and isinstance(p.get("replicas"), int)
        ),
        "state": state,
        "conditions": [
            _condition(old.get("conditions"), "Ready", phase == "Running", "Cluster" + phase, message),
        ],
    }
    simulator._write("KubernetesCluster", cluster, status)


def _provider(simulator: Simulator, kind: str, provider: dict) -> None:
    old = provider.get("status") or {}
    status = {
        "phase": "Ready",
        "message": "provider is reachable",
        "conditions": [_condition(old.get("conditions"), "Ready", True, "ProviderReady", "provider is reachable")],
    }
    simulator._write(kind, provider, {**old, **status, "conditions": status["conditions"]})


def _vitistack(simulator: Simulator, stack: dict, providers, kubernetes_providers, clusters, machines) -> None:
    """The VitiStack operator's report: what it finds in its cluster, in the Vitistack's status lists."""
    old = stack.get("status") or {}
    spec = stack.get("spec") or {}

    def discovered(previous: list, name: str) -> str:
        return next((e.get("discoveredAt") for e in previous or [] if e.get("name") == name), None) or now()

    machine_providers = [
        {
            "name": p["metadata"]["name"],
            "providerType": (p.get("spec") or {}).get("providerType", ""),
            "region": (p.get("spec") or {}).get("region", ""),
            "ready": (p.get("status") or {}).get("phase") == "Ready",
            "discoveredAt": discovered(old.get("machineProviders"), p["metadata"]["name"]),
        }
        for p in providers
    ]
    k8s_providers = [
        {
            "name": p["metadata"]["name"],
            "providerType": (p.get("spec") or {}).get("providerType", ""),
            "region": (p.get("spec") or {}).get("region", ""),
            "ready": (p.get("status") or {}).get("phase") == "Ready",
            "discoveredAt": discovered(old.get("kubernetesProviders"), p["metadata"]["name"]),
        }
        for p in kubernetes_providers
    ]
    found_clusters = [
        {
            "name": c["metadata"]["name"],
            "namespace": c["metadata"].get("namespace", ""),
            "phase": (c.get("status") or {}).get("phase", ""),
            "ready": (c.get("status") or {}).get("phase") == "Running",
            "version": ((c.get("spec") or {}).get("topology") or {}).get("version", ""),
            "controlPlaneReplicas": (((c.get("spec") or {}).get("topology") or {}).get("controlplane") or {}).get(
                "replicas", 0
            ),
            "workerReplicas": (c.get("status") or {}).get("workers", 0),
            "discoveredAt": discovered(old.get("clusters"), c["metadata"]["name"]),
        }
        for c in clusters
    ]
    ready = all(p["ready"] for p in machine_providers + k8s_providers)
    message = "all providers ready" if ready else "providers not ready"
    status = {
        "phase": "Ready" if ready else "Degraded",
        "displayName": spec.get("displayName", ""),
        "region": spec.get("region", ""),
        "zone": spec.get("zone", ""),
        "infrastructure": spec.get("infrastructure", ""),
        "machineProviders": machine_providers,
        "kubernetesProviders": k8s_providers,
        "clusters": found_clusters,
        "machineProviderCount": len(machine_providers),
        "kubernetesProviderCount": len(k8s_providers),
        "activeClusters": sum(1 for c in found_clusters if c["ready"]),
        "activeMachines": sum(1 for m in machines if (m.get("status") or {}).get("phase") == "Running"),
        "conditions": [_condition(old.get("conditions"), "Ready", ready, "ProvidersReady", message)],
    }
    comparable = {k: v for k, v in status.items() if k != "lastReconcileTime"}
    if {k: old.get(k) for k in comparable} == comparable:
        return
    simulator._write("Vitistack", stack, {**status, "lastReconcileTime": now()})
