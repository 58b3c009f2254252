"""A cluster's monitor works when its cluster changes, not on every tick of a clock (issue 15: a worker holding
a hundred clusters spent most of its interpreter evaluating alert rules over data that had not changed)."""

import time
from datetime import timedelta

from tests.monitoring.conftest import NS, machine
from tests.sync.conftest import API_VERSION, wait_for
from vitiweb.kinds import model_for
from vitiweb.kube.reflector import WATCHING
from vitiweb.models import Cluster
from vitiweb.monitoring import series as metrics
from vitiweb.monitoring.models import AlertInstance


def synced(cluster) -> bool:
    states = Cluster.objects.get(pk=cluster.pk).kind_states or {}
    installed = [state for state in states.values() if state.get("installed", True)]
    return bool(installed) and all(state.get("state") == WATCHING for state in installed)


def fail_a_machine(sandbox) -> None:
    """A Machine seen provisioning, then Failed: a provisioning failure, which fires an alert at once."""
    sandbox.store.create(machine("web-1"))
    provisioning = sandbox.store.get(API_VERSION, "Machine", "web-1", NS)
    provisioning["status"] = {"phase": "Provisioning"}
    sandbox.store.update_status(provisioning)
    wait_for(lambda: model_for("Machine").objects.filter(name="web-1", phase="Provisioning").exists())
    failed = sandbox.store.get(API_VERSION, "Machine", "web-1", NS)
    failed["status"] = {"phase": "Failed", "message": "no capacity"}
    sandbox.store.update_status(failed)


def test_rules_over_a_cluster_that_does_not_change_are_not_evaluated_every_second(monitored):
    _, cluster, sync = monitored
    wait_for(lambda: synced(cluster) and sync.monitor.evaluations > 0, message="the first sync and evaluation")
    time.sleep(1.5)  # the pass the first lists asked for, at most one alert_interval later
    before = sync.monitor.evaluations

    time.sleep(3)

    assert sync.monitor.evaluations == before
    assert not AlertInstance.objects.filter(cluster=cluster).exists()


def test_a_change_is_evaluated_as_soon_as_the_sync_has_written_it(monitored):
    """Not at the idle pass 30 s later: the writer tells the monitor."""
    sandbox, cluster, sync = monitored
    wait_for(lambda: synced(cluster) and sync.monitor.evaluations > 0, message="the first sync and evaluation")
    fail_a_machine(sandbox)

    wait_for(
        lambda: AlertInstance.objects.filter(cluster=cluster, rule="MachineProvisioningFailed").exists(),
        timeout=10,
        message="the provisioning failure alert",
    )


def test_an_alert_that_time_alone_ends_is_evaluated_when_it_ends(monitored, monkeypatch):
    """A provisioning failure leaves the failure window with no change to any object: the monitor computes
    when (`alerts.next_change`) and evaluates then, rather than every second in case."""
    monkeypatch.setattr(metrics, "WINDOW", timedelta(seconds=4))
    sandbox, cluster, sync = monitored
    fail_a_machine(sandbox)
    wait_for(lambda: AlertInstance.objects.filter(cluster=cluster).exists(), timeout=10, message="the alert")
    before = sync.monitor.evaluations

    wait_for(lambda: not AlertInstance.objects.filter(cluster=cluster).exists(), timeout=8, message="its end")

    assert sync.monitor.evaluations <= before + 2


def test_machine_status_changes_that_record_no_failure_are_not_evaluated(monitored):
    """The common churn of a large fleet: the rules read Machines only through their failures."""
    sandbox, cluster, sync = monitored
    sandbox.store.create(machine("web-1"))
    wait_for(lambda: synced(cluster) and model_for("Machine").objects.filter(name="web-1").exists())
    time.sleep(1.5)
    before = sync.monitor.evaluations

    for step in range(4):
        message = f"heartbeat {step}"
        running = sandbox.store.get(API_VERSION, "Machine", "web-1", NS)
        running["status"] = {"phase": "Running", "message": message}
        sandbox.store.update_status(running)
        mirrored = model_for("Machine").objects.filter(name="web-1", message=message)
        wait_for(mirrored.exists)
    time.sleep(1.5)

    assert sync.monitor.evaluations == before
