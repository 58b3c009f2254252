"""A sandbox cluster registered in the database, and a running sync of it."""

import time
from pathlib import Path

import pytest

from vitiweb.kinds import KINDS, model_for
from vitiweb.kube.backoff import BackoffPolicy
from vitiweb.kube.reflector import ReflectorTiming
from vitiweb.sync.clusters import register_cluster
from vitiweb.sync.engine import ClusterSync, EngineTiming

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: A fleet in the VitiStack project's published API shape, one folder per cluster.
PUBLISHED_EXAMPLES = Path(__file__).resolve().parents[2] / "examples-published"
API_VERSION = "vitistack.io/v1alpha1"

FAST = EngineTiming(
    batch_window=0.02,
    discovery_interval=0.5,
    secrets_interval=0.5,
    status_interval=0.1,
    reflector=ReflectorTiming(
        watch_timeout=5,
        watch_jitter=0.2,
        read_timeout_margin=2,
        min_watch_duration=0.2,
        backoff=BackoffPolicy(initial=0.05, factor=2, cap=0.5, jitter=0.2, reset_after=2),
        error_backoff=BackoffPolicy(initial=0.2, factor=2, cap=1, jitter=0.2, reset_after=2),
    ),
)


@pytest.fixture
def registered(sandbox, tmp_path, transactional_db):
    """(sandbox, Cluster) with the sandbox registered from its kubeconfig."""
    path = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    return sandbox, register_cluster("sandbox", kubeconfig_path=str(path))


@pytest.fixture
def running_sync(registered):
    sandbox, cluster = registered
    sync = ClusterSync(cluster.pk, timing=FAST)
    sync.start()
    yield sandbox, cluster, sync
    sync.stop()


def cluster_state(sandbox) -> dict:
    """kind -> {(namespace, name): (spec, status, labels, resourceVersion)} as the sandbox holds it."""
    state = {}
    for kind in KINDS:
        try:
            objects = sandbox.store.list(API_VERSION, kind)
        except Exception:  # the kind is not installed
            objects = []
        state[kind] = {
            (o["metadata"].get("namespace", ""), o["metadata"]["name"]): (
                o.get("spec", {}),
                o.get("status", {}),
                o["metadata"].get("labels", {}),
                o["metadata"]["resourceVersion"],
            )
            for o in objects
        }
    return state


def database_state(cluster) -> dict:
    return {
        kind: {
            (row.namespace, row.name): (row.spec, row.status, row.labels, row.resource_version)
            for row in model_for(kind).objects.filter(cluster=cluster)
        }
        for kind in KINDS
    }


def wait_until_equal(sandbox, cluster, timeout=15.0):
    """Wait until the database holds exactly what the sandbox holds, field by field."""
    deadline = time.monotonic() + timeout
    while True:
        expected, actual = cluster_state(sandbox), database_state(cluster)
        if expected == actual:
            return expected
        if time.monotonic() > deadline:
            for kind in KINDS:
                missing = set(expected[kind]) - set(actual[kind])
                ghosts = set(actual[kind]) - set(expected[kind])
                stale = {k for k in set(expected[kind]) & set(actual[kind]) if expected[kind][k] != actual[kind][k]}
                if missing or ghosts or stale:
                    raise AssertionError(f"{kind}: missing {missing}, ghosts {ghosts}, stale {stale}")
            raise AssertionError("database differs from the cluster")
        time.sleep(0.1)


def wait_for(predicate, timeout=15.0, message="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.05)


def machine(name, namespace="production", phase=None, provider="aws-ec2-provider"):
    obj = {
        "apiVersion": API_VERSION,
        "kind": "Machine",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"machineProvider": {"name": provider}, "instanceType": "m5.large", "machineImage": "ubuntu-20.04"},
    }
    if phase:
        obj["status"] = {"phase": phase}
    return obj
