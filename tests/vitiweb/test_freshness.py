"""A partial fleet looks partial: what a cluster that is not current shows, on every page and in the API."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from machines.models import Machine
from tests.factories import k8s_object, make_cluster, mirror, status, viewer
from tests.sync.test_leases import FakeSync
from vitiweb.freshness import fleet_freshness, is_current, last_seen
from vitiweb.models import Cluster
from vitiweb.sync.worker import Worker

pytestmark = pytest.mark.django_db


def text_of(html: str) -> str:
    """The page's text, without its markup (its numbers are links)."""
    return re.sub(r"<[^>]+>", "", html)


def lease(minutes=5):
    return timezone.now() + timedelta(minutes=minutes)


@pytest.fixture
def half_fleet():
    """oslo is current; bergen stopped answering 14 minutes ago."""
    oslo = make_cluster("oslo", state=Cluster.State.CONNECTED, lease_expires_at=lease(), last_sync_at=timezone.now())
    bergen = make_cluster(
        "bergen",
        state=Cluster.State.UNREACHABLE,
        lease_expires_at=lease(),
        last_sync_at=timezone.now() - timedelta(minutes=14, seconds=5),
        last_error="connection refused",
    )
    spec = {"machineProvider": {"name": "p"}, "instanceType": "m5.large"}
    mirror(oslo, k8s_object("Machine", "fresh", spec=spec, status=status("Running", True)))
    mirror(bergen, k8s_object("Machine", "old", spec=spec, status=status("Running", True)))
    return oslo, bergen


def test_current_means_connected_and_leased_by_a_live_worker():
    now = timezone.now()
    assert is_current(Cluster(state=Cluster.State.CONNECTED, lease_expires_at=now + timedelta(seconds=5)), now)
    # Its worker died: nobody renews the lease, so nobody watches it any more.
    assert not is_current(Cluster(state=Cluster.State.CONNECTED, lease_expires_at=now - timedelta(seconds=1)), now)
    assert not is_current(Cluster(state=Cluster.State.CONNECTED, lease_expires_at=None), now)
    for state in (Cluster.State.UNREACHABLE, Cluster.State.DEGRADED, Cluster.State.UNKNOWN):
        assert not is_current(Cluster(state=state, lease_expires_at=now + timedelta(seconds=5)), now)
    # A manifest directory is what was imported: nothing newer exists to miss.
    assert is_current(Cluster(source=Cluster.Source.MANIFESTS), now)
    seen = now - timedelta(minutes=3)
    assert last_seen(Cluster(state=Cluster.State.UNREACHABLE, last_sync_at=seen), now) == seen
    assert last_seen(Cluster(state=Cluster.State.CONNECTED, lease_expires_at=now, last_sync_at=seen), now) is None


def test_fleet_freshness_lists_the_clusters_not_current_longest_first(half_fleet):
    freshness = fleet_freshness(list(Cluster.objects.all()))
    assert (freshness.current, freshness.total) == (1, 2)
    assert [c.name for c in freshness.stale] == ["bergen"]


def test_the_overview_says_how_many_clusters_are_current_and_marks_totals_with_stale_data(client, half_fleet):
    client.force_login(viewer())
    html = client.get(reverse("home")).content.decode()
    assert "1 of 2 clusters current;" in text_of(html)
    assert "bergen unreachable for 14 min" in text_of(html)
    machines = f'<a href="{reverse("machine_list")}" data-count="2">2</a>'
    assert machines in html and "incl. 1 not current" in html
    # The marked count leads to exactly those objects.
    listing = client.get(reverse("machine_list") + "?current=no").content.decode()
    assert ">old<" in listing and ">fresh<" not in listing


def test_objects_of_a_cluster_not_current_carry_their_age_on_lists_and_detail_pages(client, half_fleet):
    client.force_login(viewer())
    listing = client.get(reverse("machine_list")).content.decode()
    old_row = listing[listing.index('href="' + Machine.objects.get(name="old").get_absolute_url()) :]
    assert "last seen" in old_row[: old_row.index("</tr>")] and "14 min" in old_row[: old_row.index("</tr>")]
    fresh_row = listing[listing.index('href="' + Machine.objects.get(name="fresh").get_absolute_url()) :]
    assert "last seen" not in fresh_row[: fresh_row.index("</tr>")]
    detail = client.get(Machine.objects.get(name="old").get_absolute_url()).content.decode()
    assert 'class="badge stale"' in detail and "last seen" in detail
    assert (
        'class="badge stale"' not in client.get(Machine.objects.get(name="fresh").get_absolute_url()).content.decode()
    )


def test_the_api_says_whether_each_object_is_current_and_when_it_was_last_seen(client, half_fleet):
    client.force_login(viewer())
    rows = {row["name"]: row for row in client.get("/api/v1/machines/").json()["results"]}
    assert rows["fresh"]["cluster_current"] is True and rows["fresh"]["last_seen"] is None
    assert rows["old"]["cluster_current"] is False and rows["old"]["last_seen"]
    clusters = {row["name"]: row for row in client.get("/api/v1/clusters/").json()["results"]}
    assert clusters["oslo"]["current"] is True and clusters["bergen"]["current"] is False


def test_findings_computed_while_a_cluster_is_stale_say_so(client, half_fleet, pinned_findings):
    pinned_findings()  # the findings of this fleet, stored as a deriving process would
    client.force_login(viewer())
    # bergen's machine names a provider that exists nowhere: a finding, on its own detail page too.
    detail = Machine.objects.get(name="old").get_absolute_url()
    for url in (reverse("home"), reverse("topology:findings"), detail):
        html = client.get(url).content.decode()
        assert "Computed while 1 of 2 clusters was not current" in text_of(html), url
        assert "bergen (last seen 14 min ago)" in text_of(html), url


def test_the_whole_fleet_current_shows_no_marks(client, half_fleet):
    _, bergen = half_fleet
    Cluster.objects.filter(pk=bergen.pk).update(state=Cluster.State.CONNECTED, last_sync_at=timezone.now())
    client.force_login(viewer())
    html = client.get(reverse("home")).content.decode()
    assert "2 of 2 clusters current" in text_of(html)
    assert "not current" not in html and "last seen" not in html


def test_a_sync_worker_stamps_last_sync_at_on_connected_clusters_it_runs(make_cluster):
    connected, failing = make_cluster("up"), make_cluster("down")
    Cluster.objects.filter(pk=connected.pk).update(state=Cluster.State.CONNECTED)
    Cluster.objects.filter(pk=failing.pk).update(state=Cluster.State.UNREACHABLE)
    worker = Worker("w", sync_factory=FakeSync)
    worker.tick()
    connected.refresh_from_db()
    failing.refresh_from_db()
    assert connected.last_sync_at is not None and is_current(connected)
    # Its watches fail: the last successful sync stays where it was, and is what "last seen" shows.
    assert failing.last_sync_at is None and not is_current(failing)
