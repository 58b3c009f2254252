"""Write Vitiweb's CRDs of the VitiStack project's published API from its field facts.

Usage: ``python crds/published/generate.py path/to/vitistack-api/FIELDS.md``

FIELDS.md lists, per kind, the plural, scope, short names, printer columns
and every field (path, type, required, allowed values, pattern, bounds,
default). This script turns those facts into one CustomResourceDefinition
per kind, beside itself. The files are Vitiweb's own: no upstream file is
copied; descriptions are ours and short.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
_ROW = re.compile(r"^\| `(?P<path>[^`]+)` \| (?P<type>[^|]+?) \| (?P<constraints>.*?) ?\|$")
_META = re.compile(r"^- plural `(?P<plural>[^`]+)`, scope \*\*(?P<scope>\w+)\*\*, short names (?P<short>[^,]+),")
_COLUMN = re.compile(r"(?P<name>[^;`]+?) `(?P<path>[^`]+)`")
_PATTERN = re.compile(r"pattern `(?P<value>.*?)`(?=;|$)")


def _scalar(text: str, kind: str):
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        return text == "True"
    return text


def _constraints(text: str, kind: str) -> dict:
    found: dict = {}
    pattern = _PATTERN.search(text)
    if pattern:
        found["pattern"] = pattern["value"]
        text = text[: pattern.start()] + text[pattern.end() :]
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        word, _, value = part.partition(" ")
        if part == "(any)":
            found["x-kubernetes-preserve-unknown-fields"] = True
        elif word == "one":
            values = [_scalar(v.strip(), kind) for v in value.removeprefix("of ").split(",")]
            found["enum"] = list(dict.fromkeys(values))  # FIELDS.md lists "proxmox" twice for providerType
        elif word == "default":
            found["default"] = _scalar(value, kind)
        elif word == "format":
            found["format"] = value
        elif word in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"):
            found[word] = int(value)
        else:
            raise ValueError(f"unknown constraint {part!r}")
    return found


def _node(root: dict, steps: list[str]) -> dict:
    """The schema node of a path (``spec``, ``items``, ``additionalProperties`` steps already split)."""
    node = root
    for step in steps:
        if step == "[]":
            node = node.setdefault("items", {})
        elif step == "{}":
            node = node.setdefault("additionalProperties", {})
        else:
            node = node.setdefault("properties", {}).setdefault(step, {})
    return node


def _steps(path: str) -> list[str]:
    return [step for step in re.split(r"\.|(\[\]|\{\})", path) if step]


def _field(root: dict, path: str, kind: str, constraints: str) -> None:
    required = path.endswith("*")
    path = path.rstrip("*")
    steps = _steps(path)
    node = _node(root, steps)
    if kind == "int-or-string":
        node["x-kubernetes-int-or-string"] = True
    elif kind != "(any)":
        node["type"] = kind
    node.update(_constraints(constraints.strip(), kind))
    if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node:
        # An object FIELDS.md gives no fields for keeps whatever it holds.
        node.setdefault("x-kubernetes-preserve-unknown-fields", True)
    if required:
        parent = _node(root, steps[:-1])
        parent.setdefault("required", [])
        if steps[-1] not in parent["required"]:
            parent["required"].append(steps[-1])


def _tidy(node: dict) -> None:
    """Objects that got fields after being marked open are closed again (fields were listed later)."""
    if "properties" in node or "additionalProperties" in node:
        node.pop("x-kubernetes-preserve-unknown-fields", None)
    for child in node.get("properties", {}).values():
        _tidy(child)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _tidy(node[key])


def parse(text: str) -> dict[str, dict]:
    kinds: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = kinds.setdefault(line[3:].strip(), {"schema": {}, "columns": []})
        elif current is None:
            continue
        elif match := _META.match(line):
            current.update(plural=match["plural"], scope=match["scope"], short=match["short"].split())
        elif line.startswith("- printer columns:"):
            current["columns"] = [(m["name"].strip(), m["path"]) for m in _COLUMN.finditer(line.split(":", 1)[1])]
        elif match := _ROW.match(line):
            _field(current["schema"], match["path"], match["type"].strip(), match["constraints"])
    return kinds


def crd(kind: str, facts: dict) -> dict:
    schema = facts["schema"]
    _tidy(schema)
    columns = []
    for name, path in facts["columns"]:
        column_type = "date" if path == ".metadata.creationTimestamp" else "string"
        columns.append({"name": name, "type": column_type, "jsonPath": path})
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{facts['plural']}.vitistack.io"},
        "spec": {
            "group": "vitistack.io",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": facts["plural"],
                "singular": kind.lower(),
                "shortNames": facts["short"],
            },
            "scope": facts["scope"],
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": f"{kind} as the VitiStack project publishes it (vitistack/common v0.8).",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                **schema.get("properties", {}),
                            },
                        }
                    },
                }
            ],
        },
    }


def main(fields_md: str) -> None:
    header = (
        "# Vitiweb's CRD of the VitiStack project's published API (vitistack/common v0.8.70),\n"
        "# written by crds/published/generate.py from the field facts (FIELDS.md).\n"
    )
    for kind, facts in parse(Path(fields_md).read_text()).items():
        target = HERE / f"{facts['plural']}.vitistack.io.yaml"
        body = yaml.safe_dump(crd(kind, facts), sort_keys=False, allow_unicode=True, width=120)
        target.write_text(header + body)
        print(target)


if __name__ == "__main__":
    main(sys.argv[1])
