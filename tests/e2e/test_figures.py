"""The overview's figures in a real browser: a chart bar opens exactly the rows it counts."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS, log_in
from tests.factories import viewer
from tests.vitiweb.test_figures import tempting_fleet

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_quota_bar_opens_the_machines_it_counts_and_the_page_shows_shared_and_unattributed(
    page,
    live_server,
    screenshot,
):
    tempting_fleet()  # shared providers, node groups whose nodes are Machines, unknown prices
    viewer(username="vera")
    log_in(page, live_server, "vera")
    expect(page.locator('.chart[data-figure="fig-quota"]')).to_have_attribute("data-drawn", "true")
    expect(page.locator("#usage-shared")).to_contain_text("Shared")
    expect(page.locator("#usage-none")).to_contain_text("Unattributed")
    expect(page.locator("#cost-method")).to_contain_text("How this is estimated")
    screenshot(page, "figures-01-overview")
    page.locator('section[aria-labelledby="usage-heading"]').screenshot(path=str(SCREENSHOTS / "figures-01b-usage.png"))

    # alpha's bar: 7 machines counted against a limit of 6. Plotly draws bars bottom-up, in trace order.
    used = page.locator('.chart[data-figure="fig-quota"] .trace.bars').first.locator(".point path")
    labels = page.evaluate("JSON.parse(document.getElementById('fig-quota').textContent).data[0].y")
    # Plotly's drag layer lies over the bars: click where the bar is drawn, as a user does.
    bar = used.nth(labels.index("east/alpha"))
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url("**/machines/?vitistack=*")
    expect(page.locator("#result-count")).to_contain_text("7")
    screenshot(page, "figures-02-alpha-machines")
    assert not [m for m in page.console_messages if "Content Security Policy" in m or "pageerror" in m]
