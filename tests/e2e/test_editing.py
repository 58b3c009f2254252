"""The write path in a real browser: form, live preview, schema errors, dry-run, diff, apply, sync, edit, roles."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.factories import operator, viewer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def synced_sandbox(sandbox, tmp_path):
    from tests.sync.conftest import FAST
    from vitiweb.kube.apply import create_namespace
    from vitiweb.sync.clusters import api_client_for, register_cluster
    from vitiweb.sync.engine import ClusterSync

    cluster = register_cluster("sandbox", kubeconfig_path=str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")))
    api = api_client_for(cluster)
    create_namespace(api, "production")
    api.close()
    sync = ClusterSync(cluster.pk, timing=FAST)
    sync.start()
    yield cluster
    sync.stop()


def shot(page, name, selector=None):
    """A viewport screenshot (the editor's side panel is sticky: a full-page one misplaces it)."""
    from tests.e2e.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if selector:
        page.locator(selector).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def field(page, name):
    return page.locator(f'[id="f-{name}"]')


def preview_text(page):
    return page.locator("#preview-yaml").inner_text()


def csp_violations(page):
    return [m for m in page.console_messages if "Content Security Policy" in m or "pageerror" in m]


def test_create_preview_dry_run_apply_sync_then_edit_and_diff(page, live_server, synced_sandbox, screenshot):
    operator(username="olga")
    log_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/vitistacks/new/")
    field(page, "metadata.namespace").fill("production")
    field(page, "metadata.label.environment").fill("production")
    field(page, "spec.region").fill("us-west-2")
    field(page, "spec.description").fill("Production vitistack in AWS US West 2")
    expect(page.locator("#preview-yaml")).to_contain_text("region: us-west-2")

    # The naming convention fills the name.
    page.get_by_role("button", name="Use this name").click()
    assert field(page, "metadata.name").input_value() == "production-us-west-2-vitistack"

    # A repeatable part: add a VPC with a subnet.
    page.locator('button[name="_add"][value="spec.networking.vpcs"]').click()
    field(page, "spec.networking.vpcs.0.name").wait_for()
    field(page, "spec.networking.vpcs.0.name").fill("production-vpc")
    field(page, "spec.networking.vpcs.0.cidr").fill("10.0.0.0/16")
    page.locator('button[name="_add"][value="spec.networking.vpcs.0.subnets"]').click()
    field(page, "spec.networking.vpcs.0.subnets.0.name").wait_for()
    field(page, "spec.networking.vpcs.0.subnets.0.name").fill("public-subnet-1")
    field(page, "spec.networking.vpcs.0.subnets.0.cidr").fill("10.0.1.0/24")
    field(page, "spec.networking.vpcs.0.subnets.0.type").select_option("public")
    field(page, "spec.resourceQuotas.maxMachines").fill("lots")
    page.wait_for_selector('[data-field="spec.resourceQuotas.maxMachines"] .field-error')
    error = page.locator('[data-field="spec.resourceQuotas.maxMachines"] .field-error').inner_text()
    assert "whole number" in error
    assert "1 problem" in page.locator("#preview").inner_text()
    shot(page, "editing-01-schema-error-at-field", '[id="f-spec.resourceQuotas.maxMachines"]')

    field(page, "spec.resourceQuotas.maxMachines").fill("100")
    expect(page.locator("#preview-yaml")).to_contain_text("maxMachines: 100")
    assert page.locator('[data-field="spec.resourceQuotas.maxMachines"] .field-error').count() == 0
    text = preview_text(page)
    assert "name: production-us-west-2-vitistack" in text and "cidr: 10.0.1.0/24" in text
    assert "vitistack.io/environment: production" in text
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "editing-02-form-and-preview")

    page.click("#dry-run-button")
    page.wait_for_selector("#apply-button")
    assert "would be created" in page.locator("#result").inner_text()
    assert page.locator("#result pre.diff ins").count() > 5
    shot(page, "editing-03-dry-run-diff")

    page.click("#apply-button")
    page.wait_for_selector("#synced-link", timeout=20000)
    shot(page, "editing-04-applied-and-synced")
    page.click("#synced-link")
    page.wait_for_url(re.compile(r"/vitistacks/\d+/$"))
    detail_url = page.url
    page.goto(f"{live_server.url}/vitistacks/")
    assert page.locator("text=production-us-west-2-vitistack").count() >= 1

    # Edit: the form opens pre-filled; a change shows as a diff.
    page.goto(detail_url + "edit/")
    assert field(page, "spec.networking.vpcs.0.subnets.0.cidr").input_value() == "10.0.1.0/24"
    field(page, "spec.resourceQuotas.maxMachines").fill("150")
    expect(page.locator("#preview-yaml")).to_contain_text("maxMachines: 150")
    page.click("#dry-run-button")
    page.wait_for_selector("#apply-button")
    assert page.locator("#result pre.diff del").filter(has_text="maxMachines: 100").count() == 1
    assert page.locator("#result pre.diff ins").filter(has_text="maxMachines: 150").count() == 1
    shot(page, "editing-05-edit-diff")
    assert csp_violations(page) == []


def test_a_viewer_sees_no_apply_button_and_a_forged_post_is_refused(page, live_server, synced_sandbox, screenshot):
    viewer(username="vera")
    log_in(page, live_server, "vera")
    page.goto(f"{live_server.url}/vitistacks/new/")
    assert page.locator("#dry-run-button").count() == 0 and page.locator("#apply-button").count() == 0
    assert page.locator("#read-only-note").is_visible()
    shot(page, "editing-06-viewer")
    token = page.locator('input[name="csrfmiddlewaretoken"]').first.input_value()
    for url in ("/editing/vitistacks/dry-run/", "/editing/vitistacks/apply/"):
        response = page.request.post(
            f"{live_server.url}{url}",
            form={
                "csrfmiddlewaretoken": token,
                "metadata.name": "forged",
                "metadata.namespace": "production",
                "spec.region": "x",
                "_cluster": str(synced_sandbox.pk),
                "_token": "forged",
            },
            headers={"X-CSRFToken": token, "Referer": live_server.url},
        )
        assert response.status == 403


def test_bulk_apply_shows_progress_and_the_audit_trail(page, live_server, synced_sandbox, screenshot):
    from tests.editing.conftest import EXAMPLES

    operator(username="olga")
    log_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/apply/")
    text = "\n---\n".join(
        (EXAMPLES / "01-single-cloud" / n).read_text()
        for n in ("machine.yaml", "vitistack.yaml", "machine-provider.yaml", "secret.yaml")
    )
    page.fill("#id_manifests", text)
    page.click("#bulk-apply")
    page.wait_for_selector("#run-message")
    assert "All 4 documents applied." in page.locator("#run-message").inner_text()
    assert "wJalrXUtnFEMI" not in page.content()
    screenshot(page, "editing-07-bulk-apply-run")
    page.goto(f"{live_server.url}/audit/")
    assert page.locator("#audit-table tbody tr").count() == 4
    page.select_option("#id_kind", "Secret")
    expect(page.locator("#audit-table tbody tr")).to_have_count(1)
    screenshot(page, "editing-08-audit")


def test_choosing_another_target_cluster_rebuilds_the_form_for_the_crd_it_serves(
    page, live_server, sandbox, sandbox_factory, tmp_path, settings
):
    """A guide-shaped and a published-shaped cluster: the form follows the chosen one's CRD."""
    from vitiweb.sandbox.sandbox import PUBLISHED_CRDS_DIR
    from vitiweb.sync.clusters import check_connection, register_cluster

    settings.VITIWEB_ALLOW_INTERNAL_ADDRESSES = ["127.0.0.1"]
    guide = register_cluster("a-guide", kubeconfig_path=str(sandbox.write_kubeconfig(tmp_path / "guide")))
    published = sandbox_factory(crds_dir=PUBLISHED_CRDS_DIR)
    oslo = register_cluster("oslo", kubeconfig_path=str(published.write_kubeconfig(tmp_path / "oslo")))
    check_connection(oslo)
    operator(username="olga")
    log_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/vitistacks/new/?cluster={guide.pk}")
    expect(field(page, "metadata.namespace")).to_be_visible()
    expect(field(page, "spec.role")).to_be_attached()
    expect(page.locator("#schema-note")).to_contain_text("as a-guide serves it")
    field(page, "metadata.name").fill("viti-trondheim")

    page.locator("#id_cluster").select_option(str(oslo.pk))
    expect(page.locator("#schema-note")).to_contain_text("as oslo serves it")
    expect(field(page, "metadata.namespace")).to_have_count(0)
    expect(field(page, "spec.zone")).to_be_attached()
    expect(field(page, "spec.role")).to_have_count(0)
    assert field(page, "metadata.name").input_value() == "viti-trondheim"  # what was typed stays
    field(page, "spec.zone").fill("trd1")
    expect(page.locator("#preview-yaml")).to_contain_text("zone: trd1")
    assert "namespace:" not in preview_text(page)
    assert not csp_violations(page)
