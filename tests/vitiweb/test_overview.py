"""The fleet overview: clusters and their sync state, counts, charts, what needs attention."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.factories import fleet, k8s_object, mirror, status, viewer

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(client):
    data = fleet()
    client.force_login(viewer())
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return data, response


def figure(response, element_id):
    html = response.content.decode()
    start = html.index(f'<script id="{element_id}" type="application/json">') + len(
        f'<script id="{element_id}" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_each_cluster_is_shown_with_its_sync_state_and_last_error(page):
    data, response = page
    html = response.content.decode()
    assert f'id="cluster-{data.east.pk}"' in html and f'id="cluster-{data.west.pk}"' in html
    assert "Connected" in html and "Unreachable" in html and "connection refused" in html


def test_counts_per_kind_phase_and_readiness(page):
    _, response = page
    machines = next(s for s in response.context["summaries"] if s.kind == "Machine")
    assert (machines.total, machines.ready, machines.not_ready, machines.unknown) == (3, 1, 1, 1)
    assert machines.phases == {"Running": 1, "Failed": 1, "Pending": 1}
    assert 'id="kind-machine"' in response.content.decode()


def test_machines_by_phase_per_cluster_chart(page):
    _, response = page
    data = figure(response, "fig-machines-by-phase")["data"]
    assert {trace["name"]: trace["y"] for trace in data} == {"Failed": [1], "Pending": [1], "Running": [1]}
    # The fixture's clusters have no sync worker holding them: their bars are their last known state.
    assert data[0]["x"] == ["prod-east (not current)"]


def test_providers_by_type_chart(page):
    _, response = page
    data = figure(response, "fig-providers-by-type")["data"]
    assert data[0]["x"] == ["aws"] and data[1]["x"] == ["eks"]


def test_quota_use_counts_machines_on_the_stacks_providers(page):
    _, response = page
    data = figure(response, "fig-quota")["data"]
    # All three machines use aws-ec2-provider, which aws-production lists: 3 used of 2 allowed.
    assert data[0]["x"] == [3] and data[1]["x"] == [2]
    assert data[0]["y"] == ["prod-east/aws-production"]
    assert 'class="quota over"' in response.content.decode()


def test_estimated_cost_from_instance_type_pricing(page):
    _, response = page
    usage = next(u.bucket for u in response.context["usages"] if u.bucket.stack.name == "aws-production")
    # Machines: m5.large 0.096 + m5.xlarge 0.192 (t3.micro is not declared, so unpriced).
    assert usage.machine_cost == pytest.approx(0.288)
    # Node groups at desired size: 2 x m5.large on demand + 3 x m5.xlarge spot.
    assert usage.nodegroup_cost == pytest.approx(2 * 0.096 + 3 * 0.076)
    assert figure(response, "fig-cost")["data"][0]["x"] == [0.288]


def test_failed_and_not_ready_objects_and_dangling_references_need_attention(page):
    data, response = page
    html = response.content.decode()
    attention = response.context["attention"]
    assert data.failed in attention and data.running not in attention
    assert "disk quota exceeded" in html
    # bastion-host asks for t3.micro, which the provider does not declare.
    assert response.context["broken_count"] >= 1
    assert "t3.micro" in html


def test_the_overview_costs_the_same_number_of_queries_with_more_machines(client, pinned_findings):
    fleet()
    client.force_login(viewer())
    client.get(reverse("home"))  # warm-up: per-process caches
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("home"))
    cluster = __import__("vitiweb.models", fromlist=["Cluster"]).Cluster.objects.get(name="prod-east")
    mirror(
        cluster,
        *[
            k8s_object(
                "Machine",
                f"extra-{i}",
                spec={"machineProvider": {"name": "aws-ec2-provider"}, "instanceType": "m5.large"},
                status=status("Failed" if i % 2 else "Running", i % 2 == 0),
            )
            for i in range(40)
        ],
    )
    pinned_findings()
    client.get(reverse("home"))  # the changed fleet's findings are computed once, then cached
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("home"))
    assert len(many) == len(few)


def test_charts_are_drawn_by_a_static_script_with_plotly_served_locally(page):
    _, response = page
    html = response.content.decode()
    assert "/static/vitiweb/charts.js" in html
    assert "/assets/plotly-" in html and "cdn" not in html.lower()


# -- derived off the request path -------------------------------------------------------------------------


def machine_summary(response):
    return next(s for s in response.context["summaries"] if s.kind == "Machine")


def test_the_page_shows_the_stored_figures_and_says_when_they_were_derived(client):
    from datetime import timedelta

    from django.utils import timezone

    from vitiweb.derive import derive
    from vitiweb.models import OverviewRun
    from vitiweb.sync.mirror import apply_events

    data = fleet()
    client.force_login(viewer())
    run = OverviewRun.objects.first()
    response = client.get(reverse("home"))
    assert f'<time datetime="{timezone.localtime(run.computed_at).isoformat()}' in response.content.decode()
    assert machine_summary(response).phases["Failed"] == 1

    # The sync writes; until the deriving process has run, the page shows what it derived before.
    raw = k8s_object(
        "Machine",
        "worker-production-001",
        spec=data.running.spec,
        status=status("Failed", False, "gone"),
        rv="2",
        uid=data.running.uid,
    )
    apply_events(data.east, "Machine", [("MODIFIED", raw)])
    assert machine_summary(client.get(reverse("home"))).phases["Failed"] == 1
    assert derive() is True
    later = client.get(reverse("home"))
    assert machine_summary(later).phases["Failed"] == 2
    assert OverviewRun.objects.first().computed_at >= run.computed_at
    assert timezone.now() - OverviewRun.objects.first().computed_at < timedelta(minutes=1)


def test_before_the_first_derivation_the_page_says_the_figures_are_coming(client):
    from vitiweb.models import OverviewRun

    fleet()
    OverviewRun.objects.all().delete()
    client.force_login(viewer())
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.context["summaries"] == [] and "are being derived" in response.content.decode()
    assert 'id="cluster-' in response.content.decode()  # the clusters are read, not derived


def test_which_clusters_are_current_is_read_when_the_page_is_not_when_the_figures_were_derived(client):
    from datetime import timedelta

    from django.utils import timezone

    from vitiweb.models import Cluster, OverviewRun

    data = fleet()
    client.force_login(viewer())
    response = client.get(reverse("home"))
    assert machine_summary(response).stale == 3
    assert figure(response, "fig-machines-by-phase")["data"][0]["x"] == ["prod-east (not current)"]
    derived = OverviewRun.objects.first().id

    # A worker takes prod-east's lease: nothing is derived again, and the page knows at once.
    Cluster.objects.filter(pk=data.east.pk).update(lease_expires_at=timezone.now() + timedelta(minutes=1))
    response = client.get(reverse("home"))
    assert OverviewRun.objects.first().id == derived
    assert machine_summary(response).stale == 0 and "incl. 3 not current" not in response.content.decode()
    assert figure(response, "fig-machines-by-phase")["data"][0]["x"] == ["prod-east"]
    assert all(not row.stale_names for row in response.context["usages"])


@pytest.mark.django_db(transaction=True)
def test_a_derivation_reads_one_state_of_the_fleet(monkeypatch):
    """Syncs commit while it runs: the overview and the findings are computed in one transaction, on PostgreSQL
    a REPEATABLE READ one, so no figure is read from a later state than another."""
    from django.db import connection

    from vitiweb import overview
    from vitiweb.derive import derive

    seen = {}
    store_overview = overview.store_overview

    def observed(current):
        seen["in_transaction"] = connection.in_atomic_block
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW transaction_isolation")
                seen["isolation"] = cursor.fetchone()[0]
        return store_overview(current)

    monkeypatch.setattr(overview, "store_overview", observed)
    factories.make_cluster("east")

    assert derive() is True
    assert seen["in_transaction"]
    if connection.vendor == "postgresql":
        assert seen["isolation"] == "repeatable read"
