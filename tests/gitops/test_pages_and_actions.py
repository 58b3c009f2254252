"""Git sources, drift, sync from Git, back to Git and promotion as an operator uses them in the dashboard."""

import threading
import time

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from gitops.models import DriftRecord, GitSource, Promotion
from machines.models import Machine
from stacks.models import Vitistack
from tests.factories import admin, operator, user, viewer
from tests.gitops.conftest import wait_for, wait_for_the_repository_mirrored
from vitiweb.editing.models import ApplyRun
from vitiweb.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def applied(running_sync, repo, kubectl):
    """The repository applied with kubectl, synced, and registered as the source of the staging namespace."""
    kubectl("apply", "-f", str(repo.path / "infrastructure" / "namespaces.yaml"))
    kubectl("apply", "-R", "-f", str(repo.path / "infrastructure"))
    sandbox, cluster, _ = running_sync
    wait_for_the_repository_mirrored()
    call_command(
        "add_git_source", "infra", "--local", str(repo.path), "--path", "infrastructure", "--push",
        "--cluster", "sandbox", "--namespace", "staging", stdout=open("/dev/null", "w"),
    )  # fmt: skip
    return GitSource.objects.get(name="infra"), cluster


def drifted(source, name="worker-staging-001"):
    return wait_for(
        lambda: DriftRecord.objects.filter(source=source, name=name, state="differs").first(), what=f"{name} to drift"
    )


def test_pages_need_a_role_and_writes_need_an_operator(client, applied):
    source, _ = applied
    record = DriftRecord.objects.filter(source=source).first()
    pages = [
        reverse("gitsource_list"),
        reverse("gitsource_detail", args=[source.pk]),
        reverse("driftrecord_list"),
        reverse("driftrecord_detail", args=[record.pk]),
        reverse("promotion_list"),
    ]
    for url in pages:
        assert client.get(url).status_code == 302, url
    client.force_login(user(None, username="norole"))
    for url in pages:
        assert client.get(url).status_code == 403, url
    client.force_login(viewer())
    for url in pages:
        assert client.get(url).status_code == 200, url
    assert client.post(reverse("driftrecord_sync"), {"record": record.pk}).status_code == 403
    assert client.post(reverse("gitsource_fetch", args=[source.pk])).status_code == 403
    assert client.get(reverse("gitsource_add")).status_code == 403
    assert "Dry-run sync from Git" not in client.get(reverse("driftrecord_list")).content.decode()


def test_the_drift_page_filters_and_a_detail_page_shows_the_diff(client, applied, kubectl):
    source, cluster = applied
    kubectl("patch", "machine", "worker-staging-001", "-n", "staging", "--type=merge", "-p",
            '{"spec":{"instanceType":"m5.xlarge"}}')  # fmt: skip
    drifted(source)
    client.force_login(viewer())
    page = client.get(reverse("driftrecord_list") + "?state=differs").content.decode()
    assert "Machine staging/worker-staging-001" in page and "worker-staging-002" not in page
    assert "spec.instanceType" in page
    machine = Machine.objects.get(cluster=cluster, name="worker-staging-001")
    detail = client.get(machine.get_absolute_url()).content.decode()
    assert "Git: Differs" in detail and "m5.xlarge" in detail and "<code>m5.large</code>" in detail
    overview = client.get(reverse("home")).content.decode()
    assert "Drift from Git" in overview and "Differs: <strong>1</strong>" in overview


def test_sync_from_git_dry_runs_then_applies_and_the_object_returns_in_sync(client, applied, kubectl):
    source, cluster = applied
    kubectl("patch", "machine", "worker-staging-001", "-n", "staging", "--type=merge", "-p",
            '{"spec":{"instanceType":"m5.xlarge"}}')  # fmt: skip
    record = drifted(source)
    # kubectl now owns the field: an operator's sync is refused with the conflict, nothing applied.
    client.force_login(operator())
    response = client.post(reverse("driftrecord_sync"), {"record": record.pk, "_action": "dry-run"})
    run = ApplyRun.objects.get()
    assert response["Location"] == reverse("applyrun_detail", args=[run.pk])
    assert run.dry_run and run.origin == f"Git source infra at {source.short_commit}"
    assert run.state == "failed" and "managed by kubectl-patch" in run.items[-1]["message"]
    assert client.post(reverse("driftrecord_sync"), {"record": record.pk, "force": "1"}).status_code == 403

    # An admin lets Git win: dry-run, then apply; the object returns in sync through the watch.
    client.force_login(admin())
    client.post(reverse("driftrecord_sync"), {"record": record.pk, "_action": "dry-run", "force": "1"})
    assert ApplyRun.objects.first().state == "succeeded"
    assert Machine.objects.get(name="worker-staging-001").spec["instanceType"] == "m5.xlarge"  # nothing applied
    client.post(reverse("driftrecord_sync"), {"record": record.pk, "_action": "apply", "force": "1"})
    wait_for(lambda: DriftRecord.objects.get(pk=record.pk).state == "in-sync", what="the object back in sync")
    assert Machine.objects.get(name="worker-staging-001").spec["instanceType"] == "m5.large"
    entry = AuditEntry.objects.filter(action="apply", name="worker-staging-001").get()
    assert f"(from Git source infra at {source.short_commit})" in entry.message


def test_unmanaged_objects_are_deleted_only_one_by_one_with_confirmation(client, applied, kubectl):
    source, cluster = applied
    kubectl("create", "-f", "-", input=(
        '{"apiVersion":"vitistack.io/v1alpha1","kind":"Machine","metadata":{"name":"debug-staging-001",'
        '"namespace":"staging"},"spec":{"machineProvider":{"name":"aws-us-west-provider"},"instanceType":"m5.large"}}'
    ))  # fmt: skip
    record = wait_for(
        lambda: DriftRecord.objects.filter(name="debug-staging-001", state="cluster-only").first(), what="unmanaged"
    )
    client.force_login(operator())
    # Syncing from Git never touches it.
    client.post(reverse("driftrecord_sync"), {"record": record.pk, "_action": "apply"})
    assert not ApplyRun.objects.exists()
    client.post(reverse("driftrecord_delete", args=[record.pk]), {"confirm": "wrong", "_action": "delete"})
    assert Machine.objects.filter(name="debug-staging-001").exists()
    client.post(reverse("driftrecord_delete", args=[record.pk]), {"confirm": "debug-staging-001", "_action": "delete"})
    wait_for(lambda: not Machine.objects.filter(name="debug-staging-001").exists(), what="the deletion to sync")
    assert AuditEntry.objects.get(action="delete").message.startswith("Machine staging/debug-staging-001 was deleted")


def test_back_to_git_commits_the_clusters_values_on_a_new_branch_keeping_the_file_as_written(
    client, applied, kubectl, repo
):
    source, cluster = applied
    kubectl("patch", "machine", "worker-staging-002", "-n", "staging", "--type=merge", "-p",
            '{"spec":{"instanceType":"m5.xlarge"}}')  # fmt: skip
    record = drifted(source, "worker-staging-002")
    client.force_login(operator())
    response = client.post(reverse("driftrecord_back_to_git"), {"record": record.pk, "_action": "commit"})
    assert response.status_code == 302
    branches = [b.strip(" *") for b in repo.git("branch", "--list", "vitiweb/*").splitlines()]
    assert len(branches) == 1
    text = repo.git("show", f"{branches[0]}:infrastructure/machines/worker-nodes/workers.yaml")
    assert text.startswith("# Two workers in one file")  # the comment and the first document as written
    first, second = text.split("\n---\n")
    assert "instanceType: m5.large" in first and "instanceType: m5.xlarge" in second
    assert repo.git("rev-parse", "main").strip() == source.commit  # main is the operator's to merge

    patch = client.post(reverse("driftrecord_back_to_git"), {"record": record.pk, "_action": "patch"})
    assert patch["Content-Type"].startswith("text/x-patch")
    body = patch.content.decode()
    assert "-  instanceType: m5.large" in body and "+  instanceType: m5.xlarge" in body


def test_promotion_rewrites_names_namespace_and_labels_dry_runs_then_applies(client, applied, kubectl):
    source, cluster = applied
    kubectl("create", "namespace", "production")
    client.force_login(operator())
    form = {
        "source_cluster": cluster.pk, "source_namespace": "staging", "from_environment": "staging",
        "target_cluster": cluster.pk, "target_namespace": "production", "to_environment": "production",
        "batch_size": 0,
    }  # fmt: skip
    listing = client.get(reverse("promotion_new"), form).content.decode()
    assert "Machine worker-staging-001" in listing and "Vitistack staging-us-west-vitistack" in listing
    chosen = [f"Vitistack:{Vitistack.objects.get().pk}"] + [f"Machine:{m.pk}" for m in Machine.objects.all()]
    preview = client.post(reverse("promotion_new"), {**form, "object": chosen, "_action": "preview"})
    text = preview.content.decode()
    assert "Machine staging/worker-staging-001 → production/worker-production-001" in text
    assert "Vitistack staging/staging-us-west-vitistack → production/production-us-west-vitistack" in text
    assert "would be created" in text
    assert not Machine.objects.filter(namespace="production").exists()

    response = client.post(reverse("promotion_new"), {**form, "object": chosen, "_action": "apply"})
    promotion = Promotion.objects.get()
    assert response["Location"] == reverse("promotion_detail", args=[promotion.pk])
    assert promotion.state == "succeeded", promotion.message
    assert promotion.revision == source.commit
    wait_for(lambda: Machine.objects.filter(namespace="production").count() == 2, what="promoted machines")
    promoted = Machine.objects.get(namespace="production", name="worker-production-001")
    assert promoted.labels["vitistack.io/environment"] == "production"


def test_an_admin_adds_a_source_in_the_form_and_sees_its_revision(client, registered, repo):
    client.force_login(admin())
    response = client.post(
        reverse("gitsource_add"),
        {"name": "web", "local_path": str(repo.path), "branch": "main", "path": "infrastructure",
         "clusters": ["sandbox"], "auth": "none"},
    )  # fmt: skip
    source = GitSource.objects.get(name="web")
    assert response["Location"] == reverse("gitsource_detail", args=[source.pk])
    page = client.get(response["Location"]).content.decode()
    assert source.short_commit in page and "5 in the revision in use" in page
    bad = client.post(
        reverse("gitsource_add"), {"name": "bad", "branch": "main", "clusters": ["sandbox"], "auth": "token"}
    )
    assert bad.status_code == 422 and "Give either a repository URL or a local path." in bad.content.decode()


def _promote_machines(client, cluster, batch_size):
    form = {
        "source_cluster": cluster.pk, "source_namespace": "staging", "from_environment": "staging",
        "target_cluster": cluster.pk, "target_namespace": "production", "to_environment": "production",
        "batch_size": batch_size,
    }  # fmt: skip
    chosen = [f"Machine:{m.pk}" for m in Machine.objects.filter(namespace="staging")]
    client.post(reverse("promotion_new"), {**form, "object": chosen, "_action": "apply"})
    return Promotion.objects.get()


@override_settings(VITIWEB_PROMOTION_POLL_SECONDS=0.05, VITIWEB_PROMOTION_BATCH_TIMEOUT=30)
def test_a_gradual_promotion_waits_for_each_batch_to_be_ready(client, applied, kubectl):
    source, cluster = applied
    kubectl("create", "namespace", "production")
    seen_when_created = {}
    stop = threading.Event()

    def controller():
        """Brings each promoted Machine up, noting which were Running when it appeared."""
        running = set()
        while not stop.is_set():
            for machine in Machine.objects.filter(namespace="production").exclude(name__in=running):
                seen_when_created[machine.name] = set(running)
                kubectl("patch", "machine", machine.name, "-n", "production", "--subresource=status",
                        "--type=merge", "-p", '{"status":{"phase":"Running"}}')  # fmt: skip
                running.add(machine.name)
            time.sleep(0.05)

    thread = threading.Thread(target=controller)
    thread.start()
    try:
        client.force_login(operator())
        promotion = _promote_machines(client, cluster, batch_size=1)
    finally:
        stop.set()
        thread.join()
    assert promotion.state == "succeeded", promotion.message
    assert [(item["to"], item["batch"], item["state"]) for item in promotion.items] == [
        ("production/worker-production-001", 1, "ready"),
        ("production/worker-production-002", 2, "ready"),
    ]
    # The second batch was applied only once the first was Running.
    assert seen_when_created["worker-production-002"] == {"worker-production-001"}


@override_settings(VITIWEB_PROMOTION_POLL_SECONDS=0.05, VITIWEB_PROMOTION_BATCH_TIMEOUT=1)
def test_a_batch_that_never_becomes_ready_stops_the_promotion(client, applied, kubectl):
    source, cluster = applied
    kubectl("create", "namespace", "production")
    client.force_login(operator())
    promotion = _promote_machines(client, cluster, batch_size=1)
    assert promotion.state == "failed" and promotion.message == "batch 1 was not Ready within 1 s"
    assert [item["state"] for item in promotion.items] == ["applied", "skipped"]
    assert not Machine.objects.filter(name="worker-production-002").exists()


def test_sync_everything_that_drifted_at_once(client, applied, kubectl):
    source, cluster = applied
    kubectl("delete", "machine", "worker-staging-002", "-n", "staging")
    wait_for(lambda: DriftRecord.objects.filter(name="worker-staging-002", state="git-only").exists(), what="git-only")
    client.force_login(operator())
    client.post(reverse("driftrecord_sync"), {"all_drifted": "1", "_action": "apply"})
    run = ApplyRun.objects.get()
    assert [item["name"] for item in run.items if item["kind"] == "Machine"] == ["worker-staging-002"]
    wait_for(lambda: not DriftRecord.objects.exclude(state="in-sync").exists(), what="everything in sync")
