"""The read-only REST API: the same objects and filters as the pages, the same permissions, no credentials."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster():
    cluster = factories.make_cluster("prod", server="https://10.0.0.1:6443")
    cluster.set_credentials('{"users": {"u": {"token": "s3cr3t-api-token"}}}')
    cluster.save()
    factories.mirror(
        cluster,
        factories.k8s_object(
            "Machine",
            "ok",
            spec={"machineProvider": {"name": "ec2"}},
            status=factories.status("Running"),
            labels={"vitistack.io/environment": "production"},
        ),
        factories.k8s_object(
            "Machine",
            "broken",
            spec={"machineProvider": {"name": "ec2"}},
            status=factories.status("Failed"),
            labels={"vitistack.io/environment": "staging"},
        ),
    )
    return cluster


def client_for(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def names(response):
    return sorted(item["name"] for item in response.json()["results"])


def test_anonymous_clients_and_users_without_the_view_permission_are_refused(cluster):
    assert client_for().get("/api/v1/machines/").status_code == 403
    nobody = get_user_model().objects.create_user("nobody", password="x-pw-12345")
    assert client_for(nobody).get("/api/v1/machines/").status_code == 403


def test_lists_filter_as_the_pages_do(cluster):
    api = client_for(factories.viewer())
    assert names(api.get("/api/v1/machines/")) == ["broken", "ok"]
    assert names(api.get("/api/v1/machines/", {"phase": "Failed"})) == ["broken"]
    assert names(api.get("/api/v1/machines/", {"label": "vitistack.io/environment=production"})) == ["ok"]


def test_an_object_carries_its_manifest_as_the_cluster_holds_it(cluster):
    api = client_for(factories.viewer())
    item = api.get("/api/v1/machines/", {"phase": "Running"}).json()["results"][0]
    detail = api.get(f"/api/v1/machines/{item['id']}/").json()
    assert detail["cluster"] == "prod"
    assert detail["manifest"]["metadata"]["labels"] == {"vitistack.io/environment": "production"}
    assert detail["manifest"]["status"]["phase"] == "Running"


def test_clusters_never_expose_credentials(cluster):
    response = client_for(factories.admin()).get("/api/v1/clusters/")
    assert response.status_code == 200
    assert "s3cr3t-api-token" not in response.content.decode()
    assert set(response.json()["results"][0]) >= {"name", "state", "server"}
    assert "credentials_encrypted" not in response.json()["results"][0]


def test_the_reference_graph_can_be_queried_for_what_dangles(cluster):
    api = client_for(factories.viewer())
    rows = api.get("/api/v1/references/", {"state": "dangling", "relation": "machine-provider"}).json()["results"]
    assert {row["target_name"] for row in rows} == {"ec2"}


def test_the_openapi_schema_describes_every_endpoint(cluster):
    response = client_for(factories.viewer()).get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in (
        "/api/v1/vitistacks/",
        "/api/v1/machineproviders/",
        "/api/v1/kubernetesproviders/",
        "/api/v1/machines/",
        "/api/v1/clusters/",
        "/api/v1/references/",
    ):
        assert path in text
