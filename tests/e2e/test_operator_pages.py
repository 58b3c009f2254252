"""An operator's way through the dashboard, in a real browser."""

import re

import pytest

from tests.e2e.conftest import log_in
from tests.factories import admin, fleet, viewer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data():
    data = fleet()
    viewer(username="vera")
    admin(username="ada")
    return data


def csp_violations(page):
    return [m for m in page.console_messages if "Content Security Policy" in m or "pageerror" in m]


def test_login_then_the_overview_draws_its_charts(page, live_server, data, screenshot):
    page.goto(f"{live_server.url}/machines/")
    assert "/login/" in page.url
    screenshot(page, "01-login")
    log_in(page, live_server, "vera")
    page.wait_for_selector(".chart[data-drawn] .main-svg")
    assert page.locator(".chart[data-drawn]").count() == 4
    assert page.locator(f"#cluster-{data.east.pk}").is_visible()
    assert "disk quota exceeded" in page.locator("#attention").inner_text()
    screenshot(page, "02-overview")
    assert csp_violations(page) == []


def test_filtering_a_list_updates_the_table_and_url_without_reloading(page, live_server, data, screenshot):
    log_in(page, live_server, "vera")
    page.goto(f"{live_server.url}/machines/")
    page.evaluate("window.__marker = 'still-here'")
    assert page.locator("#results tbody tr").count() == 3

    page.select_option("#id_phase", "Failed")
    page.wait_for_url(re.compile(r"/machines/\?phase=Failed$"))
    page.wait_for_function("document.querySelectorAll('#results tbody tr').length === 1")
    assert page.evaluate("window.__marker") == "still-here"  # no full reload
    assert page.locator(f"#machine-{data.failed.pk}").is_visible()

    page.select_option("#id_phase", "")
    page.fill("#id_label", "vitistack.io/environment=production")
    page.wait_for_url(re.compile(r"label=vitistack.io%2Fenvironment%3Dproduction"))
    page.wait_for_function("document.querySelectorAll('#results tbody tr').length === 1")
    assert page.locator(f"#machine-{data.running.pk}").is_visible()
    assert page.evaluate("window.__marker") == "still-here"
    screenshot(page, "03-machines-filtered")

    # The URL is the view: opening it afresh shows the same filtered table.
    page.goto(page.url)
    assert (
        page.locator("#results tbody tr").count() == 1
        and page.input_value("#id_label") == "vitistack.io/environment=production"
    )

    page.goto(f"{live_server.url}/machines/")
    page.evaluate("window.__marker = 'sorted'")
    page.click("th a.sort:has-text('Instance type')")
    page.wait_for_url(re.compile(r"sort=instance_type"))
    assert page.evaluate("window.__marker") == "sorted"
    assert page.locator("th[aria-sort=ascending]").text_content().strip().startswith("Instance type")
    assert csp_violations(page) == []


def test_a_detail_page_with_related_objects_yaml_download_and_history(page, live_server, data, screenshot):
    log_in(page, live_server, "vera")
    page.goto(f"{live_server.url}/machines/")
    page.click(f"#machine-{data.pending.pk} a.obj-link")
    page.wait_for_url(f"{live_server.url}{data.pending.get_absolute_url()}")
    related = page.locator("#related")
    assert related.get_by_role("link", name=re.compile("aws-ec2-provider")).first.is_visible()
    assert "Dangling" in related.inner_text() and "t3.micro" in related.inner_text()
    screenshot(page, "04-machine-detail")

    page.evaluate("window.__marker = 'tabs'")
    page.click(".tabs a[data-tab=yaml]")
    page.wait_for_url(re.compile(r"/yaml/$"))
    page.wait_for_selector("#manifest-yaml")
    assert page.evaluate("window.__marker") == "tabs"
    assert "name: bastion-host" in page.inner_text("#manifest-yaml")
    assert page.get_attribute(".tabs a[data-tab=yaml]", "aria-current") == "page"
    screenshot(page, "05-machine-yaml")
    with page.expect_download() as download_info:
        page.click(".yaml-card a[download]")
    download = download_info.value
    assert download.suggested_filename == "prod-east_tools_machine_bastion-host.yaml"
    assert "kind: Machine" in open(download.path()).read()

    page.click(".tabs a[data-tab=history]")
    page.wait_for_selector(".journal-entry")
    screenshot(page, "06-machine-history")

    page.goto(f"{live_server.url}{data.provider.get_absolute_url()}")
    assert "Instance types" in page.inner_text("main") and "$0.096/h" in page.inner_text("main")
    assert page.locator("#related").get_by_role("link", name=re.compile("worker-production-001")).is_visible()
    screenshot(page, "07-provider-detail")
    page.goto(f"{live_server.url}{data.stack.get_absolute_url()}")
    screenshot(page, "08-vitistack-detail")
    assert csp_violations(page) == []


def test_a_viewer_cannot_reach_an_admin_action(page, live_server, data, screenshot):
    log_in(page, live_server, "vera")
    assert page.locator("nav#sidebar a:has-text('Add cluster')").count() == 0
    response = page.goto(f"{live_server.url}/clusters/add/")
    assert response.status == 403
    page.goto(f"{live_server.url}/clusters/")
    assert page.locator("a:has-text('Add cluster')").count() == 0
    screenshot(page, "09-clusters-as-viewer")


def test_an_admin_tests_a_kubeconfig_before_saving(page, live_server, data, screenshot, monkeypatch):
    from tests.vitiweb.test_cluster_pages import KUBECONFIG, report

    monkeypatch.setattr("vitiweb.kube.discovery.connection_test", lambda client, **kwargs: report())
    log_in(page, live_server, "ada")
    page.click("nav#sidebar a:has-text('Add cluster')")
    page.fill("#id_name", "prod-north")
    page.fill("#id_kubeconfig_text", KUBECONFIG)
    page.evaluate("window.__marker = 'form'")
    page.click("button[value=test]")
    page.wait_for_selector("#connection-test .result.tone-ok")
    assert page.evaluate("window.__marker") == "form"
    assert "v1.29.2" in page.inner_text("#connection-test")
    screenshot(page, "10-cluster-add-tested")
    page.click("button[value=save]")
    page.wait_for_url(re.compile(r"/clusters/\d+/$"))
    assert "prod-north" in page.inner_text("h1")
    assert "eyJhbGci" not in page.content()
    screenshot(page, "11-cluster-detail")


def test_the_global_search_finds_objects_by_label_value(page, live_server, data, screenshot):
    log_in(page, live_server, "vera")
    page.keyboard.press("/")
    page.keyboard.type("staging")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q=staging"))
    assert page.get_by_role("link", name="worker-production-002").is_visible()
    screenshot(page, "12-search")
