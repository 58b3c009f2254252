"""The connection test and discovery over real HTTP(S) against the sandbox cluster."""

from __future__ import annotations

import copy

import yaml

from vitiweb.kube import KINDS
from vitiweb.kube.apply import create_namespace, create_secret
from vitiweb.kube.discovery import connection_test, discover
from vitiweb.kube.secrets import list_secret_metadata, secret_exists
from vitiweb.sandbox import DEFAULT_CRDS_DIR, Rule, Token


def test_a_healthy_cluster_passes_the_connection_test(sandbox_factory, client_for):
    sb = sandbox_factory(token="admin-token", tls=True)
    report = connection_test(client_for(sb), timeout=5)
    assert report.error is None and report.reachable
    assert [k.kind for k in report.kinds] == list(KINDS)
    assert all(
        k.installed and k.scope == "Namespaced" and k.access["list"].allowed and k.access["watch"].allowed
        for k in report.kinds
    )
    assert report.secrets.allowed
    assert report.ok and report.problems == []


def test_the_connection_test_reports_the_server_version(sandbox, client_for):
    assert connection_test(client_for(sandbox), timeout=5).server_version == "v1.32.0-vitiweb-sandbox"


def test_a_rejected_token_is_reported_as_unauthorized(sandbox_factory, client_for):
    sb = sandbox_factory(token="admin-token")
    report = connection_test(client_for(sb, token="stale-token"), timeout=5)
    assert report.error == "unauthorized: the token was rejected"
    assert report.error_category == "unauthorized" and not report.ok


def test_a_server_certificate_from_an_unknown_ca_is_reported(sandbox_factory, client_for, pki):
    sb = sandbox_factory(token="admin-token", tls=True)
    report = connection_test(client_for(sb, ca_pem=pki.other_ca.cert_pem), timeout=5)
    assert report.error == "TLS: unknown certificate authority"
    assert not report.reachable


def test_denied_verbs_are_reported_with_a_reason_per_kind_and_namespace(sandbox_factory, client_for):
    token = Token(
        "limited",
        user="bob",
        deny=[
            Rule(
                verbs=("watch",),
                api_groups=("vitistack.io",),
                resources=("machineproviders",),
                namespaces=("production",),
            ),
            Rule(verbs=("list",), api_groups=("",), resources=("secrets",)),
        ],
    )
    sb = sandbox_factory(tokens=[token])
    client = client_for(sb, token="limited")
    everywhere = connection_test(client, timeout=5)
    providers = next(k for k in everywhere.kinds if k.kind == "MachineProvider")
    assert providers.access["watch"].reason == "forbidden: cannot watch machineproviders in all namespaces"
    assert providers.access["list"].allowed
    assert everywhere.secrets.reason == "forbidden: cannot list secrets in all namespaces"
    in_production = connection_test(client, timeout=5, namespace="production")
    providers = next(k for k in in_production.kinds if k.kind == "MachineProvider")
    assert providers.access["watch"].reason == "forbidden: cannot watch machineproviders in namespace production"
    assert "forbidden: cannot watch machineproviders in namespace production" in in_production.problems
    elsewhere = connection_test(client, timeout=5, namespace="staging")
    assert next(k for k in elsewhere.kinds if k.kind == "MachineProvider").access["watch"].allowed


def test_a_cluster_missing_a_crd_says_which(sandbox_factory, client_for):
    sb = sandbox_factory(crds_dir=None)
    for name in ("vitistacks", "machineproviders", "kubernetesproviders"):
        sb.store.create(yaml.safe_load((DEFAULT_CRDS_DIR / f"{name}.vitistack.io.yaml").read_text()))
    report = connection_test(client_for(sb), timeout=5)
    machines = next(k for k in report.kinds if k.kind == "Machine")
    assert not machines.installed and machines.problem == "CRD machines.vitistack.io not installed"
    assert machines.access == {}
    assert report.problems == ["CRD machines.vitistack.io not installed"]


def test_a_cluster_scoped_vitistack_crd_is_discovered_as_such(sandbox_factory, client_for):
    sb = sandbox_factory(crds_dir=None)
    crd = copy.deepcopy(yaml.safe_load((DEFAULT_CRDS_DIR / "vitistacks.vitistack.io.yaml").read_text()))
    crd["spec"]["scope"] = "Cluster"
    sb.store.create(crd)
    vitistack = discover(client_for(sb))["Vitistack"]
    assert vitistack.installed and vitistack.scope == "Cluster"
    assert (
        vitistack.problem
        == "CRD vitistacks.vitistack.io is cluster-scoped in this cluster; Vitiweb expects it namespaced"
    )


def test_secrets_are_listed_without_their_data(sandbox, client_for):
    client = client_for(sandbox)
    create_namespace(client, "production")
    created = create_secret(client, "production", "aws-credentials", {"accessKey": "AKIA-very-secret"})
    assert created["metadata"]["name"] == "aws-credentials" and "data" not in created
    listed = list_secret_metadata(client)
    mine = [s for s in listed if s["metadata"]["name"] == "aws-credentials"]
    assert len(mine) == 1
    assert "data" not in mine[0] and "stringData" not in mine[0]
    assert "AKIA" not in repr(listed) and "QUtJQS" not in repr(listed)
    assert list_secret_metadata(client, "production")[0]["metadata"]["namespace"] == "production"
    assert secret_exists(client, "production", "aws-credentials")
    assert not secret_exists(client, "production", "gcp-credentials")


def test_secret_listing_asks_the_server_for_metadata_only(sandbox, client_for):
    """Secrets are listed as a PartialObjectMetadataList, page by page: their data never crosses
    the wire (kube-apiserver and the sandbox convert the list server-side)."""
    client = client_for(sandbox)
    create_namespace(client, "production")
    for name in ("a", "b", "c"):
        create_secret(client, "production", name, {"key": "AKIA-very-secret"})
    listed = list_secret_metadata(client, "production", page_size=1)
    assert [(s["kind"], s["apiVersion"], s["metadata"]["name"]) for s in listed] == [
        ("PartialObjectMetadata", "meta.k8s.io/v1", name) for name in ("a", "b", "c")
    ]
