"""The write path follows the CRD the target cluster serves, in either API shape.

A sandbox serving the published CRDs is the target: its forms have the
published fields and, for cluster-scoped kinds, no namespace; the preview
checks against its CRD; a dry run and an apply create cluster-scoped
objects; a CRD changed on the cluster changes the form (its resourceVersion
moved); a cluster that cannot be read gets Vitiweb's own files, and the page
says so. The bulk apply checks each document against the target's CRDs,
scope included.
"""

import copy
import re
import subprocess
from datetime import timedelta

import pytest

from tests.editing.conftest import example
from vitiweb.editing.forms import form_class_for
from vitiweb.editing.operations import plan
from vitiweb.models import AuditEntry, ServedSchema
from vitiweb.sandbox.sandbox import PUBLISHED_CRDS_DIR
from vitiweb.served import SHIPPED, schema_for
from vitiweb.sync.clusters import check_connection, register_cluster

pytestmark = pytest.mark.django_db(transaction=True)

API_VERSION = "vitistack.io/v1alpha1"
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


@pytest.fixture(autouse=True)
def _sandboxes_listen_on_loopback(settings):
    settings.VITIWEB_ALLOW_INTERNAL_ADDRESSES = ["127.0.0.1"]


@pytest.fixture
def published(sandbox_factory, tmp_path):
    """(sandbox, Cluster): a sandbox serving the published CRDs, registered."""
    sandbox = sandbox_factory(crds_dir=PUBLISHED_CRDS_DIR)
    path = sandbox.write_kubeconfig(tmp_path / "published.kubeconfig")
    cluster = register_cluster("oslo", kubeconfig_path=str(path))
    check_connection(cluster)  # as add_cluster does: discovery says which shape it serves
    return sandbox, cluster


def published_stack(name="viti-trondheim"):
    return {
        "apiVersion": API_VERSION,
        "kind": "Vitistack",
        "metadata": {"name": name},
        "spec": {
            "displayName": "Trondheim",
            "region": "norway-central",
            "zone": "trd1",
            "infrastructure": "prod",
            "backup": {"disasterRecovery": {"enabled": True, "targetVitistack": "viti-oslo", "rpoMinutes": 15}},
        },
    }


def post_data(kind, obj, cluster, **extra):
    """What the browser posts for ``obj`` in the form of ``cluster`` (as if typed in from scratch)."""
    data = form_class_for(kind)(base=None, cluster=cluster).initial_data(obj)
    return {**data, "_cluster": str(cluster.pk), **extra}


def field_names(html):
    return set(re.findall(r'name="((?:spec|metadata)\.[^"]+)"', html))


def test_the_form_of_a_published_cluster_has_its_fields_and_no_namespace(published, operator_client):
    _, cluster = published
    html = operator_client.get(f"/vitistacks/new/?cluster={cluster.pk}").content.decode()
    names = field_names(html)
    assert {"spec.displayName", "spec.zone", "spec.infrastructure", "spec.backup.disasterRecovery.targetVitistack"} <= (
        names
    )
    assert "spec.role" not in names and "spec.parentVitistack.name" not in names  # the guide's fields
    assert "metadata.namespace" not in names
    assert "as oslo serves it" in html and "vitistacks.vitistack.io" in html

    # A namespaced kind of the same cluster keeps its namespace field; a provider has providerType.
    assert "metadata.namespace" in field_names(
        operator_client.get(f"/machines/new/?cluster={cluster.pk}").content.decode()
    )
    provider = field_names(operator_client.get(f"/machineproviders/new/?cluster={cluster.pk}").content.decode())
    assert "spec.providerType" in provider and "metadata.namespace" not in provider


def test_the_preview_checks_against_the_served_crd(published, operator_client):
    _, cluster = published
    good = post_data("Vitistack", published_stack(), cluster)
    html = operator_client.post("/editing/vitistacks/preview/", good).content.decode()
    assert "Valid against the Vitistack CRD schema as oslo serves it" in html, html
    assert "namespace:" not in html.split('id="preview-yaml"')[1]

    html = operator_client.post("/editing/vitistacks/preview/", {**good, "spec.zone": ""}).content.decode()
    assert "against the CRD schema as oslo serves it" in html, html
    assert "<code>spec.zone</code></a> required value" in html

    # A guide-only field (carried over from the object edited) is unknown to this cluster's CRD.
    guide_only = published_stack()
    guide_only["spec"]["role"] = "primary"
    form = form_class_for("Vitistack")(post_data("Vitistack", guide_only, cluster), base=guide_only, cluster=cluster)
    assert [(p.path, p.message) for p in form.problems()] == [("spec.role", "unknown field")]


def test_published_objects_are_dry_run_and_applied_cluster_scoped(published, operator_client, tmp_path):
    sandbox, cluster = published
    data = post_data("Vitistack", published_stack(), cluster, **{"metadata.namespace": "team-a"})
    response = operator_client.post(
        "/editing/vitistacks/dry-run/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="result"
    )
    html = response.content.decode()
    assert response.status_code == 200 and "would be created" in html, html
    data["_token"] = re.search(r'name="_token" value="([^"]+)"', html).group(1)
    html = operator_client.post(
        "/editing/vitistacks/apply/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="result"
    ).content.decode()
    assert "was created" in html, html
    live = sandbox.store.get(API_VERSION, "Vitistack", "viti-trondheim")
    assert "namespace" not in live["metadata"]
    assert live["spec"]["backup"]["disasterRecovery"]["targetVitistack"] == "viti-oslo"
    assert list(AuditEntry.objects.order_by("id").values_list("action", "namespace", "name")) == [
        ("dry-run", "", "viti-trondheim"),
        ("apply", "", "viti-trondheim"),
    ]

    # A cluster-scoped kind of the published shape only, checked by kubectl.
    data = post_data("MachineClass", _machine_class(), cluster)
    html = operator_client.post(
        "/editing/machineclasses/dry-run/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="result"
    ).content.decode()
    assert "would be created" in html, html
    data["_token"] = re.search(r'name="_token" value="([^"]+)"', html).group(1)
    operator_client.post("/editing/machineclasses/apply/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="result")
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kubectl.kubeconfig")
    result = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(tmp_path / "cache"),
            "get",
            "machineclasses,vitistacks",
            "-o",
            "jsonpath={.items[*].metadata.name}|{.items[*].metadata.namespace}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "large viti-trondheim|"


def _add_field_to_served_crd(sandbox, field="experimentalFlag"):
    crd = copy.deepcopy(sandbox.store.get(*CRD, "vitistacks.vitistack.io"))
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"][field] = {"type": "boolean", "description": "Only this cluster knows it."}
    return sandbox.store.update(crd)


def test_a_crd_changed_on_the_cluster_changes_the_form_once_its_resource_version_moves(published, monkeypatch):
    sandbox, cluster = published
    before = schema_for(cluster, "Vitistack")
    assert before.from_cluster and "experimentalFlag" not in before.spec_schema["properties"]
    stored = ServedSchema.objects.get(cluster=cluster, crd_name="vitistacks.vitistack.io")
    assert (stored.resource_version, stored.scope) == (before.resource_version, "Cluster")

    # Unchanged, the CRD is not read again: its metadata says it has not moved.
    from vitiweb.kube import crds

    reads = []
    read_crd = crds.read_crd
    monkeypatch.setattr(crds, "read_crd", lambda *args, **kwargs: reads.append(args) or read_crd(*args, **kwargs))
    assert schema_for(cluster, "Vitistack", max_age=timedelta(0)).from_cluster and reads == []

    changed = _add_field_to_served_crd(sandbox)
    # Within FRESH_FOR the stored copy holds; a dry run (max_age 0) asks again and reads the new one.
    assert "experimentalFlag" not in schema_for(cluster, "Vitistack").spec_schema["properties"]
    after = schema_for(cluster, "Vitistack", max_age=timedelta(0))
    assert len(reads) == 1
    assert after.resource_version == changed["metadata"]["resourceVersion"] != before.resource_version
    assert "experimentalFlag" in after.spec_schema["properties"]

    form = form_class_for("Vitistack")(cluster=cluster)
    assert "spec.experimentalFlag" in {b.name for s in form.bound_sections() for b in s.bounds}
    obj = published_stack()
    obj["spec"]["experimentalFlag"] = True
    # Vitiweb's own files do not know the field; the cluster does: no "unknown field".
    form = form_class_for("Vitistack")(post_data("Vitistack", obj, cluster), cluster=cluster)
    assert form.manifest["spec"]["experimentalFlag"] is True
    assert form.problems() == []


def test_a_cluster_that_cannot_be_read_gets_the_shipped_files_and_the_page_says_so(published, operator_client):
    sandbox, cluster = published
    schema_for(cluster, "Vitistack")  # discovery at registration said: published, Vitistack cluster-scoped
    sandbox.stop()
    source = schema_for(cluster, "Vitistack", max_age=timedelta(0))
    assert source.origin == SHIPPED and source.shape == "published" and not source.namespaced
    assert "oslo could not be read" in source.problem
    html = operator_client.get(f"/vitistacks/new/?cluster={cluster.pk}").content.decode()
    assert "oslo could not be read" in html and "Vitiweb&#x27;s own Vitistack CRD for the published shape" in html
    names = field_names(html)
    assert "spec.zone" in names and "metadata.namespace" not in names


def test_changing_the_target_cluster_rebuilds_the_form_for_its_shape(published, sandbox, tmp_path, operator_client):
    _, oslo = published
    guide = register_cluster("guide", kubeconfig_path=str(sandbox.write_kubeconfig(tmp_path / "guide")))
    names = field_names(operator_client.get(f"/vitistacks/new/?cluster={guide.pk}").content.decode())
    assert {"spec.role", "metadata.namespace"} <= names and "spec.zone" not in names

    data = post_data("Vitistack", published_stack(), oslo)
    data["_cluster"] = str(guide.pk)
    html = operator_client.post(
        "/vitistacks/new/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="manifest-form"
    ).content.decode()
    names = field_names(html)
    assert {"spec.role", "metadata.namespace"} <= names and "spec.zone" not in names
    assert "as guide serves it" in html


def test_the_bulk_apply_checks_each_document_against_the_target_crds(published, sandbox, tmp_path):
    _, oslo = published
    stack_with_namespace = published_stack()
    stack_with_namespace["metadata"]["namespace"] = "default"
    import yaml

    text = yaml.safe_dump_all([stack_with_namespace, example("01-single-cloud/vitistack.yaml")])
    problems = plan(text, "pasted text", oslo).problems
    assert any("document 0: metadata.namespace: Vitistack is cluster-scoped in oslo" in p for p in problems), problems
    assert "pasted text, document 1: spec.security.rbac: unknown field" in problems, "\n".join(problems)
    assert problems.count("pasted text, document 1: spec.zone: required value") == 1, "\n".join(problems)

    guide = register_cluster("guide", kubeconfig_path=str(sandbox.write_kubeconfig(tmp_path / "guide")))
    cluster_doc = {
        "apiVersion": API_VERSION,
        "kind": "MachineClass",
        "metadata": {"name": "small"},
        "spec": {"cpu": {"cores": 2}, "memory": {"quantity": "4Gi"}, "machineProviders": ["kubevirt"]},
    }
    problems = plan(yaml.safe_dump(cluster_doc), "pasted text", guide).problems
    assert problems == ["pasted text, document 0: kind: guide does not serve the CRD machineclasses.vitistack.io"]
    # Without a target, each document is checked against the shape it matches.
    assert plan(yaml.safe_dump(cluster_doc), "pasted text").problems == []


def test_the_bulk_apply_creates_cluster_scoped_objects_without_asking_for_a_namespace(
    published, operator_client, monkeypatch
):
    sandbox, cluster = published
    from vitiweb.editing import operations

    asked = []
    ensure = operations.ensure_namespace
    monkeypatch.setattr(
        operations,
        "ensure_namespace",
        lambda client, namespace, **kw: asked.append(namespace) or ensure(client, namespace, **kw),
    )
    machine = {
        "apiVersion": API_VERSION,
        "kind": "Machine",
        "metadata": {"name": "m-0", "namespace": "team-a"},
        "spec": {"provider": "kubevirt", "machineClass": "small"},
    }
    text = "---\n".join(_yaml(doc) for doc in (published_stack("viti-tromso"), _machine_class("small"), machine))
    response = operator_client.post(
        "/apply/", {"cluster": cluster.pk, "manifests": text, "_action": "apply", "create_namespaces": "on"}
    )
    assert response.status_code == 302, response.content.decode()
    run = operator_client.get(response["Location"]).content.decode()
    assert "All 3 documents applied" in run, run
    assert sandbox.store.get(API_VERSION, "MachineClass", "small")["spec"]["cpu"]["cores"] == 8
    assert "namespace" not in sandbox.store.get(API_VERSION, "Vitistack", "viti-tromso")["metadata"]
    assert sandbox.store.get(API_VERSION, "Machine", "m-0", "team-a")["spec"]["machineClass"] == "small"
    # Only the namespaced Machine needed a namespace (cluster-scoped objects are not put in "default").
    assert set(asked) == {"team-a"}


def _machine_class(name="large"):
    return {
        "apiVersion": API_VERSION,
        "kind": "MachineClass",
        "metadata": {"name": name},
        "spec": {"cpu": {"cores": 8}, "memory": {"quantity": "32Gi"}, "machineProviders": ["kubevirt", "proxmox"]},
    }


def _yaml(obj):
    import yaml

    return yaml.safe_dump(obj, sort_keys=False)


def test_an_unsaved_or_absent_cluster_follows_the_shipped_files():
    assert schema_for(None, "Vitistack").origin == SHIPPED
    assert schema_for(None, "KubernetesCluster").shape == "published"
