"""Plotly figure assembly: edges as line traces, nodes as one scatter trace per state.

The figure carries positions, labels and short hover texts only. Plotly
renders hover text and labels as a small HTML subset, and everything here
comes from a cluster, so every string is escaped (``<``, ``>``, ``&``) before
it goes in. Each node's ``customdata`` holds what a click needs: the side
panel's URL, the expand key of a collapsed group, the node id.
"""

from __future__ import annotations

import math
from functools import cache

from django.urls import reverse
from django.utils.http import urlencode

from vitiweb import registry
from vitiweb.fleet import FAILED, MISSING, PROGRESSING, READY, UNKNOWN
from vitiweb.topology.graph import (
    DANGLING,
    DEPENDS,
    GROUP,
    LEFT_RIGHT,
    MISMATCH,
    ONE_SIDED,
    SOLID,
    Graph,
    Placement,
)

STATE_STYLE = {
    READY: ("Ready", "#1f9d55"),
    PROGRESSING: ("Progressing", "#2f6fdf"),
    FAILED: ("Failed", "#d64545"),
    UNKNOWN: ("No status", "#8a94a6"),
    MISSING: ("Missing (referenced, not found)", "#f1f3f7"),
}
EDGE_STYLE = {
    SOLID: ("declared", "#8a94a6", "solid", 1.6),
    DEPENDS: ("related", "#b7bfcc", "dot", 1.2),
    ONE_SIDED: ("declared on one side only", "#e08a00", "dash", 2.0),
    MISMATCH: ("declared, but inconsistent", "#e08a00", "solid", 2.2),
    DANGLING: ("dangling reference", "#d64545", "dash", 2.0),
}
#: Nodes that are not objects of a declared kind (the kinds' own symbols are in the registry).
PART_SYMBOL = {"NodeGroup": "triangle-up", "Node pool": "triangle-up", "Provider type": "hexagram"}


def symbol_of(kind: str) -> str:
    """The marker of a node: its kind's ``topology_symbol`` (the registry), a part's, or a circle."""
    try:
        declared = registry.get(kind).topology_symbol
    except LookupError:
        declared = ""
    return declared or PART_SYMBOL.get(kind, "circle")


SEVERITY_LINE = {"error": ("#d64545", 3.5), "warning": ("#e08a00", 3), "info": ("#2f6fdf", 1.5)}


def escape(text) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@cache
def _panel_pattern(kind: str) -> str:
    return reverse("topology:panel", args=[kind, 987654321]).replace("987654321", "{}")


def panel_url(node) -> str:
    if node.pk is not None:
        return _panel_pattern(node.kind).format(int(node.pk))
    if node.missing_address[0]:
        kind, namespace, name = node.missing_address
        return reverse("topology:panel_missing") + "?" + urlencode({"kind": kind, "namespace": namespace, "name": name})
    return ""


def _arrow(route) -> tuple[float, float, float]:
    """A point near the end of the last segment and its angle (degrees clockwise from up, y pointing down)."""
    (x0, y0), (x1, y1) = route[-2], route[-1]
    t = 0.78 if len(route) == 2 else 0.6
    x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
    angle = math.degrees(math.atan2(x1 - x0, y1 - y0))  # y grows downwards in layout coordinates
    return x, y, 180 - angle


def build_figure(graph: Graph, placement: Placement, direction: str, title: str = "") -> dict:
    traces = []
    by_style: dict[str, list] = {}
    for edge, route in zip(graph.edges, placement.routes, strict=True):
        by_style.setdefault(edge.style, []).append((edge, route))
    for style in (DEPENDS, SOLID, ONE_SIDED, MISMATCH, DANGLING):
        items = by_style.get(style)
        if not items:
            continue
        name, colour, dash, width = EDGE_STYLE[style]
        xs, ys, ax, ay, angles = [], [], [], [], []
        for _, route in items:
            for x, y in route:
                xs.append(round(x, 3))
                ys.append(round(-y, 3))
            xs.append(None)
            ys.append(None)
            x, y, angle = _arrow(route)
            ax.append(round(x, 3))
            ay.append(round(-y, 3))
            angles.append(round(angle, 1))
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": xs,
                "y": ys,
                "name": name,
                "legendgroup": f"edge-{style}",
                "hoverinfo": "skip",
                "line": {"color": colour, "dash": dash, "width": width},
            }
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": ax,
                "y": ay,
                "showlegend": False,
                "legendgroup": f"edge-{style}",
                "hoverinfo": "skip",
                "marker": {"symbol": "arrow", "size": 9, "angle": angles, "color": colour},
            }
        )
    labelled = [(edge, route) for edge, route in zip(graph.edges, placement.routes, strict=True) if edge.label]
    if labelled:
        xs, ys, texts, hovers = [], [], [], []
        for edge, route in labelled:
            middle = len(route) // 2
            (x0, y0), (x1, y1) = route[middle - 1], route[middle]
            xs.append(round((x0 + x1) / 2, 3))
            ys.append(round(-(y0 + y1) / 2, 3))
            texts.append(escape(edge.label))
            hovers.append(escape(edge.hover or edge.label))
        traces.append(
            {
                "type": "scatter",
                "mode": "text",
                "x": xs,
                "y": ys,
                "text": texts,
                "hovertext": hovers,
                "hoverinfo": "text",
                "name": "edge labels",
                "showlegend": False,
                "textfont": {"size": 10, "color": "#5b6576"},
            }
        )

    by_state: dict[str, list] = {}
    symbols_by_kind: dict[str, str] = {}
    for node in graph.nodes.values():
        by_state.setdefault(node.state, []).append(node)
    for state in (FAILED, PROGRESSING, READY, UNKNOWN, MISSING):
        nodes = by_state.get(state)
        if not nodes:
            continue
        name, colour = STATE_STYLE[state]
        xs, ys, texts, hovers, custom, symbols, sizes, line_colours, line_widths = ([] for _ in range(9))
        for node in nodes:
            x, y = placement.positions[node.id]
            xs.append(round(x, 3))
            ys.append(round(-y, 3))
            label = escape(node.label)
            if node.sublabel:
                label += f"<br><span style='font-size:9px'>{escape(node.sublabel)}</span>"
            texts.append(label)
            hover_lines = [f"<b>{escape(node.kind)} {escape(node.label)}</b>", *(escape(line) for line in node.hover)]
            hovers.append("<br>".join(hover_lines))
            custom.append([panel_url(node), node.expand, node.id])
            if node.kind not in symbols_by_kind:
                symbols_by_kind[node.kind] = symbol_of(node.kind)
            symbol = symbols_by_kind[node.kind]
            if state == MISSING:
                symbol += "-open"
            symbols.append(symbol)
            sizes.append(min(34, 18 + 4 * math.log2(node.count)) if node.count > 1 else 18)
            line = SEVERITY_LINE.get(node.severity) if node.severity else None
            if state == MISSING:
                line = ("#d64545", 2)
            line_colours.append(line[0] if line else "#ffffff")
            line_widths.append(line[1] if line else 1)
        traces.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": xs,
                "y": ys,
                "name": name,
                "text": texts,
                "textposition": "bottom center",
                "hovertext": hovers,
                "hoverinfo": "text",
                "customdata": custom,
                "cliponaxis": False,
                "textfont": {"size": 11},
                "marker": {
                    "color": colour,
                    "size": sizes,
                    "symbol": symbols,
                    "line": {"color": line_colours, "width": line_widths},
                },
                "meta": {"state": state},
            }
        )
    groups = sum(1 for node in graph.nodes.values() if node.kind and node.id.startswith(f"{GROUP}:"))
    return {
        "data": traces,
        "layout": {
            "title": {"text": escape(title), "x": 0.01, "font": {"size": 14}} if title else None,
            "showlegend": True,
            "legend": {"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0, "font": {"size": 11}},
            "hovermode": "closest",
            "hoverlabel": {"align": "left"},
            "dragmode": "pan",
            "margin": {"l": 20, "r": 20, "t": 30 if title else 10, "b": 40},
            "xaxis": {"visible": False, "range": _range(placement, "x", direction)},
            "yaxis": {"visible": False, "range": _range(placement, "y", direction)},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": "system-ui, sans-serif"},
            "height": _height(placement, direction),
        },
        "meta": {"nodes": len(graph.nodes), "edges": len(graph.edges), "groups": groups},
    }


def _range(placement: Placement, axis: str, direction: str):
    """Padding around the picture so that labels under the outer nodes stay visible."""
    if axis == "x":
        xs = [x for x, _ in placement.positions.values()] or [0]
        pad = 0.8 if direction != LEFT_RIGHT else 1.4
        return [min(xs) - pad, max(xs) + pad]
    ys = [-y for _, y in placement.positions.values()] or [0]
    return [min(ys) - 0.7, max(ys) + 0.5]


def _height(placement: Placement, direction: str) -> int:
    """Tall enough for the rows of the picture to breathe, never taller than a screen."""
    rows = placement.height
    per_row = 150 if direction != LEFT_RIGHT else 95
    return int(min(820, max(380, rows * per_row + 90)))
