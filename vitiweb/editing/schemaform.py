"""Forms generated from a CRD's openAPIV3Schema: every field by construction.

The schema becomes a tree of ``Node``s (objects, lists of objects, lists of
scalars, string maps, free-form YAML, scalars). An object is moved between
three shapes:

- the manifest (a dict, as the cluster holds it),
- flat form data (``{"spec.networking.vpcs.0.cidr": "10.0.0.0/16", ...}``),
  what the browser posts; each list item carries ``<item>.__item``: the
  index it had in the object the form was opened from, or ``new``,
- a bound tree (``Bound``) the templates render, with values and errors.

``unflatten`` merges what the form says into the object the form was opened
from (the *base*): keys the schema does not know are carried over untouched,
list items keep their unknown keys through ``__item`` even when items were
removed before them, and a field whose text still reads as the base value
keeps the base value exactly (``"8080"`` stays a string, ``enabled: false``
stays present). A form opened from an object and posted back unchanged
yields that object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import yaml

from vitiweb import safeyaml
from vitiweb import schema as crd_schema

MISSING = object()
#: Free-form fields (YAML typed in a textarea) are small by nature; a form's fields share one node budget.
FREE_FORM_LIMITS = safeyaml.Limits(max_bytes=64 * 1024, max_depth=32, max_nodes=20_000, max_aliases=100)
FREE_FORM_NODES = 20_000
ITEM = "__item"
NEW = "new"

#: String fields shown as a textarea: long or multi-line by nature.
TEXTAREA_KEYS = {"description", "content", "publicKey"}


@dataclass
class Node:
    key: str
    widget: str  # object | list | scalarlist | map | free | string | integer | number | boolean | intorstring | enum
    schema: dict
    children: list[Node] = field(default_factory=list)
    item: Node | None = None
    required: tuple[str, ...] = ()
    list_keys: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return humanize(self.key)

    @property
    def description(self) -> str:
        text = self.schema.get("description", "")
        # "RBAC." under a legend reading "RBAC" says nothing.
        return "" if text.rstrip(".").lower() == self.label.lower() else text

    @property
    def enum(self) -> list:
        return list(self.schema.get("enum") or (self.item.schema.get("enum") if self.item else None) or [])

    def child(self, key: str) -> Node | None:
        return next((c for c in self.children if c.key == key), None)


ACRONYMS = {
    "rpo": "RPO",
    "rto": "RTO",
    "ip": "IP",
    "id": "ID",
    "cni": "CNI",
    "rbac": "RBAC",
    "vpcs": "VPCs",
    "vpc": "VPC",
    "ami": "AMI",
    "kms": "KMS",
    "ssh": "SSH",
    "url": "URL",
    "aws": "AWS",
    "eks": "EKS",
    "aks": "AKS",
    "gke": "GKE",
    "gcp": "GCP",
    "rke2": "RKE2",
    "k3s": "K3s",
    "cpu": "CPU",
    "gpus": "GPUs",
    "mfa": "MFA",
    "vcpus": "vCPUs",
    "api": "API",
    "os": "OS",
}


def humanize(key: str) -> str:
    """``maxMachines`` -> ``Max machines``; ``serviceCIDR`` -> ``Service CIDR``; ``rpo`` -> ``RPO``."""
    if key.lower() in ACRONYMS:
        return ACRONYMS[key.lower()]
    words = re.findall(
        r"[A-Z]{2,}s(?=[A-Z]|$)|[A-Z]{2,}(?=[A-Z][a-z]|$|[0-9])|[A-Z]?[a-z]+[0-9]*|[A-Z]+|[0-9]+", key
    ) or [key]
    words = [ACRONYMS.get(w.lower(), w if (len(w) > 1 and w.rstrip("s").isupper()) else w.lower()) for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def build_node(schema: dict, key: str = "") -> Node:
    schema = schema or {}
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        return Node(key, "intorstring", schema)
    if kind == "object":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props:
            children = [build_node(child, name) for name, child in props.items()]
            return Node(key, "object", schema, children=children, required=tuple(schema.get("required", ())))
        if isinstance(extra, dict) and extra.get("type") in ("string", "integer", "boolean", "number"):
            return Node(key, "map", schema)
        return Node(key, "free", schema)
    if kind == "array":
        items = schema.get("items") or {}
        if items.get("type") == "object" and items.get("properties"):
            return Node(
                key,
                "list",
                schema,
                item=build_node(items),
                list_keys=tuple(schema.get("x-kubernetes-list-map-keys", ())),
            )
        if items.get("type") in ("string", "integer", "number") and not items.get("x-kubernetes-int-or-string"):
            return Node(key, "scalarlist", schema, item=build_node(items))
        return Node(key, "free", schema)
    if kind in ("string", "integer", "number", "boolean"):
        if schema.get("enum"):
            return Node(key, "enum", schema)
        return Node(key, kind, schema)
    return Node(key, "free", schema)


@lru_cache(maxsize=64)
def spec_node(api_version: str, kind: str, shape: str = "guide") -> Node:
    """The tree of ``spec`` for a kind, from its CRD in one API shape."""
    root = crd_schema.schema_for(api_version, kind, shape)
    if root is None:
        raise LookupError(f"the {shape} API shape has no {kind} in {api_version}")
    return build_node(root["properties"]["spec"], "spec")


# -- scalars ----------------------------------------------------------------------------------------


def render_scalar(value) -> str:
    if value is MISSING or value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


class ParseError(ValueError):
    pass


def parse_scalar(node: Node, text: str):
    widget = node.widget
    if widget == "enum":
        scalar_type = node.schema.get("type")
        if scalar_type == "integer":
            widget = "integer"
        else:
            return text
    if widget == "boolean":
        if text in ("true", "false"):
            return text == "true"
        raise ParseError("choose yes or no")
    if widget == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise ParseError("must be a whole number") from None
    if widget == "number":
        try:
            number = float(text.strip())
        except ValueError:
            raise ParseError("must be a number") from None
        return int(number) if number.is_integer() and "." not in text else number
    if widget == "intorstring":
        stripped = text.strip()
        return int(stripped) if re.fullmatch(r"-?[0-9]+", stripped) else stripped
    return text


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def render_map(value) -> str:
    if not isinstance(value, dict):
        return ""
    return "\n".join(f"{k}={render_scalar(v)}" for k, v in value.items())


def render_free(value) -> str:
    if value is MISSING:
        return ""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip("\n")


def parse_map(text: str) -> dict:
    result = {}
    for number, line in enumerate(_lines(text), 1):
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ParseError(f"line {number}: write key=value")
        result[key.strip()] = value.strip()
    return result


# -- object -> form data ----------------------------------------------------------------------------


def flatten(node: Node, value, prefix: str, data: dict) -> dict:
    """Write ``value`` (of ``node``'s shape) into ``data`` under ``prefix``."""
    widget = node.widget
    if value is MISSING:
        return data
    if widget == "object":
        if isinstance(value, dict):
            for child in node.children:
                flatten(child, value.get(child.key, MISSING), f"{prefix}.{child.key}", data)
        else:
            data[prefix] = render_free(value)
    elif widget == "list":
        if isinstance(value, list):
            for index, item in enumerate(value):
                data[f"{prefix}.{index}.{ITEM}"] = str(index)
                flatten(node.item, item if isinstance(item, dict) else {}, f"{prefix}.{index}", data)
        else:
            data[prefix] = render_free(value)
    elif widget == "scalarlist":
        data[prefix] = "\n".join(render_scalar(v) for v in value) if isinstance(value, list) else render_free(value)
    elif widget == "map":
        data[prefix] = render_map(value)
    elif widget == "free":
        data[prefix] = render_free(value)
    else:
        data[prefix] = render_scalar(value) if not isinstance(value, (dict, list)) else render_free(value)
    return data


# -- form data -> object ----------------------------------------------------------------------------


@dataclass
class Parsed:
    """What ``unflatten`` found besides the value: parse errors and list positions."""

    errors: dict[str, str] = field(default_factory=dict)  # form name -> message
    # One budget for every free-form field of a form: many small bombs cost no more than one.
    free_nodes: safeyaml.NodeBudget = field(default_factory=lambda: safeyaml.NodeBudget(FREE_FORM_NODES))
    # form name of a list -> the form indices of its items, in the order they appear in the object
    positions: dict[str, list[int]] = field(default_factory=dict)


def item_indices(data, prefix: str) -> list[int]:
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.{ITEM}$")
    found = {int(m.group(1)) for key in data.keys() if (m := pattern.match(key))}
    return sorted(found)


def _same_text(node: Node, text: str, base) -> bool:
    if base is MISSING:
        return False
    if node.widget in ("map",):
        return render_map(base) == text.replace("\r\n", "\n").strip()
    if node.widget == "scalarlist":
        return isinstance(base, list) and [render_scalar(v) for v in base] == _lines(text)
    if node.widget == "free" or isinstance(base, (dict, list)):
        return render_free(base) == text.replace("\r\n", "\n").rstrip("\n")
    return render_scalar(base) == text


def unflatten(node: Node, data, prefix: str, base=MISSING, parsed: Parsed | None = None):
    """The value ``data`` describes under ``prefix``, merged into ``base``; MISSING if none."""
    parsed = parsed if parsed is not None else Parsed()
    widget = node.widget
    if widget == "object":
        if base is not MISSING and not isinstance(base, dict):
            # Not an object in the cluster: the form shows it as YAML.
            return _unflatten_free(node, data, prefix, base, parsed)
        base_dict = base if isinstance(base, dict) else {}
        result = {}
        known = {child.key: child for child in node.children}
        for key, old in base_dict.items():
            if key in known:
                value = unflatten(known[key], data, f"{prefix}.{key}", old, parsed)
                if value is not MISSING:
                    result[key] = value
            else:
                result[key] = old  # a field the form does not know: kept untouched
        for child in node.children:
            if child.key not in base_dict:
                value = unflatten(child, data, f"{prefix}.{child.key}", MISSING, parsed)
                if value is not MISSING:
                    result[child.key] = value
        if not result and not (isinstance(base, dict) and base == {}):
            return MISSING
        return result
    if widget == "list":
        if base is not MISSING and not isinstance(base, list):
            return _unflatten_free(node, data, prefix, base, parsed)
        base_list = base if isinstance(base, list) else []
        items, order = [], []
        for index in item_indices(data, prefix):
            item_prefix = f"{prefix}.{index}"
            origin = str(data.get(f"{item_prefix}.{ITEM}", NEW))
            old = base_list[int(origin)] if origin.isdigit() and int(origin) < len(base_list) else MISSING
            value = unflatten(node.item, data, item_prefix, old, parsed)
            items.append({} if value is MISSING else value)
            order.append(index)
        parsed.positions[prefix] = order
        if not items and not (isinstance(base, list) and base == []):
            return MISSING
        return items
    text = data.get(prefix)
    if text is None:
        # Not in the form at all (e.g. an item the form did not render): keep what was there.
        return base
    # Browsers post a textarea's line breaks as CRLF.
    text = str(text).replace("\r\n", "\n")
    if _same_text(node, text, base):
        return base
    if not text.strip() and widget not in ("string",):
        return MISSING
    if widget == "string" and text == "":
        return MISSING
    try:
        if widget == "scalarlist":
            values = [parse_scalar(node.item, line) for line in _lines(text)]
            return values if values else MISSING
        if widget == "map":
            return parse_map(text) or MISSING
        if widget == "free":
            return _parse_free(text, parsed)
        return parse_scalar(node, text)
    except ParseError as exc:
        parsed.errors[prefix] = str(exc)
        return base if base is not MISSING else MISSING


def _unflatten_free(node, data, prefix, base, parsed):
    text = data.get(prefix)
    if text is None:
        return base
    text = str(text).replace("\r\n", "\n")
    if _same_text(Node(node.key, "free", {}), text, base):
        return base
    if not text.strip():
        return MISSING
    try:
        return _parse_free(text, parsed)
    except ParseError as exc:
        parsed.errors[prefix] = str(exc)
        return base


def _parse_free(text: str, parsed: Parsed):
    try:
        value = safeyaml.load(text, limits=FREE_FORM_LIMITS, budget=parsed.free_nodes)
    except safeyaml.YamlError as exc:
        raise ParseError(exc.message) from None
    return MISSING if value is None else value


# -- Kubernetes field paths <-> form names ----------------------------------------------------------

_PATH_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def k8s_path_to_form_name(path: str, positions: dict[str, list[int]]) -> str:
    """``spec.vpcs[1].cidr`` -> ``spec.vpcs.3.cidr`` (the form's own index of the second item)."""
    name = ""
    for match in _PATH_PART.finditer(path or ""):
        key, index = match.groups()
        if index is not None:
            order = positions.get(name)
            form_index = order[int(index)] if order and int(index) < len(order) else int(index)
            name = f"{name}.{form_index}"
        else:
            name = f"{name}.{key}" if name else key
    return name


# -- the bound tree the templates render ------------------------------------------------------------


@dataclass
class Bound:
    node: Node
    name: str
    value: str = ""
    errors: list[str] = field(default_factory=list)
    children: list[Bound] = field(default_factory=list)
    items: list[Bound] = field(default_factory=list)
    origin: str = ""
    index: int | None = None
    filled: bool = False
    datalist: str = ""
    required: bool = False

    @property
    def widget(self) -> str:
        widget = self.node.widget
        if widget == "string" and (self.node.key in TEXTAREA_KEYS or "\n" in self.value):
            return "textarea"
        return widget

    @property
    def label(self) -> str:
        return self.node.label if self.index is None else f"{self.node.label or 'Item'} {self.index + 1}"

    @property
    def values(self) -> dict[str, str]:
        return {c.node.key: c.value for c in self.children}

    @property
    def add_label(self) -> str:
        label = _singular(self.node.key)
        return label if label[:2].isupper() else label.lower()

    @property
    def element_id(self) -> str:
        return "f-" + self.name

    @property
    def title(self) -> str:
        """A list item's heading: its key fields' values."""
        names = [c.value for c in self.children if c.node.key in ("name", "key", "region", "vitistack") and c.value]
        return names[0] if names else ""

    @property
    def choices(self) -> list[str]:
        options = [render_scalar(v) for v in self.node.enum]
        if self.value and self.value not in options:
            options.append(self.value)  # a value the schema refuses is still shown (and flagged)
        return options


def bind(node: Node, data, prefix: str, errors: dict[str, list[str]], datalists: set[str], required=False) -> Bound:
    bound = Bound(node=node, name=prefix, errors=list(errors.get(prefix, ())), required=required)
    if node.widget == "object":
        bound.children = [
            bind(child, data, f"{prefix}.{child.key}", errors, datalists, child.key in node.required)
            for child in node.children
        ]
        bound.filled = any(c.filled for c in bound.children)
        if data.get(prefix) is not None:  # an object the cluster holds as something else
            bound.value = str(data.get(prefix))
            bound.filled = True
    elif node.widget == "list":
        for index in item_indices(data, prefix):
            item_prefix = f"{prefix}.{index}"
            item = bind(node.item, data, item_prefix, errors, datalists)
            item.node = Node(
                _singular(node.key), "object", node.item.schema, node.item.children, required=node.item.required
            )
            item.index = len(bound.items)
            item.origin = str(data.get(f"{item_prefix}.{ITEM}", NEW))
            item.errors = list(errors.get(item_prefix, ()))
            bound.items.append(item)
        bound.filled = bool(bound.items)
        if data.get(prefix) is not None:
            bound.value = str(data.get(prefix))
            bound.filled = True
    else:
        bound.value = str(data.get(prefix, "") or "")
        bound.filled = bound.value != ""
    generic = re.sub(r"\.\d+(?=\.|$)", ".*", prefix)
    if prefix in datalists or generic in datalists:
        bound.datalist = "dl-" + prefix
    return bound


def _singular(key: str) -> str:
    label = humanize(key)
    for plural, single in (("ies", "y"), ("ses", "s"), ("s", "")):
        if label.endswith(plural):
            return label[: -len(plural)] + single
    return label
