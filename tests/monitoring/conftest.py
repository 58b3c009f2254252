"""A simulated sandbox cluster registered and synced with its monitor (Events, alerts, RBAC checks)."""

import pytest

from tests.sync.conftest import FAST, wait_for
from vitiweb.sync.clusters import register_cluster
from vitiweb.sync.engine import ClusterSync

NS = "production"


def machine(name, provider="missing-provider", namespace=NS):
    return {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "Machine",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"machineProvider": {"name": provider}, "instanceType": "m5.large"},
    }


@pytest.fixture
def simulated(sandbox_factory):
    """A sandbox whose simulated controllers tick when the test says (`simulated.simulator.step()`)."""
    sandbox = sandbox_factory(simulate=True, simulate_interval=3600)
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    sandbox.simulator.progress_rate = 1.0
    sandbox.simulator.failure_rate = 0.0
    sandbox.simulator.flap_rate = 0.0
    return sandbox


@pytest.fixture
def monitored(simulated, tmp_path, transactional_db, settings):
    """(sandbox, Cluster, ClusterSync): the sandbox synced with its monitor running."""
    settings.VITIWEB_MONITOR = True
    path = simulated.write_kubeconfig(tmp_path / "kubeconfig")
    cluster = register_cluster("sandbox", kubeconfig_path=str(path), context=simulated.name)
    sync = ClusterSync(cluster.pk, timing=FAST)
    sync.start()
    wait_for(lambda: sync.monitor.mirror is not None, timeout=15, message="the event mirror to start")
    yield simulated, cluster, sync
    sync.stop()


def step_until(sandbox, predicate, ticks=6):
    for _ in range(ticks):
        sandbox.simulator.step()
        if predicate():
            return
    raise AssertionError("the simulated controllers never got there")
