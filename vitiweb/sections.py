"""A spec as readable sections instead of a JSON dump.

Each kind describes its spec in its app's ``sections.py`` with these
builders: ``fields`` (a definition list), ``table`` (a list of entries) and
``tree`` (anything else, rendered generically). A ``SpecReader`` remembers
which top-level keys a section used, so whatever the kind does not know yet
still appears under "Other settings": a field is never hidden.

Values are kept as the cluster sent them; templates escape them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Link(NamedTuple):
    """A table cell naming another object of the dashboard: its text, and the path of its page."""

    text: str
    url: str


@dataclass
class Block:
    kind: str  # "fields", "table", "tree", "text"
    title: str = ""
    rows: list = field(default_factory=list)  # fields: [(label, value)]; table: [[cell, ...]]
    columns: list = field(default_factory=list)  # table headings
    value: Any = None  # tree / text


@dataclass
class Section:
    title: str
    blocks: list[Block]
    anchor: str = ""

    @property
    def empty(self) -> bool:
        return not any(block.rows or block.value not in (None, "", {}, []) for block in self.blocks)


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value) -> list:
    return value if isinstance(value, list) else []


def dicts(value) -> list[dict]:
    return [item for item in as_list(value) if isinstance(item, dict)]


def humanize_key(key: str) -> str:
    """``networkPerformance`` -> ``Network performance``; ``serviceCIDR`` -> ``Service CIDR``."""
    words, current = [], ""
    for index, char in enumerate(str(key)):
        following = key[index + 1] if index + 1 < len(key) else ""
        if current and char.isupper() and (not current[-1].isupper() or following.islower()):
            words.append(current)
            current = ""
        if char in "_-":
            words.append(current)
            current = ""
            continue
        current += char
    words.append(current)
    words = [w for w in words if w]
    if not words:
        return str(key)
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[0].upper() + text[1:]


def fields(data, keys=None, title: str = "", skip=()) -> Block:
    """A definition list of ``data``: the ``keys`` given ([(key, label)] or [key]) or all keys in order."""
    data = as_dict(data)
    if keys is None:
        keys = [key for key in data if key not in skip]
    rows = []
    for item in keys:
        key, label = item if isinstance(item, tuple) else (item, humanize_key(item))
        if key in data and data[key] not in (None, "", [], {}):
            rows.append((label, data[key]))
    return Block("fields", title=title, rows=rows)


def pairs(rows, title: str = "") -> Block:
    """A definition list of (label, value) pairs, leaving out empty values."""
    return Block(
        "fields", title=title, rows=[(label, value) for label, value in rows if value not in (None, "", [], {})]
    )


def table(items, columns, title: str = "") -> Block:
    """A table of the dict entries of ``items``; ``columns`` is [(key or callable, heading)].

    A callable column names the keys it reads in ``uses`` (see ``column``).
    Keys an entry has beyond the columns are shown in a last "More" cell, so
    nothing an entry carries is dropped.
    """
    entries = dicts(items)
    known = set()
    for key, _ in columns:
        known.update([key] if isinstance(key, str) else getattr(key, "uses", ()))
    has_more = any(set(entry) - known for entry in entries)
    rows = []
    for entry in entries:
        cells = [key(entry) if callable(key) else entry.get(key) for key, _ in columns]
        if has_more:
            cells.append({k: v for k, v in entry.items() if k not in known} or None)
        rows.append(cells)
    headings = [heading for _, heading in columns] + (["More"] if has_more else [])
    return Block("table", title=title, rows=rows, columns=headings)


def column(function, *uses: str):
    """A computed table column reading the entry keys ``uses``."""
    function.uses = uses
    return function


def first_of(*keys: str):
    """A column showing the first of ``keys`` an entry has (``port`` or ``ports``)."""
    return column(lambda entry: next((entry[k] for k in keys if k in entry), None), *keys)


def tree(value, title: str = "") -> Block:
    return Block("tree", title=title, value=value)


def text(value, title: str = "") -> Block:
    return Block("text", title=title, value=value)


class SpecReader:
    """Hands out parts of a spec and collects what was not handed out."""

    def __init__(self, spec):
        self.spec = as_dict(spec)
        self.used: set[str] = set()

    def take(self, *keys: str):
        """The value of one key (or a dict of several), marked as shown."""
        self.used.update(keys)
        if len(keys) == 1:
            return self.spec.get(keys[0])
        return {key: self.spec[key] for key in keys if key in self.spec}

    def rest(self) -> dict:
        return {key: value for key, value in self.spec.items() if key not in self.used}


def build(reader: SpecReader, sections: list[Section]) -> list[Section]:
    """The non-empty sections, then everything the kind did not place."""
    result = [section for section in sections if not section.empty]
    rest = reader.rest()
    if rest:
        result.append(Section("Other settings", [fields(rest)], anchor="other"))
    for section in result:
        section.anchor = section.anchor or humanize_key(section.title).lower().replace(" ", "-")
    return result


def block_section(title: str, value, anchor: str = "") -> Section:
    """A section for a settings block: scalars as a definition list, nested parts below it."""
    data = as_dict(value)
    if not data:
        return Section(
            title,
            [fields({"value": value}, [("value", title)])] if value not in (None, "", [], {}) else [],
            anchor=anchor,
        )
    return Section(title, [fields(data)], anchor=anchor)


def hourly(price) -> str:
    from providers.models import hourly_price

    value = hourly_price(price)
    return f"${value:.3f}/h" if value is not None else ""
