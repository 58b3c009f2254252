"""The editor pages: new and edit forms, preview with errors at fields, add/remove items, helpers."""

import re

import pytest

from tests.editing.conftest import example, form_post_data
from tests.factories import make_cluster, mirror

pytestmark = pytest.mark.django_db


def preview(client, plural, data):
    return client.post(f"/editing/{plural}/preview/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="preview")


@pytest.mark.parametrize("plural", ["vitistacks", "machineproviders", "kubernetesproviders", "machines"])
def test_every_kind_has_a_new_form(operator_client, plural):
    make_cluster("prod")
    response = operator_client.get(f"/{plural}/new/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="metadata.name"' in html and 'name="metadata.label.environment"' in html
    assert 'id="dry-run-button"' in html


def test_the_edit_form_is_pre_filled_from_the_object(operator_client):
    cluster = make_cluster("prod")
    obj = example("01-single-cloud/vitistack.yaml")
    obj["metadata"].update(uid="uid-1", resourceVersion="3")
    mirror(cluster, obj)
    from stacks.models import Vitistack

    stack = Vitistack.objects.get(name="aws-production")
    response = operator_client.get(f"/vitistacks/{stack.pk}/edit/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="production-vpc"' in html and 'value="10.0.2.0/24"' in html
    assert 'name="spec.networking.vpcs.0.subnets.2.__item" value="2"' in html
    assert "0 2 * * *" in html


def test_preview_renders_the_yaml_and_places_schema_errors_at_their_fields(operator_client):
    make_cluster("prod")
    obj = example("01-single-cloud/vitistack.yaml")
    data = form_post_data("Vitistack", obj)
    data["spec.resourceQuotas.maxMachines"] = "-3"
    data["spec.networking.vpcs.0.subnets.1.cidr"] = "10.9.0.0/24"
    data["spec.backup.schedule"] = "every night"
    data["spec.security.auditLogging.retention"] = "ninety days"
    response = operator_client.post(
        "/editing/vitistacks/preview/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="preview"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "maxMachines: -3" in html
    errors = dict(re.findall(r'<p data-for="([^"]+)">([^<]+)</p>', html))
    assert "spec.resourceQuotas.maxMachines" in errors
    assert "not inside the VPC" in errors["spec.networking.vpcs.0.subnets.1.cidr"]
    assert "cron" in errors["spec.backup.schedule"]
    assert errors["spec.security.auditLogging.retention"] == "must be a duration such as 30s, 10m, 1h or 90d"


def test_a_missing_required_field_is_reported_at_that_field(operator_client):
    data = form_post_data(
        "KubernetesProvider",
        {
            "apiVersion": "vitistack.io/v1alpha1",
            "kind": "KubernetesProvider",
            "metadata": {"name": "k"},
            "spec": {"region": "eu"},
        },
    )
    html = preview(operator_client, "kubernetesproviders", data).content.decode()
    assert '<p data-for="spec.type">required value</p>' in html


def test_adding_and_removing_list_items_re_renders_the_form(operator_client):
    make_cluster("prod")
    data = form_post_data("Vitistack", example("01-single-cloud/vitistack.yaml"))
    data["_add"] = "spec.networking.vpcs.0.subnets"
    html = operator_client.post(
        "/vitistacks/new/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="form-sections"
    ).content.decode()
    assert 'name="spec.networking.vpcs.0.subnets.3.__item" value="new"' in html
    assert "<html" not in html  # the fragment only
    data = form_post_data("Vitistack", example("01-single-cloud/vitistack.yaml"))
    data["_remove"] = "spec.networking.vpcs.0.subnets.0"
    html = operator_client.post("/vitistacks/new/", data).content.decode()
    assert "public-subnet-1" not in html and "private-subnet-1" in html


def test_errors_after_a_removed_item_point_at_the_right_field(operator_client):
    data = form_post_data("Vitistack", example("01-single-cloud/vitistack.yaml"))
    for key in [k for k in data if k.startswith("spec.networking.vpcs.0.subnets.0.")]:
        del data[key]
    data["spec.networking.vpcs.0.subnets.2.cidr"] = "not-a-cidr"
    html = preview(operator_client, "vitistacks", data).content.decode()
    assert '<p data-for="spec.networking.vpcs.0.subnets.2.cidr">' in html  # not subnets.1


def test_naming_convention_is_suggested(operator_client):
    data = form_post_data("Vitistack", example("01-single-cloud/vitistack.yaml"))
    data["metadata.label.environment"] = "production"
    html = preview(operator_client, "vitistacks", data).content.decode()
    assert "production-us-west-2-vitistack" in html and "{environment}-{region}-vitistack" in html
    data = form_post_data("MachineProvider", example("01-single-cloud/machine-provider.yaml"))
    html = preview(operator_client, "machineproviders", data).content.decode()
    assert "aws-us-west-2-provider" in html


def test_instance_types_and_subnets_are_offered_from_the_chosen_provider(operator_client):
    cluster = make_cluster("prod")
    provider = example("01-single-cloud/machine-provider.yaml")
    provider["metadata"]["uid"] = "uid-mp"
    mirror(cluster, provider)
    data = form_post_data("Machine", example("01-single-cloud/machine.yaml"), cluster=cluster)
    html = preview(operator_client, "machines", data).content.decode()
    instance_types = re.search(r'<datalist id="dl-spec.instanceType">(.*?)</datalist>', html).group(1)
    assert 'value="m5.large"' in instance_types and 'value="m5.xlarge"' in instance_types
    assert 'value="subnet-87654321"' in re.search(
        r'<datalist id="dl-spec.networking.subnet">(.*?)</datalist>', html
    ).group(1)
    assert 'value="ubuntu-20.04"' in html
    kp = form_post_data("KubernetesProvider", example("01-single-cloud/kubernetes-provider.yaml"), cluster=cluster)
    html = preview(operator_client, "kubernetesproviders", kp).content.decode()
    assert 'value="m5.xlarge"' in re.search(
        r'<datalist id="dl-spec.eks.nodeGroups.1.instanceType">(.*?)</datalist>', html
    ).group(1)
    assert 'value="1.30"' in re.search(r'<datalist id="dl-spec.version">(.*?)</datalist>', html).group(1)


def test_enums_come_from_the_crd(operator_client):
    html = operator_client.get("/kubernetesproviders/new/").content.decode()
    select = re.search(r'<select id="f-spec.type".*?</select>', html, re.S).group(0)
    assert [o for o in re.findall(r'<option value="([^"]*)"', select) if o] == [
        "eks",
        "aks",
        "gke",
        "rke2",
        "k3s",
        "talos",
        "kubeadm",
        "openshift",
    ]


def test_object_data_is_escaped(operator_client):
    evil = "<script>alert(1)</script>"
    data = form_post_data(
        "Vitistack",
        {
            "apiVersion": "vitistack.io/v1alpha1",
            "kind": "Vitistack",
            "metadata": {"name": "x"},
            "spec": {"region": evil, "description": evil},
        },
    )
    html = preview(operator_client, "vitistacks", data).content.decode()
    assert evil not in html and "&lt;script&gt;" in html


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    assert client.get("/vitistacks/new/").status_code == 302
    assert client.post("/editing/vitistacks/dry-run/", {}).status_code == 302
