"""WCAG 2.2 AA on every page: axe-core finds no serious or critical violation, in light and dark themes.

The pages are found by crawling the navigation from the overview, as an operator would click
through it, not from a list kept here: a page added later is checked as soon as a link
reaches it. Each kind of page (its path with the numbers taken out) is checked once.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.urls import reverse
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.accessibility import THEMES, pictures_without_text, settle, violations
from tests.e2e.conftest import log_in
from tests.factories import admin, fleet
from tests.topology.conftest import EXAMPLES
from vitiweb.models import AuditEntry, MirroredObject

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: Not pages: downloads, the JSON behind pictures, Django's admin and the API's browsable pages
#: (neither is ours to restyle), and logging out (which would end the crawl).
NOT_PAGES = re.compile(r"^/(logout|admin|api|assets|static)/|\.(ya?ml|json|zip)$")
#: Pages that no link leads to by default, or only through a form: a search with results.
SEEDS = ("/", "/search/?q=production")


def page_kind(path: str) -> str:
    """Pages that differ only by a database key are the same kind of page."""
    return re.sub(r"/\d+(?=/)", "/<pk>", urlsplit(path).path)


@pytest.fixture
def crawl_data(db):
    from django.core.management import call_command

    from vitiweb.editing.models import ApplyRun

    data = fleet()
    call_command("import_manifests", str(EXAMPLES), "--source", "examples", verbosity=0)
    ada = admin(username="ada")
    AuditEntry.objects.create(
        user=ada,
        cluster=data.east,
        action=AuditEntry.Action.DRY_RUN,
        kind="Machine",
        namespace="production",
        name="worker-production-001",
        manifest="kind: Machine\n",
        diff="- a\n+ b\n",
        result=AuditEntry.Result.SUCCESS,
        message="dry run accepted",
    )
    ApplyRun.objects.create(
        user=ada,
        cluster=data.east,
        state=ApplyRun.State.FAILED,
        items=[
            {"kind": "Vitistack", "namespace": "production", "name": "a", "state": "applied", "message": ""},
            {"kind": "Machine", "namespace": "production", "name": "b", "state": "failed", "message": "invalid"},
        ],
        message="one document failed",
    )
    return data


def expected_page_kinds() -> set[str]:
    """What the crawl must reach for its verdict to mean something."""
    expected = {
        reverse(name)
        for name in ("home", "cluster_list", "search", "auditentry_list", "manifest_bulk_apply", "topology:findings")
    }
    for model in apps.get_models():
        obj = model.objects.first() if issubclass(model, MirroredObject) else None
        if obj is None:
            continue
        detail = obj.get_absolute_url()
        listing = detail.rsplit(f"{obj.pk}/", 1)[0]
        expected |= {page_kind(detail + tab) for tab in ("", "yaml/", "history/", "edit/")}
        expected |= {listing, listing + "new/"}
    expected |= {"/clusters/<pk>/", "/audit/<pk>/", "/apply/runs/<pk>/", "/topology/hierarchy/"}
    return expected


def is_dark(page) -> bool:
    channels = page.evaluate("getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3)")
    return sum(int(channel) for channel in channels) < 3 * 128


def crawl(page, base: str, theme: str) -> tuple[set[str], list[str]]:
    """Visit every kind of page reachable from the seeds; axe each one."""
    queue = [base + seed for seed in SEEDS]
    seen: set[str] = set()
    failures: list[str] = []
    while queue:
        url = queue.pop(0)
        if page_kind(url) in seen:
            continue
        try:
            response = page.goto(url)
        except PlaywrightError as error:
            if "Download is starting" in str(error):  # a file to save, not a page
                continue
            raise
        kind = page_kind(page.url)
        if kind in seen:  # a redirect to a page already checked
            continue
        seen.add(kind)
        assert response.ok, f"{url}: HTTP {response.status}"
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue  # metrics, JSON, plain text: no page to read
        settle(page)
        where = f"[{theme}] {urlsplit(page.url).path}"
        failures += violations(page, where) + pictures_without_text(page, where)
        for href in page.eval_on_selector_all("a[href]:not([download])", "links => links.map(a => a.href)"):
            parts = urlsplit(href)
            if href.startswith(base) and not NOT_PAGES.search(parts.path) and page_kind(href) not in seen:
                queue.append(href.split("#")[0])
    return seen, failures


# A crawl of every page the navigation reaches: minutes on a busy machine, more than the suite's per-test bound.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("theme", THEMES)
def test_every_page_the_navigation_reaches_passes_axe(browser, live_server, crawl_data, theme):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme=theme)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login/")
        assert is_dark(page) == (theme == "dark"), f"the {theme} theme was not applied"
        failures = violations(page, f"[{theme}] /login/")
        log_in(page, live_server, "ada")
        reached, crawled_failures = crawl(page, live_server.url, theme)
    finally:
        context.close()
    print(f"[{theme}] checked /login/ and {len(reached)} kinds of page:", *sorted(reached), sep="\n  ")
    missing = expected_page_kinds() - reached
    assert not missing, f"the crawl did not reach {sorted(missing)}; it reached {sorted(reached)}"
    failures += crawled_failures
    assert not failures, f"{len(failures)} serious or critical axe violations:\n" + "\n".join(failures)
