"""Two sync worker processes share the fleet through the database, and take over from each other."""

import signal

import pytest

from machines.models import Machine
from tests.processes import manage, output, stop
from tests.sync.conftest import machine, wait_for
from vitiweb.models import Cluster
from vitiweb.sync.clusters import register_cluster

pytestmark = pytest.mark.django_db(transaction=True)


def start_worker(name):
    return manage("sync", "--name", name, "--lease-seconds", "4", "--tick-seconds", "0.5")


def holders():
    return dict(Cluster.objects.values_list("name", "lease_holder"))


def test_two_worker_processes_share_the_fleet_and_one_takes_over_when_the_other_dies(sandbox_factory, tmp_path):
    sandboxes = [sandbox_factory(), sandbox_factory()]
    names = []
    for index, sandbox in enumerate(sandboxes):
        sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
        sandbox.store.create(machine(f"on-sandbox-{index}"))
        kubeconfig = str(sandbox.write_kubeconfig(tmp_path / f"k{index}"))
        for copy in ("a", "b"):
            names.append(register_cluster(f"cluster-{index}-{copy}", kubeconfig_path=kubeconfig).name)

    workers = {"w1": start_worker("w1"), "w2": start_worker("w2")}
    try:
        wait_for(
            lambda: sorted(holders().values()) == ["w1", "w1", "w2", "w2"],
            timeout=30,
            message="each worker holding half of the fleet",
        )
        wait_for(lambda: Machine.objects.count() == 4, timeout=30, message="every cluster synced")
        assert Machine.objects.values("cluster").distinct().count() == 4

        # The clusters w1 holds when it dies, read before: after the kill its 4 s leases may already have
        # passed to w2 by the time anything reads them (a loaded machine).
        orphaned = [name for name, holder in holders().items() if holder == "w1"]
        assert orphaned, holders()
        workers["w1"].send_signal(signal.SIGKILL)  # no goodbye: its leases must expire
        workers["w1"].wait(10)
        wait_for(lambda: set(holders().values()) == {"w2"}, timeout=30, message="w2 taking over w1's clusters")

        # A change in a cluster w1 used to sync now arrives through w2.
        index = int(orphaned[0].split("-")[1])
        sandboxes[index].store.create(machine("after-takeover"))
        wait_for(
            lambda: Machine.objects.filter(name="after-takeover").count() == 2,
            timeout=30,
            message="the change seen in both registrations of that sandbox",
        )
    except AssertionError as failure:
        logs = "\n".join(f"--- {name} ---\n{output(process)}" for name, process in workers.items())
        raise AssertionError(f"{failure}\nleases: {holders()}\n{logs}") from failure
    finally:
        for process in workers.values():
            stop(process)
