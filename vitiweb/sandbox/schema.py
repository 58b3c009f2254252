"""Structural schemas: validation, pruning and defaulting as the API server does them.

A CRD's `openAPIV3Schema` is compiled once into a tree of `Node`s. One walk over
an object prunes unknown fields (reporting each for `fieldValidation`), fills
`default`s and collects every validation failure as a `details.causes[]` entry,
with the same field paths and messages as kube-apiserver, so that clients see all
the problems of a manifest at once. The same nodes carry the list and map
semantics (`x-kubernetes-list-type`, `-list-map-keys`, `-map-type`) that
server-side apply needs.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object", list: "array"}


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def go_repr(value: Any) -> str:
    """Values in messages look like Go's `%v`/`%q` output, as in kube-apiserver's."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return '"' + type_name(value) + '"'
    return str(value)


class Node:
    """One compiled schema node."""

    __slots__ = (
        "type",
        "properties",
        "additional",
        "items",
        "required",
        "enum",
        "nullable",
        "preserve",
        "int_or_string",
        "embedded",
        "list_type",
        "map_keys",
        "map_atomic",
        "default",
        "checks",
        "raw",
    )

    def __init__(self, raw: dict[str, Any] | None):
        raw = raw or {}
        self.raw = raw
        self.type = raw.get("type")
        self.properties = {k: Node(v) for k, v in (raw.get("properties") or {}).items()}
        additional = raw.get("additionalProperties")
        self.additional = (
            Node(additional) if isinstance(additional, dict) else (DEDUCED if additional is True else None)
        )
        self.items = Node(raw["items"]) if isinstance(raw.get("items"), dict) else None
        self.required = list(raw.get("required") or [])
        self.enum = raw.get("enum")
        self.nullable = bool(raw.get("nullable"))
        self.preserve = bool(raw.get("x-kubernetes-preserve-unknown-fields"))
        self.int_or_string = bool(raw.get("x-kubernetes-int-or-string"))
        self.embedded = bool(raw.get("x-kubernetes-embedded-resource"))
        self.list_type = raw.get("x-kubernetes-list-type", "atomic")
        self.map_keys = list(raw.get("x-kubernetes-list-map-keys") or [])
        self.map_atomic = raw.get("x-kubernetes-map-type") == "atomic"
        self.default = raw.get("default")
        self.checks = [(k, raw[k]) for k in _CHECKS if k in raw]
        if self.embedded:
            for field in ("apiVersion", "kind"):
                self.properties.setdefault(field, Node({"type": "string"}))
            self.properties.setdefault(
                "metadata", Node({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
            )

    # Server-side apply asks these of every node.
    def child(self, key: str) -> Node:
        node = self.properties.get(key)
        if node is not None:
            return node
        if self.additional is not None:
            return self.additional
        return DEDUCED

    def declares(self, key: str) -> bool:
        return key in self.properties

    def element(self) -> Node:
        return self.items or DEDUCED


_CHECKS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
)

# The type of fields no schema declares (under x-kubernetes-preserve-unknown-fields):
# server-side apply treats maps there as granular and lists as atomic.
DEDUCED = Node.__new__(Node)
for _slot in Node.__slots__:
    setattr(DEDUCED, _slot, None)
DEDUCED.properties = {}
DEDUCED.required = []
DEDUCED.preserve = True
DEDUCED.list_type = "atomic"
DEDUCED.map_keys = []
DEDUCED.map_atomic = False
DEDUCED.checks = []
DEDUCED.nullable = True
DEDUCED.int_or_string = False
DEDUCED.embedded = False
DEDUCED.raw = {"x-kubernetes-preserve-unknown-fields": True}


class Report:
    """What one walk found: validation causes and pruned (unknown) field paths."""

    __slots__ = ("causes", "unknown", "defaults")

    def __init__(self, defaults: bool = True):
        self.causes: list[dict[str, str]] = []
        self.unknown: list[str] = []
        # An applied configuration is checked without defaulting: defaults are
        # the server's, not owned by the applier.
        self.defaults = defaults

    def fail(self, reason: str, field: str, message: str):
        self.causes.append({"reason": reason, "message": message, "field": field})


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_ok(node: Node, value: Any) -> bool:
    t = node.type
    if node.int_or_string:
        return (isinstance(value, (int, str)) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if t is None:
        return True
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def walk(node: Node, value: Any, path: str, report: Report) -> Any:
    """Validate `value` against `node`; return it pruned and defaulted (a new object)."""
    if value is None:
        if node.nullable or node is DEDUCED or node.type is None:
            return None
        t = node.type
        report.fail(
            "FieldValueTypeInvalid",
            path,
            f'Invalid value: "null": {path} in body must be of type {t}: "null"',
        )
        return None
    if not _type_ok(node, value):
        expected = "integer,string" if node.int_or_string else node.type
        actual = type_name(value)
        report.fail(
            "FieldValueTypeInvalid",
            path,
            f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"',
        )
        return value
    if isinstance(value, dict):
        value = _walk_object(node, value, path, report)
    elif isinstance(value, list):
        value = _walk_array(node, value, path, report)
    if node.enum is not None and value not in node.enum:
        supported = ", ".join(go_repr(v) for v in node.enum)
        report.fail(
            "FieldValueNotSupported", path, f"Unsupported value: {go_repr(value)}: supported values: {supported}"
        )
    if node.checks:
        _check_bounds(node, value, path, report)
    return value


def _walk_object(node: Node, value: dict, path: str, report: Report) -> dict:
    out: dict[str, Any] = {}
    props = node.properties
    for key, child in value.items():
        sub = props.get(key)
        if sub is not None:
            out[key] = walk(sub, child, _join(path, key), report)
        elif node.additional is not None:
            out[key] = walk(node.additional, child, _join(path, key), report)
        elif node.preserve or node is DEDUCED:
            out[key] = copy.deepcopy(child)
        else:
            report.unknown.append(_join(path, key))
    for key, sub in props.items() if report.defaults else ():
        if key not in out and sub.default is not None:
            out[key] = walk(sub, copy.deepcopy(sub.default), _join(path, key), report)
    for key in node.required:
        if key not in out:
            report.fail("FieldValueRequired", _join(path, key), "Required value")
    return out


def _walk_array(node: Node, value: list, path: str, report: Report) -> list:
    item = node.items
    if item is None:
        out = copy.deepcopy(value)
    else:
        out = [walk(item, v, f"{path}[{i}]", report) for i, v in enumerate(value)]
    if node.list_type in ("set", "map"):
        seen: set[Any] = set()
        for i, v in enumerate(out):
            if node.list_type == "map":
                if not isinstance(v, dict):
                    continue
                key = tuple(repr(v.get(k)) for k in node.map_keys)
                shown = (
                    "map[string]interface {}{" + ", ".join(f'"{k}":{go_repr(v.get(k))}' for k in node.map_keys) + "}"
                )
            else:
                key = repr(v)
                shown = go_repr(v)
            if key in seen:
                report.fail("FieldValueDuplicate", f"{path}[{i}]", f"Duplicate value: {shown}")
            seen.add(key)
    return out


def _check_bounds(node: Node, value: Any, path: str, report: Report) -> None:
    for check, limit in node.checks:
        shown = go_repr(value)
        if check == "minimum" and isinstance(value, (int, float)):
            exclusive = node.raw.get("exclusiveMinimum") is True
            if value < limit or (exclusive and value == limit):
                word = "greater than" if exclusive else "greater than or equal to"
                report.fail(
                    "FieldValueInvalid", path, f"Invalid value: {shown}: {path} in body should be {word} {limit}"
                )
        elif check == "maximum" and isinstance(value, (int, float)):
            exclusive = node.raw.get("exclusiveMaximum") is True
            if value > limit or (exclusive and value == limit):
                word = "less than" if exclusive else "less than or equal to"
                report.fail(
                    "FieldValueInvalid", path, f"Invalid value: {shown}: {path} in body should be {word} {limit}"
                )
        elif check == "multipleOf" and isinstance(value, (int, float)) and limit:
            if value % limit:
                report.fail(
                    "FieldValueInvalid", path, f"Invalid value: {shown}: {path} in body should be a multiple of {limit}"
                )
        elif check == "minLength" and isinstance(value, str) and len(value) < limit:
            report.fail(
                "FieldValueInvalid",
                path,
                f"Invalid value: {shown}: {path} in body should be at least {limit} chars long",
            )
        elif check == "maxLength" and isinstance(value, str) and len(value) > limit:
            report.fail("FieldValueTooLong", path, f"Too long: may not be more than {limit} bytes")
        elif check == "pattern" and isinstance(value, str) and not _pattern(limit).search(value):
            report.fail("FieldValueInvalid", path, f"Invalid value: {shown}: {path} in body should match '{limit}'")
        elif check == "minItems" and isinstance(value, list) and len(value) < limit:
            report.fail(
                "FieldValueInvalid",
                path,
                f"Invalid value: {len(value)}: {path} in body should have at least {limit} items",
            )
        elif check == "maxItems" and isinstance(value, list) and len(value) > limit:
            report.fail("FieldValueTooMany", path, f"Too many: {len(value)}: must have at most {limit} items")
        elif check == "minProperties" and isinstance(value, dict) and len(value) < limit:
            report.fail(
                "FieldValueInvalid",
                path,
                f"Invalid value: {len(value)}: {path} in body should have at least {limit} properties",
            )
        elif check == "maxProperties" and isinstance(value, dict) and len(value) > limit:
            report.fail("FieldValueTooMany", path, f"Too many: {len(value)}: must have at most {limit} items")


_PATTERNS: dict[str, re.Pattern] = {}


def _pattern(expr: str) -> re.Pattern:
    compiled = _PATTERNS.get(expr)
    if compiled is None:
        compiled = _PATTERNS[expr] = re.compile(expr)
    return compiled


# ObjectMeta as a structural schema: what a client may write in `metadata`, with
# the list semantics server-side apply uses for it (finalizers a set, owner
# references keyed by uid). System fields are listed so they are not reported
# as unknown; the store overwrites them.
OBJECT_META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": "string", "nullable": True},
        "deletionTimestamp": {"type": "string", "nullable": True},
        "deletionGracePeriodSeconds": {"type": "integer", "nullable": True},
        "selfLink": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}, "nullable": True},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}, "nullable": True},
        "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set", "nullable": True},
        "ownerReferences": {
            "type": "array",
            "nullable": True,
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["uid"],
            "items": {
                "type": "object",
                "required": ["apiVersion", "kind", "name", "uid"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "name": {"type": "string"},
                    "uid": {"type": "string"},
                    "controller": {"type": "boolean"},
                    "blockOwnerDeletion": {"type": "boolean"},
                },
            },
        },
        "managedFields": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "nullable": True,
        },
    },
}


def compile_root(schema: dict[str, Any] | None) -> Node:
    """Compile a resource's top-level schema; `metadata` is always ObjectMeta."""
    raw = dict(schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    props = dict(raw.get("properties") or {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = OBJECT_META_SCHEMA
    raw["properties"] = props
    raw["type"] = "object"
    return Node(raw)
