"""In a real browser: every topology view draws the examples, a click on a node opens its side
panel, a click on a counted node expands it; a screenshot of each view is kept in
test-artifacts/screenshots/."""

import time

import pytest
from django.core.management import call_command

from tests.e2e.conftest import SCREENSHOTS, log_in
from tests.factories import viewer
from tests.topology.conftest import EXAMPLES, load, stack
from vitiweb import integrity
from vitiweb.models import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

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
def examples(transactional_db):
    call_command("import_manifests", str(EXAMPLES), "--source", "examples", verbosity=0)
    integrity.store_findings()  # as the deriving process does after a sync commits
    return Cluster.objects.get(name="examples")


@pytest.fixture
def viewing(page, live_server):
    viewer(username="vera")
    log_in(page, live_server, "vera")
    return page


def page_errors(page):
    return [message for message in page.console_messages if message.startswith("pageerror")]


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


def test_every_view_draws_the_examples_and_a_click_opens_the_side_panel(viewing, live_server, examples):
    page = viewing
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
    assert page_errors(page) == []


def test_a_counted_node_expands_on_click_and_the_figure_follows_live_updates(viewing, live_server):
    page = viewing
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
    assert page_errors(page) == []
