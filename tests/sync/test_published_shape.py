"""A fleet in the VitiStack project's published API shape, end to end against the sandbox.

Two sandboxes serve Vitiweb's CRDs of the published API (``crds/published``);
the published example fleet (``examples-published/``) is applied to them with
kubectl; ``add_cluster`` registers them and the sync mirrors them. Then every
kind is held, cluster-scoped objects have no namespace, provider types, DR
pairs and the published references resolve (or are marked dangling), and the
ProxmoxConfig token is nowhere: database, pages, API, export, logs.
"""

import json
import logging
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from tests import factories
from tests.sync.conftest import PUBLISHED_EXAMPLES
from vitiweb import registry
from vitiweb.kinds import model_for
from vitiweb.models import Cluster, Reference
from vitiweb.sandbox.sandbox import PUBLISHED_CRDS_DIR
from vitiweb.shapes import shape_of
from vitiweb.sync.engine import sync_once

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "PVE-TOKEN-must-never-be-shown-0a1b2c"


def kubectl_apply(kubeconfig, folder):
    # A discovery cache of its own: kubectl caches discovery per host:port, and a sandbox of the guide's
    # shape may have served the same port before (a cluster-scoped Vitistack would be addressed as namespaced).
    cache = Path(kubeconfig).parent / "kubectl-cache"
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache), "apply", "-f", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(autouse=True)
def _sandboxes_listen_on_loopback(settings):
    settings.VITIWEB_ALLOW_INTERNAL_ADDRESSES = ["127.0.0.1"]


@pytest.fixture
def published_fleet(sandbox_factory, tmp_path, capsys):
    """Oslo and Bergen, each a sandbox serving the published CRDs, applied with kubectl, registered and synced."""
    clusters = {}
    for name in ("oslo", "bergen"):
        sandbox = sandbox_factory(crds_dir=PUBLISHED_CRDS_DIR)
        path = sandbox.write_kubeconfig(tmp_path / f"{name}.kubeconfig")
        kubectl_apply(path, PUBLISHED_EXAMPLES / name)
        call_command("add_cluster", name, "--kubeconfig", str(path))
        clusters[name] = Cluster.objects.get(name=name)
    output = capsys.readouterr()
    for cluster in clusters.values():
        sync_once(cluster)
    return clusters, output


def get(kind, name, cluster):
    return model_for(kind).objects.get(cluster=cluster, name=name)


def refs(obj, relation):
    return list(Reference.objects.filter(source_kind=obj.kind, source_id=obj.pk, relation=relation))


def test_a_published_cluster_is_registered_with_no_problem_and_is_known_as_published(published_fleet):
    clusters, output = published_fleet
    assert "problem" not in output.err, output.err
    assert "Connection test passed." in output.out
    for cluster in clusters.values():
        cluster.refresh_from_db()
        assert shape_of(cluster) == registry.PUBLISHED
        assert cluster.discovered_kinds["Vitistack"]["scope"] == "Cluster"
        assert not any(info["problem"] for info in cluster.discovered_kinds.values())


def test_every_published_kind_is_mirrored_and_cluster_scoped_objects_have_no_namespace(published_fleet):
    clusters, _ = published_fleet
    oslo = clusters["oslo"]
    for declaration in registry.declarations():
        if declaration.scope(registry.PUBLISHED) is None:
            continue
        assert declaration.get_model().objects.filter(cluster=oslo).exists(), declaration.kind
        expected_namespace = "" if declaration.scope(registry.PUBLISHED) == registry.CLUSTER else "team-a"
        namespaces = set(declaration.get_model().objects.filter(cluster=oslo).values_list("namespace", flat=True))
        assert namespaces == {expected_namespace}, declaration.kind


def test_providers_show_their_type_and_stacks_their_place(published_fleet):
    clusters, _ = published_fleet
    oslo = clusters["oslo"]
    assert get("MachineProvider", "kubevirt-osl1", oslo).provider_type == "kubevirt"
    assert get("KubernetesProvider", "talos-osl1", oslo).provider_type == "talos"
    stack = get("Vitistack", "viti-oslo", oslo)
    assert (stack.display_name, stack.zone, stack.infrastructure, stack.location) == (
        "Oslo production",
        "osl1",
        "prod",
        "Oslo, NO",
    )
    node_pools = get("KubernetesProvider", "talos-osl1", oslo).nodegroups.order_by("name")
    assert [(g.name, g.instance_type, g.desired_size) for g in node_pools] == [
        ("gpu", "gpu-large", 1),
        ("workers", "medium", 3),
    ]


def test_the_dr_pair_resolves_across_the_fleet_and_a_dangling_target_is_marked(published_fleet):
    clusters, _ = published_fleet
    (oslo_target,) = refs(get("Vitistack", "viti-oslo", clusters["oslo"]), "replication-target")
    assert oslo_target.state == Reference.State.RESOLVED
    assert oslo_target.target_cluster_id == clusters["bergen"].pk
    assert oslo_target.attributes == {"rpo": "15m", "rto": "60m"}
    (bergen_target,) = refs(get("Vitistack", "viti-bergen", clusters["bergen"]), "replication-target")
    assert bergen_target.state == Reference.State.DANGLING
    assert "viti-trondheim" in bergen_target.detail


def test_the_published_references_resolve_or_are_marked_dangling(published_fleet):
    clusters, _ = published_fleet
    oslo = clusters["oslo"]
    machine = get("Machine", "osl1-prod-a-cp-0", oslo)
    states = {r.relation: r.state for r in Reference.objects.filter(source_kind="Machine", source_id=machine.pk)}
    assert states == {
        "machine-class": "resolved",
        "network-namespace": "resolved",
        "kubernetes-cluster": "resolved",
        "kubevirt-config": "resolved",
    }
    stray = get("Machine", "stray-0", oslo)
    stray_states = {r.relation: r.state for r in Reference.objects.filter(source_kind="Machine", source_id=stray.pk)}
    assert stray_states == {
        "machine-class": "dangling",
        "network-namespace": "dangling",
        "kubernetes-cluster": "dangling",
    }

    provider = get("KubernetesProvider", "talos-osl1", oslo)
    assert {r.state for r in refs(provider, "machine-provider")} == {"resolved"}
    assert {r.target_name: r.state for r in refs(provider, "machine-class")} == {
        "medium": "resolved",
        "gpu-large": "resolved",
    }
    stack = get("Vitistack", "viti-oslo", oslo)
    assert {r.target_name: r.state for r in refs(stack, "machine-provider")} == {
        "kubevirt-osl1": "resolved",
        "proxmox-osl1": "resolved",
    }
    assert [r.state for r in refs(get("MachineProvider", "kubevirt-osl1", oslo), "secret")] == ["resolved"]
    assert [r.state for r in refs(get("MachineProvider", "proxmox-osl1", oslo), "secret")] == ["dangling"]
    assert [r.state for r in refs(get("KubevirtConfig", "kubevirt-osl1", oslo), "secret")] == ["resolved"]
    backups = {
        b.name: refs(b, "kubernetes-cluster")[0].state for b in model_for("EtcdBackup").objects.filter(cluster=oslo)
    }
    assert backups == {"osl1-prod-a-nightly": "resolved", "ghost-nightly": "dangling"}
    storage = get("ClusterStorage", "osl1-prod-a-data", oslo)
    assert {
        r.relation: r.state for r in Reference.objects.filter(source_kind="ClusterStorage", source_id=storage.pk)
    } == {
        "storage-class": "resolved",
        "kubernetes-cluster": "resolved",
    }


#: Every relationship of the published API (issue 11, item 4), as (source kind, relation, target kind).
PUBLISHED_RELATIONS = {
    ("Vitistack", "machine-provider", "MachineProvider"),
    ("Vitistack", "kubernetes-provider", "KubernetesProvider"),
    ("Vitistack", "reported-machine-provider", "MachineProvider"),
    ("Vitistack", "reported-kubernetes-provider", "KubernetesProvider"),
    ("Vitistack", "reported-cluster", "KubernetesCluster"),
    ("Vitistack", "replication-target", "Vitistack"),
    ("KubernetesProvider", "machine-provider", "MachineProvider"),
    ("KubernetesProvider", "machine-class", "MachineClass"),
    ("Machine", "machine-class", "MachineClass"),
    ("Machine", "network-namespace", "NetworkNamespace"),
    ("Machine", "kubernetes-cluster", "KubernetesCluster"),
    ("Machine", "kubevirt-config", "KubevirtConfig"),
    ("KubernetesCluster", "network-namespace", "NetworkNamespace"),
    ("KubernetesCluster", "machine-class", "MachineClass"),
    ("EtcdBackup", "kubernetes-cluster", "KubernetesCluster"),
    ("ClusterStorage", "storage-class", "ClusterStorageClass"),
    ("MachineProvider", "secret", "Secret"),
    ("KubevirtConfig", "secret", "Secret"),
}


def test_every_published_reference_is_shown_from_both_ends_or_marked_dangling(published_fleet, client, tmp_path):
    clusters, _ = published_fleet
    oslo = clusters["oslo"]
    # What the VitiStack operator reports in the Vitistack's status, written as it would (the status subresource).
    status = {
        "status": {
            "machineProviders": [{"name": "kubevirt-osl1", "providerType": "kubevirt", "ready": True}],
            "kubernetesProviders": [{"name": "talos-osl1", "providerType": "talos", "ready": True}],
            "clusters": [{"name": "osl1-prod-a", "namespace": "team-a", "phase": "Running", "ready": True}],
        }
    }
    kubeconfig = tmp_path / "oslo.kubeconfig"
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "kubectl-cache")]
        + ["patch", "vitistack", "viti-oslo", "--subresource=status", "--type=merge", "-p", json.dumps(status)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    sync_once(oslo)

    client.force_login(factories.viewer())
    pages: dict = {}

    def page(kind, pk):
        if (kind, pk) not in pages:
            obj = model_for(kind).objects.select_related("cluster").get(pk=pk)
            response = client.get(obj.get_absolute_url())
            assert response.status_code == 200, obj.get_absolute_url()
            pages[(kind, pk)] = (obj, response.content.decode())
        return pages[(kind, pk)]

    seen = set()
    for ref in Reference.objects.filter(source_cluster=oslo).order_by("id"):
        seen.add((ref.source_kind, ref.relation, ref.target_kind))
        source, source_html = page(ref.source_kind, ref.source_id)
        where = f"{ref.source_kind} {source.name} {ref.relation} -> {ref.target_kind} {ref.target_name}"
        if ref.state != Reference.State.RESOLVED:
            assert ref.target_name in source_html and ref.get_state_display() in source_html, where
        elif ref.target_kind == "Secret":
            assert ref.target_name in source_html and "exists" in source_html, where
        else:
            target, target_html = page(ref.target_kind, ref.target_id)
            assert f'href="{target.get_absolute_url()}"' in source_html, where
            assert f'href="{source.get_absolute_url()}"' in target_html, where
            # A cluster-scoped object is named without a namespace, never as "/name" or "default/name".
            if not target.namespace:
                assert f"/{target.name}<" not in source_html and f"default/{target.name}" not in source_html, where
    assert PUBLISHED_RELATIONS <= seen, PUBLISHED_RELATIONS - seen

    # MachineClass provider types <-> the providers offering them.
    medium = get("MachineClass", "medium", oslo)
    kubevirt = get("MachineProvider", "kubevirt-osl1", oslo)
    medium_html = client.get(medium.get_absolute_url()).content.decode()
    kubevirt_html = client.get(kubevirt.get_absolute_url()).content.decode()
    assert f'href="{kubevirt.get_absolute_url()}"' in medium_html
    assert "Machine classes it offers" in kubevirt_html and f'href="{medium.get_absolute_url()}"' in kubevirt_html
    gpu = get("MachineClass", "gpu-large", oslo)
    assert f'href="{gpu.get_absolute_url()}"' not in kubevirt_html  # a class no provider of this type runs


def test_machine_ssh_keys_given_as_strings_are_shown(published_fleet, client):
    clusters, _ = published_fleet
    client.force_login(factories.viewer())
    page = client.get(get("Machine", "osl1-prod-a-cp-0", clusters["oslo"]).get_absolute_url()).content.decode()
    assert "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsl1ProdA operator@osl1" in page


def test_the_proxmox_token_is_nowhere(published_fleet, client, caplog):
    caplog.set_level(logging.DEBUG)
    clusters, output = published_fleet
    assert TOKEN not in output.out + output.err
    config = get("ProxmoxConfig", "proxmox-osl1", clusters["oslo"])
    assert "token" not in config.spec

    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                assert TOKEN not in repr(row), table

    client.force_login(factories.operator())
    declaration = registry.get("ProxmoxConfig")
    urls = [
        config.get_absolute_url(),
        f"/{declaration.plural}/{config.pk}/yaml/",
        f"/{declaration.plural}/{config.pk}/history/",
        f"/{declaration.plural}/{config.pk}/manifest.yaml",
        f"/{declaration.plural}/{config.pk}/export.yaml",
        f"/{declaration.plural}/{config.pk}/edit/",
        f"/{declaration.plural}/",
        f"/api/v1/{declaration.plural}/",
        f"/api/v1/{declaration.plural}/{config.pk}/",
        "/export/fleet.zip",
        "/search/?q=proxmox",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert TOKEN.encode() not in body, url
    assert TOKEN not in caplog.text


def test_a_vitistack_kind_no_app_declares_is_mirrored_and_shown_generically(sandbox_factory, tmp_path, client):
    sandbox = sandbox_factory(crds_dir=PUBLISHED_CRDS_DIR)
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    sandbox.store.create(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "firewallpolicies.vitistack.io"},
            "spec": {
                "group": "vitistack.io",
                "names": {"kind": "FirewallPolicy", "plural": "firewallpolicies", "singular": "firewallpolicy"},
                "scope": "Namespaced",
                "versions": [
                    {"name": "v1alpha1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
                ],
            },
        }
    )
    path = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    (tmp_path / "policy.yaml").write_text(
        "apiVersion: vitistack.io/v1alpha1\nkind: FirewallPolicy\nmetadata:\n  name: deny-all\n  namespace: team-a\n"
        "spec:\n  default: deny\n"
    )
    subprocess.run(
        ["kubectl", "--kubeconfig", str(path), "--cache-dir", str(tmp_path / "cache"), "create", "namespace", "team-a"],
        check=True,
        capture_output=True,
    )
    kubectl_apply(path, tmp_path / "policy.yaml")
    call_command("add_cluster", "lab", "--kubeconfig", str(path))
    cluster = Cluster.objects.get(name="lab")
    sync_once(cluster)

    from vitiweb.models import DiscoveredObject

    policy = DiscoveredObject.objects.get(cluster=cluster)
    assert (policy.kind, policy.namespace, policy.name, policy.spec) == (
        "FirewallPolicy",
        "team-a",
        "deny-all",
        {"default": "deny"},
    )
    client.force_login(factories.viewer())
    listing = client.get("/discovered/?kind=FirewallPolicy").content.decode()
    assert "deny-all" in listing and policy.get_absolute_url() in listing
    assert "default: deny" in client.get(f"/discovered/{policy.pk}/yaml/").content.decode()

    sandbox.store.delete("vitistack.io/v1alpha1", "FirewallPolicy", "deny-all", "team-a")
    sync_once(cluster)
    assert not DiscoveredObject.objects.filter(cluster=cluster).exists()


def test_the_sandbox_command_serves_the_published_crds_on_request(tmp_path):
    from vitiweb.sandbox import cli

    fleet = cli.serve(
        {
            "port": 0,
            "shape": "published",
            "load": [PUBLISHED_EXAMPLES / "bergen"],
            "kubeconfig_out": tmp_path / "kubeconfig",
        },
        out=lambda line: None,
    )
    try:
        result = subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(tmp_path / "kubeconfig"),
                "--cache-dir",
                str(tmp_path / "cache"),
                "get",
                "vitistacks,kubernetesclusters",
                "-A",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "viti-bergen" in result.stdout and "bgo1-standby" in result.stdout
    finally:
        fleet.stop()
    guide = cli.serve({"port": 0, "kubeconfig_out": tmp_path / "guide"}, out=lambda line: None)
    try:
        assert guide[0].store.registry.for_api_version("vitistack.io/v1alpha1", "KubernetesCluster") is None
    finally:
        guide.stop()
