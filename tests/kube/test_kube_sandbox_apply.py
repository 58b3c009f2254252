"""Server-side apply, dry-run, conflicts and force, against the sandbox cluster."""

from __future__ import annotations

import pytest

from vitiweb.kube import errors
from vitiweb.kube.apply import apply, create_namespace, delete_object, get_object
from vitiweb.kube.errors import ApiStatusError, ApplyConflict

from .conftest import machine_manifest

API_VERSION = "vitistack.io/v1alpha1"


@pytest.fixture
def client(sandbox, client_for):
    client = client_for(sandbox)
    create_namespace(client, "production")
    return client


def managers_of(obj):
    return {entry["manager"] for entry in obj["metadata"].get("managedFields", [])}


def test_apply_creates_then_updates_an_object_owned_by_vitiweb(client):
    created = apply(client, machine_manifest("web-1"))
    assert created["metadata"]["uid"] and created["spec"]["instanceType"] == "m5.large"
    assert managers_of(created) == {"vitiweb"}
    updated = apply(client, machine_manifest("web-1", instance_type="m5.xlarge"))
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert get_object(client, API_VERSION, "Machine", "web-1", "production")["spec"]["instanceType"] == "m5.xlarge"


def test_apply_accepts_yaml_text(client):
    text = """
apiVersion: vitistack.io/v1alpha1
kind: Machine
metadata: {name: from-yaml, namespace: production}
spec: {machineProvider: {name: aws-prod}, instanceType: m5.large, machineImage: ubuntu-22.04}
"""
    assert apply(client, text)["metadata"]["name"] == "from-yaml"


def test_a_dry_run_returns_the_result_and_changes_nothing(client):
    apply(client, machine_manifest("web-1"))
    before = get_object(client, API_VERSION, "Machine", "web-1", "production")
    preview = apply(client, machine_manifest("web-1", instance_type="c5.2xlarge"), dry_run=True)
    assert preview["spec"]["instanceType"] == "c5.2xlarge"
    after = get_object(client, API_VERSION, "Machine", "web-1", "production")
    assert after["spec"]["instanceType"] == "m5.large"
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert apply(client, machine_manifest("never-made"), dry_run=True)["metadata"]["name"] == "never-made"
    assert get_object(client, API_VERSION, "Machine", "never-made", "production") is None


def test_a_field_owned_by_another_manager_is_a_conflict_naming_field_and_manager(client):
    apply(client, machine_manifest("web-1", instance_type="m5.large"), field_manager="ops-controller")
    with pytest.raises(ApplyConflict) as caught:
        apply(client, machine_manifest("web-1", instance_type="r5.large"))
    conflict = caught.value
    assert conflict.code == 409 and conflict.reason == "Conflict" and conflict.category == errors.CONFLICT
    assert [(c.field, c.manager) for c in conflict.conflicts] == [(".spec.instanceType", "ops-controller")]
    assert get_object(client, API_VERSION, "Machine", "web-1", "production")["spec"]["instanceType"] == "m5.large"


def test_force_takes_the_disputed_fields_over(client):
    apply(client, machine_manifest("web-1", instance_type="m5.large"), field_manager="ops-controller")
    forced = apply(client, machine_manifest("web-1", instance_type="r5.large"), force=True)
    assert forced["spec"]["instanceType"] == "r5.large"
    owners = {entry["manager"]: entry for entry in forced["metadata"]["managedFields"]}
    assert "f:instanceType" in str(owners["vitiweb"]["fieldsV1"])
    assert "f:instanceType" not in str(owners.get("ops-controller", {}).get("fieldsV1", {}))


def test_an_invalid_manifest_comes_back_with_the_field_at_fault(client):
    bad = machine_manifest("web-1")
    bad["spec"]["networking"] = {"publicIP": "sometimes"}
    with pytest.raises(ApiStatusError) as caught:
        apply(client, bad)
    assert caught.value.code == 422 and caught.value.category == errors.INVALID
    assert any("publicIP" in (cause.field or "") for cause in caught.value.causes)


def test_applying_a_kind_the_cluster_lacks_names_the_crd(sandbox_factory, client_for):
    client = client_for(sandbox_factory(crds_dir=None))
    with pytest.raises(ApiStatusError, match="CRD machines.vitistack.io not installed") as caught:
        apply(client, machine_manifest("web-1"))
    assert caught.value.code == 404


def test_delete_removes_the_object_and_a_dry_run_does_not(client):
    apply(client, machine_manifest("web-1"))
    delete_object(client, API_VERSION, "Machine", "web-1", "production", dry_run=True)
    assert get_object(client, API_VERSION, "Machine", "web-1", "production") is not None
    delete_object(client, API_VERSION, "Machine", "web-1", "production")
    assert get_object(client, API_VERSION, "Machine", "web-1", "production") is None
    assert delete_object(client, API_VERSION, "Machine", "web-1", "production") is None
