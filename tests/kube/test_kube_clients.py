"""ApiClients built from in-memory kubeconfigs and from a service account, over real TLS."""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
import tempfile

import kubernetes.client
import pytest

import vitiweb
from vitiweb.kube import clients
from vitiweb.kube.clients import Timeouts, api_client_from_kubeconfig, api_client_in_cluster
from vitiweb.kube.discovery import connection_test
from vitiweb.kube.errors import KubeconfigError, KubeError
from vitiweb.kube.transport import call_json


def get_version(api_client):
    return call_json(api_client, kubernetes.client.VersionApi(api_client).get_code)


def test_a_token_kubeconfig_authenticates_with_a_bearer_token_and_says_who_is_calling(pki, echo_server, kubeconfig_for):
    server = echo_server(pki.server)
    client = api_client_from_kubeconfig(kubeconfig_for(server.url, token="t0ken", ca_b64=pki.ca.cert_b64))
    assert get_version(client) == {"gitVersion": "v1.31.0-echo"}
    headers = server.requests[-1]["headers"]
    assert headers["authorization"] == "Bearer t0ken"
    assert headers["user-agent"] == f"vitiweb/{vitiweb.__version__}"
    assert client.auth_method == "token"


def test_a_kubeconfig_given_as_yaml_text_and_a_named_context_is_used(pki, echo_server, kubeconfig_for):
    import yaml

    server = echo_server(pki.server)
    config = kubeconfig_for(server.url, token="t0ken", ca_b64=pki.ca.cert_b64, context="prod")
    config["current-context"] = "elsewhere"
    client = api_client_from_kubeconfig(yaml.safe_dump(config), "prod")
    assert get_version(client)["gitVersion"] == "v1.31.0-echo"
    assert client.context_name == "prod"


def test_a_client_certificate_is_presented_and_its_key_file_does_not_outlive_the_client_setup(
    pki, echo_server, monkeypatch, kubeconfig_for
):
    server = echo_server(pki.server, client_ca=pki.ca)
    created = []
    real_mkstemp = tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, path = real_mkstemp(*args, **kwargs)
        created.append((path, oct(os.stat(path).st_mode & 0o777)))
        return fd, path

    monkeypatch.setattr(clients.tempfile, "mkstemp", spy)
    user = {"client-certificate-data": pki.client.cert_b64, "client-key-data": pki.client.key_b64}
    client = api_client_from_kubeconfig(kubeconfig_for(server.url, ca_b64=pki.ca.cert_b64, user=user))
    assert get_version(client)["gitVersion"] == "v1.31.0-echo"
    assert server.requests[-1]["peer"] == "alice"
    assert client.auth_method == "client-certificate"
    assert len(created) == 1
    path, mode = created[0]
    assert mode == "0o600"
    assert not os.path.exists(path)


def test_a_mismatched_client_key_is_a_kubeconfig_error_and_leaves_no_file(
    pki, tmp_path, monkeypatch, kubeconfig_for, issue_cert
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    other = issue_cert(pki.ca, "mallory", server=False)
    user = {"client-certificate-data": pki.client.cert_b64, "client-key-data": other.key_b64}
    with pytest.raises(KubeconfigError, match="client certificate and key cannot be used"):
        api_client_from_kubeconfig(kubeconfig_for("https://127.0.0.1:1", user=user))
    assert list(tmp_path.iterdir()) == []


def test_the_server_is_verified_against_the_kubeconfigs_ca_and_an_unknown_ca_is_named(pki, echo_server, kubeconfig_for):
    server = echo_server(pki.server)
    client = api_client_from_kubeconfig(kubeconfig_for(server.url, token="t", ca_b64=pki.other_ca.cert_b64))
    report = connection_test(client, timeout=2)
    assert report.error == "TLS: unknown certificate authority"
    assert report.error_category == "tls"
    assert not report.ok


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_insecure_skip_tls_verify_accepts_any_server_certificate(pki, echo_server, kubeconfig_for):
    server = echo_server(pki.server)
    client = api_client_from_kubeconfig(
        kubeconfig_for(server.url, token="t", cluster_extra={"insecure-skip-tls-verify": True})
    )
    assert get_version(client)["gitVersion"] == "v1.31.0-echo"


def test_tls_server_name_checks_the_certificate_against_that_name_instead_of_the_address(
    pki, echo_server, kubeconfig_for, issue_cert
):
    server = echo_server(issue_cert(pki.ca, "api", hosts=("api.internal",)))
    wrong = api_client_from_kubeconfig(kubeconfig_for(server.url, token="t", ca_b64=pki.ca.cert_b64))
    assert connection_test(wrong, timeout=2).error == "TLS: the server certificate is not valid for 127.0.0.1"
    right = api_client_from_kubeconfig(
        kubeconfig_for(server.url, token="t", ca_b64=pki.ca.cert_b64, cluster_extra={"tls-server-name": "api.internal"})
    )
    assert get_version(right)["gitVersion"] == "v1.31.0-echo"


def test_basic_auth_sends_username_and_password(echo_server, kubeconfig_for):
    server = echo_server(None)
    client = api_client_from_kubeconfig(kubeconfig_for(server.url, user={"username": "ops", "password": "pw"}))
    get_version(client)
    assert server.requests[-1]["headers"]["authorization"] == "Basic " + base64.b64encode(b"ops:pw").decode()
    assert client.auth_method == "basic"


def test_a_rejected_token_is_reported_as_unauthorized(echo_server, kubeconfig_for):
    server = echo_server(None, status=401)
    client = api_client_from_kubeconfig(kubeconfig_for(server.url, token="wrong"))
    assert connection_test(client, timeout=2).error == "unauthorized: the token was rejected"


def test_exec_plugins_are_refused_unless_allowed(echo_server, kubeconfig_for):
    server = echo_server(None)
    credential = json.dumps(
        {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": "from-exec"}}
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": ["-c", f"print({credential!r})"],
        }
    }
    config = kubeconfig_for(server.url, user=user)
    with pytest.raises(KubeconfigError, match="exec runs a command on this machine and is disabled"):
        api_client_from_kubeconfig(config)
    client = api_client_from_kubeconfig(config, allow_exec=True)
    get_version(client)
    assert server.requests[-1]["headers"]["authorization"] == "Bearer from-exec"


def test_file_references_are_refused_unless_allowed(tmp_path, echo_server, kubeconfig_for):
    server = echo_server(None)
    (tmp_path / "token").write_text("from-file\n")
    config = kubeconfig_for(server.url, user={"tokenFile": str(tmp_path / "token")})
    with pytest.raises(KubeconfigError, match=r"tokenFile names a file on this machine"):
        api_client_from_kubeconfig(config)
    client = api_client_from_kubeconfig(config, allow_file_references=True)
    get_version(client)
    assert server.requests[-1]["headers"]["authorization"] == "Bearer from-file"


def test_every_call_has_a_read_timeout_by_default(kubeconfig_for):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        client = api_client_from_kubeconfig(kubeconfig_for(url, token="t"), timeouts=Timeouts(connect=1, read=0.3))
        with pytest.raises(KubeError, match=r"^timeout after 0.3s$"):
            get_version(client)
        assert connection_test(client, timeout=0.25).error == "timeout after 0.25s"


def test_an_unreachable_server_is_named_in_the_connection_test(kubeconfig_for):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = api_client_from_kubeconfig(kubeconfig_for(f"https://127.0.0.1:{port}", token="t"))
    report = connection_test(client, timeout=2)
    assert report.error == f"unreachable: connection refused at https://127.0.0.1:{port}"
    assert not report.reachable


def test_the_in_cluster_client_uses_the_service_account_and_rereads_a_rotated_token(pki, echo_server, tmp_path):
    server = echo_server(pki.server)
    (tmp_path / "token").write_text("first")
    (tmp_path / "ca.crt").write_bytes(pki.ca.cert_pem)
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": server.url.rsplit(":", 1)[1]}
    client = api_client_in_cluster(service_account_dir=str(tmp_path), environ=environ, token_reload_seconds=0)
    get_version(client)
    assert server.requests[-1]["headers"]["authorization"] == "Bearer first"
    (tmp_path / "token").write_text("rotated")
    get_version(client)
    assert server.requests[-1]["headers"]["authorization"] == "Bearer rotated"


def test_outside_a_cluster_the_in_cluster_client_says_so():
    with pytest.raises(KubeconfigError, match="not running in a cluster"):
        api_client_in_cluster(environ={})


def test_the_client_never_shows_its_credentials_in_repr(kubeconfig_for):
    client = api_client_from_kubeconfig(kubeconfig_for("https://127.0.0.1:6443", token="s3cr3t"))
    assert "s3cr3t" not in repr(client)
