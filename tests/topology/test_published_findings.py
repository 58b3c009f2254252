"""Findings on a fleet in the published API shape, beside one in the guide's.

The published example fleet (``examples-published/``) is imported with
``import_manifests`` (each cluster a read-only source), next to the guide's
first scenario. Each published check fires where the fleet breaks its rule
and stays quiet where it does not; the guide's checks that have no meaning
in the published shape (roles, per-type provider blocks, primaryVitistack
back-references) say nothing about it.
"""

from pathlib import Path

import pytest
import yaml

from vitiweb.integrity import run_checks
from vitiweb.models import Cluster
from vitiweb.sync.manifest_source import ImportFailed, import_manifests

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "examples-published"


@pytest.fixture
def mixed_fleet():
    import_manifests([ROOT / "examples" / "01-single-cloud"], source="guide")
    for name in ("oslo", "bergen"):
        import_manifests([PUBLISHED / name], source=name)
    from vitiweb import integrity

    integrity.store_findings()  # what the findings pages read (computed off the request path)
    return run_checks()


def published(findings, check):
    clusters = {"oslo", "bergen"}
    return [f for f in findings if f.check == check and f.subject.cluster in clusters]


def test_import_keeps_cluster_scoped_objects_cluster_scoped(mixed_fleet):
    from machines.models import Machine
    from stacks.models import Vitistack

    oslo = Cluster.objects.get(name="oslo")
    assert Vitistack.objects.get(cluster=oslo).namespace == ""
    assert set(Machine.objects.filter(cluster=oslo).values_list("namespace", flat=True)) == {"team-a"}
    guide = Cluster.objects.get(name="guide")
    assert Vitistack.objects.get(cluster=guide).namespace != ""


def test_a_document_is_checked_against_the_shape_it_matches(tmp_path):
    broken = yaml.safe_load_all((PUBLISHED / "oslo" / "10-stack.yaml").read_text())
    stack = next(doc for doc in broken if doc and doc["kind"] == "Vitistack")
    del stack["spec"]["zone"]
    (tmp_path / "stack.yaml").write_text(yaml.safe_dump(stack))
    with pytest.raises(ImportFailed) as failed:
        import_manifests([tmp_path], source="broken")
    assert [(e.path, e.message) for e in failed.value.errors] == [("spec.zone", "required value")]


def test_a_machine_class_no_provider_offers_is_found(mixed_fleet):
    found = published(mixed_fleet, "unoffered-machine-class")
    assert [f.subject.name for f in found] == ["gpu-large"]
    assert "aws" in found[0].message


def test_machines_and_backups_naming_what_does_not_exist_are_found(mixed_fleet):
    dangling = {(f.subject.name, f.detail["relation"]) for f in published(mixed_fleet, "dangling-reference")}
    assert {
        ("stray-0", "machine-class"),
        ("stray-0", "network-namespace"),
        ("stray-0", "kubernetes-cluster"),
        ("ghost-nightly", "kubernetes-cluster"),
        ("viti-bergen", "replication-target"),
    } <= dangling
    assert not {name for name, _ in dangling} & {"osl1-prod-a-cp-0", "osl1-prod-a-nightly", "viti-oslo"}


def test_a_published_dr_pair_without_a_way_back_is_found(mixed_fleet):
    found = published(mixed_fleet, "dr-back-reference")
    assert [(f.objects[0].name, f.objects[1].name) for f in found] == [("viti-oslo", "viti-bergen")]
    assert "no way back" in found[0].message


def test_guide_only_rules_say_nothing_about_published_objects(mixed_fleet):
    for check in ("role", "incomplete-provider", "dr-target"):
        assert published(mixed_fleet, check) == [], check


def test_status_lists_that_disagree_with_the_spec_are_found(mixed_fleet):
    from tests import factories

    oslo = Cluster.objects.get(name="oslo")
    stack = yaml.safe_load((PUBLISHED / "oslo" / "10-stack.yaml").read_text().split("---\n")[1])
    assert stack["kind"] == "Vitistack"
    stack["metadata"].update(uid="viti-oslo-2", resourceVersion="2")
    stack["status"] = {
        "machineProviders": [{"name": "kubevirt-osl1", "providerType": "kubevirt"}, {"name": "vsphere-osl1"}],
    }
    Cluster.objects.filter(pk=oslo.pk).update(source=Cluster.Source.KUBECONFIG)
    factories.mirror(oslo, stack)
    found = {f.message for f in run_checks() if f.check == "status-versus-spec"}
    assert any("reports machine provider vsphere-osl1" in m for m in found)
    assert any(
        "lists machine provider proxmox-osl1 in its spec, but its operator does not report it" in m for m in found
    )
    assert not any("kubevirt-osl1" in m for m in found)


def test_the_kubernetes_clusters_view_draws_clusters_machines_classes_types_and_providers(mixed_fleet):
    from vitiweb.fleet import Fleet
    from vitiweb.integrity import current_findings
    from vitiweb.topology.builders import Options, build_picture

    picture = build_picture("kubernetes-clusters", Fleet(), current_findings(), Options(expanded={"*"}))
    labels = {node.label for node in picture.graph.nodes.values()}
    assert {"osl1-prod-a", "bgo1-standby", "medium", "osl1-prod", "kubevirt", "kubevirt-osl1"} <= labels
    assert {"osl1-prod-a-cp-0", "osl1-prod-a-worker-0"} <= labels or any(
        node.count > 1 for node in picture.graph.nodes.values()
    )
    rows = {row[0]["text"]: row[1:] for row in picture.tables[0].rows}
    assert rows["team-a/osl1-prod-a"] == [
        "control plane 3 × medium; general 2 × medium",
        "3",
        "medium",
        "kubevirt, proxmox",
        "osl1-prod",
    ]


def _edges(picture):
    nodes = picture.graph.nodes
    return {(nodes[e.source].label, nodes[e.target].label, e.style) for e in picture.graph.edges}


def test_machines_hang_off_the_pool_whose_status_lists_them(mixed_fleet):
    from clusters.models import KubernetesCluster
    from vitiweb.fleet import Fleet
    from vitiweb.integrity import current_findings
    from vitiweb.topology.builders import Options, build_picture
    from vitiweb.topology.graph import DEPENDS, SOLID

    def draw():
        return _edges(build_picture("kubernetes-clusters", Fleet(), current_findings(), Options(expanded={"*"})))

    edges = draw()
    # Cluster -> control plane and node pools -> machine class; no status: Machines hang off the cluster.
    assert {
        ("osl1-prod-a", "control plane", SOLID),
        ("osl1-prod-a", "general", SOLID),
        ("control plane", "medium", SOLID),
        ("general", "medium", SOLID),
        ("osl1-prod-a", "osl1-prod-a-cp-0", DEPENDS),
        ("osl1-prod-a-cp-0", "medium", SOLID),
        ("medium", "kubevirt", SOLID),
        ("kubevirt", "kubevirt-osl1", DEPENDS),
        ("osl1-prod-a", "osl1-prod", SOLID),
    } <= edges, edges

    status = {
        "phase": "Running",
        "state": {
            "cluster": {
                "controlplane": {"nodes": ["osl1-prod-a-cp-0", "osl1-prod-a-cp-1"], "status": "running"},
                "nodepools": [{"name": "general", "nodes": ["osl1-prod-a-worker-0"], "status": "running"}],
            }
        },
    }
    KubernetesCluster.objects.filter(name="osl1-prod-a").update(status=status)
    edges = draw()
    assert {
        ("control plane", "osl1-prod-a-cp-0", DEPENDS),
        ("control plane", "osl1-prod-a-cp-1", DEPENDS),
        ("general", "osl1-prod-a-worker-0", DEPENDS),
    } <= edges, edges
    assert ("osl1-prod-a", "osl1-prod-a-cp-0", DEPENDS) not in edges


def test_the_composition_of_a_published_stack_shows_what_the_operator_reports(mixed_fleet):
    from stacks.models import Vitistack
    from vitiweb.fleet import Fleet
    from vitiweb.integrity import current_findings
    from vitiweb.references import rebuild_outgoing
    from vitiweb.topology.builders import Options, build_picture
    from vitiweb.topology.graph import DANGLING, DEPENDS

    stack = Vitistack.objects.get(name="viti-oslo")
    stack.status = {
        "machineProviders": [
            {"name": "kubevirt-osl1", "providerType": "kubevirt", "ready": True},
            {"name": "vmware-osl1", "providerType": "vmware"},
        ],
        "kubernetesProviders": [{"name": "talos-osl1", "providerType": "talos"}],
        "clusters": [{"name": "osl1-prod-a", "namespace": "team-a", "phase": "Running", "ready": True}],
    }
    stack.save(update_fields=["status"])
    rebuild_outgoing(Vitistack, [stack])  # what the sync does with an object whose status changed

    picture = build_picture("composition", Fleet(), current_findings(), Options(stack=stack.pk))
    edges = _edges(picture)
    labels = {(picture.graph.nodes[e.target].label, e.label, e.style) for e in picture.graph.edges}
    assert ("kubevirt-osl1", "priority 1, reported", "declared") in labels, labels
    assert ("osl1-prod-a", "reported", DEPENDS) in labels
    assert ("viti-oslo", "vmware-osl1", DANGLING) in edges
    reported = {row[1]["text"] if isinstance(row[1], dict) else row[1]: row for row in picture.tables[1].rows}
    assert reported["kubevirt-osl1"][2:] == ["kubevirt", "—", "true", "yes"]
    assert reported["team-a/osl1-prod-a"][3:] == ["Running", "true", "no"]
    assert reported["vmware-osl1 (missing)"][5] == "no"


def test_one_overview_topology_and_findings_page_show_both_shapes(mixed_fleet, client):
    from tests import factories

    client.force_login(factories.viewer())
    overview = client.get("/").content.decode()
    assert all(name in overview for name in ("guide", "oslo", "bergen"))
    for url in ("/topology/dr/", "/topology/kubernetes-clusters/", "/topology/findings/"):
        assert client.get(url).status_code == 200, url
    findings = client.get("/topology/findings/?check=unoffered-machine-class").content.decode()
    assert "gpu-large" in findings
    dr = client.get("/topology/dr/figure.json").json()
    assert "viti-oslo" in str(dr) and "viti-bergen" in str(dr)
