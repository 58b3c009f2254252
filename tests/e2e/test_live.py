"""Live status in a real browser, across processes.

The dashboard runs as its own web server process and the sync as its own
worker process, sharing the test database and Redis, as in production; the
sandbox cluster is changed with kubectl; chromium must show each change
within 2 seconds without reloading the page.
"""

import json
import os
import subprocess
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from machines.models import Machine
from tests import factories
from tests.e2e.conftest import log_in
from tests.processes import free_port, manage, stop, wait_for_port
from tests.sync.conftest import machine, wait_for
from tests.tools import KUBECTL
from vitiweb.sync.clusters import register_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3"


def kubectl(kubeconfig, *args):
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def deployment(sandbox, tmp_path):
    """(server, kubeconfig, restart): a web server process and a sync worker process on a synced sandbox."""
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    sandbox.store.create(machine("m1", phase="Provisioning"))
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    register_cluster("sandbox", kubeconfig_path=str(kubeconfig))
    factories.viewer()
    port = free_port()
    env = {"REDIS_URL": REDIS_URL, "DEBUG": "1"}
    processes = {"worker": manage("sync", "--tick-seconds", "0.5", **env)}

    def start_web():
        processes["web"] = manage("runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks", **env)
        wait_for_port(port, process=processes["web"])

    try:
        start_web()
        wait_for(lambda: Machine.objects.filter(name="m1").exists(), timeout=30, message="the first sync")
        yield SimpleNamespace(
            url=f"http://127.0.0.1:{port}", kubeconfig=kubeconfig, processes=processes, start_web=start_web
        )
    finally:
        for process in processes.values():
            stop(process)


def live(page):
    expect(page.locator("#live-status")).to_have_attribute("data-state", "up", timeout=10_000)
    page.evaluate("window.__notReloaded = true")


def test_lists_and_detail_pages_follow_the_cluster_without_reloading(deployment, browser, screenshot):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    list_page = context.new_page()
    log_in(list_page, deployment, "viewer")
    list_page.goto(f"{deployment.url}/machines/")
    live(list_page)
    m1 = Machine.objects.get(name="m1")
    detail_page = context.new_page()
    detail_page.goto(f"{deployment.url}/machines/{m1.pk}/")
    live(detail_page)

    # A status change made with kubectl reaches both pages.
    kubectl(
        deployment.kubeconfig,
        "patch",
        "machine",
        "m1",
        "-n",
        "production",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": "Running"}}),
    )
    expect(list_page.locator(f"#machine-{m1.pk}")).to_contain_text("Running", timeout=2_000)
    expect(detail_page.locator("#object-head")).to_contain_text("Running", timeout=2_000)

    # A new machine appears in the list; a deleted one leaves it.
    manifest = deployment.kubeconfig.parent / "m2.json"
    manifest.write_text(json.dumps(machine("m2")))
    kubectl(deployment.kubeconfig, "apply", "-f", str(manifest))
    expect(list_page.locator("#results")).to_contain_text("m2", timeout=2_000)
    kubectl(deployment.kubeconfig, "delete", "machine", "m1", "-n", "production")
    expect(list_page.locator(f"#machine-{m1.pk}")).to_have_count(0, timeout=2_000)
    screenshot(list_page, "live-01-machine-list")

    assert list_page.evaluate("window.__notReloaded") is True
    assert detail_page.evaluate("window.__notReloaded") is True
    context.close()


def test_the_page_shows_when_live_updates_are_down_and_catches_up_on_reconnect(deployment, browser, screenshot):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, deployment, "viewer")
    page.goto(f"{deployment.url}/machines/")
    live(page)
    m1 = Machine.objects.get(name="m1")

    stop(deployment.processes["web"])
    expect(page.locator("#live-status")).to_have_attribute("data-state", "down", timeout=5_000)
    expect(page.locator("#live-status")).to_contain_text("disconnected")
    screenshot(page, "live-02-disconnected")
    # What changes while the page cannot hear about it...
    kubectl(
        deployment.kubeconfig,
        "patch",
        "machine",
        "m1",
        "-n",
        "production",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": "Failed"}}),
    )
    wait_for(lambda: Machine.objects.get(pk=m1.pk).phase == "Failed", message="the worker syncing the change")

    deployment.start_web()
    # ...is on the page once it reconnects, without a reload.
    expect(page.locator("#live-status")).to_have_attribute("data-state", "up", timeout=15_000)
    expect(page.locator(f"#machine-{m1.pk}")).to_contain_text("Failed", timeout=2_000)
    assert page.evaluate("window.__notReloaded") is True
    context.close()
