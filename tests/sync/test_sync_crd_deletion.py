"""Deleting a CRD while the sync engine runs, on a sandbox that terminates CRDs as kube-apiserver does.

The real server does not drop a CRD at once: it marks it Terminating, its
finalizer deletes every custom resource (each watcher sees DELETED), objects held
by their own finalizers hold the CRD, and only then is the CRD gone and its
endpoints with it. Through all of that the database must equal the cluster, the
kind must read "not installed" without the engine looping on errors, and a CRD
installed again must resume the sync.
"""

import pytest

from machines.models import Machine
from tests.sync.conftest import API_VERSION, machine, wait_for, wait_until_equal
from vitiweb.models import Cluster

pytestmark = pytest.mark.django_db(transaction=True)

CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "machines.vitistack.io")


def test_crd_deleted_during_sync_empties_the_kind_then_a_new_crd_resumes(running_sync):
    sandbox, cluster, sync = running_sync
    store = sandbox.store
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    for name in ("free-1", "free-2", "held-1", "held-2"):
        body = machine(name)
        if name.startswith("held"):
            body["metadata"]["finalizers"] = ["vitistack.io/drain"]
        store.create(body)
    wait_until_equal(sandbox, cluster)
    definition = store.get(*CRD)

    store.delete(*CRD)
    # Terminating: the free machines are gone, the held ones wait with a deletionTimestamp.
    assert store.get(*CRD)["metadata"]["deletionTimestamp"]
    wait_until_equal(sandbox, cluster)
    assert sorted(Machine.objects.filter(cluster=cluster).values_list("name", flat=True)) == ["held-1", "held-2"]

    for name in ("held-1", "held-2"):
        store.patch(API_VERSION, "Machine", name, {"metadata": {"finalizers": None}}, "production")
    with pytest.raises(Exception, match="not found"):
        store.get(*CRD)
    wait_until_equal(sandbox, cluster)
    assert not Machine.objects.filter(cluster=cluster).exists()
    wait_for(
        lambda: Cluster.objects.get(pk=cluster.pk).kind_states.get("Machine", {}).get("installed") is False,
        message="Machine reported as not installed",
    )
    states = Cluster.objects.get(pk=cluster.pk).kind_states
    assert states["Machine"]["state"] == "not installed"
    # No reflector keeps retrying the gone endpoint, the engine runs on and the other kinds watch.
    with pytest.raises(KeyError):
        sync.reflector_status("Machine")
    assert sync.alive
    assert all(states[kind]["state"] == "watching" for kind in ("Vitistack", "MachineProvider"))

    definition.pop("status", None)
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        definition["metadata"].pop(key, None)
    store.create(definition)
    store.create(machine("after"))
    wait_for(lambda: Machine.objects.filter(cluster=cluster, name="after").exists(), message="sync resumed")
    wait_until_equal(sandbox, cluster)
    wait_for(
        lambda: Cluster.objects.get(pk=cluster.pk).kind_states["Machine"].get("installed") is True,
        message="Machine installed again",
    )
    assert Cluster.objects.get(pk=cluster.pk).state == Cluster.State.CONNECTED
