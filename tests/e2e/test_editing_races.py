"""The editor's form actions against its live preview, with the timing forced.

The preview is re-requested whenever a field changes (400 ms after typing, 100 ms
after a change), so it is routinely in flight when the operator clicks a button, and
a button's request is routinely in flight when the preview fires again. Each test
holds one request's response (Playwright route interception) while the other side
happens, then lets it through: the page must end where the operator left it.
"""

import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.factories import operator

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def field(page, name):
    return page.locator(f'[id="f-{name}"]')


class Held:
    """The next ``count`` POSTs to one URL, answered only when the test releases them; later ones pass."""

    def __init__(self, page, url_glob, count=1):
        self.page = page
        self.routes = []
        self.remaining = count
        page.route(url_glob, self._hold)

    def _hold(self, route):
        if route.request.method == "POST" and self.remaining:
            self.remaining -= 1
            self.routes.append(route)
        else:
            route.continue_()

    def wait(self, count=1, timeout=10.0):
        """Until ``count`` requests are held (route handlers run while Playwright is called)."""
        deadline = time.monotonic() + timeout
        while len(self.routes) < count:
            assert time.monotonic() < deadline, f"{count} request(s) never sent"
            self.page.wait_for_timeout(20)

    def release(self):
        for route in self.routes:
            route.continue_()
        self.routes.clear()


@pytest.fixture
def editor(page, live_server):
    operator(username="olga")
    log_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/vitistacks/new/")
    field(page, "metadata.namespace").fill("production")
    expect(page.locator("#preview-yaml")).to_contain_text("namespace: production")
    return page


def a_preview_goes_out_and_returns(page, *, by):
    """Type into a metadata field (outside the re-rendered sections) and wait for that preview's response."""
    with page.expect_response(lambda r: "/preview/" in r.url and r.request.method == "POST"):
        field(page, "metadata.label.environment").fill(by)
    expect(page.locator("#preview-yaml")).to_contain_text(f"vitistack.io/environment: {by}")


def test_an_add_in_flight_survives_a_preview_fired_after_it(editor):
    page = editor
    held = Held(page, "**/vitistacks/new/")
    page.locator('button[name="_add"][value="spec.networking.vpcs"]').click()
    held.wait()
    a_preview_goes_out_and_returns(page, by="staging")
    held.release()
    expect(field(page, "spec.networking.vpcs.0.name")).to_be_visible()


def test_what_is_typed_while_an_add_is_in_flight_is_kept(editor):
    page = editor
    field(page, "spec.region").fill("us-west-2")
    held = Held(page, "**/vitistacks/new/")
    page.locator('button[name="_add"][value="spec.networking.vpcs"]').click()
    held.wait()
    field(page, "spec.region").fill("eu-north-1")
    field(page, "spec.description").fill("typed while the add was on its way")
    held.release()
    expect(field(page, "spec.networking.vpcs.0.name")).to_be_visible()
    assert field(page, "spec.region").input_value() == "eu-north-1"
    assert field(page, "spec.description").input_value() == "typed while the add was on its way"
    # The operator was typing there: the focus stays, not jumping to the new row.
    assert page.evaluate("document.activeElement.id") == "f-spec.description"
    expect(page.locator("#preview-yaml")).to_contain_text("region: eu-north-1")


def test_two_quick_adds_give_two_rows(editor):
    page = editor
    held = Held(page, "**/vitistacks/new/", count=2)
    add = page.locator('button[name="_add"][value="spec.networking.vpcs"]')
    add.click()
    held.wait()
    add.click()  # the same button: the first add has not come back yet
    held.release()
    held.wait()  # the second is sent once the first is in the page, so it carries the first row
    held.release()
    expect(field(page, "spec.networking.vpcs.1.name")).to_be_visible()
    assert page.locator('[data-path="spec.networking.vpcs"] > .item').count() == 2


def test_a_preview_in_flight_does_not_undo_an_add(editor):
    page = editor
    held = Held(page, "**/editing/vitistacks/preview/")
    field(page, "spec.region").fill("us-west-2")
    held.wait()
    page.locator('button[name="_add"][value="spec.networking.vpcs"]').click()
    expect(field(page, "spec.networking.vpcs.0.name")).to_be_visible()
    held.release()  # the stale preview answers last
    field(page, "spec.networking.vpcs.0.name").fill("production-vpc")
    expect(page.locator("#preview-yaml")).to_contain_text("name: production-vpc")
    assert page.locator('[data-path="spec.networking.vpcs"] > .item').count() == 1


@pytest.fixture
def sandbox_cluster(sandbox, tmp_path):
    from vitiweb.sync.clusters import register_cluster

    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    return register_cluster("sandbox", kubeconfig_path=str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")))


def test_a_dry_run_in_flight_survives_a_preview_fired_after_it(page, live_server, sandbox_cluster):
    operator(username="olga")
    log_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/vitistacks/new/")
    field(page, "metadata.name").fill("race")
    field(page, "metadata.namespace").fill("production")
    field(page, "spec.region").fill("us-west-2")
    expect(page.locator("#preview-yaml")).to_contain_text("region: us-west-2")
    held = Held(page, "**/editing/vitistacks/dry-run/")
    page.click("#dry-run-button")
    held.wait()
    a_preview_goes_out_and_returns(page, by="staging")
    held.release()
    expect(page.locator("#result")).to_contain_text("would be created")
