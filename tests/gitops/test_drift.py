"""Drift between a Git repository and a synced cluster: in sync, git-only, cluster-only, differs.

Repositories are real (git init, commits), the cluster is the sandbox changed with kubectl,
and the sync engine runs: drift follows kubectl changes and commits within seconds.
"""

import json

import pytest
from django.core.management import CommandError, call_command

from gitops.models import DriftRecord, GitSource
from gitops.tasks import fetch_and_compare
from tests.gitops.conftest import wait_for, wait_for_the_repository_mirrored

pytestmark = pytest.mark.django_db(transaction=True)


def states(source):
    return {(r.kind, r.address): r.state for r in DriftRecord.objects.filter(source=source)}


def add_source(repo, *, cluster="sandbox", namespace="staging"):
    call_command(
        "add_git_source", "infra", "--local", str(repo.path), "--path", "infrastructure",
        "--cluster", cluster, "--namespace", namespace, stdout=open("/dev/null", "w"),
    )  # fmt: skip
    return GitSource.objects.get(name="infra")


def test_a_source_applied_with_kubectl_is_in_sync_and_follows_kubectl_and_commits(running_sync, repo, kubectl):
    kubectl("apply", "-f", str(repo.path / "infrastructure" / "namespaces.yaml"))
    kubectl("apply", "-R", "-f", str(repo.path / "infrastructure"))
    sandbox, cluster, _ = running_sync

    wait_for_the_repository_mirrored()
    source = add_source(repo)
    assert source.commit == repo.git("rev-parse", "HEAD").strip()
    assert set(states(source).values()) == {"in-sync"}
    assert len(states(source)) == 4  # Vitistack, MachineProvider, two Machines (the Namespace is not compared)

    # Someone changes the cluster by hand: the drift follows the watch, without a fetch.
    kubectl("patch", "machine", "worker-staging-001", "-n", "staging", "--type=merge", "-p",
            '{"spec":{"instanceType":"m5.xlarge"}}')  # fmt: skip
    record = wait_for(
        lambda: DriftRecord.objects.filter(source=source, name="worker-staging-001", state="differs").first(),
        what="the kubectl change to show as drift",
    )
    assert record.fields == [{"path": "spec.instanceType", "git": "m5.large", "cluster": "m5.xlarge"}]

    # An object created by hand is unmanaged.
    kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "vitistack.io/v1alpha1", "kind": "Machine",
        "metadata": {"name": "debug-staging-001", "namespace": "staging"},
        "spec": {"machineProvider": {"name": "aws-us-west-provider"}, "instanceType": "m5.large"},
    }))  # fmt: skip
    wait_for(lambda: states(source).get(("Machine", "staging/debug-staging-001")) == "cluster-only", what="unmanaged")

    # A commit adds a machine: in Git only until applied.
    repo.write({"machines/worker-nodes/worker-staging-003.yaml": """
        apiVersion: vitistack.io/v1alpha1
        kind: Machine
        metadata:
          name: worker-staging-003
          namespace: staging
        spec:
          machineProvider:
            name: aws-us-west-provider
          instanceType: m5.large
        """})  # fmt: skip
    repo.commit("A third worker")
    fetch_and_compare(source)
    assert states(source)[("Machine", "staging/worker-staging-003")] == "git-only"


def test_status_defaults_and_fields_set_by_others_are_not_drift(running_sync, repo, kubectl):
    kubectl("apply", "-f", str(repo.path / "infrastructure" / "namespaces.yaml"))
    kubectl("apply", "-R", "-f", str(repo.path / "infrastructure"))
    sandbox, cluster, _ = running_sync
    from machines.models import Machine

    wait_for_the_repository_mirrored()
    source = add_source(repo)
    # A controller writes status, another manager adds a label and a field Git does not set.
    kubectl("label", "machine", "worker-staging-002", "-n", "staging", "owner=controller")
    kubectl("patch", "machine", "worker-staging-002", "-n", "staging", "--type=merge", "-p",
            '{"spec":{"publicIP":true}}')  # fmt: skip
    kubectl("patch", "machine", "worker-staging-002", "-n", "staging", "--subresource=status", "--type=merge",
            "-p", '{"status":{"phase":"Running"}}')  # fmt: skip
    wait_for(lambda: Machine.objects.get(name="worker-staging-002").phase == "Running", what="the status")
    fetch_and_compare(source)
    assert states(source)[("Machine", "staging/worker-staging-002")] == "in-sync"


def test_a_broken_commit_is_reported_precisely_and_the_last_good_revision_stays(registered, repo):
    good = repo.git("rev-parse", "HEAD").strip()
    source = add_source(repo)
    assert source.desired_objects.count() == 5
    repo.write({"machines/worker-nodes/broken.yaml": "apiVersion: vitistack.io/v1alpha1\nkind: Machine\nmetadata: [\n"})
    repo.write({"machines/worker-nodes/bad-schema.yaml": """
        apiVersion: vitistack.io/v1alpha1
        kind: Machine
        metadata:
          name: bad-staging-001
          namespace: staging
        spec:
          instanceType: 7
        """})  # fmt: skip
    bad = repo.commit("Broken")
    result = fetch_and_compare(source)
    source.refresh_from_db()
    assert not result.ok
    assert source.commit == good and source.error_commit == bad
    assert "machines/worker-nodes/broken.yaml, document 0: not valid YAML at line 4" in source.last_error
    assert "machines/worker-nodes/bad-schema.yaml, document 0: spec.instanceType" in source.last_error
    assert source.desired_objects.count() == 5  # the desired state is still the last good revision's


def test_a_repository_fetched_over_a_url_reads_the_branch_and_path(registered, repo, tmp_path):
    bare = tmp_path / "remote.git"
    repo.git("clone", "-q", "--bare", str(repo.path), str(bare))
    call_command(
        "add_git_source", "remote", "--url", f"file://{bare}", "--path", "infrastructure/machines",
        "--cluster", "sandbox", stdout=open("/dev/null", "w"),
    )  # fmt: skip
    source = GitSource.objects.get(name="remote")
    assert sorted(source.desired_objects.values_list("name", flat=True)) == ["worker-staging-001", "worker-staging-002"]
    assert source.commit == repo.git("rev-parse", "HEAD").strip()
    assert source.commit_message == "Staging environment"


def test_a_missing_branch_or_an_unreachable_repository_is_a_clear_error(registered, repo, tmp_path):
    with pytest.raises(CommandError, match="has no branch 'release'"):
        call_command(
            "add_git_source", "rel", "--local", str(repo.path), "--branch", "release", "--cluster", "sandbox",
            stdout=open("/dev/null", "w"), stderr=open("/dev/null", "w"),
        )  # fmt: skip
    source = GitSource.objects.get(name="rel")
    assert "has no branch 'release'" in source.last_error
    with pytest.raises(CommandError, match=r"cannot fetch file:///nowhere/repo.git: .*"):
        call_command("add_git_source", "gone", "--url", "file:///nowhere/repo.git", "--cluster", "sandbox")
    with pytest.raises(CommandError, match="no registered cluster named nowhere"):
        call_command("add_git_source", "x", "--local", str(repo.path), "--cluster", "nowhere")


def test_drift_json_lists_every_object_with_its_state(running_sync, repo, kubectl, capsys):
    sandbox, cluster, _ = running_sync
    add_source(repo)
    call_command("drift", "--source", "infra", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert {row["state"] for row in rows} == {"git-only"}
    assert rows[0].keys() == {"source", "cluster", "kind", "namespace", "name", "state", "fields"}
    assert {(row["kind"], row["name"]) for row in rows} >= {("Machine", "worker-staging-001")}


def test_a_drift_change_is_announced_to_the_drift_group_and_the_objects_page(make_cluster):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from gitops import drift
    from gitops.models import DesiredObject, GitTarget
    from tests.factories import k8s_object, mirror

    cluster = make_cluster("sandbox")
    mirror(cluster, k8s_object("Machine", "worker-staging-001", namespace="staging", spec={"instanceType": "a"}))
    source = GitSource.objects.create(name="infra", local_path="/nowhere")
    GitTarget.objects.create(source=source, cluster=cluster, namespace="staging")
    body = k8s_object("Machine", "worker-staging-001", namespace="staging", spec={"instanceType": "b"})
    DesiredObject.objects.create(
        source=source, api_version=body["apiVersion"], kind="Machine", namespace="staging",
        name="worker-staging-001", file="m.yaml", index=0, body=body,
    )  # fmt: skip
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("drift", channel)
    assert drift.refresh(source) is True
    message = async_to_sync(layer.receive)(channel)
    assert message == {"type": "drift.changed", "source": source.pk}
    record = DriftRecord.objects.get()
    assert record.state == "differs" and record.fields == [{"path": "spec.instanceType", "git": "b", "cluster": "a"}]
    assert drift.refresh(source) is False  # nothing changed: no record written, nothing announced


def test_the_sources_targeting_a_cluster_are_remembered_until_a_target_changes(make_cluster, django_assert_num_queries):
    """Every committed sync batch asks which sources target its cluster: remembered, not re-read per batch."""
    from gitops.models import GitTarget
    from gitops.signals import sources_targeting

    cluster = make_cluster()
    assert sources_targeting(cluster.pk) == set()
    with django_assert_num_queries(0):
        assert sources_targeting(cluster.pk) == set()

    source = GitSource.objects.create(name="infra", local_path="/srv/infra")
    target = GitTarget.objects.create(source=source, cluster=cluster)
    assert sources_targeting(cluster.pk) == {source.pk}

    target.delete()
    assert sources_targeting(cluster.pk) == set()
