"""Label and field selectors, parsed with the grammar and errors of apimachinery."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request

Matcher = Callable[[dict], bool]

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _LABEL_VALUE.match(value):
        return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    return None


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside `(...)`."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


_SET_REQ = re.compile(r"^(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)$")
_EQ_REQ = re.compile(r"^(?P<key>[^\s!=()]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)$")


def parse_label_selector(text: str | None) -> Matcher | None:
    if not text:
        return None
    reqs: list[Matcher] = []
    for part in _split_top(text):
        reqs.append(_label_requirement(part, text))
    return lambda labels: all(r(labels) for r in reqs)


def _check_key(key: str, selector: str):
    problem = label_key_problem(key)
    if problem:
        raise bad_request(f'unable to parse requirement: key: Invalid value: "{key}": {problem}')


def _label_requirement(part: str, selector: str) -> Matcher:
    m = _SET_REQ.match(part)
    if m:
        key = m.group("key")
        _check_key(key, selector)
        values = {v.strip() for v in m.group("values").split(",") if v.strip()}
        if m.group("op") == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: key not in labels or labels[key] not in values
    m = _EQ_REQ.match(part)
    if m:
        key, op, value = m.group("key"), m.group("op"), m.group("value")
        _check_key(key, selector)
        problem = label_value_problem(value)
        if problem:
            raise bad_request(f'unable to parse requirement: values[0][{key}]: Invalid value: "{value}": {problem}')
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if part.startswith("!"):
        key = part[1:].strip()
        _check_key(key, selector)
        return lambda labels: key not in labels
    if re.match(r"^[^\s!=(),]+$", part):
        _check_key(part, selector)
        return lambda labels: part in labels
    raise bad_request(f"unable to parse requirement: found '{part}', expected: identifier")


def _field(obj: dict, path: str) -> Any:
    value: Any = obj
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def parse_field_selector(text: str | None, selectable: tuple[str, ...]) -> Matcher | None:
    """`metadata.name`, `metadata.namespace` and the resource's own selectable fields."""
    if not text:
        return None
    allowed = {"metadata.name", "metadata.namespace", *selectable}
    reqs = []
    for part in _split_top(text):
        m = re.match(r"^(?P<key>[^!=\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>.*)$", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        key, op, value = m.group("key"), m.group("op"), m.group("value")
        if key not in allowed:
            raise bad_request(f"field label not supported: {key}")
        negate = op == "!="
        reqs.append((key, value, negate))

    def match(obj: dict) -> bool:
        for key, value, negate in reqs:
            got = _field(obj, key)
            got = "" if got is None else str(got)
            if (got == value) == negate:
                return False
        return True

    return match
