"""The deploy's read ClusterRole is enough: a cluster that grants exactly its rules is registered and synced.

The sandbox serves a token whose permissions are the rendered ClusterRole's
rules and nothing else (RBAC's allow-only semantics); ``add_cluster`` and a
sync through that token must succeed with every kind readable and Secret
names known. The same run with one verb missing fails, so the test can.
"""

import pytest
import yaml
from django.core.management import call_command

from tests.deploy.manifests import of_kind, render
from tests.sync.conftest import EXAMPLES, FAST, wait_for
from vitiweb.kinds import KINDS, model_for
from vitiweb.models import Cluster, KnownSecret
from vitiweb.registry import GUIDE
from vitiweb.sandbox import Rule, Token
from vitiweb.shapes import scope_in
from vitiweb.sync.engine import ClusterSync

pytestmark = pytest.mark.django_db(transaction=True)


def read_role_rules() -> list[Rule]:
    role = of_kind(render("base"), "ClusterRole")["vitiweb-read"]
    return [Rule.from_dict(rule) for rule in role["rules"]]


def kubeconfig_with_token(sandbox, path, token):
    sandbox.write_kubeconfig(path)
    config = yaml.safe_load(path.read_text())
    config["users"][0]["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    return path


def guide_kinds() -> list[str]:
    """The kinds the guide-shaped sandbox serves (the examples are in the guide's shape)."""
    return [kind for kind in KINDS if scope_in(kind, GUIDE)]


@pytest.fixture(autouse=True)
def _sandbox_on_loopback(settings):
    """The sandbox serves on 127.0.0.1, an address add_cluster refuses unless allowed."""
    settings.VITIWEB_ALLOW_INTERNAL_ADDRESSES = ["127.0.0.1"]


def test_add_cluster_and_sync_succeed_with_exactly_the_read_cluster_role(sandbox_factory, tmp_path, capsys):
    service_account = Token("sa-token", user="system:serviceaccount:vitiweb:vitiweb", allow=read_role_rules())
    sandbox = sandbox_factory(tokens=[service_account], load=EXAMPLES)
    path = kubeconfig_with_token(sandbox, tmp_path / "kubeconfig", "sa-token")

    call_command("add_cluster", "here", "--kubeconfig", str(path))
    out = capsys.readouterr()
    assert "Connection test passed." in out.out, out.err
    cluster = Cluster.objects.get(name="here")
    assert cluster.permissions["ok"] is True
    assert set(cluster.permissions["kinds"]) == set(guide_kinds())
    for kind, allowed in cluster.permissions["kinds"].items():
        assert allowed == {"list": True, "watch": True}, kind

    # The long-running sync: list, then watch every kind, and list Secret names.
    sync = ClusterSync(cluster.pk, timing=FAST)
    sync.start()
    try:
        wait_for(
            lambda: (
                all(model_for(kind).objects.filter(cluster=cluster).exists() for kind in guide_kinds())
                and KnownSecret.objects.filter(cluster=cluster).exists()
            ),
            timeout=30,
            message="every kind and the Secret names mirrored",
        )
        wait_for(
            lambda: all(sync.reflector_status(kind).state == "watching" for kind in guide_kinds()),
            timeout=30,
            message="every kind watched",
        )
        wait_for(
            lambda: Cluster.objects.get(pk=cluster.pk).state == Cluster.State.CONNECTED,
            timeout=10,
            message="the cluster connected",
        )
    finally:
        sync.stop()


def test_the_same_role_without_watch_is_reported_as_not_enough(sandbox_factory, tmp_path, capsys):
    without_watch = [
        Rule(tuple(v for v in r.verbs if v != "watch"), r.api_groups, r.resources, r.namespaces, r.resource_names)
        for r in read_role_rules()
    ]
    sandbox = sandbox_factory(tokens=[Token("sa-token", allow=without_watch)], load=EXAMPLES)
    path = kubeconfig_with_token(sandbox, tmp_path / "kubeconfig", "sa-token")
    call_command("add_cluster", "here", "--kubeconfig", str(path))
    assert "cannot watch machines" in capsys.readouterr().err
    assert Cluster.objects.get(name="here").permissions["ok"] is False
