"""Dry-run, diff, apply, conflicts and force against the sandbox; permission checks; the audit rows."""

import re

import pytest

from tests.editing.conftest import example, form_post_data
from vitiweb.kube.apply import apply as kube_apply
from vitiweb.kube.apply import get_object
from vitiweb.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def stack(name="aws-production"):
    obj = example("01-single-cloud/vitistack.yaml")
    obj["metadata"]["name"] = name
    return obj


def token_of(html):
    return re.search(r'name="_token" value="([^"]+)"', html).group(1)


def dry_run(client, cluster, obj, **extra):
    data = form_post_data(obj["kind"], obj, cluster, **extra)
    response = client.post(
        f"/editing/{obj['kind'].lower()}s/dry-run/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="result"
    )
    return data, response


def test_dry_run_stores_nothing_and_shows_the_diff_then_apply_creates(operator_client, cluster, production, api):
    data, response = dry_run(operator_client, cluster, stack())
    html = response.content.decode()
    assert response.status_code == 200, html
    assert "Dry run succeeded" in html and "would be created" in html
    assert "+  region: us-west-2" in html.replace("<ins>", "").replace("</ins>", "")
    assert get_object(api, "vitistack.io/v1alpha1", "Vitistack", "aws-production", "production") is None
    assert 'id="apply-button"' in html

    data["_token"] = token_of(html)
    response = operator_client.post("/editing/vitistacks/apply/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="result")
    html = response.content.decode()
    assert "Applied" in html and "was created" in html
    live = get_object(api, "vitistack.io/v1alpha1", "Vitistack", "aws-production", "production")
    assert live["spec"]["networking"]["vpcs"][0]["cidr"] == "10.0.0.0/16"
    assert [m["manager"] for m in live["metadata"]["managedFields"]] == ["vitiweb"]
    # The database is not written by the apply: the object comes back through the watch.
    from stacks.models import Vitistack

    assert not Vitistack.objects.filter(name="aws-production").exists()
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "result", "kind", "name", "user__username"))
    assert entries == [
        ("dry-run", "success", "Vitistack", "aws-production", "olga"),
        ("apply", "success", "Vitistack", "aws-production", "olga"),
    ]


def test_editing_shows_the_diff_of_what_changes(operator_client, cluster, production, api):
    obj = stack()
    kube_apply(api, obj, field_manager="vitiweb")
    obj["spec"]["resourceQuotas"]["maxMachines"] = 150
    _, response = dry_run(operator_client, cluster, obj)
    html = response.content.decode()
    assert "would be changed" in html
    assert "<del>-    maxMachines: 100</del>" in html and "<ins>+    maxMachines: 150</ins>" in html
    assert "resourceVersion" not in html and "managedFields" not in html and "creationTimestamp" not in html
    assert "maxMachines: 150" in AuditEntry.objects.get(action="dry-run").diff


def test_apply_needs_a_dry_run_of_the_same_manifest(operator_client, cluster, production, api):
    data, response = dry_run(operator_client, cluster, stack())
    data["_token"] = token_of(response.content.decode())
    data["spec.region"] = "eu-north-1"  # changed after the dry-run
    response = operator_client.post("/editing/vitistacks/apply/", data)
    assert response.status_code == 409 and "Dry-run again" in response.content.decode()
    data["_token"] = "forged"
    data["spec.region"] = "us-west-2"
    assert operator_client.post("/editing/vitistacks/apply/", data).status_code == 409
    assert get_object(api, "vitistack.io/v1alpha1", "Vitistack", "aws-production", "production") is None


def test_a_conflict_names_the_fields_and_only_an_admin_may_force(client, cluster, production, api):
    from tests.factories import admin, operator

    obj = stack()
    kube_apply(api, obj, field_manager="kubectl")  # someone else owns the fields
    obj["spec"]["resourceQuotas"]["maxMachines"] = 150
    client.force_login(operator(username="olga"))
    data, response = dry_run(client, cluster, obj)
    html = response.content.decode()
    # The dry-run already meets the conflict: the disputed field and its manager are named.
    assert "Conflict" in html and "spec.resourceQuotas.maxMachines" in html and "kubectl" in html
    assert 'id="force-button"' not in html and 'id="apply-button"' not in html and "Only an Admin may force" in html
    # Forged forced requests from an operator are refused.
    assert client.post("/editing/vitistacks/dry-run/", {**data, "_force": "1"}).status_code == 403
    assert client.post("/editing/vitistacks/apply/", {**data, "_token": "x", "_force": "1"}).status_code == 403
    live = get_object(api, "vitistack.io/v1alpha1", "Vitistack", "aws-production", "production")
    assert live["spec"]["resourceQuotas"]["maxMachines"] == 100

    client.force_login(admin(username="ada"))
    data, response = dry_run(client, cluster, obj)
    assert 'id="force-button"' in response.content.decode()
    html = client.post("/editing/vitistacks/dry-run/", {**data, "_force": "1"}).content.decode()
    assert "Dry run succeeded" in html and "<ins>+    maxMachines: 150</ins>" in html
    assert "Force apply to sandbox" in html
    html = client.post("/editing/vitistacks/apply/", {**data, "_token": token_of(html), "_force": "1"}).content.decode()
    assert "(forced)" in html
    live = get_object(api, "vitistack.io/v1alpha1", "Vitistack", "aws-production", "production")
    assert live["spec"]["resourceQuotas"]["maxMachines"] == 150
    rows = list(AuditEntry.objects.order_by("id").values_list("user__username", "action", "result"))
    assert rows == [
        ("olga", "dry-run", "failure"),
        ("ada", "dry-run", "failure"),
        ("ada", "dry-run", "success"),
        ("ada", "apply", "success"),
    ]
    assert "conflict with kubectl" in AuditEntry.objects.order_by("id").first().message


def test_a_conflict_met_at_apply_time_offers_force_to_an_admin(admin_client, cluster, production, api):
    obj = stack()
    data, response = dry_run(admin_client, cluster, obj)
    data["_token"] = token_of(response.content.decode())
    other = stack()
    other["spec"]["resourceQuotas"]["maxMachines"] = 7
    kube_apply(api, other, field_manager="kubectl")  # someone else got there between dry-run and apply
    html = admin_client.post("/editing/vitistacks/apply/", data).content.decode()
    assert "Conflict" in html and "spec.resourceQuotas.maxMachines" in html
    assert 'id="force-button"' in html and "Force apply and take these fields over" in html
    html = admin_client.post(
        "/editing/vitistacks/apply/", {**data, "_token": token_of(html), "_force": "1"}
    ).content.decode()
    assert "(forced)" in html


def test_api_errors_are_shown_at_the_field_they_name(operator_client, cluster, api):
    # No namespace "nowhere": the API refuses; the message says so.
    obj = stack()
    obj["metadata"]["namespace"] = "nowhere"
    _, response = dry_run(operator_client, cluster, obj)
    assert "Dry run failed" in response.content.decode() and "nowhere" in response.content.decode()
    assert AuditEntry.objects.get().result == "failure"


def test_a_schema_error_is_not_sent_to_the_cluster(operator_client, cluster, production):
    obj = stack()
    data = form_post_data("Vitistack", obj, cluster)
    data["spec.resourceQuotas.maxMachines"] = "lots"
    response = operator_client.post(
        "/editing/vitistacks/dry-run/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="result"
    )
    html = response.content.decode()
    assert response.status_code == 422 and "Not sent to the cluster" in html
    assert not AuditEntry.objects.exists()


def test_a_viewer_sees_no_dry_run_or_apply_and_forged_posts_are_refused(viewer_client, cluster, production, api):
    html = viewer_client.get("/vitistacks/new/").content.decode()
    assert 'id="dry-run-button"' not in html and 'id="apply-button"' not in html and "read-only-note" in html
    data = form_post_data("Vitistack", stack(), cluster)
    assert viewer_client.post("/editing/vitistacks/dry-run/", data).status_code == 403
    assert viewer_client.post("/editing/vitistacks/apply/", {**data, "_token": "x"}).status_code == 403
    assert (
        viewer_client.post("/apply/", {"cluster": cluster.pk, "manifests": "a: b", "_action": "apply"}).status_code
        == 403
    )
    assert viewer_client.post("/secrets/new/", {"cluster": cluster.pk}).status_code == 403
    assert get_object(api, "vitistack.io/v1alpha1", "Vitistack", "aws-production", "production") is None
    assert not AuditEntry.objects.exists()


def test_an_applied_object_comes_back_through_the_watch(operator_client, cluster, production):
    from stacks.models import Vitistack
    from tests.sync.conftest import FAST, wait_for
    from vitiweb.sync.engine import ClusterSync

    sync = ClusterSync(cluster.pk, timing=FAST)
    sync.start()
    try:
        data, response = dry_run(operator_client, cluster, stack())
        data["_token"] = token_of(response.content.decode())
        html = operator_client.post("/editing/vitistacks/apply/", data).content.decode()
        locate = re.search(r'hx-get="(/editing/locate/[^"]+)"', html).group(1).replace("&amp;", "&")
        wait_for(lambda: Vitistack.objects.filter(name="aws-production").exists(), message="the watch")
        found = operator_client.get(locate).content.decode()
        assert 'id="synced-link"' in found
    finally:
        sync.stop()
