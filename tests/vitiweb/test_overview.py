"""The fleet overview: clusters and their sync state, counts, charts, what needs attention."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

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
