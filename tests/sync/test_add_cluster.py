"""Registering clusters: credentials encrypted and never shown, the connection test reported."""

import pytest
import yaml
from django.core.management import CommandError, call_command

from vitiweb.models import Cluster
from vitiweb.sandbox import Rule, Token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def sandbox_address_allowed(settings):
    """The sandbox listens on 127.0.0.1, a loopback address add_cluster refuses unless the site allows it."""
    settings.VITIWEB_ALLOW_INTERNAL_ADDRESSES = ["127.0.0.1"]


def test_add_cluster_stores_credentials_encrypted_and_reports_the_connection_test(sandbox_factory, tmp_path, capsys):
    sandbox = sandbox_factory(token="s3cr3t-sandbox-token")
    path = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    call_command("add_cluster", "prod", "--kubeconfig", str(path))
    out = capsys.readouterr()
    assert "Connection test passed." in out.out
    assert "Machine: v1alpha1, machines, Namespaced; list allowed, watch allowed" in out.out
    assert "s3cr3t-sandbox-token" not in out.out + out.err

    cluster = Cluster.objects.get(name="prod")
    assert cluster.server == sandbox.url
    assert "s3cr3t-sandbox-token" not in str(cluster.kubeconfig_public)
    assert b"s3cr3t-sandbox-token" not in bytes(cluster.credentials_encrypted)
    assert "s3cr3t-sandbox-token" in cluster.get_credentials()
    assert cluster.discovered_kinds["Vitistack"]["plural"] == "vitistacks"
    assert cluster.permissions["ok"] is True


def test_a_forbidden_watch_is_reported_with_its_reason(sandbox_factory, tmp_path, capsys):
    viewer = Token("limited", user="viewer", deny=[Rule(verbs=("watch",), resources=("machineproviders",))])
    sandbox = sandbox_factory(tokens=[viewer])
    path = tmp_path / "kubeconfig"
    sandbox.write_kubeconfig(path)
    config = yaml.safe_load(path.read_text())
    config["users"][0]["user"] = {"token": "limited"}
    path.write_text(yaml.safe_dump(config))
    call_command("add_cluster", "limited", "--kubeconfig", str(path))
    out = capsys.readouterr()
    assert "problem: forbidden: cannot watch machineproviders in all namespaces" in out.err
    assert "found problems" in out.out
    assert Cluster.objects.get(name="limited").permissions["kinds"]["MachineProvider"] == {"list": True, "watch": False}


def test_an_unreachable_cluster_is_registered_and_marked_unreachable(tmp_path, capsys):
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "gone",
                "clusters": [{"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
            }
        )
    )
    call_command("add_cluster", "gone", "--kubeconfig", str(path))
    assert "unreachable: connection refused" in capsys.readouterr().err
    cluster = Cluster.objects.get(name="gone")
    assert cluster.state == Cluster.State.UNREACHABLE and "connection refused" in cluster.last_error


@pytest.mark.parametrize(
    "user, message",
    [
        (
            {"exec": {"command": "aws", "args": ["eks", "get-token"], "apiVersion": "client.authentication.k8s.io/v1"}},
            "exec",
        ),
    ],
)
def test_a_kubeconfig_that_cannot_be_used_is_refused_with_a_reason(tmp_path, user, message):
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    with pytest.raises(CommandError, match=message):
        call_command("add_cluster", "bad", "--kubeconfig", str(path))
    assert not Cluster.objects.filter(name="bad").exists()


def test_an_unknown_context_names_the_ones_there_are(sandbox, tmp_path):
    path = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    with pytest.raises(CommandError, match=r"context 'nope' not found in kubeconfig \(contexts: sandbox\)"):
        call_command("add_cluster", "x", "--kubeconfig", str(path), "--context", "nope")


def test_an_exec_credential_plugin_runs_only_when_the_administrator_allows_it(sandbox_factory, tmp_path, capsys):
    sandbox = sandbox_factory(token="token-from-the-plugin")
    plugin = tmp_path / "get-token"
    plugin.write_text(
        "#!/bin/sh\n"
        'echo \'{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",'
        ' "status": {"token": "token-from-the-plugin"}}\'\n'
    )
    plugin.chmod(0o755)
    path = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    config = yaml.safe_load(path.read_text())
    config["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin), "interactiveMode": "Never"}
    }
    path.write_text(yaml.safe_dump(config))

    with pytest.raises(CommandError, match="exec"):
        call_command("add_cluster", "eks", "--kubeconfig", str(path))
    call_command("add_cluster", "eks", "--kubeconfig", str(path), "--allow-exec")
    assert "Connection test passed." in capsys.readouterr().out
    assert Cluster.objects.get(name="eks").allow_exec is True
