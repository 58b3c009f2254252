"""The machine list filters, sorts and pages in the database; a machine's page shows where it runs."""

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import fleet, k8s_object, make_cluster, mirror, status, viewer

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "results"}


@pytest.fixture
def data(client):
    client.force_login(viewer())
    return fleet()


def names(response):
    return sorted(obj.name for obj in response.context["objects"])


def listing(client, query=""):
    response = client.get(reverse("machine_list") + query)
    assert response.status_code == 200
    return response


def test_the_list_shows_the_columns_an_operator_reads(client, data):
    html = listing(client).content.decode()
    for heading in ("Name", "Cluster / namespace", "Provider", "Instance type", "Image", "Phase", "Age"):
        assert heading in html
    assert f'id="machine-{data.running.pk}"' in html and "m5.large" in html and "ubuntu-20.04" in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?cluster=prod-east", ["bastion-host", "worker-production-001", "worker-production-002"]),
        ("?namespace=tools", ["bastion-host"]),
        ("?phase=Failed", ["worker-production-002"]),
        ("?ready=true", ["worker-production-001"]),
        ("?ready=false", ["worker-production-002"]),
        ("?ready=unknown", ["bastion-host"]),
        ("?instance_type=m5.xlarge", ["worker-production-002"]),
        ("?provider=aws-ec2-provider&namespace=production", ["worker-production-001", "worker-production-002"]),
        ("?provider_type=aws", ["bastion-host", "worker-production-001", "worker-production-002"]),
        ("?region=us-west-2", ["bastion-host", "worker-production-001", "worker-production-002"]),
        ("?region=eu-north-1", []),
        ("?q=001", ["worker-production-001"]),
        ("?q=staging", ["worker-production-002"]),
    ],
)
def test_filters(client, data, query, expected):
    assert names(listing(client, query)) == expected


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("vitistack.io/environment=production", ["worker-production-001"]),
        ("vitistack.io/environment==production", ["worker-production-001"]),
        ("vitistack.io/environment!=production", ["bastion-host", "worker-production-002"]),
        ("vitistack.io/environment in (production, staging)", ["worker-production-001", "worker-production-002"]),
        ("vitistack.io/environment notin (production)", ["bastion-host", "worker-production-002"]),
        ("role", ["worker-production-001"]),
        ("!role", ["bastion-host", "worker-production-002"]),
        ("vitistack.io/environment=production,role=worker", ["worker-production-001"]),
    ],
)
def test_label_selector(client, data, selector, expected):
    assert names(listing(client, "?" + __import__("urllib.parse").parse.urlencode({"label": selector}))) == expected


def test_a_malformed_label_selector_is_reported_not_applied(client, data):
    response = listing(client, "?label=a%3D%3D%3Db")
    assert "not a label selector requirement" in response.content.decode()


def test_sorting_by_a_column_both_ways(client, data):
    ascending = [o.name for o in listing(client, "?sort=instance_type").context["objects"]]
    descending = [o.name for o in listing(client, "?sort=-instance_type").context["objects"]]
    assert ascending == ["worker-production-001", "worker-production-002", "bastion-host"]
    assert descending == list(reversed(ascending))
    assert 'aria-sort="descending"' in listing(client, "?sort=-instance_type").content.decode()


def test_an_unknown_sort_falls_back_to_the_name(client, data):
    assert [o.name for o in listing(client, "?sort=uid").context["objects"]][0] == "bastion-host"


def test_pagination_keeps_the_filters(client, data):
    response = listing(client, "?cluster=prod-east&per_page=25&sort=name")
    assert response.context["page"].paginator.count == 3
    cluster = make_cluster("bulk")
    mirror(cluster, *[k8s_object("Machine", f"m-{i:03}") for i in range(60)])
    response = listing(client, "?cluster=bulk&per_page=25&page=2")
    assert len(response.context["objects"]) == 25 and names(response)[0] == "m-025"
    html = response.content.decode()
    assert "Page 2 of 3" in html and "cluster=bulk" in html.split('rel="next"')[0].rsplit("href=", 1)[1]


def test_an_htmx_request_gets_the_table_fragment_and_a_plain_request_the_page(client, data):
    fragment = client.get(reverse("machine_list") + "?phase=Failed", headers=HTMX).content.decode()
    assert "<html" not in fragment and 'id="filters"' not in fragment
    assert "worker-production-002" in fragment and "worker-production-001" not in fragment
    page = client.get(reverse("machine_list") + "?phase=Failed").content.decode()
    assert "<html" in page and 'hx-push-url="true"' in page and 'id="results"' in page


def test_a_history_restore_gets_the_whole_page(client, data):
    response = client.get(reverse("machine_list"), headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.content.decode()


def test_the_list_query_count_does_not_grow_with_the_rows(client, data):
    def count(query):
        with CaptureQueriesContext(connection) as queries:
            listing(client, query)
        return len(queries)

    count("?label=role&q=worker")
    few = count("?label=role&q=worker")
    cluster = make_cluster("bulk")
    mirror(
        cluster,
        *[
            k8s_object(
                "Machine",
                f"worker-{i}",
                labels={"role": "x"},
                spec={"machineProvider": {"name": "p"}, "instanceType": "m5.large"},
            )
            for i in range(80)
        ],
    )
    count("?label=role&q=worker")  # the first read of the newly derived findings loads them, once per process
    assert count("?label=role&q=worker") == few


def test_the_detail_page_shows_placement_with_pricing_and_status_conditions(client, data):
    html = client.get(data.failed.get_absolute_url()).content.decode()
    assert "Placement" in html and "m5.xlarge" in html and "$0.192/h" in html and "$0.076/h" in html
    assert "ami-0c55b159cbfafe1d0" in html
    assert "disk quota exceeded" in html and "Conditions" in html


def test_related_objects_link_the_provider_and_flag_dangling_entries(client, data):
    html = client.get(data.pending.get_absolute_url()).content.decode()
    assert data.provider.get_absolute_url() in html
    assert "Dangling" in html and "t3.micro is not declared" in html


def test_yaml_tab_shows_the_manifest_and_offers_copy_and_download(client, data):
    response = client.get(reverse("machine_yaml", args=[data.running.pk]))
    html = response.content.decode()
    assert 'id="manifest-yaml"' in html and 'data-copy="#manifest-yaml"' in html
    assert reverse("machine_manifest", args=[data.running.pk]) in html
    download = client.get(reverse("machine_manifest", args=[data.running.pk]))
    assert download["Content-Disposition"].startswith("attachment;")
    manifest = yaml.safe_load(download.content)
    assert manifest == data.running.as_manifest()


def test_a_tab_requested_through_htmx_returns_only_the_panel(client, data):
    fragment = client.get(
        reverse("machine_yaml", args=[data.running.pk]), headers={"HX-Request": "true", "HX-Target": "tab-panel"}
    ).content.decode()
    assert "<html" not in fragment and 'data-active-tab="yaml"' in fragment


def test_history_shows_each_change_as_a_diff(client, data):
    mirror(
        data.east,
        k8s_object(
            "Machine",
            "worker-production-001",
            uid=data.running.uid,
            rv="2",
            spec={
                "machineProvider": {"name": "aws-ec2-provider"},
                "instanceType": "m5.xlarge",
                "machineImage": "ubuntu-20.04",
            },
            status=status("Running", True),
            labels={"vitistack.io/environment": "production", "role": "worker"},
        ),
    )
    html = client.get(reverse("machine_history", args=[data.running.pk])).content.decode()
    assert "Updated" in html and "Created" in html
    assert (
        "spec.instanceType" in html
        and "<del>&quot;m5.large&quot;</del>" in html
        and "<ins>&quot;m5.xlarge&quot;</ins>" in html
    )


def test_detail_query_count_does_not_grow_with_the_machines_on_the_provider(client, data, pinned_findings):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(data.provider.get_absolute_url()).status_code == 200
        return len(queries)

    count()  # warm-up: the first request also fills per-process caches (content types)
    few = count()
    mirror(
        data.east,
        *[
            k8s_object(
                "Machine",
                f"more-{i}",
                spec={"machineProvider": {"name": "aws-ec2-provider"}, "instanceType": "m5.large"},
            )
            for i in range(60)
        ],
    )
    pinned_findings()
    count()  # the changed fleet's findings are computed once, then cached
    # At most one query per kind at the other end: fewer when the first rows shown are all machines.
    assert count() <= few


def test_past_its_bound_the_count_says_more_than_and_every_page_stays_reachable(client, data, monkeypatch):
    from vitiweb.ui import ObjectListView

    monkeypatch.setattr(ObjectListView, "count_bound", 30)
    cluster = make_cluster("bulk")
    mirror(cluster, *[k8s_object("Machine", f"m-{i:03}") for i in range(80)])
    first = listing(client, "?cluster=bulk&per_page=25")
    # Counted as far as the page after the one asked for (50 rows), not all 80.
    assert first.context["page"].paginator.count == 50 and first.context["page"].paginator.more
    html = first.content.decode()
    assert "more than <strong>50</strong>" in html and "Page 1 of more than 2" in html
    last = listing(client, "?cluster=bulk&per_page=25&page=4")
    assert names(last) == [f"m-{i:03}" for i in range(75, 80)]
    assert not last.context["page"].paginator.more and "Page 4 of 4" in last.content.decode()
