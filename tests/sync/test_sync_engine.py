"""The database equals what the cluster holds, through every fault, without losing or inventing an object.

These tests drive the real sync engine against the sandbox over HTTP with the
official Kubernetes client; every fault is followed by changes made during it.
"""

import subprocess

import pytest

from machines.models import Machine
from tests.sync.conftest import API_VERSION, EXAMPLES, machine, wait_for, wait_until_equal
from tests.tools import KUBECTL
from vitiweb.models import Cluster, JournalEntry, KnownSecret, Reference
from vitiweb.sync.engine import sync_once
from vitiweb.sync.mirror import forget_cluster

pytestmark = pytest.mark.django_db(transaction=True)


def kubectl(kubeconfig, *args):
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_seed_scenarios_applied_with_kubectl_are_mirrored_field_by_field(running_sync, tmp_path):
    sandbox, cluster, _ = running_sync
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "k")
    for namespace in ("production", "edge-system", "edge-west", "us-region"):
        kubectl(kubeconfig, "create", "namespace", namespace)
    for scenario in sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and p.name != "07-monitoring"):
        kubectl(kubeconfig, "apply", "-f", str(scenario))
    state = wait_until_equal(sandbox, cluster)
    assert [len(state[k]) for k in ("Vitistack", "MachineProvider", "KubernetesProvider", "Machine")] == [7, 4, 1, 1]
    # references resolve in the cluster; the Secret applied with kubectl is known by name
    wait_for(lambda: KnownSecret.objects.filter(cluster=cluster, name="aws-credentials").exists(), message="secret")
    wait_for(
        lambda: Reference.objects.get(relation="secret", source_kind="MachineProvider").state == "resolved",
        message="secret reference resolved",
    )
    cluster.refresh_from_db()
    assert cluster.state == Cluster.State.CONNECTED
    assert cluster.discovered_kinds["Machine"]["scope"] == "Namespaced"


def test_changes_arrive_through_the_watch_and_are_journaled(running_sync):
    sandbox, cluster, _ = running_sync
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    created = sandbox.store.create(machine("m1"))
    wait_until_equal(sandbox, cluster)
    created["status"] = {"phase": "Running"}
    sandbox.store.update_status(created)
    wait_until_equal(sandbox, cluster)
    assert Machine.objects.get(name="m1").phase == "Running"
    sandbox.store.delete(API_VERSION, "Machine", "m1", "production")
    wait_until_equal(sandbox, cluster)
    actions = list(JournalEntry.objects.filter(name="m1").order_by("id").values_list("action", flat=True))
    assert actions == ["created", "updated", "deleted"]


@pytest.fixture
def seeded(running_sync):
    sandbox, cluster, sync = running_sync
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    for i in range(20):
        sandbox.store.create(machine(f"m{i}"))
    wait_until_equal(sandbox, cluster)
    return sandbox, cluster, sync


def change_during_fault(sandbox):
    """A create, an update and a delete: what a fault must not make us lose."""
    sandbox.store.create(machine("born-during-fault"))
    current = sandbox.store.get(API_VERSION, "Machine", "m1", "production")
    current["spec"]["instanceType"] = "m5.xlarge"
    sandbox.store.update(current)
    sandbox.store.delete(API_VERSION, "Machine", "m2", "production")


def test_dropped_watch_connections_lose_nothing(seeded):
    sandbox, cluster, _ = seeded
    sandbox.faults.drop_watches()
    change_during_fault(sandbox)
    wait_until_equal(sandbox, cluster)


def test_compacted_history_forces_a_relist_that_converges(seeded):
    sandbox, cluster, sync = seeded
    lists_before = sync.reflector_status("Machine").lists
    # Nobody can watch while the history moves on and is compacted: the watch must resume from a
    # resourceVersion the server has forgotten, whatever the timing of the reconnect.
    sandbox.stop()
    change_during_fault(sandbox)
    sandbox.faults.compact()
    sandbox.start()
    state = wait_until_equal(sandbox, cluster, timeout=20)
    assert ("production", "m2") not in state["Machine"]
    # The 410 made it list again. (The reflector counts a list once it has handed it over, just
    # after the database took it: the count may come a moment after the state above.)
    wait_for(lambda: sync.reflector_status("Machine").lists > lists_before, message="a relist counted")


def test_a_stopped_and_restarted_server_loses_nothing(seeded):
    sandbox, cluster, _ = seeded
    sandbox.stop()
    change_during_fault(sandbox)  # changes made while nobody can watch
    wait_for(lambda: Cluster.objects.get(pk=cluster.pk).state != Cluster.State.CONNECTED, message="outage noticed")
    sandbox.start()
    wait_until_equal(sandbox, cluster, timeout=20)
    wait_for(lambda: Cluster.objects.get(pk=cluster.pk).state == Cluster.State.CONNECTED, message="recovery")


@pytest.mark.parametrize("status", [500, 429])
def test_server_errors_for_a_while_lose_nothing(seeded, status):
    sandbox, cluster, _ = seeded
    sandbox.faults.drop_watches()
    sandbox.faults.fail_next(6, status=status, retry_after=1)
    change_during_fault(sandbox)
    wait_until_equal(sandbox, cluster, timeout=20)


def test_a_missing_crd_syncs_what_exists_and_the_kind_follows_once_installed(sandbox, tmp_path, transactional_db):
    crd = sandbox.store.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "machines.vitistack.io")
    sandbox.store.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", "machines.vitistack.io")
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    sandbox.store.create(
        {
            "apiVersion": API_VERSION,
            "kind": "Vitistack",
            "metadata": {"name": "s", "namespace": "production"},
            "spec": {"region": "eu"},
        }
    )
    from tests.sync.conftest import FAST
    from vitiweb.sync.clusters import register_cluster
    from vitiweb.sync.engine import ClusterSync

    cluster = register_cluster("partial", kubeconfig_path=str(sandbox.write_kubeconfig(tmp_path / "k")))
    sync = ClusterSync(cluster.pk, timing=FAST)
    sync.start()
    try:
        wait_until_equal(sandbox, cluster)
        wait_for(
            lambda: Cluster.objects.get(pk=cluster.pk).discovered_kinds.get("Machine", {}).get("installed") is False,
            message="Machine reported as not installed",
        )
        problem = Cluster.objects.get(pk=cluster.pk).discovered_kinds["Machine"]["problem"]
        assert "machines.vitistack.io" in problem and "not installed" in problem
        crd.pop("status", None)
        for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
            crd["metadata"].pop(key, None)
        sandbox.store.create(crd)
        sandbox.store.create(machine("late"))
        wait_for(
            lambda: Machine.objects.filter(cluster=cluster, name="late").exists(), message="machine after CRD install"
        )
        wait_until_equal(sandbox, cluster)
    finally:
        sync.stop()


def test_sync_once_reconciles_and_removes_ghosts(registered):
    sandbox, cluster = registered
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    sandbox.store.create(machine("real"))
    Machine.objects.create(cluster=cluster, kind="Machine", namespace="production", name="ghost", uid="x")
    sync_once(cluster)
    wait_until_equal(sandbox, cluster, timeout=1)


def test_a_cluster_removed_from_the_registry_takes_its_objects_with_it(seeded):
    sandbox, cluster, sync = seeded
    sync.stop()
    forget_cluster(cluster)
    assert not Machine.objects.exists()
    assert not Reference.objects.filter(source_cluster_id=cluster.pk).exists()
