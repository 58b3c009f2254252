"""Cluster pages: sync state, discovery and permissions; adding a cluster (Admin) after a connection test."""

import orjson
import pytest
from django.urls import reverse

from tests.factories import admin, fleet, viewer
from vitiweb.kube.discovery import AccessCheck, ConnectionReport, KindCheck
from vitiweb.models import Cluster

pytestmark = pytest.mark.django_db

TOKEN = "eyJhbGciOiJSUzI1NiJ9.super-secret-token"


def self_signed_ca() -> str:
    import base64
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


CA_DATA = self_signed_ca()
KUBECONFIG = f"""
apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod
  cluster:
    server: https://prod.example.com:6443
    certificate-authority-data: {CA_DATA}
contexts:
- name: prod
  context: {{cluster: prod, user: ops}}
- name: staging
  context: {{cluster: prod, user: ops}}
users:
- name: ops
  user:
    token: {TOKEN}
"""


def report(ok=True, error=None):
    access = {verb: AccessCheck(verb, "machines", "vitistack.io", None, ok) for verb in ("list", "watch")}
    return ConnectionReport(
        server="https://prod.example.com:6443",
        context="prod",
        reachable=error is None,
        server_version="v1.29.2",
        error=error,
        kinds=[] if error else [KindCheck("Machine", True, "v1alpha1", "machines", "Namespaced", None, access)],
        secrets=AccessCheck("list", "secrets", "", None, True),
    )


@pytest.fixture
def tested(monkeypatch):
    calls = []

    def fake_connection_test(api_client, **kwargs):
        calls.append(api_client.configuration.host)
        return calls_result[0]

    calls_result = [report()]
    monkeypatch.setattr("vitiweb.kube.discovery.connection_test", fake_connection_test)
    return calls, calls_result


def test_the_cluster_list_shows_state_source_counts_and_errors(client):
    fleet()
    client.force_login(viewer())
    html = client.get(reverse("cluster_list")).content.decode()
    assert "prod-east" in html and "prod-west" in html
    assert "Unreachable" in html and "connection refused" in html


def test_a_cluster_page_shows_discovered_kinds_permissions_and_last_error(client):
    data = fleet()
    Cluster.objects.filter(pk=data.east.pk).update(
        discovered_kinds={
            "Machine": {"installed": True, "version": "v1alpha1", "plural": "machines", "scope": "Namespaced"}
        },
        permissions={
            "ok": False,
            "problems": ["forbidden: cannot watch machines in all namespaces"],
            "kinds": {"Machine": {"list": True, "watch": False}},
            "secrets": True,
            "tested_at": "2026-01-01T00:00:00+00:00",
        },
        last_error="watch failed: 403",
    )
    client.force_login(viewer())
    html = client.get(reverse("cluster_detail", args=[data.east.pk])).content.decode()
    assert "v1alpha1 · machines" in html and "Namespaced" in html
    assert "denied" in html and "forbidden: cannot watch machines" in html
    assert "watch failed: 403" in html
    assert reverse("machine_list") + "?cluster=prod-east" in html


def test_an_admin_sees_the_connection_test_before_saving(client, tested):
    calls, _ = tested
    client.force_login(admin())
    response = client.post(
        reverse("cluster_add"),
        {"name": "prod", "kubeconfig_text": KUBECONFIG, "action": "test"},
        headers={"HX-Request": "true", "HX-Target": "connection-test"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Connected" in html and "v1.29.2" in html and "https://prod.example.com:6443" in html
    assert "token" in html and "staging" in html  # the kind of credential and the other contexts, named
    assert TOKEN not in html and CA_DATA[:40] not in html
    assert calls == ["https://prod.example.com:6443"]
    assert not Cluster.objects.filter(name="prod").exists()


def test_saving_stores_the_credentials_encrypted_and_never_shows_them(client, tested):
    client.force_login(admin())
    response = client.post(reverse("cluster_add"), {"name": "prod", "kubeconfig_text": KUBECONFIG, "action": "save"})
    cluster = Cluster.objects.get(name="prod")
    assert response.status_code == 302 and response["Location"] == reverse("cluster_detail", args=[cluster.pk])
    assert TOKEN.encode() not in bytes(cluster.credentials_encrypted)
    assert TOKEN in orjson.loads(cluster.get_credentials())["users"]["ops"]["token"]
    assert cluster.server == "https://prod.example.com:6443" and cluster.context == "prod"
    assert cluster.server_version == "v1.29.2" and cluster.permissions["ok"] is True
    for url in (reverse("cluster_detail", args=[cluster.pk]), reverse("cluster_list"), reverse("home")):
        html = client.get(url).content.decode()
        assert TOKEN not in html and CA_DATA[:40] not in html


def test_saving_through_htmx_redirects_the_browser_to_the_new_cluster(client, tested):
    client.force_login(admin())
    response = client.post(
        reverse("cluster_add"),
        {"name": "prod", "kubeconfig_text": KUBECONFIG, "action": "save"},
        headers={"HX-Request": "true", "HX-Target": "connection-test"},
    )
    assert response["HX-Redirect"] == reverse("cluster_detail", args=[Cluster.objects.get(name="prod").pk])


def test_a_pasted_kubeconfig_is_never_sent_back(client, tested):
    _, result = tested
    result[0] = report(error="unreachable: connection refused")
    client.force_login(admin())
    html = client.post(
        reverse("cluster_add"), {"name": "prod", "kubeconfig_text": KUBECONFIG, "action": "save"}
    ).content.decode()
    assert "connection refused" in html and TOKEN not in html


def test_an_uploaded_kubeconfig_and_a_named_context(client, tested):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(admin())
    upload = SimpleUploadedFile("config", KUBECONFIG.encode(), content_type="application/yaml")
    client.post(
        reverse("cluster_add"), {"name": "stage", "kubeconfig_file": upload, "context": "staging", "action": "save"}
    )
    assert Cluster.objects.get(name="stage").context == "staging"


def test_a_failed_test_blocks_saving_unless_confirmed(client, tested):
    _, result = tested
    result[0] = report(error="unreachable: connection refused at https://prod.example.com:6443")
    client.force_login(admin())
    response = client.post(reverse("cluster_add"), {"name": "prod", "kubeconfig_text": KUBECONFIG, "action": "save"})
    html = response.content.decode()
    assert response.status_code == 200 and "connection refused" in html and "tick this box" in html
    assert not Cluster.objects.filter(name="prod").exists()
    client.post(
        reverse("cluster_add"),
        {"name": "prod", "kubeconfig_text": KUBECONFIG, "action": "save", "save_unreachable": "on"},
    )
    assert Cluster.objects.get(name="prod").state == Cluster.State.UNREACHABLE


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Upload a kubeconfig or paste one."),
        ("clusters: [", "not valid YAML"),
        (
            KUBECONFIG.replace("current-context: prod", "current-context: nowhere"),
            "context &#x27;nowhere&#x27; not found",
        ),
    ],
)
def test_a_bad_kubeconfig_is_explained(client, tested, text, message):
    client.force_login(admin())
    html = client.post(
        reverse("cluster_add"), {"name": "prod", "kubeconfig_text": text, "action": "test"}
    ).content.decode()
    assert message in html


def test_a_kubeconfig_that_runs_a_command_is_refused(client, tested):
    calls, _ = tested
    client.force_login(admin())
    config = KUBECONFIG.replace(
        f"token: {TOKEN}", "exec: {command: /bin/sh, args: ['-c', 'id'], apiVersion: client.authentication.k8s.io/v1}"
    )
    html = client.post(
        reverse("cluster_add"), {"name": "prod", "kubeconfig_text": config, "action": "test"}
    ).content.decode()
    assert "Failed" in html and calls == []


def test_the_name_must_be_new(client, tested):
    fleet()
    client.force_login(admin())
    html = client.post(reverse("cluster_add"), {"name": "prod-east", "kubeconfig_text": KUBECONFIG}).content.decode()
    assert "A cluster with this name exists." in html
