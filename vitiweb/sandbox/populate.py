"""Bulk population with generated VitiStack objects, for scale tests and benchmarks.

Objects are valid against the project's CRDs and reference each other the way
the guide's scenarios do (stacks -> providers, node groups and machines ->
machine providers), spread over a few namespaces. Same arguments, same objects.
"""

from __future__ import annotations

import random
import time
from typing import Any

from .loader import ensure_namespace
from .store import Store, WriteOptions

GROUP_VERSION = "vitistack.io/v1alpha1"
_REGIONS = ["us-west-2", "us-east-1", "eu-west-1", "eu-north-1", "ap-southeast-1", "east-us", "westeurope"]
_ROLES = ["primary", "disaster-recovery", "edge", "regional", "global", "management"]
_MP_TYPES = ["aws", "azure", "gcp", "openstack", "vsphere", "proxmox"]
_KP_TYPES = ["eks", "aks", "gke", "rke2", "k3s", "talos", "kubeadm"]
_INSTANCE_TYPES = ["m5.large", "m5.xlarge", "c5.2xlarge", "r5.large"]
_IMAGES = ["ubuntu-22.04", "amazon-linux-2", "talos-1.7", "flatcar-stable"]


def _vitistack(i: int, ns: str, prefix: str, rng: random.Random, mps: list[str], kps: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Vitistack",
        "metadata": {
            "name": f"{prefix}vs-{i:04d}",
            "namespace": ns,
            "labels": {"vitistack.io/generated": "true", "environment": rng.choice(["prod", "staging", "dev"])},
        },
        "spec": {
            "region": rng.choice(_REGIONS),
            "role": rng.choice(_ROLES),
            "description": f"Generated vitistack {i}",
            "resourceQuotas": {
                "maxMachines": rng.randint(50, 500),
                "maxClusters": rng.randint(1, 20),
                "maxProviders": rng.randint(2, 20),
            },
            "machineProviders": [{"name": n, "priority": p + 1} for p, n in enumerate(mps)],
            "kubernetesProviders": [{"name": n, "priority": p + 1} for p, n in enumerate(kps)],
        },
    }


def _machine_provider(i: int, ns: str, prefix: str, rng: random.Random) -> dict[str, Any]:
    kind = _MP_TYPES[i % len(_MP_TYPES)]
    spec: dict[str, Any] = {
        "type": kind,
        "region": rng.choice(_REGIONS),
        "healthCheck": {"enabled": True, "interval": "30s", "timeout": "10s", "retries": 3},
    }
    if kind == "aws":
        spec["aws"] = {
            "credentials": {"secretRef": {"name": "aws-credentials"}},
            "instanceTypes": [
                {"name": t, "vcpus": 2 ** (k + 1), "memory": f"{8 * 2**k}Gi"} for k, t in enumerate(_INSTANCE_TYPES[:2])
            ],
            "machineImages": [{"name": img, "architecture": "x86_64"} for img in _IMAGES[:2]],
        }
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "MachineProvider",
        "metadata": {"name": f"{prefix}mp-{i:04d}", "namespace": ns, "labels": {"vitistack.io/generated": "true"}},
        "spec": spec,
    }


def _kubernetes_provider(i: int, ns: str, prefix: str, rng: random.Random, mp: str) -> dict[str, Any]:
    kind = _KP_TYPES[i % len(_KP_TYPES)]
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "KubernetesProvider",
        "metadata": {"name": f"{prefix}kp-{i:04d}", "namespace": ns, "labels": {"vitistack.io/generated": "true"}},
        "spec": {
            "type": kind,
            "version": rng.choice(["1.29", "1.30", "1.31"]),
            "region": rng.choice(_REGIONS),
            kind: {
                "nodeGroups": [
                    {
                        "name": "workers",
                        "machineProvider": {"name": mp},
                        "instanceType": rng.choice(_INSTANCE_TYPES),
                        "scaling": {"minSize": 1, "maxSize": 5, "desiredSize": 3},
                    }
                ]
            },
        },
    }


def _machine(i: int, ns: str, prefix: str, rng: random.Random, mp: str) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Machine",
        "metadata": {
            "name": f"{prefix}m-{i:05d}",
            "namespace": ns,
            "labels": {"vitistack.io/generated": "true", "role": rng.choice(["worker", "control-plane", "bastion"])},
        },
        "spec": {
            "machineProvider": {"name": mp},
            "instanceType": rng.choice(_INSTANCE_TYPES),
            "machineImage": rng.choice(_IMAGES),
            "networking": {"subnet": f"subnet-{rng.randrange(16**8):08x}", "publicIP": rng.random() < 0.1},
        },
    }


def generate(
    vitistacks: int = 50,
    machine_providers: int = 150,
    kubernetes_providers: int = 50,
    machines: int = 5000,
    namespaces: int = 5,
    seed: int = 0,
    prefix: str = "",
) -> list[dict[str, Any]]:
    """The objects `populate` creates, providers first."""
    rng = random.Random(seed)
    names = [f"fleet-{n}" for n in range(max(1, namespaces))]

    def ns(i: int) -> str:
        return names[i % len(names)]

    mps = [_machine_provider(i, ns(i), prefix, rng) for i in range(machine_providers)]
    by_ns: dict[str, list[str]] = {}
    for obj in mps:
        by_ns.setdefault(obj["metadata"]["namespace"], []).append(obj["metadata"]["name"])

    def provider_in(namespace: str, i: int) -> str:
        choices = by_ns.get(namespace)
        # Without a provider in the namespace the reference dangles, as the guide's do.
        return choices[i % len(choices)] if choices else f"{prefix}mp-missing"

    kps = [_kubernetes_provider(i, ns(i), prefix, rng, provider_in(ns(i), i)) for i in range(kubernetes_providers)]
    kp_by_ns: dict[str, list[str]] = {}
    for obj in kps:
        kp_by_ns.setdefault(obj["metadata"]["namespace"], []).append(obj["metadata"]["name"])
    stacks = []
    for i in range(vitistacks):
        namespace = ns(i)
        own_mps = by_ns.get(namespace, [])[i % 3 : i % 3 + 2]
        own_kps = kp_by_ns.get(namespace, [])[i % 2 : i % 2 + 1]
        stacks.append(_vitistack(i, namespace, prefix, rng, own_mps, own_kps))
    machine_objs = [_machine(i, ns(i), prefix, rng, provider_in(ns(i), i)) for i in range(machines)]
    return mps + kps + stacks + machine_objs


def populate(store: Store, manager: str = "sandbox-populate", **kw) -> dict[str, Any]:
    """Create `generate(**kw)` in the store; returns counts and the time it took."""
    started = time.perf_counter()
    objects = generate(**kw)
    counts: dict[str, int] = {}
    with store.lock:
        for namespace in sorted({o["metadata"]["namespace"] for o in objects}):
            ensure_namespace(store, namespace)
        for obj in objects:
            store.create(obj, options=WriteOptions(manager=manager))
            counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
    return {
        "created": counts,
        "seconds": round(time.perf_counter() - started, 3),
        "resourceVersion": store.resource_version,
    }
