"""Troubleshooting in a real browser, across processes: a Machine the simulated controller fails shows its
Warning event on its Events tab and the overview, MachineProvisioningFailed fires with links to the events and
the controller's logs, and the logs page follows the controller live.

The web server and the sync worker (which runs the cluster's monitor) are processes of their own sharing the
test database and Redis; the sandbox's simulated controllers tick when the test says, so each step is seen.
"""

import os
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from machines.models import Machine
from tests import factories
from tests.e2e.conftest import log_in
from tests.processes import free_port, manage, stop, wait_for_port
from tests.sync.conftest import wait_for
from vitiweb.models import Cluster
from vitiweb.sandbox import workloads
from vitiweb.sync.clusters import register_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7"
NS = "production"


def machine(name, provider):
    return {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "Machine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"machineProvider": {"name": provider}, "instanceType": "m5.large"},
    }


@pytest.fixture
def deployment(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(simulate=True, simulate_interval=3600)  # ticks driven by the test
    simulator = sandbox.simulator
    simulator.progress_rate, simulator.failure_rate, simulator.flap_rate = 1.0, 0.0, 0.0
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    sandbox.store.create(machine("web-1", provider="missing-provider"))
    simulator.step()  # Pending
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    register_cluster("sandbox", kubeconfig_path=str(kubeconfig))
    factories.operator()
    port = free_port()
    env = {"REDIS_URL": REDIS_URL, "DEBUG": "1", "VITIWEB_MONITOR": "1"}
    processes = [manage("sync", "--tick-seconds", "0.5", **env)]
    processes.append(manage("runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks", **env))
    try:
        wait_for_port(port)
        wait_for(lambda: Machine.objects.filter(name="web-1", phase="Pending").exists(), 30, "the first sync")
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", sandbox=sandbox, step=simulator.step)
    finally:
        for process in processes:
            stop(process)


def live(page):
    expect(page.locator("#live-status")).to_have_attribute("data-state", "up", timeout=10_000)


def test_a_failed_machine_shows_its_warning_event_on_its_events_tab_and_the_overview(deployment, page, screenshot):
    log_in(page, deployment, "operator")
    web1 = Machine.objects.get(name="web-1")
    page.goto(f"{deployment.url}/machines/{web1.pk}/events/")
    live(page)
    overview = page.context.new_page()
    overview.goto(f"{deployment.url}/")
    live(overview)

    deployment.step()  # Provisioning: a Normal event
    expect(page.locator("#tab-panel tr.event-normal")).to_contain_text("Provisioning", timeout=2_000)
    deployment.step()  # Failed: the Warning event
    warning = page.locator("#tab-panel tr.event-warning")
    expect(warning).to_contain_text("ProvisioningFailed", timeout=2_000)
    expect(warning).to_contain_text('MachineProvider "missing-provider" not found')
    expect(warning).to_contain_text("machine-controller")
    expect(page.locator("#object-head")).to_contain_text("Failed", timeout=2_000)
    expect(overview.locator("#attention-warnings")).to_contain_text("ProvisioningFailed", timeout=2_000)
    screenshot(page, "troubleshooting-01-events-tab")
    screenshot(overview, "troubleshooting-02-overview-warning")


def test_machine_provisioning_failed_fires_and_links_to_events_and_logs(deployment, page, screenshot):
    log_in(page, deployment, "operator")
    web1 = Machine.objects.get(name="web-1")
    live(page)
    deployment.step()
    deployment.step()
    alert = page.locator('#attention-alerts [data-alert="MachineProvisioningFailed"]')
    # Evaluated by the worker's monitor every second; no `for:` in the guide's rule, so it fires at once.
    expect(alert).to_have_attribute("data-alert-state", "firing", timeout=3_000)
    expect(alert).to_contain_text("1 machine provisioning failures in the last 5 minutes")
    expect(alert).to_contain_text("Machine production/web-1")
    screenshot(page, "troubleshooting-03-firing-alert")

    alert.get_by_role("link", name="Events").click()
    expect(page).to_have_url(f"{deployment.url}/machines/{web1.pk}/events/")
    expect(page.locator("#tab-panel")).to_contain_text("ProvisioningFailed")
    expect(page.locator("#object-head [data-alert='MachineProvisioningFailed']")).to_be_visible()

    page.go_back()
    page.locator('#attention-alerts [data-alert="MachineProvisioningFailed"]').get_by_role(
        "link", name="Controller logs"
    ).click()
    expect(page.locator("#l-deployment")).to_have_value("machine-controller")
    expect(page.locator("#log-lines")).to_contain_text("Reconciler error")
    expect(page.locator("#log-lines .level-error").first).to_contain_text("missing-provider")


def test_logs_follow_the_controller_live_with_a_filter(deployment, page, screenshot):
    log_in(page, deployment, "operator")
    cluster = Cluster.objects.get(name="sandbox")
    page.goto(f"{deployment.url}/clusters/{cluster.pk}/logs/?deployment=machine-controller")
    expect(page.locator("#log-lines")).to_contain_text("starting manager")
    page.click("#log-follow")
    expect(page.locator("#log-state")).to_contain_text("Following live", timeout=5_000)
    expect(page.locator("#log-follow")).to_have_attribute("aria-pressed", "true")

    deployment.step()  # the controller logs the provisioning...
    deployment.step()  # ...and the failure, while the page follows
    lines = page.locator("#log-lines li")
    expect(lines.filter(has_text="creating the instance")).to_have_count(1, timeout=2_000)
    failure = lines.filter(has_text="Reconciler error")
    expect(failure).to_have_count(1, timeout=2_000)
    expect(failure).to_have_class("log-line level-error")

    page.fill("#log-filter", "reconciler")
    expect(lines.filter(has_text="creating the instance")).to_be_hidden()
    expect(failure).to_be_visible()
    screenshot(page, "troubleshooting-04-logs-follow")

    book = deployment.sandbox.server.logbook
    key = (workloads.CONTROLLER_NAMESPACE, workloads.pod_name("machine-controller"), workloads.CONTAINER)
    assert book._followers.get(key)
    page.click("#log-follow")  # stop following: the cluster's stream ends with the socket
    wait_for(lambda: not book._followers.get(key), 5, "the followed stream to end")
