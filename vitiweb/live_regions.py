"""Which parts of which pages follow the clusters live, and how they are rendered.

A live page is one whose URL name is listed here, with the channel-layer
groups it follows and the ids of its live regions. A region is rendered by
calling the page's own view as htmx would (``HX-Target: <region id>``), so a
push carries exactly the fragment a click would fetch, produced by the same
template and the same permission checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory
from django.urls import Resolver404, resolve
from django_htmx.middleware import HtmxDetails

from vitiweb import live, registry

_LIST_REGIONS = ("results",)
_DETAIL_REGIONS = ("object-head", "tab-panel")
_OVERVIEW_REGIONS = (
    "kind-summaries",
    "attention",
    "overview-charts",
    "clusters",
    "drift-summary",
    "fleet-freshness",
    "overview-derived",
)


@dataclass(frozen=True)
class LivePage:
    path: str  # path and query string, as the browser shows it
    groups: tuple[str, ...]
    regions: tuple[str, ...]


def _kind_pages() -> dict[str, tuple]:
    pages = {}
    for declaration in registry.declarations():
        kind, name = declaration.kind, declaration.model_name
        pages[f"{name}_list"] = (lambda kwargs, kind=kind: (live.list_group(kind),), _LIST_REGIONS)
        for tab in ("detail", "yaml", "history", "events"):
            pages[f"{name}_{tab}"] = (
                lambda kwargs, kind=kind: (live.object_group(kind, kwargs["pk"]),),
                _DETAIL_REGIONS,
            )
    return pages


def _pages() -> dict[str, tuple]:
    return {
        "home": (lambda kwargs: (live.FLEET,), _OVERVIEW_REGIONS),
        "cluster_detail": (lambda kwargs: (live.cluster_group(kwargs["pk"]),), ("cluster-page",)),
        # The topology draws itself; a push only signals that objects changed.
        "topology:index": (lambda kwargs: (live.FLEET,), ()),
        "topology:view": (lambda kwargs: (live.FLEET,), ()),
        "topology:findings": (lambda kwargs: (live.FLEET,), ()),
        "driftrecord_list": (lambda kwargs: (live.DRIFT,), ("drift-results",)),
        "driftrecord_detail": (lambda kwargs: (live.DRIFT,), ("drift-record",)),
        "gitsource_detail": (lambda kwargs: (live.DRIFT,), ("source-state",)),
        "event_list": (lambda kwargs: ("event-list",), ("event-results",)),
        **_kind_pages(),
    }


def live_page(path: str) -> LivePage | None:
    """The live description of the page at ``path`` (with its query), or None if it does not follow anything."""
    parts = urlsplit(path)
    if not parts.path.startswith("/") or parts.scheme or parts.netloc:
        return None
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    entry = _pages().get(match.view_name)
    if entry is None:
        return None
    groups, regions = entry
    return LivePage(path=path, groups=groups(match.kwargs), regions=regions)


class RegionUnavailable(Exception):
    """The user may not see the page (or it is gone): no subscription."""


def render_regions(user, path: str, regions: tuple[str, ...]) -> dict[str, str]:
    """Each region's HTML as the page's view renders it for ``user``, from one call of the view."""
    request = RequestFactory().get(path, HTTP_HX_REQUEST="true")
    request.user = user
    request.htmx = HtmxDetails(request)
    request.csp_nonce = ""  # fragments carry no inline scripts
    request.live_regions = regions
    match = resolve(urlsplit(path).path)
    try:
        response = match.func(request, *match.args, **match.kwargs)
    except Http404 as exc:
        raise RegionUnavailable("not found") from exc
    except PermissionDenied as exc:
        raise RegionUnavailable("permission denied") from exc
    if response.status_code != 200:
        raise RegionUnavailable(f"the page answered {response.status_code}")
    return getattr(response, "regions", {})
