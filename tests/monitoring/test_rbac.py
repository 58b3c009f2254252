"""RBAC of the controllers: a cross-namespace reference the controllers' service account may not get is a
finding that names it and gives the kubectl command that reproduces the denial."""

import subprocess

import pytest
from kubernetes import config

from tests.sync.conftest import FAST, wait_for
from vitiweb.integrity import run_checks
from vitiweb.models import Reference
from vitiweb.monitoring import rbac
from vitiweb.monitoring.models import ClusterMonitoring, RbacCheck
from vitiweb.sandbox import kubeconfig as sandbox_kubeconfig
from vitiweb.sandbox.auth import Rule, Token
from vitiweb.sync.clusters import register_cluster
from vitiweb.sync.engine import ClusterSync, sync_once

pytestmark = pytest.mark.django_db(transaction=True)


def provider(name, namespace):
    return {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "MachineProvider",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "aws", "region": "us-east-1"},
    }


def stack(name, namespace, provider_name, provider_namespace):
    return {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "Vitistack",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "displayName": name,
            "region": "us-east-1",
            "machineProviders": [{"name": provider_name, "namespace": provider_namespace}],
        },
    }


@pytest.fixture
def fleet(sandbox, tmp_path):
    """A stack in `apps` naming a provider in `shared` (cross-namespace) and one in its own namespace."""
    store = sandbox.store
    for namespace in ("apps", "shared", "vitistack-system"):
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    store.create(provider("shared-aws", "shared"))
    store.create(provider("local-aws", "apps"))
    store.create(stack("team-a", "apps", "shared-aws", "shared"))
    store.create(stack("team-b", "apps", "local-aws", "apps"))
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    cluster = register_cluster("sandbox", kubeconfig_path=str(kubeconfig), context=sandbox.name)
    sync_once(cluster)
    api_client = config.new_client_from_config(str(kubeconfig))
    yield sandbox, cluster, api_client, kubeconfig
    api_client.close()


def grant(store, namespace, service_account="vitistack-system:vitistack-controller"):
    sa_namespace, sa_name = service_account.split(":")
    store.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "read-providers", "namespace": namespace},
            "rules": [{"apiGroups": ["vitistack.io"], "resources": ["machineproviders"], "verbs": ["get", "list"]}],
        }
    )
    store.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "controller-reads-providers", "namespace": namespace},
            "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_namespace}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-providers"},
        }
    )


def rbac_findings():
    return [f for f in run_checks() if f.check == "controller-rbac"]


def test_a_denied_cross_namespace_reference_is_a_finding_with_a_reproducible_command(fleet):
    sandbox, cluster, api_client, kubeconfig = fleet
    checks = rbac.check_cluster(cluster, api_client)
    # Only the reference into another namespace is asked about.
    asked = Reference.objects.filter(pk__in=[c.reference_pk for c in checks])
    assert [(r.target_namespace, r.target_name) for r in asked] == [("shared", "shared-aws")]
    assert checks[0].allowed is False
    findings = rbac_findings()
    assert len(findings) == 1
    finding = findings[0]
    assert finding.severity == "error"
    assert (finding.subject.kind, finding.subject.name) == ("Vitistack", "team-a")
    assert "MachineProvider shared/shared-aws" in finding.message and "spec.machineProviders" in finding.path
    command = finding.detail["command"]
    assert command == (
        "kubectl --context sandbox auth can-i get machineproviders.vitistack.io/shared-aws -n shared "
        "--as=system:serviceaccount:vitistack-system:vitistack-controller"
    )
    assert command in finding.fix

    # The command reproduces the denial against the cluster; after a grant it says yes and the finding goes.
    def run(command):
        args = command.split()
        return subprocess.run(
            [args[0], "--kubeconfig", str(kubeconfig), *args[1:]], capture_output=True, text=True, timeout=30
        ).stdout.strip()

    assert run(command) == "no"
    grant(sandbox.store, "shared")
    assert run(command) == "yes"
    assert rbac.check_cluster(cluster, api_client)[0].allowed is True
    assert rbac_findings() == []


def test_the_service_account_is_configurable_per_cluster(fleet):
    sandbox, cluster, api_client, _ = fleet
    grant(sandbox.store, "shared", service_account="ops:custom-controller")
    assert rbac.check_cluster(cluster, api_client)[0].allowed is False
    ClusterMonitoring.objects.create(cluster=cluster, controller_service_account="ops:custom-controller")
    checks = rbac.check_cluster(cluster, api_client)
    assert checks[0].allowed is True and checks[0].service_account == "system:serviceaccount:ops:custom-controller"


def test_an_answer_never_blocks_the_sync_and_goes_with_its_reference(fleet):
    sandbox, cluster, api_client, _ = fleet
    rbac.check_cluster(cluster, api_client)
    assert len(rbac_findings()) == 1
    # The objects are recreated (new uids): the sync rebuilds their references under the answer.
    store = sandbox.store
    store.delete("vitistack.io/v1alpha1", "Vitistack", "team-a", "apps")
    store.create(stack("team-a", "apps", "shared-aws", "shared"))
    sync_once(cluster)
    assert rbac_findings() == []  # the stored answer was about a reference that is gone
    assert len(rbac.check_cluster(cluster, api_client)) == 1
    assert RbacCheck.objects.count() == 1 and len(rbac_findings()) == 1


def test_without_permission_to_ask_nothing_is_claimed(fleet, sandbox_factory, tmp_path):
    _, cluster, _, _ = fleet
    locked = sandbox_factory(tokens=[Token("t", deny=[Rule(verbs=("create",), api_groups=("authorization.k8s.io",))])])
    path = tmp_path / "locked"
    entry = locked.kubeconfig_entry()
    entry.token = "t"
    sandbox_kubeconfig.write(path, [entry])
    api_client = config.new_client_from_config(str(path))
    assert rbac.check_cluster(cluster, api_client) == []
    assert not RbacCheck.objects.exists()


@pytest.mark.monitor
def test_the_monitor_asks_as_soon_as_the_cluster_is_synced(fleet):
    _, cluster, _, _ = fleet
    sync = ClusterSync(cluster.pk, timing=FAST)
    sync.start()
    try:
        wait_for(lambda: RbacCheck.objects.filter(allowed=False).exists(), message="the monitor's RBAC check")
    finally:
        sync.stop()


def test_only_references_into_another_namespace_are_asked_about(fleet):
    """team-b's provider is in its own namespace: nothing to ask (and, at scale, nothing to read)."""
    _, cluster, _, _ = fleet

    asked = [
        (ref.target_namespace, ref.target_name, namespace)
        for ref, namespace in rbac.cross_namespace_references(cluster.pk)
    ]

    assert asked == [("shared", "shared-aws", "apps")]
