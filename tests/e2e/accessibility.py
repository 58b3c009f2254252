"""axe-core in the browser tests: which findings fail a page, and how they are reported.

axe-core comes bundled in ``axe-playwright-python`` (pinned in requirements.txt); it is
injected into the page under test, so nothing is fetched at run time.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

#: WCAG 2.2 AA is the bar; serious and critical findings fail a page (minor and moderate ones
#: are mostly best practice and are left to review).
FAILING_IMPACTS = {"serious", "critical"}
THEMES = ("light", "dark")

_axe = Axe()
#: axe runs WCAG 2.0-2.2 A/AA and best-practice rules by default, but leaves WCAG 2.2's target size
#: (2.5.8: 24 by 24 CSS pixels, or spaced apart as much) off; AA requires it.
OPTIONS = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}


def violations(page, where: str) -> list[str]:
    """axe's serious and critical violations on the page as it is now, one line per element."""
    results = _axe.run(page, options=OPTIONS).response
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            found.append(f"{where}: {violation['id']} ({violation['impact']}) at {target}: {summary[:300]}")
    return found


def settle(page) -> None:
    """Wait until what the page draws after load (htmx loads, Plotly charts, the topology) is drawn."""
    # Not "networkidle": the live badge's reconnect attempts (no websocket on the test server) keep the
    # network busy; what the page draws itself is waited for below.
    page.wait_for_load_state("load")
    page.wait_for_function(
        """() => [...document.querySelectorAll('.chart[data-figure]')].every(
                   c => c.dataset.drawn || c.classList.contains('chart-empty'))
              && [...document.querySelectorAll('#topology-figure')].every(
                   f => f.dataset.drawn || f.dataset.error || !window.Plotly)
              && !document.querySelector('.htmx-request')"""
    )


def pictures_without_text(page, where: str) -> list[str]:
    """Each drawn Plotly picture needs its facts as text (WCAG 1.1.1): a table in the same figure or
    section, or one that a link in it points to."""
    bare = page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].filter(plot => {
                 if (plot.dataset.nodes === '0') return false;  // an empty picture says why in words
                 const box = plot.closest('figure, section');
                 if (!box) return true;
                 if (box.querySelector('table')) return false;
                 return ![...box.querySelectorAll('a[href^="#"]')].some(link => {
                   const target = document.getElementById(link.getAttribute('href').slice(1));
                   return target && target.querySelector('table');
                 });
               }).map(plot => plot.id || plot.dataset.figure || plot.className)"""
    )
    return [f"{where}: picture-text-alternative at {name}: no table gives its facts as text" for name in bare]
