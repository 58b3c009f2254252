"""Template helpers for values that come from a cluster.

Everything here escapes: values are put into markup with ``format_html`` /
``conditional_escape`` only, so a string from a cluster can never become
markup, and links are made only for http(s) URLs.
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from vitiweb import registry
from vitiweb.live_regions import live_page
from vitiweb.sections import Link, humanize_key

register = template.Library()

# mark_safe below only ever wraps constant markup; cluster data always goes through format_html.

MAX_DEPTH = 6
MAX_ITEMS = 200
_LONG_TEXT = 120


@register.filter
def http_url(value) -> str:
    """The URL if it is an absolute http(s) URL, else the empty string (no javascript:, data:, ...)."""
    if not isinstance(value, str):
        return ""
    candidate = value.strip()
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return ""
    if parts.scheme.lower() in ("http", "https") and parts.netloc and not any(c in candidate for c in "\r\n\t "):
        return candidate
    return ""


@register.filter
def age(value) -> str:
    """A short age: 45s, 12m, 5h, 3d, 2y."""
    if not isinstance(value, datetime):
        return ""
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@register.filter
def phase_tone(phase) -> str:
    """A colour family for a phase (ok, warn, bad, idle): the words controllers use."""
    text = (phase or "").lower() if isinstance(phase, str) else ""
    if text in ("running", "ready", "active", "healthy", "available", "succeeded", "provisioned", "bound"):
        return "ok"
    if text in ("failed", "error", "degraded", "unhealthy", "crashloop", "lost", "unreachable"):
        return "bad"
    if text in (
        "pending",
        "provisioning",
        "creating",
        "updating",
        "deleting",
        "terminating",
        "scaling",
        "upgrading",
        "starting",
        "stopping",
        "draining",
    ):
        return "warn"
    return "idle"


@register.filter
def compact_json(value) -> str:
    """A JSON value on one line (a string stays a string, quoted), for diffs."""
    if value is None:
        return ""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= 400 else text[:400] + "…"


@register.filter
def label_pairs(value) -> list[tuple[str, str]]:
    return (
        sorted((str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in value.items())
        if isinstance(value, dict)
        else []
    )


@register.filter
def humanize(key) -> str:
    return humanize_key(str(key))


def _scalar(value) -> SafeString:
    if value is None:
        return mark_safe('<span class="muted">—</span>')
    if isinstance(value, bool):
        return format_html('<span class="flag flag-{}">{}</span>', "on" if value else "off", "Yes" if value else "No")
    if isinstance(value, str):
        if "\n" in value or len(value) > _LONG_TEXT:
            return format_html('<pre class="text-block">{}</pre>', value)
        return format_html("<span>{}</span>", value)
    return format_html('<span class="num">{}</span>', value)


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def render_value(value, depth: int = 0) -> SafeString:
    if _is_scalar(value):
        return _scalar(value)
    if depth >= MAX_DEPTH:
        return format_html('<code class="json">{}</code>', compact_json(value))
    if isinstance(value, list):
        items = value[:MAX_ITEMS]
        more = _more(value)
        if not items:
            return mark_safe('<span class="muted">none</span>')
        if all(_is_scalar(item) for item in items):
            chips = format_html_join("", '<li class="chip">{}</li>', ((_scalar(item),) for item in items))
            return format_html('<ul class="chips">{}</ul>{}', chips, more)
        if all(isinstance(item, dict) for item in items):
            keys: list = []
            for item in items:
                keys.extend(k for k in item if k not in keys)
            if (
                depth < 2
                and len(keys) <= 8
                and all(
                    _is_scalar(v) or isinstance(v, list) and all(map(_is_scalar, v))
                    for item in items
                    for v in item.values()
                )
            ):
                head = format_html_join("", '<th scope="col">{}</th>', ((humanize_key(str(k)),) for k in keys))
                body = format_html_join(
                    "",
                    "<tr>{}</tr>",
                    (
                        (format_html_join("", "<td>{}</td>", ((render_value(item.get(k), depth + 1),) for k in keys)),)
                        for item in items
                    ),
                )
                return format_html(
                    '<div class="table-wrap"><table class="nested"><thead><tr>{}</tr></thead>'
                    "<tbody>{}</tbody></table></div>{}",
                    head,
                    body,
                    more,
                )
        rendered = format_html_join("", "<li>{}</li>", ((render_value(item, depth + 1),) for item in items))
        return format_html('<ol class="value-list">{}</ol>{}', rendered, more)
    if isinstance(value, dict):
        if not value:
            return mark_safe('<span class="muted">empty</span>')
        entries = list(value.items())[:MAX_ITEMS]
        rows = format_html_join(
            "",
            "<div><dt>{}</dt><dd>{}</dd></div>",
            ((humanize_key(str(k)), render_value(v, depth + 1)) for k, v in entries),
        )
        return format_html('<dl class="kv nested-kv">{}</dl>{}', rows, _more(value))
    return format_html("<span>{}</span>", str(value))


def _more(value) -> str:
    """What a list or mapping cut at MAX_ITEMS leaves out, said (the YAML tab has it all)."""
    if len(value) <= MAX_ITEMS:
        return ""
    return format_html('<span class="muted">… {} more (see the YAML)</span>', len(value) - MAX_ITEMS)


@register.simple_tag
def spec_value(value) -> SafeString:
    """Any JSON value from a spec as escaped, readable markup."""
    return render_value(value)


@register.simple_tag
def spec_cell(value) -> SafeString:
    """A table cell: a flat mapping reads as ``key: value`` chips, anything else as ``spec_value``."""
    if isinstance(value, Link):
        # Only the dashboard's own paths are links; the text is escaped like any other.
        if value.url.startswith("/") and not value.url.startswith("//"):
            return format_html('<a href="{}">{}</a>', value.url, value.text)
        return format_html("{}", value.text)
    if isinstance(value, dict) and value and all(_is_scalar(v) for v in value.values()):
        chips = format_html_join(
            "",
            '<li class="chip small"><span class="muted">{}</span> {}</li>',
            ((humanize_key(str(k)), _scalar(v)) for k, v in list(value.items())[:MAX_ITEMS]),
        )
        return format_html('<ul class="chips">{}</ul>{}', chips, _more(value))
    if isinstance(value, dict) and value or isinstance(value, list) and not all(map(_is_scalar, value)):
        # Nested structures stay folded so that a table row keeps its height.
        count = len(value)
        noun = ("field" if isinstance(value, dict) else "item") + ("" if count == 1 else "s")
        return format_html(
            '<details class="more"><summary>{} {}</summary>{}</details>', count, noun, render_value(value, 1)
        )
    return render_value(value)


@register.simple_tag
def sort_link_param(sort, key) -> str:
    """The ``sort`` value a column heading links to: ascending first, then toggles."""
    if sort.key == key and not sort.descending:
        return f"-{key}"
    return key


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def attribute(obj, name):
    """A model field's value by name (the generic list row reads the columns its kind declares)."""
    return getattr(obj, name, "") if name and not name.startswith("_") else ""


@register.simple_tag(takes_context=True)
def nav_current(context, *prefixes) -> str:
    """``aria-current="page"`` for the navigation entry of the page being shown."""
    match = getattr(context.get("request"), "resolver_match", None)
    name = getattr(match, "url_name", "") or ""
    if any(name == prefix or name.startswith(f"{prefix}_") for prefix in prefixes):
        return format_html('aria-current="{}"', "page")
    return ""


@register.simple_tag
def plotly_src() -> str:
    from vitiweb.views.assets import plotly_url

    return plotly_url()


@register.filter
def role_names(user) -> str:
    """The user's roles (groups), for the account menu."""
    if getattr(user, "is_superuser", False):
        return "Superuser"
    return ", ".join(group.name for group in user.groups.all()) or "No role"


@register.inclusion_tag("vitiweb/_kind_navigation.html", takes_context=True)
def kind_navigation(context) -> dict:
    """One entry per declared kind the user may read, grouped by the declarations' navigation sections."""
    user = getattr(context.get("request"), "user", None)
    sections: dict[str, list] = {}
    for declaration in registry.declarations():
        model = declaration.get_model()
        if user is None or not user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}"):
            continue
        sections.setdefault(declaration.nav_section, []).append(
            {
                "label": declaration.nav_label or model._meta.verbose_name_plural.capitalize(),
                "icon": declaration.nav_icon,
                "url": reverse(declaration.url_name("list")),
                "current": nav_current(context, declaration.model_name),
            }
        )
    if user is not None and user.has_perm("vitiweb.view_discoveredobject"):
        from vitiweb.models import DiscoveredObject

        if DiscoveredObject.objects.exists():
            sections.setdefault("Inventory", []).append(
                {
                    "label": "Other kinds",
                    "icon": "…",
                    "url": reverse("discoveredobject_list"),
                    "current": nav_current(context, "discoveredobject"),
                }
            )
    return {"sections": sections}


@register.inclusion_tag("vitiweb/_live.html", takes_context=True)
def live_connection(context) -> dict:
    """The websocket that keeps this page's live regions current (nothing on pages that follow nothing)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or not getattr(user, "is_authenticated", False):
        return {"page": None}
    page = live_page(request.get_full_path())
    return {"page": page, "socket_url": f"/ws/live/?{urlencode({'page': page.path})}" if page else ""}
