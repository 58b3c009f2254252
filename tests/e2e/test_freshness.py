"""A partial fleet looks partial, in a real browser, across processes.

Two sandbox clusters are synced by a sync worker process; the dashboard runs
as its own web server process. One sandbox stops: within the lease time the
overview says 1 of 2 clusters are current and that cluster's objects show
their age on the list and detail pages; when it comes back, all of it clears
without a reload.
"""

import os
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from machines.models import Machine
from tests import factories
from tests.e2e.conftest import log_in
from tests.processes import free_port, manage, stop, wait_for_port
from tests.sync.conftest import machine, wait_for
from vitiweb.kube.backoff import BackoffPolicy
from vitiweb.models import Cluster
from vitiweb.sync.clusters import register_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3"
#: The sync worker's lease (its default): the longest a stale cluster may still count as current.
LEASE_MS = 20_000
#: How soon a cluster that comes back is current again: its reflectors (and discovery) retry a cluster that went
#: away after a backoff that grows with the outage, up to the policy's cap (as client-go's, 30 s), then list it.
#: The outage here lasts as long as the checks and screenshots above take, so the wait is the cap, not the lease.
RECOVERY_MS = int(BackoffPolicy().cap * 1000) + 5_000


@pytest.fixture
def two_clusters(sandbox_factory, tmp_path):
    sandboxes = {}
    for name in ("oslo", "bergen"):
        sandbox = sandbox_factory(name=name)
        sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
        sandbox.store.create(machine(f"{name}-m1", phase="Running"))
        register_cluster(name, kubeconfig_path=str(sandbox.write_kubeconfig(tmp_path / f"{name}.kubeconfig")))
        sandboxes[name] = sandbox
    factories.viewer()
    port = free_port()
    env = {"REDIS_URL": REDIS_URL, "DEBUG": "1"}
    processes = {
        "worker": manage("sync", "--tick-seconds", "0.5", **env),
        "web": manage("runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks", **env),
    }
    try:
        wait_for_port(port)
        wait_for(
            lambda: Cluster.objects.filter(state=Cluster.State.CONNECTED).count() == 2 and Machine.objects.count() == 2,
            timeout=30,
            message="both clusters synced",
        )
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", sandboxes=sandboxes)
    finally:
        for process in processes.values():
            stop(process)


def live(page):
    expect(page.locator("#live-status")).to_have_attribute("data-state", "up", timeout=10_000)
    page.evaluate("window.__notReloaded = true")


def test_a_stopped_cluster_shows_as_not_current_everywhere_and_clears_when_it_returns(
    two_clusters, browser, screenshot
):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    overview = context.new_page()
    log_in(overview, two_clusters, "viewer")
    live(overview)
    freshness = overview.locator("#fleet-freshness")
    expect(freshness).to_contain_text("2 of 2 clusters current")

    old = Machine.objects.get(name="bergen-m1")
    fresh = Machine.objects.get(name="oslo-m1")
    listing = context.new_page()
    listing.goto(f"{two_clusters.url}/machines/")
    live(listing)
    detail = context.new_page()
    detail.goto(f"{two_clusters.url}/machines/{old.pk}/")
    live(detail)
    expect(listing.locator(".badge.stale")).to_have_count(0)

    two_clusters.sandboxes["bergen"].stop()

    expect(freshness).to_contain_text("1 of 2 clusters current", timeout=LEASE_MS)
    expect(freshness).to_contain_text("bergen unreachable for")
    expect(overview.locator("#kind-machine")).to_contain_text("incl. 1 not current", timeout=LEASE_MS)
    expect(listing.locator(f"#machine-{old.pk} .badge.stale")).to_contain_text("last seen", timeout=LEASE_MS)
    expect(listing.locator(f"#machine-{fresh.pk} .badge.stale")).to_have_count(0)
    expect(detail.locator("#object-head .badge.stale")).to_contain_text("last seen", timeout=LEASE_MS)
    screenshot(overview, "freshness-01-overview-partial")
    screenshot(listing, "freshness-02-list-partial")
    screenshot(detail, "freshness-03-detail-partial")
    cluster_page = context.new_page()
    cluster_page.goto(f"{two_clusters.url}/clusters/{old.cluster_id}/")
    expect(cluster_page.locator("#cluster-page .badge.stale")).to_contain_text("last seen")
    screenshot(cluster_page, "freshness-03b-cluster-partial")
    cluster_page.close()

    two_clusters.sandboxes["bergen"].start()

    expect(freshness).to_contain_text("2 of 2 clusters current", timeout=RECOVERY_MS)
    expect(overview.locator("#kind-machine")).not_to_contain_text("not current", timeout=LEASE_MS)
    expect(listing.locator(".badge.stale")).to_have_count(0, timeout=LEASE_MS)
    expect(detail.locator("#object-head .badge.stale")).to_have_count(0, timeout=LEASE_MS)
    screenshot(overview, "freshness-04-overview-whole")
    for page in (overview, listing, detail):
        assert page.evaluate("window.__notReloaded") is True
    context.close()
