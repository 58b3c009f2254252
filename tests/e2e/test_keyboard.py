"""The keyboard alone: every action reachable in focus order, each stop visibly focused and not hidden
under a sticky bar (WCAG 2.1.1, 2.4.3, 2.4.7, 2.4.11); what changes is said politely without moving
the focus (4.1.3)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.accessibility import violations
from tests.e2e.conftest import log_in
from tests.e2e.test_live import deployment  # noqa: F401  (the fixture: a web and a sync process on a sandbox)
from tests.factories import admin, fleet, make_cluster, operator
from tests.topology.conftest import EXAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: What the focused element looks like: whether it matches, shows an outline, and is the element
#: drawn at its place (not covered by the sticky top bar, a sticky section bar or the live badge).
FOCUS = """(selector) => {
  const el = document.activeElement;
  if (!el || el === document.body) return {matches: false, outlined: false, covered: null, what: "the page body"};
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  const line = el.getClientRects()[0] || rect;  // a link wrapped over lines: its first line
  const x = Math.min(Math.max(line.left + Math.min(line.width / 2, 12), 0), innerWidth - 1);
  const y = Math.min(Math.max(line.top + line.height / 2, 0), innerHeight - 1);
  const hit = document.elementFromPoint(x, y);
  const own = hit && (hit === el || el.contains(hit) || (el.labels && [...el.labels].some(l => l.contains(hit))));
  return {
    matches: el.matches(selector),
    outlined: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 1 && rect.width > 0,
    covered: own ? null : (hit ? hit.outerHTML.slice(0, 80) : "nothing (off screen)"),
    what: el.outerHTML.slice(0, 120),
  };
}"""


def tab_to(page, selector: str, limit: int = 500, key: str = "Tab") -> None:
    """Press Tab until ``selector`` has the focus; every element passed on the way must show its focus."""
    for _ in range(limit):
        page.keyboard.press(key)
        state = page.evaluate(FOCUS, selector)
        assert state["outlined"], f"no visible focus on {state['what']}"
        assert state["covered"] is None, f"{state['what']} has the focus but {state['covered']} covers it"
        if state["matches"]:
            return
    raise AssertionError(f"{selector} is not reached in {limit} presses of {key}")


def walk_the_page(page, limit: int = 1000) -> int:
    """Tab through every stop of the page to its end; each must show its focus in view. Returns the count."""
    for stops in range(limit):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS, "body")
        if state["matches"] or state["what"] == "the page body":
            return stops
        assert state["outlined"], f"no visible focus on {state['what']}"
        assert state["covered"] is None, f"{state['what']} has the focus but {state['covered']} covers it"
    raise AssertionError(f"the focus did not reach the end of the page in {limit} presses of Tab")


def focused(page, selector: str) -> bool:
    return page.evaluate("(selector) => document.activeElement.matches(selector)", selector)


def test_the_skip_link_comes_first_and_takes_the_focus_to_the_content(page, live_server):
    fleet()
    admin(username="ada")
    log_in(page, live_server, "ada")
    page.keyboard.press("Tab")
    assert focused(page, "a.skip-link") and page.locator("a.skip-link").is_visible()
    page.keyboard.press("Enter")
    assert focused(page, "main#main")
    # The next stop is in the content (the breadcrumbs), not back in the top bar or the sidebar.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


@pytest.mark.parametrize("path", ["/", "/machines/", "/topology/findings/"])
def test_every_stop_on_a_page_shows_its_focus_in_view(page, live_server, path):
    fleet()
    admin(username="ada")
    log_in(page, live_server, "ada")
    page.goto(f"{live_server.url}{path}")
    assert walk_the_page(page) > 10


def test_the_editor_by_keyboard_create_a_vitistack_add_and_remove_a_list_item_and_preview(page, live_server):
    make_cluster("prod-east")
    operator(username="olga")
    log_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/vitistacks/new/")

    tab_to(page, '[id="f-metadata.name"]')
    page.keyboard.type("keyboard-stack")
    tab_to(page, '[id="f-metadata.namespace"]')
    page.keyboard.type("production")
    tab_to(page, 'button[name="_add"][value="spec.machineProviders"]')
    page.keyboard.press("Enter")
    # The new item's first field takes the focus: the operator types on without looking for it.
    expect(page.locator('[id="f-spec.machineProviders.0.name"]')).to_be_focused()
    page.keyboard.type("aws-ec2-provider")
    expect(page.locator("#preview-yaml")).to_contain_text("name: aws-ec2-provider")
    expect(page.locator("#preview-yaml")).to_contain_text("name: keyboard-stack")
    # The preview refreshed beside the field without taking the focus from it.
    expect(page.locator('[id="f-spec.machineProviders.0.name"]')).to_be_focused()

    # Remove sits in the item's head, before its fields.
    tab_to(page, 'button[name="_remove"][value="spec.machineProviders.0"]', key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator('[id="f-spec.machineProviders.0.name"]')).to_have_count(0)
    # The focus is not lost to the top of the page with the removed button: it is on the list's Add.
    expect(page.locator('button[name="_add"][value="spec.machineProviders"]')).to_be_focused()
    expect(page.locator("#announcer")).to_contain_text("Removed")
    expect(page.locator("#preview-yaml")).not_to_contain_text("aws-ec2-provider")

    # The actions further on are reachable too.
    tab_to(page, "#dry-run-button")
    assert violations(page, "editor after a keyboard walk") == []


def test_the_topology_explorer_by_keyboard_opens_a_nodes_side_panel(page, live_server):
    from django.core.management import call_command

    call_command("import_manifests", str(EXAMPLES), "--source", "examples", verbosity=0)
    admin(username="ada")
    log_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/topology/hierarchy/")
    page.wait_for_selector("#topology-figure[data-drawn]")

    tab_to(page, "#topology-node")
    options = page.locator("#topology-node option").all_inner_texts()
    assert any(text.startswith("Vitistack us-vitistack") for text in options), options
    for _ in options:
        if page.evaluate("document.getElementById('topology-node').selectedOptions[0].text").startswith(
            "Vitistack us-vitistack"
        ):
            break
        page.keyboard.press("ArrowDown")
    tab_to(page, "#topology-pick button")
    page.keyboard.press("Enter")

    title = page.locator("#side-panel .side-panel-title")
    expect(title).to_have_text("us-vitistack")
    # The panel asked for takes the focus at its heading; its actions come next in the focus order.
    expect(title).to_be_focused()
    tab_to(page, "#side-panel a", limit=1)
    assert "Effective policies" in page.inner_text("#side-panel")
    assert violations(page, "topology with a side panel open") == []


def test_a_filter_changed_by_keyboard_says_the_new_count_and_keeps_the_focus(page, live_server):
    fleet()
    admin(username="ada")
    log_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/machines/")
    tab_to(page, "#id_phase")
    page.keyboard.press("F")  # type-ahead on the closed select: one change, to "Failed"
    assert page.input_value("#id_phase") == "Failed"
    expect(page.locator("#announcer")).to_have_text("1 machine matches")
    expect(page.locator("#id_phase")).to_be_focused()
    # The table itself is not a live region: swapping it is not read out whole.
    assert page.locator("#results[aria-live]").count() == 0


def test_a_live_update_is_announced_in_a_sentence_and_leaves_the_focus_alone(deployment, browser):  # noqa: F811
    from tests.e2e.test_live import kubectl, live

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, deployment, "viewer")
    page.goto(f"{deployment.url}/machines/")
    live(page)
    page.focus("#id_label")
    kubectl(
        deployment.kubeconfig,
        "patch",
        "machine",
        "m1",
        "-n",
        "production",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": "Running"}}),
    )
    expect(page.locator("#results")).to_contain_text("Running", timeout=2_000)
    expect(page.locator("#announcer")).to_have_text("Updated: Results.", timeout=3_000)
    expect(page.locator("#id_label")).to_be_focused()
    context.close()
