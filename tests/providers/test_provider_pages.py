"""Provider lists filter by type, region and version; provider pages show pricing, node groups, failover."""

import pytest
from django.urls import reverse

from tests.factories import fleet, k8s_object, make_cluster, mirror, viewer

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(client):
    client.force_login(viewer())
    data = fleet()
    mirror(
        make_cluster("azure-west"),
        k8s_object("MachineProvider", "azure-east", spec={"type": "azure", "region": "eastus"}),
        k8s_object("KubernetesProvider", "aks-east", spec={"type": "aks", "version": "1.27", "region": "eastus"}),
    )
    return data


def names(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return sorted(obj.name for obj in response.context["objects"])


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["aws-ec2-provider", "azure-east"]),
        ("?provider_type=azure", ["azure-east"]),
        ("?region=us-west-2", ["aws-ec2-provider"]),
        ("?cluster=azure-west", ["azure-east"]),
        ("?label=vitistack.io/environment%3Dproduction", ["aws-ec2-provider"]),
        ("?ready=true", ["aws-ec2-provider"]),
        ("?q=eastus", ["azure-east"]),
    ],
)
def test_machine_provider_filters(client, data, query, expected):
    assert names(client, reverse("machineprovider_list") + query) == expected


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?provider_type=eks", ["aws-eks-provider"]),
        ("?version=1.27", ["aks-east"]),
        ("?region=eastus", ["aks-east"]),
    ],
)
def test_kubernetes_provider_filters(client, data, query, expected):
    assert names(client, reverse("kubernetesprovider_list") + query) == expected


def test_the_kubernetes_provider_list_counts_node_groups_in_the_page_query(client, data):
    html = client.get(reverse("kubernetesprovider_list") + "?provider_type=eks").content.decode()
    assert '2 <span class="muted">(5 nodes)</span>' in html


def test_a_machine_provider_page_lists_instance_types_with_pricing_and_images(client, data):
    html = client.get(data.provider.get_absolute_url()).content.decode()
    assert "Instance types" in html and "m5.xlarge" in html and "$0.096/h" in html and "$0.038/h" in html
    assert "Machine images" in html and "ami-0c55b159cbfafe1d0" in html
    assert "Security group k8s-nodes" in html


def test_failover_targets_resolve_across_the_fleet(client, data):
    html = client.get(data.provider.get_absolute_url()).content.decode()
    assert "Failover" in html and "ProviderHealthy" in html
    target = data.east.__class__.objects.get(name="azure-west").machineproviders.get()
    related = html.split('id="related"')[1]
    assert "failover-target" in related and target.get_absolute_url() in related and "in azure-west" in related


def test_a_failover_target_that_exists_nowhere_is_flagged_dangling(client):
    client.force_login(viewer(username="v2"))
    data = fleet()
    html = client.get(data.provider.get_absolute_url()).content.decode().split('id="related"')[1]
    assert "Dangling" in html and "production/azure-east" in html


def test_a_provider_shows_what_refers_to_it(client, data):
    html = client.get(data.provider.get_absolute_url()).content.decode()
    assert "Referred to by" in html
    assert data.stack.get_absolute_url() in html and data.running.get_absolute_url() in html
    assert reverse("machine_list") + "?cluster=prod-east&amp;provider=aws-ec2-provider" in html


def test_a_kubernetes_provider_page_lists_node_groups_with_their_cost_and_add_ons(client, data):
    html = client.get(data.kubernetes.get_absolute_url()).content.decode()
    assert "Node groups" in html and "system-nodes" in html and "SPOT" in html
    assert "$0.19/h" in html  # 2 x m5.large on demand
    assert "$0.23/h" in html  # 3 x m5.xlarge spot
    assert "Add-ons" in html and "cert-manager" in html


def test_the_secret_a_provider_names_is_checked_for_existence_only(client, data):
    html = client.get(data.provider.get_absolute_url()).content.decode()
    assert "Secret production/aws-credentials" in html and "exists" in html
