"""Vitistack pages: networking, quotas, disaster recovery, edge and hierarchy as sections."""

import pytest
from django.urls import reverse

from tests.factories import fleet, k8s_object, mirror, viewer

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(client):
    client.force_login(viewer())
    return fleet()


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?region=us-east-1", ["dr-vitistack"]),
        ("?role=disaster-recovery", ["dr-vitistack"]),
        ("?cluster=prod-east", ["aws-production"]),
        ("?label=vitistack.io/team", ["aws-production"]),
        ("?q=main", []),
        ("?q=AWS US West", ["aws-production"]),
    ],
)
def test_filters(client, data, query, expected):
    response = client.get(reverse("vitistack_list") + query)
    assert sorted(obj.name for obj in response.context["objects"]) == expected


def test_networking_is_shown_as_vpcs_subnets_and_firewall_rules(client, data):
    html = client.get(data.stack.get_absolute_url()).content.decode()
    for text in (
        "Networking",
        "production-vpc",
        "public-subnet-1",
        "us-west-2a",
        "Firewall rules",
        "k8s-api-access",
        "0.0.0.0/0",
    ):
        assert text in html


def test_quotas_providers_and_disaster_recovery_sections(client, data):
    html = client.get(data.stack.get_absolute_url()).content.decode()
    assert "Resource quotas" in html and "Max machines" in html
    assert "Disaster recovery" in html and "production/dr-vitistack" in html and "async" in html


def test_a_replication_target_in_another_cluster_resolves_and_links_both_ways(client, data):
    html = client.get(data.stack.get_absolute_url()).content.decode()
    assert data.dr_stack.get_absolute_url() in html and "in prod-west" in html
    back = client.get(data.dr_stack.get_absolute_url()).content.decode()
    assert data.stack.get_absolute_url() in back  # primaryVitistack, and "referred to by" the replication target


def test_edge_and_hierarchy_sections(client, data):
    mirror(
        data.east,
        k8s_object(
            "Vitistack",
            "central",
            namespace="edge-system",
            spec={
                "region": "central",
                "edgeManagement": {
                    "enabled": True,
                    "edgeLocations": [{"name": "edge-west", "region": "us-west", "maxMachines": 10, "maxClusters": 2}],
                },
            },
        ),
        k8s_object(
            "Vitistack",
            "edge-west",
            namespace="edge-system",
            spec={
                "role": "edge",
                "managementVitistack": {"name": "central"},
                "edge": {"connectivity": {"type": "satellite", "bandwidth": "100Mbps"}},
            },
        ),
        k8s_object(
            "Vitistack",
            "global",
            spec={
                "childVitistacks": [{"name": "us", "namespace": "us-region"}],
                "globalPolicies": {"compliance": {"frameworks": ["SOC2", "GDPR"]}},
            },
        ),
    )
    central = data.east.vitistacks.get(name="central")
    html = client.get(central.get_absolute_url()).content.decode()
    assert "Edge management" in html and "edge-west" in html and "us-west" in html
    edge = client.get(data.east.vitistacks.get(name="edge-west").get_absolute_url()).content.decode()
    assert "satellite" in edge and "Management Vitistack" in edge and central.get_absolute_url() in edge
    hierarchy = client.get(data.east.vitistacks.get(name="global").get_absolute_url()).content.decode()
    assert "Hierarchy" in hierarchy and "us-region/us" in hierarchy and "SOC2" in hierarchy


def test_fields_the_page_does_not_know_are_still_shown(client, data):
    mirror(data.east, k8s_object("Vitistack", "future", spec={"quantumLinks": {"entangled": True}}))
    html = client.get(data.east.vitistacks.get(name="future").get_absolute_url()).content.decode()
    assert "Other settings" in html and "Quantum links" in html
