"""The Drift page and a sync from Git, in a real browser."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from gitops.models import DriftRecord, GitSource
from tests.e2e.conftest import log_in
from tests.factories import admin
from tests.gitops.conftest import (  # noqa: F401 - fixtures
    STAGING,
    GitRepo,
    kubectl,
    registered,
    running_sync,
    wait_for,
    wait_for_the_repository_mirrored,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def drifted(running_sync, tmp_path, kubectl):  # noqa: F811 - the imported fixtures, by name
    repo = GitRepo(tmp_path / "repo")
    repo.write(STAGING)
    repo.commit("Staging environment")
    kubectl("apply", "-f", str(repo.path / "infrastructure" / "namespaces.yaml"))
    kubectl("apply", "-R", "-f", str(repo.path / "infrastructure"))
    wait_for_the_repository_mirrored()
    call_command(
        "add_git_source", "infra", "--local", str(repo.path), "--path", "infrastructure",
        "--cluster", "sandbox", "--namespace", "staging", stdout=open("/dev/null", "w"),
    )  # fmt: skip
    kubectl("patch", "machine", "worker-staging-001", "-n", "staging", "--type=merge", "-p",
            '{"spec":{"instanceType":"m5.xlarge"}}')  # fmt: skip
    return wait_for(lambda: DriftRecord.objects.filter(state="differs").first(), what="drift")


def test_an_admin_finds_drift_on_the_drift_page_and_syncs_it_from_git(page, live_server, drifted, screenshot):
    admin(username="ada")
    log_in(page, live_server, "ada")
    page.get_by_role("link", name="Drift from Git").click()
    expect(page.locator("h1")).to_have_text("Drift")
    page.select_option("#id_state", "differs")
    rows = page.locator("#drift-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Machine staging/worker-staging-001")
    expect(rows.first).to_contain_text("spec.instanceType")
    screenshot(page, "drift-list")

    page.get_by_label("Choose Machine staging/worker-staging-001").check()
    page.get_by_label("Take over fields others changed (Git wins)").check()
    page.click("#drift-apply")
    expect(page.locator("#run-progress")).to_contain_text("All 2 documents applied")

    source = GitSource.objects.get()
    wait_for(lambda: DriftRecord.objects.get(pk=drifted.pk).state == "in-sync", what="the object back in sync")
    page.goto(f"{live_server.url}/drift/?state=in-sync&q=worker-staging-001")
    expect(page.locator("#drift-table tbody tr").first).to_contain_text("In sync")
    expect(page.locator("#drift-table")).to_contain_text(source.short_commit)
    screenshot(page, "drift-after-sync")
