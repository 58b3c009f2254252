"""Reading values out of a spec that came from a cluster and may hold anything."""

from __future__ import annotations


def as_str(value, limit: int | None = 250) -> str:
    """A string column value; numbers are shown as written, other types ignored."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (str, int, float)):
        text = str(value)
        return text[:limit] if limit else text
    return ""


def as_int(value) -> int | None:
    """An integer column value, or None for anything that is not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**31) <= value < 2**31 else None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return as_int(int(value.strip()))
    return None


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}
