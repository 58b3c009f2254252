"""Multi-document apply (order, namespaces, partial failure), credentials Secrets (never echoed), audit, export."""

import io
import logging
import re
import zipfile

import pytest
import yaml

from tests.editing.conftest import EXAMPLES
from tests.factories import make_cluster, mirror
from vitiweb.editing.models import ApplyRun
from vitiweb.editing.operations import plan
from vitiweb.kube.apply import get_object
from vitiweb.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_VALUE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SCENARIO = "\n---\n".join(
    (EXAMPLES / "01-single-cloud" / name).read_text()
    for name in (
        # Deliberately out of order: the machine first, the namespace last.
        "machine.yaml",
        "kubernetes-provider.yaml",
        "vitistack.yaml",
        "machine-provider.yaml",
        "secret.yaml",
        "namespace.yaml",
    )
)


def test_documents_are_ordered_by_dependency():
    found = plan(SCENARIO, "scenario.yaml")
    assert found.problems == []
    assert [d["kind"] for d in found.documents] == [
        "Namespace",
        "Secret",
        "Vitistack",
        "MachineProvider",
        "KubernetesProvider",
        "Machine",
    ]


def test_a_bad_document_stops_everything_and_names_file_document_and_field():
    broken = SCENARIO.replace("maxMachines: 100", "maxMachines: many")
    found = plan(broken, "scenario.yaml")
    assert found.problems == [
        "scenario.yaml, document 2: spec.resourceQuotas.maxMachines: 'many' is not of type 'integer'"
    ]
    assert plan("kind: [", "x.yaml").problems[0].startswith("x.yaml, document 0: not valid YAML at line 2")


def test_bulk_apply_creates_the_namespace_and_applies_in_order(operator_client, cluster, api, caplog):
    caplog.set_level(logging.DEBUG)
    response = operator_client.post(
        "/apply/", {"cluster": cluster.pk, "manifests": SCENARIO, "create_namespaces": "on", "_action": "apply"}
    )
    assert response.status_code == 302
    run = ApplyRun.objects.get()
    assert run.state == "succeeded", run.items
    assert [(i["kind"], i["state"]) for i in run.items] == [
        ("Namespace", "applied"),
        ("Secret", "applied"),
        ("Vitistack", "applied"),
        ("MachineProvider", "applied"),
        ("KubernetesProvider", "applied"),
        ("Machine", "applied"),
    ]
    assert run.payload_encrypted in (b"", None) or bytes(run.payload_encrypted) == b""
    assert get_object(api, "vitistack.io/v1alpha1", "Machine", "bastion-host", "production") is not None
    page = operator_client.get(response.url).content.decode()
    assert "All 6 documents applied." in page
    # The Secret's values are nowhere: not on the page, not in the audit, not in the run, not in the logs.
    assert SECRET_VALUE not in page
    secret_row = AuditEntry.objects.get(kind="Secret")
    assert SECRET_VALUE not in secret_row.manifest and "<redacted>" in secret_row.manifest
    assert all(SECRET_VALUE not in (r.manifest + r.diff + r.message) for r in AuditEntry.objects.all())
    assert SECRET_VALUE not in str(run.items)
    assert SECRET_VALUE not in caplog.text and "AKIAIOSFODNN7EXAMPLE" not in caplog.text
    assert AuditEntry.objects.filter(action="apply", result="success").count() == 6


def test_without_create_namespaces_the_run_stops_at_the_first_failure(operator_client, cluster):
    documents = "\n---\n".join(
        (EXAMPLES / "01-single-cloud" / n).read_text() for n in ("vitistack.yaml", "machine.yaml")
    )
    operator_client.post("/apply/", {"cluster": cluster.pk, "manifests": documents, "_action": "apply"})
    run = ApplyRun.objects.get()
    assert run.state == "failed"
    assert [(i["kind"], i["state"]) for i in run.items] == [("Vitistack", "failed"), ("Machine", "skipped")]
    assert "namespace production does not exist" in run.items[0]["message"]
    assert run.message == "Stopped at the first failure: 0 of 2 applied, the rest not applied."


def test_partial_failure_reports_what_was_applied_and_what_was_not(operator_client, cluster, production, api):
    from vitiweb.kube.apply import apply as kube_apply

    provider = yaml.safe_load((EXAMPLES / "01-single-cloud" / "machine-provider.yaml").read_text())
    provider["spec"]["region"] = "eu-north-1"
    kube_apply(api, provider, field_manager="kubectl")  # the provider's region belongs to someone else
    documents = "\n---\n".join(
        (EXAMPLES / "01-single-cloud" / n).read_text()
        for n in ("machine.yaml", "machine-provider.yaml", "vitistack.yaml")
    )
    operator_client.post("/apply/", {"cluster": cluster.pk, "manifests": documents, "_action": "apply"})
    run = ApplyRun.objects.get()
    assert [(i["kind"], i["state"]) for i in run.items] == [
        ("Vitistack", "applied"),
        ("MachineProvider", "failed"),
        ("Machine", "skipped"),
    ]
    assert "spec.region" in run.items[1]["message"] and "kubectl" in run.items[1]["message"]
    assert get_object(api, "vitistack.io/v1alpha1", "Vitistack", "aws-production", "production") is not None
    assert get_object(api, "vitistack.io/v1alpha1", "Machine", "bastion-host", "production") is None
    page = operator_client.get(f"/apply/runs/{run.pk}/").content.decode()
    assert "1 of 3 applied" in page and "not applied: an earlier document failed" in page


def test_a_bulk_dry_run_stores_nothing(operator_client, cluster, api):
    operator_client.post(
        "/apply/", {"cluster": cluster.pk, "manifests": SCENARIO, "create_namespaces": "on", "_action": "dry-run"}
    )
    run = ApplyRun.objects.get()
    assert run.state == "succeeded" and run.dry_run
    assert get_object(api, "vitistack.io/v1alpha1", "Vitistack", "aws-production", "production") is None
    assert set(AuditEntry.objects.values_list("action", flat=True)) == {"dry-run"}


def test_invalid_streams_are_refused_whole(operator_client, cluster):
    response = operator_client.post(
        "/apply/",
        {"cluster": cluster.pk, "_action": "apply", "manifests": SCENARIO.replace("type: aws", "type: amazon")},
    )
    assert response.status_code == 422
    assert "spec.type" in response.content.decode() and "Nothing was applied" in response.content.decode()
    assert not ApplyRun.objects.exists()


def test_an_uploaded_file_is_applied(operator_client, cluster, production, api):
    upload = io.BytesIO((EXAMPLES / "03-edge" / "central-management.yaml").read_bytes())
    upload.name = "central.yaml"
    operator_client.post(
        "/apply/", {"cluster": cluster.pk, "upload": upload, "create_namespaces": "on", "_action": "apply"}
    )
    assert ApplyRun.objects.get().state == "succeeded"
    assert get_object(api, "vitistack.io/v1alpha1", "Vitistack", "central-management", "edge-system") is not None


def test_the_credentials_form_creates_the_secret_and_never_shows_its_values(
    operator_client, cluster, production, caplog
):
    import kubernetes.client

    caplog.set_level(logging.DEBUG)
    page = operator_client.get(
        f"/secrets/new/?cluster={cluster.pk}&namespace=production&name=aws-credentials"
    ).content.decode()
    assert 'value="aws-credentials"' in page and 'value="access-key-id"' in page
    response = operator_client.post(
        "/secrets/new/",
        {
            "cluster": cluster.pk,
            "namespace": "production",
            "name": "aws-credentials",
            "key_0": "access-key-id",
            "value_0": "AKIAIOSFODNN7EXAMPLE",
            "key_1": "secret-access-key",
            "value_1": SECRET_VALUE,
        },
    )
    html = response.content.decode()
    assert "was created (2 keys)" in html
    assert SECRET_VALUE not in html and "AKIAIOSFODNN7EXAMPLE" not in html
    entry = AuditEntry.objects.get(kind="Secret")
    assert entry.result == "success" and entry.manifest.count("<redacted>") == 2 and SECRET_VALUE not in entry.manifest
    assert SECRET_VALUE not in caplog.text
    from vitiweb.sync.clusters import api_client_for

    api = api_client_for(cluster)
    secret = kubernetes.client.CoreV1Api(api).read_namespaced_secret("aws-credentials", "production")
    assert sorted(secret.data) == ["access-key-id", "secret-access-key"]
    api.close()
    # Again: an existing Secret is not overwritten.
    html = operator_client.post(
        "/secrets/new/",
        {
            "cluster": cluster.pk,
            "namespace": "production",
            "name": "aws-credentials",
            "key_0": "access-key-id",
            "value_0": "other",
        },
    ).content.decode()
    assert (
        "left unchanged" in html
        and "other" not in re.sub(r"<option[^>]*>[^<]*</option>", "", html).split("Keys and values")[1]
    )


def test_the_provider_form_links_to_creating_its_credentials(operator_client, cluster):
    from tests.editing.conftest import example, form_post_data

    data = form_post_data("MachineProvider", example("01-single-cloud/machine-provider.yaml"), cluster)
    html = operator_client.post("/machineproviders/new/", data).content.decode()
    assert f"/secrets/new/?cluster={cluster.pk}&amp;namespace=production&amp;name=aws-credentials" in html


def test_the_audit_trail_is_browsable_and_filterable(operator_client, cluster, production):
    from django.test import Client

    from tests.editing.conftest import example, form_post_data
    from tests.factories import viewer

    viewer_client = Client()
    viewer_client.force_login(viewer(username="vera"))

    data = form_post_data("Vitistack", example("01-single-cloud/vitistack.yaml"), cluster)
    operator_client.post("/editing/vitistacks/dry-run/", data)
    data["metadata.namespace"] = "nowhere"
    operator_client.post("/editing/vitistacks/dry-run/", data)
    html = viewer_client.get("/audit/").content.decode()
    assert html.count('id="audit-') >= 3 and "2</strong> entries" in html
    html = viewer_client.get(
        "/audit/?result=failure", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="audit-results"
    ).content.decode()
    assert "1</strong> entry" in html and "nowhere" in html and "<html" not in html
    assert "1</strong> entry" in viewer_client.get("/audit/?q=nowhere&user=olga&cluster=sandbox").content.decode()
    entry = AuditEntry.objects.filter(result="success").get()
    detail = viewer_client.get(f"/audit/{entry.pk}/").content.decode()
    assert "region: us-west-2" in detail and "+  region: us-west-2" in detail


def test_export_one_object_a_selection_and_the_fleet_in_the_git_layout(viewer_client, db):
    from machines.models import Machine
    from stacks.models import Vitistack

    east, west = make_cluster("east"), make_cluster("west")
    objects = []
    for name in ("vitistack.yaml", "machine-provider.yaml", "kubernetes-provider.yaml", "machine.yaml"):
        obj = yaml.safe_load((EXAMPLES / "01-single-cloud" / name).read_text())
        obj["metadata"].update(
            uid=f"uid-{name}",
            resourceVersion="5",
            generation=2,
            creationTimestamp="2026-01-01T00:00:00Z",
            managedFields=[{"manager": "vitiweb"}],
        )
        obj["status"] = {"phase": "Ready"}
        objects.append(obj)
    mirror(east, *objects)
    edge = yaml.safe_load((EXAMPLES / "03-edge" / "edge-west.yaml").read_text())
    edge["metadata"]["uid"] = "uid-edge"
    mirror(west, edge)

    stack = Vitistack.objects.get(name="aws-production")
    response = viewer_client.get(f"/vitistacks/{stack.pk}/export.yaml")
    exported = yaml.safe_load(response.content)
    assert exported == yaml.safe_load((EXAMPLES / "01-single-cloud" / "vitistack.yaml").read_text())

    machine = Machine.objects.get()
    response = viewer_client.get(f"/export/fleet.zip?object=Vitistack:{stack.pk}&object=Machine:{machine.pk}")
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert sorted(names) == ["machines/bastion/bastion-host.yaml", "vitistacks/production/aws-production.yaml"]

    response = viewer_client.get("/export/fleet.zip")
    assert response["Content-Type"] == "application/zip" and "vitiweb-fleet.zip" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == [
        "east/machines/bastion/bastion-host.yaml",
        "east/providers/kubernetes-providers/aws-eks-provider.yaml",
        "east/providers/machine-providers/aws-ec2-provider.yaml",
        "east/vitistacks/production/aws-production.yaml",
        "west/vitistacks/edge-west/edge-west.yaml",
    ]
    provider = yaml.safe_load(archive.read("east/providers/machine-providers/aws-ec2-provider.yaml"))
    assert "status" not in provider and set(provider["metadata"]) == {"name", "namespace"}
    only_west = zipfile.ZipFile(io.BytesIO(viewer_client.get("/export/fleet.zip?cluster=west").content)).namelist()
    assert only_west == ["vitistacks/edge-west/edge-west.yaml"]


def test_an_export_selection_too_long_for_one_query_is_refused_not_cut(viewer_client):
    selection = "&".join(f"object=Machine:{pk}" for pk in range(1, 1_002))
    response = viewer_client.get(f"/export/fleet.zip?{selection}")
    assert response.status_code == 400
