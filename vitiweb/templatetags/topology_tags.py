"""Template tags of the topology explorer and the integrity findings.

For other pages to embed:

``{% load topology_tags %}{% object_findings object %}``
    the findings panel of one object (its detail page);
``{% findings_summary %}``
    the findings counts by severity and check (the overview).
"""

from __future__ import annotations

import json

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from vitiweb.integrity import current_findings

register = template.Library()


@register.simple_tag
def table_cell(cell) -> str:
    """A cell of a topology table: text, or ``{"text", "url"}`` for a link (both escaped)."""
    if isinstance(cell, dict):
        if cell.get("url"):
            return format_html('<a href="{}">{}</a>', cell["url"], cell.get("text", ""))
        return format_html("{}", cell.get("text", ""))
    return format_html("{}", "" if cell is None else cell)


@register.simple_tag
def policy_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return format_html("{}", json.dumps(value, ensure_ascii=False))
    return format_html("{}", value)


def object_findings_context(kind: str, pk: int) -> dict:
    return {
        "findings": current_findings().for_object(kind, pk),
        "refresh_url": reverse("topology:object_findings", args=[kind, pk]),
        "blast_url": (
            reverse("topology:view", args=["blast-radius"]) + "?" + urlencode({"kind": kind, "pk": pk})
            if kind != "Machine"
            else ""
        ),
        "composition_url": reverse("topology:view", args=["composition"]) + f"?stack={pk}"
        if kind == "Vitistack"
        else "",
    }


@register.inclusion_tag("topology/_object_findings.html")
def object_findings(obj) -> dict:
    return object_findings_context(obj.KIND, obj.pk)


def findings_summary_context() -> dict:
    index = current_findings()
    return {"counts": index.counts(), "by_check": index.counts_by_check()}


@register.inclusion_tag("topology/_findings_summary.html")
def findings_summary() -> dict:
    return findings_summary_context()


@register.simple_tag
def findings_count(severity: str = "") -> int:
    """How many findings (of one severity, or all): for a nav badge."""
    counts = current_findings().counts()
    return counts.get(severity, 0) if severity else sum(counts.values())
