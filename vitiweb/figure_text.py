"""The facts of a Plotly chart as a table: its text alternative (WCAG 1.1.1).

A chart is a picture; an operator who cannot see it reads the same numbers in a table
built from the very figure the browser draws, so the two cannot disagree. The table
lives beside the chart in the same template fragment, so a live update refreshes both.
Each number links where its bar does (the trace's ``customdata``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class Cell(str):
    """A value as the table shows it, with the URL its bar links to (``customdata``) and what the value is
    (the trace's ``meta``: a count of the rows there, a sum over the items there, or a limit)."""

    url: str = ""
    meta: str = "count"
    value: object = None

    @classmethod
    def of(cls, text: str, url="", meta="count", value=None) -> Cell:
        cell = cls(text)
        cell.url = url if isinstance(url, str) else ""
        cell.meta = meta if meta in ("count", "sum", "limit") else "count"
        cell.value = value
        return cell


@dataclass
class FigureTable:
    category: str
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[str]]] = field(default_factory=list)


def _number(value, prefix: str = "", suffix: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{prefix}{value:,.3f}".rstrip("0").rstrip(".") + suffix
    if isinstance(value, (int, float)):
        return f"{prefix}{int(value):,}{suffix}"
    return f"{prefix}{value}{suffix}"


def figure_table(figure: dict, category: str = "") -> FigureTable:
    """One row per category (bar) or slice (pie), one column per trace, every value the chart draws."""
    layout = figure.get("layout") or {}
    table = FigureTable(category=category)
    values: dict[str, dict[int, object]] = {}
    for index, trace in enumerate(figure.get("data") or []):
        if trace.get("type") == "pie":
            labels, numbers, axis = trace.get("labels") or [], trace.get("values") or [], {}
        elif trace.get("orientation") == "h":
            labels, numbers, axis = trace.get("y") or [], trace.get("x") or [], layout.get("xaxis") or {}
        else:
            labels, numbers, axis = trace.get("x") or [], trace.get("y") or [], layout.get("yaxis") or {}
        table.columns.append(str(trace.get("name") or f"Series {index + 1}"))
        prefix, suffix = axis.get("tickprefix", ""), axis.get("ticksuffix", "")
        urls = trace.get("customdata") or []
        for position, (label, number) in enumerate(zip(labels, numbers, strict=False)):
            url = urls[position] if position < len(urls) else ""
            text = _number(number, prefix, suffix)
            values.setdefault(str(label), {})[index] = Cell.of(text, url, trace.get("meta"), number)
    # Horizontal bars are drawn bottom-up; the table reads top-down, as the picture does.
    ordered = list(values.items())
    if any(trace.get("orientation") == "h" for trace in figure.get("data") or []):
        ordered.reverse()
    table.rows = [(label, [cells.get(i, "—") for i in range(len(table.columns))]) for label, cells in ordered]
    return table
