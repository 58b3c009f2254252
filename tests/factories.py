"""Test data for the pages, written through the sync's own path (``vitiweb.sync.mirror``).

``fleet()`` builds a small but complete fleet: two clusters, a Vitistack with
quotas and providers, a machine provider with priced instance types, a
Kubernetes provider with node groups, machines in several phases, a
disaster-recovery target in the other cluster, and one dangling reference.
``hostile_machine()`` adds an object whose every string tries to become markup.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from machines.models import Machine
from providers.models import KubernetesProvider, MachineProvider
from stacks.models import Vitistack
from vitiweb.derive import derive
from vitiweb.kinds import KINDS
from vitiweb.models import Cluster
from vitiweb.roles import ADMIN, OPERATOR, VIEWER
from vitiweb.sync.mirror import apply_events, replace_known_secrets

_uids = itertools.count(1)

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def k8s_object(
    kind,
    name,
    namespace="production",
    spec=None,
    status=None,
    labels=None,
    annotations=None,
    rv="1",
    uid=None,
    created="2026-01-01T00:00:00Z",
):
    """A raw object as the API server returns it."""
    metadata = {
        "name": name,
        "namespace": namespace,
        "uid": uid or f"uid-{next(_uids)}",
        "resourceVersion": rv,
        "creationTimestamp": created,
    }
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    obj = {"apiVersion": "vitistack.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec or {}}
    if status is not None:
        obj["status"] = status
    return obj


def status(phase, ready=None, message=""):
    conditions = []
    if ready is not None:
        conditions.append(
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "Checked",
                "message": message,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        )
    return {"phase": phase, "conditions": conditions, **({"message": message} if message else {})}


def make_cluster(name="prod-east", **fields) -> Cluster:
    return Cluster.objects.create(name=name, **{"source": Cluster.Source.KUBECONFIG, **fields})


def mirror(cluster: Cluster, *objects: dict) -> None:
    """Add objects to a cluster as watch events would (ADDED), whatever their kinds; then derive the fleet's
    findings and overview, as the deriving process does after the sync's commits (pages read what it stored)."""
    by_kind: dict[str, list] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(("ADDED", obj))
    for kind in KINDS:
        if kind in by_kind:
            apply_events(cluster, kind, by_kind[kind], changed_by="test")
    derive()


def ensure_roles() -> None:
    """The role groups as the migration creates them (a transactional test flushes migration data)."""
    from django.apps import apps

    from vitiweb.roles import sync_roles

    sync_roles(apps)


@functools.cache
def _hashed(password: str) -> str:
    # The production hasher (a server process started by a test must accept the login), paid once per
    # password and process rather than once per user: a PBKDF2 hash costs about a second on this machine.
    return make_password(password)


def user(role: str | None = None, username: str | None = None, password: str = "pw-for-tests-1"):
    ensure_roles()
    username = username or (role or "nobody").lower()
    account = get_user_model().objects.create(username=username, password=_hashed(password))
    if role:
        account.groups.add(Group.objects.get(name=role))
    return account


def viewer(**kwargs):
    return user(VIEWER, **kwargs)


def operator(**kwargs):
    return user(OPERATOR, **kwargs)


def admin(**kwargs):
    return user(ADMIN, **kwargs)


AWS_PROVIDER_SPEC = {
    "type": "aws",
    "region": "us-west-2",
    "aws": {
        "credentials": {"secretRef": {"name": "aws-credentials", "namespace": "production"}},
        "instanceTypes": [
            {
                "name": "m5.large",
                "vcpus": 2,
                "memory": "8Gi",
                "pricing": {"onDemand": "$0.096/hour", "spot": "$0.038/hour"},
            },
            {
                "name": "m5.xlarge",
                "vcpus": 4,
                "memory": "16Gi",
                "pricing": {"onDemand": "$0.192/hour", "spot": "$0.076/hour"},
            },
        ],
        "machineImages": [{"name": "ubuntu-20.04", "imageId": "ami-0c55b159cbfafe1d0", "operatingSystem": "ubuntu"}],
        "networking": {
            "vpcId": "vpc-1",
            "securityGroups": [
                {"name": "k8s-nodes", "rules": [{"protocol": "tcp", "port": 22, "source": "10.0.0.0/16"}]}
            ],
        },
    },
    "failover": {
        "enabled": True,
        "targets": [
            {
                "name": "azure-east",
                "namespace": "production",
                "priority": 2,
                "conditions": [{"type": "ProviderHealthy", "status": "False"}],
            }
        ],
    },
}


@dataclass
class Fleet:
    east: Cluster
    west: Cluster
    stack: Vitistack
    dr_stack: Vitistack
    provider: MachineProvider
    kubernetes: KubernetesProvider
    running: Machine
    failed: Machine
    pending: Machine


def fleet() -> Fleet:
    east, west = (
        make_cluster("prod-east", state=Cluster.State.CONNECTED),
        make_cluster("prod-west", state=Cluster.State.UNREACHABLE, last_error="connection refused"),
    )
    replace_known_secrets(east, {("production", "aws-credentials")})
    mirror(
        east,
        k8s_object(
            "Vitistack",
            "aws-production",
            spec={
                "region": "us-west-2",
                "description": "Production vitistack in AWS US West 2",
                "networking": {
                    "vpcs": [
                        {
                            "name": "production-vpc",
                            "cidr": "10.0.0.0/16",
                            "subnets": [
                                {
                                    "name": "public-subnet-1",
                                    "cidr": "10.0.1.0/24",
                                    "type": "public",
                                    "availabilityZone": "us-west-2a",
                                }
                            ],
                        }
                    ],
                    "firewallRules": [
                        {
                            "name": "k8s-api-access",
                            "direction": "inbound",
                            "protocol": "tcp",
                            "port": 443,
                            "source": "0.0.0.0/0",
                        }
                    ],
                },
                "resourceQuotas": {"maxMachines": 2, "maxClusters": 5, "maxProviders": 10},
                "machineProviders": [{"name": "aws-ec2-provider", "priority": 1}],
                "kubernetesProviders": [{"name": "aws-eks-provider", "priority": 1}],
                "disasterRecovery": {
                    "enabled": True,
                    "replicationTargets": [
                        {
                            "name": "dr-vitistack",
                            "namespace": "production",
                            "region": "us-east-1",
                            "replicationMode": "async",
                            "rpo": "1h",
                            "rto": "30m",
                        }
                    ],
                },
            },
            status=status("Ready", True),
            labels={"vitistack.io/environment": "production", "vitistack.io/team": "platform"},
            annotations={
                "vitistack.io/description": "The main production stack",
                "vitistack.io/contact": "platform-team@example.com",
                "vitistack.io/documentation": "https://docs.example.com/k8s",
            },
        ),
        k8s_object(
            "MachineProvider",
            "aws-ec2-provider",
            spec=AWS_PROVIDER_SPEC,
            status=status("Ready", True),
            labels={"vitistack.io/environment": "production"},
        ),
        k8s_object(
            "KubernetesProvider",
            "aws-eks-provider",
            spec={
                "type": "eks",
                "version": "1.24",
                "region": "us-west-2",
                "eks": {
                    "nodeGroups": [
                        {
                            "name": "system-nodes",
                            "machineProvider": {"name": "aws-ec2-provider"},
                            "instanceType": "m5.large",
                            "capacityType": "ON_DEMAND",
                            "scaling": {"minSize": 2, "maxSize": 4, "desiredSize": 2},
                        },
                        {
                            "name": "workers",
                            "machineProvider": {"name": "aws-ec2-provider"},
                            "instanceType": "m5.xlarge",
                            "capacityType": "SPOT",
                            "scaling": {"minSize": 1, "maxSize": 10, "desiredSize": 3},
                        },
                    ]
                },
                "addons": [{"name": "cert-manager", "version": "v1.9.1", "enabled": True}],
            },
            status=status("Ready", True),
        ),
        k8s_object(
            "Machine",
            "worker-production-001",
            spec={
                "machineProvider": {"name": "aws-ec2-provider"},
                "instanceType": "m5.large",
                "machineImage": "ubuntu-20.04",
            },
            status=status("Running", True),
            labels={"vitistack.io/environment": "production", "role": "worker"},
        ),
        k8s_object(
            "Machine",
            "worker-production-002",
            spec={
                "machineProvider": {"name": "aws-ec2-provider"},
                "instanceType": "m5.xlarge",
                "machineImage": "ubuntu-20.04",
            },
            status=status("Failed", False, "disk quota exceeded"),
            labels={"vitistack.io/environment": "staging"},
        ),
        k8s_object(
            "Machine",
            "bastion-host",
            namespace="tools",
            spec={
                "machineProvider": {"name": "aws-ec2-provider", "namespace": "production"},
                "instanceType": "t3.micro",
                "machineImage": "ubuntu-20.04",
            },
            status=status("Pending"),
        ),
    )
    mirror(
        west,
        k8s_object(
            "Vitistack",
            "dr-vitistack",
            spec={"region": "us-east-1", "role": "disaster-recovery", "primaryVitistack": {"name": "aws-production"}},
            status=status("Ready", True),
        ),
    )
    machines = {m.name: m for m in Machine.objects.all()}
    return Fleet(
        east=east,
        west=west,
        stack=Vitistack.objects.get(name="aws-production"),
        dr_stack=Vitistack.objects.get(name="dr-vitistack"),
        provider=MachineProvider.objects.get(),
        kubernetes=KubernetesProvider.objects.get(),
        running=machines["worker-production-001"],
        failed=machines["worker-production-002"],
        pending=machines["bastion-host"],
    )


def hostile_machine(cluster: Cluster, name="evil") -> Machine:
    """A machine whose every string from the cluster is an injection attempt."""
    mirror(
        cluster,
        k8s_object(
            "Machine",
            name,
            namespace="production",
            spec={
                "machineProvider": {"name": XSS},
                "instanceType": XSS,
                "machineImage": XSS,
                "software": {"scripts": [{"name": XSS, "content": XSS}]},
                XSS: {XSS: XSS},
            },
            status={
                "phase": XSS,
                "message": XSS,
                "conditions": [{"type": "Ready", "status": "False", "message": XSS, "reason": XSS}],
            },
            labels={"vitistack.io/environment": 'x" onmouseover="alert(1)', "vitistack.io/team": XSS},
            annotations={
                "vitistack.io/description": XSS,
                "vitistack.io/contact": XSS,
                "vitistack.io/documentation": "javascript:alert(document.cookie)",
                "note": XSS,
            },
        ),
    )
    return Machine.objects.get(cluster=cluster, name=name)
