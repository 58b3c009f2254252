"""Server-side printing: `meta.k8s.io/v1` Table responses.

`kubectl get` asks for Tables and prints the server's columns (a CRD's
additionalPrinterColumns), so the columns and the humanized ages come from here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # resources uses `since` for its age columns
    from .resources import ResourceType


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 192:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def since(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    return human_duration((dt.datetime.now(dt.UTC) - then).total_seconds())


_TOKEN = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_\-]+)
      | \[\s*(?P<index>-?\d+|\*)\s*\]
      | \[\s*'(?P<quoted>[^']*)'\s*\]
      | \[\s*\?\(\s*@\.(?P<fpath>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\s*\]
    """,
    re.VERBOSE,
)


def json_path(obj: Any, expr: str) -> list[Any]:
    """The subset of JSONPath printer columns use: fields, indexes, `*`, `?(@.a=="b")`."""
    expr = expr.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if expr.startswith("$"):
        expr = expr[1:]
    current = [obj]
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            return []
        pos = m.end()
        nxt: list[Any] = []
        for value in current:
            if m.group("field") is not None or m.group("quoted") is not None:
                key = m.group("field") if m.group("field") is not None else m.group("quoted")
                if isinstance(value, dict) and key in value:
                    nxt.append(value[key])
            elif m.group("index") is not None:
                if isinstance(value, list):
                    if m.group("index") == "*":
                        nxt.extend(value)
                    else:
                        i = int(m.group("index"))
                        if -len(value) <= i < len(value):
                            nxt.append(value[i])
                elif isinstance(value, dict) and m.group("index") == "*":
                    nxt.extend(value.values())
            else:
                want = m.group("fval").strip("\"'")
                items = value if isinstance(value, list) else []
                for item in items:
                    got = json_path(item, "." + m.group("fpath"))
                    hit = bool(got) and str(_scalar(got[0])) == want
                    if hit == (m.group("op") == "=="):
                        nxt.append(item)
        current = nxt
    return current


def _scalar(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _cell(col, obj: dict) -> Any:
    if col.cell is not None:
        return col.cell(obj)
    found = json_path(obj, col.json_path or "")
    if not found:
        return None
    value = found[0]
    if col.type == "date" and isinstance(value, str):
        return since(value)
    return value


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "type": c.type,
            "format": c.format,
            "description": c.description,
            "priority": c.priority,
        }
        for c in rt.columns
    ]


def row(rt: ResourceType, obj: dict, include_object: str = "Metadata") -> dict[str, Any]:
    out: dict[str, Any] = {"cells": [_cell(c, obj) for c in rt.columns]}
    if include_object == "Object":
        out["object"] = obj
    elif include_object != "None":
        out["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {}),
        }
    return out


def table(
    rt: ResourceType,
    objects: list[dict],
    metadata: dict[str, Any],
    include_object: str = "Metadata",
    headers: bool = True,
) -> dict[str, Any]:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions(rt) if headers else [],
        "rows": [row(rt, o, include_object) for o in objects],
    }
