"""In a real browser: every topology view draws the examples, a click on a node opens its side
panel, a click on a counted node expands it; a screenshot of each view is kept in
test-artifacts/screenshots/."""

import os
import time
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User

from tests.topology.conftest import load, stack
from vitiweb.models import Cluster
from vitiweb.roles import VIEWER, sync_roles

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: view -> (query string, the node clicked: its label, what its side panel shows)
VIEWS = {
    "hierarchy": ("", "us-vitistack", "Effective policies"),
    "dr": ("", "secondary-vitistack", "disaster-recovery"),
    "edge": ("", "edge-west", "autonomous"),
    "composition": ("?stack={aws_production}", "bastion-host", "t3.micro"),
    "failover": ("", "primary-provider", "failover target"),
    "sharing": ("", "shared-storage-provider", "shared with"),
    "blast-radius": ("?kind=MachineProvider&pk={ec2}", "aws-eks-provider", "Node groups"),
}


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    sync_roles(apps)  # a transactional test's flush removed the groups the migrations made
    user = User.objects.create_user("operator-eyes", password="a-long-test-password")
    user.groups.add(Group.objects.get(name=VIEWER))
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "operator-eyes")
    page.fill("input[name=password]", "a-long-test-password")
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    yield page
    context.close()


def node_position(page, label):
    """Where the node labelled ``label`` is drawn on the page (from Plotly's own axes)."""
    return page.evaluate(
        """(label) => {
          const el = document.getElementById('topology-figure');
          for (const trace of el.data) {
            if (!trace.customdata) continue;
            for (let i = 0; i < trace.text.length; i++) {
              if (trace.text[i] === label || trace.text[i].startsWith(label + '<br>')) {
                const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis, box = el.getBoundingClientRect();
                return [box.left + xa._offset + xa.l2p(trace.x[i]), box.top + ya._offset + ya.l2p(trace.y[i])];
              }
            }
          }
          return null;
        }""",
        label,
    )


def wait_until(page, expression, timeout=10.0):
    """Poll ``expression`` in the page (page.wait_for_function evaluates strings, which the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


def open_view(page, url):
    page.goto(url)
    page.wait_for_selector("#topology-figure[data-drawn=true]", timeout=15000)


def test_every_view_draws_the_examples_and_a_click_opens_the_side_panel(page, live_server, examples):
    from machines.models import Machine  # noqa: F401  (the examples are loaded by the fixture)
    from providers.models import MachineProvider
    from stacks.models import Vitistack

    ids = {
        "aws_production": Vitistack.objects.get(name="aws-production").pk,
        "ec2": MachineProvider.objects.get(name="aws-ec2-provider").pk,
    }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for view, (query, label, panel_text) in VIEWS.items():
        open_view(page, f"{live_server.url}/topology/{view}/{query.format(**ids)}")
        assert int(page.get_attribute("#topology-figure", "data-nodes")) > 0, view
        position = node_position(page, label)
        assert position, f"{view}: node {label} not drawn"
        page.mouse.click(*position)
        page.wait_for_selector(f"#side-panel .side-panel-title:text-is('{label}')", timeout=10000)
        assert panel_text in page.inner_text("#side-panel"), view
        page.mouse.move(5, 5)  # no hover label over the picture
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"topology-{view}.png"), full_page=True)
    page.goto(f"{live_server.url}/topology/findings/")
    assert "Dangling reference" in page.inner_text("#findings-results")
    page.select_option("#f-severity", "error")
    wait_until(page, "document.querySelectorAll('#findings-results .finding-warning').length === 0")
    page.screenshot(path=str(SCREENSHOTS / "topology-findings.png"), full_page=True)
    assert page.errors == []


def test_a_counted_node_expands_on_click_and_the_figure_follows_live_updates(page, live_server, db):
    cluster = Cluster.objects.create(name="big")
    load(
        cluster,
        stack("root", childVitistacks=[{"name": f"child-{i}"} for i in range(12)]),
        *(stack(f"child-{i}", parentVitistack={"name": "root"}) for i in range(12)),
    )
    open_view(page, f"{live_server.url}/topology/hierarchy/")
    assert page.get_attribute("#topology-figure", "data-nodes") == "2"
    page.mouse.click(*node_position(page, "12 × Vitistack"))
    wait_until(page, "document.getElementById('topology-figure').dataset.nodes === '13'")
    assert "expand=" in page.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "topology-hierarchy-expanded.png"), full_page=True)

    # A push from the server (the websocket client dispatches this event) re-fetches the figure.
    load(
        cluster,
        stack("root", childVitistacks=[{"name": f"child-{i}"} for i in range(13)]),
        *(stack(f"child-{i}", parentVitistack={"name": "root"}) for i in range(13)),
    )
    page.evaluate("document.body.dispatchEvent(new CustomEvent('vitiweb:objects-changed'))")
    wait_until(page, "document.getElementById('topology-figure').dataset.nodes === '14'")
    assert page.errors == []
