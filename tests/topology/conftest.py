"""Fixtures for the topology and integrity tests: objects go in through the sync's own path."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import k8s_object
from vitiweb.derive import derive
from vitiweb.integrity import run_checks
from vitiweb.kinds import KINDS
from vitiweb.models import Cluster
from vitiweb.sync.mirror import apply_snapshot, replace_known_secrets

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def stack(name, namespace="production", **spec):
    return k8s_object("Vitistack", name, namespace=namespace, spec=spec)


def machine_provider(name, namespace="production", **spec):
    return k8s_object("MachineProvider", name, namespace=namespace, spec={"type": "aws", **spec})


def kubernetes_provider(name, namespace="production", **spec):
    return k8s_object("KubernetesProvider", name, namespace=namespace, spec={"type": "eks", **spec})


def machine(name, provider="ec2", namespace="production", status=None, **spec):
    return k8s_object(
        "Machine", name, namespace=namespace, status=status, spec={"machineProvider": {"name": provider}, **spec}
    )


def aws(instance_types=("m5.large",), images=("ubuntu",), **extra):
    return {
        "instanceTypes": [{"name": name} for name in instance_types],
        "machineImages": [{"name": name} for name in images],
        "credentials": {"secretRef": {"name": "aws-credentials"}},
        **extra,
    }


def load(cluster, *objects, secrets=None):
    """Mirror objects into ``cluster`` (a full snapshot per kind), and the Secrets it holds (names)."""
    for kind in KINDS:
        of_kind = [obj for obj in objects if obj["kind"] == kind]
        if of_kind:
            apply_snapshot(cluster, kind, of_kind)
    replace_known_secrets(cluster, {("production", "aws-credentials")} if secrets is None else set(secrets))
    # What the deriving process does after sync commits: pages read the stored findings and overview.
    derive()


@pytest.fixture
def cluster(db):
    return Cluster.objects.create(name="prod", source=Cluster.Source.KUBECONFIG)


@pytest.fixture
def examples(db):
    call_command("import_manifests", str(EXAMPLES), "--source", "examples", verbosity=0)
    derive()
    return Cluster.objects.get(name="examples")


def findings(check=None):
    return [finding for finding in run_checks() if check is None or finding.check == check]


def subjects(check):
    """(severity, address of the first object, path) of each finding of one check."""
    return sorted((f.severity, f.subject.address, f.path) for f in findings(check))
