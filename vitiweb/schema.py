"""Validation of VitiStack objects against the openAPIV3Schema of their CRD.

The CRDs in ``crds/`` (the guide's shape) and ``crds/published/`` (the
VitiStack project's published shape) are the statement of what each kind
accepts in each shape; a document is validated against the shape it matches;
this module turns their OpenAPI schemas into JSON Schema validators and
reports every problem with the field path Kubernetes would name
(``spec.resourceQuotas.maxMachines``). What is written to a cluster is
checked against the CRD that cluster serves (``validator_for``, fed by
``vitiweb.served``); these files are the fallback when it cannot be read.
jsonschema is imported when a validator is first built, so that the views and
commands importing this module start fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vitiweb import safeyaml


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def openapi_to_jsonschema(node, strict: bool = False):
    """Translate a CRD's OpenAPI v3 schema node into JSON Schema.

    ``x-kubernetes-int-or-string`` admits either type; under
    ``x-kubernetes-preserve-unknown-fields`` anything goes. With ``strict``
    an object with declared properties rejects unknown fields, as the API
    server does with ``fieldValidation=Strict``.
    """
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: openapi_to_jsonschema(child, strict) for name, child in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = openapi_to_jsonschema(value, strict) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [openapi_to_jsonschema(child, strict) for child in value]
        elif key == "not":
            out[key] = openapi_to_jsonschema(value, strict)
        elif key.startswith("x-kubernetes-") or key == "nullable":
            continue
        elif key == "required" and isinstance(value, list):
            # The API server fills a field's default before it validates: a defaulted field is never missing.
            properties = node.get("properties") or {}
            required = [name for name in value if "default" not in (properties.get(name) or {})]
            if required:
                out[key] = required
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if node.get("nullable") and "type" in out:
        out["type"] = [*(out["type"] if isinstance(out["type"], list) else [out["type"]]), "null"]
    if (
        strict
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def field_path(parts) -> str:
    """Kubernetes' notation for a field: ``spec.nodeGroups[1].name``."""
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _list_map_duplicates(schema: dict, value, path: tuple = ()):
    """Entries of an ``x-kubernetes-list-type: map`` list must be unique by their keys."""
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for name, child in value.items():
            child_schema = properties.get(name) or (extra if isinstance(extra, dict) else None)
            if child_schema is not None:
                yield from _list_map_duplicates(child_schema, child, (*path, name))
    elif isinstance(value, list):
        if schema.get("x-kubernetes-list-type") == "map":
            keys = schema.get("x-kubernetes-list-map-keys", [])
            seen: dict = {}
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    key = tuple(item.get(k) for k in keys)
                    if key in seen:
                        yield FieldError(
                            field_path((*path, index)),
                            f"duplicate entry {dict(zip(keys, key, strict=True))} (also at index {seen[key]})",
                        )
                    seen.setdefault(key, index)
        for index, item in enumerate(value):
            yield from _list_map_duplicates(schema.get("items", {}), item, (*path, index))


@lru_cache(maxsize=8)
def _crd_schemas(crds_dir: str) -> dict[str, dict]:
    schemas = {}
    for path in sorted(Path(crds_dir).glob("*.yaml")):
        for crd in safeyaml.load_all(path.read_text(), str(path)):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            kind = crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schemas[f"{crd['spec']['group']}/{version['name']}/{kind}"] = version["schema"]["openAPIV3Schema"]
    return schemas


def _json_schema_validator(schema: dict, strict: bool):
    import jsonschema

    return jsonschema.Draft202012Validator(openapi_to_jsonschema(schema, strict))


def _with_open_metadata(schema: dict) -> dict:
    # metadata is the API server's business, not the CRD's.
    return {**schema, "properties": {**schema.get("properties", {}), "metadata": {"type": "object"}}}


@lru_cache(maxsize=32)
def _validator(api_version: str, kind: str, strict: bool, crds_dir: str):
    schema = _crd_schemas(crds_dir).get(f"{api_version}/{kind}")
    if schema is None:
        return None, None
    schema = _with_open_metadata(schema)
    return _json_schema_validator(schema, strict), schema


def _shape_dir(shape: str) -> str:
    from vitiweb.shapes import crds_dir

    return str(crds_dir(shape))


def schema_for(api_version: str, kind: str, shape: str) -> dict | None:
    """The openAPIV3Schema of ``kind`` in one API shape (None if that shape has no such kind)."""
    return _crd_schemas(_shape_dir(shape)).get(f"{api_version}/{kind}")


def is_known(api_version: str, kind: str) -> bool:
    from vitiweb.registry import SHAPES

    return any(schema_for(api_version, kind, shape) is not None for shape in SHAPES)


def _shape_errors(obj: dict, strict: bool, shape: str) -> list[FieldError] | None:
    validator, schema = _validator(str(obj.get("apiVersion")), str(obj.get("kind")), strict, _shape_dir(shape))
    return None if validator is None else errors_of(validator, schema, obj)


def matching_shape(obj: dict, strict: bool = False) -> tuple[str | None, list[FieldError]]:
    """(shape, errors): the API shape ``obj`` is written in and its violations there.

    The shape is the one whose CRD it breaks the fewest rules of, unknown fields counted (a
    published Vitistack is a guide one with unknown fields, and the reverse); its errors are then
    checked with the ``strict``-ness asked for. (None, [error]) if no shape has the kind.
    """
    from vitiweb.registry import SHAPES

    candidates = []
    for order, shape in enumerate(SHAPES):
        errors = _shape_errors(obj, True, shape)
        if errors is not None:
            candidates.append((len(errors), order, shape))
    if not candidates:
        return None, [FieldError("kind", f"no CRD defines {obj.get('kind')} in {obj.get('apiVersion')}")]
    shape = min(candidates)[2]
    return shape, _shape_errors(obj, strict, shape)


def validate(obj: dict, strict: bool = False, shape: str | None = None) -> list[FieldError]:
    """Every schema violation of ``obj`` against its kind's CRD in ``shape`` (or the shape it matches)."""
    if shape is None:
        return matching_shape(obj, strict)[1]
    errors = _shape_errors(obj, strict, shape)
    if errors is None:
        return [FieldError("kind", f"the {shape} API shape has no {obj.get('kind')} in {obj.get('apiVersion')}")]
    return errors


def validator_for(openapi_schema: dict, strict: bool = True):
    """(validator, schema) for an explicit openAPIV3Schema (a CRD a cluster serves), for ``errors_of``."""
    schema = _with_open_metadata(openapi_schema)
    return _json_schema_validator(schema, strict), schema


def validate_against(openapi_schema: dict, obj: dict, strict: bool = True) -> list[FieldError]:
    """Every violation of ``obj`` against an explicit openAPIV3Schema."""
    return errors_of(*validator_for(openapi_schema, strict), obj)


def errors_of(validator, openapi_schema: dict, obj: dict) -> list[FieldError]:
    """Every violation ``validator`` finds in ``obj``, by Kubernetes field path (``openapi_schema`` for list maps)."""
    errors = []
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        path = field_path(error.absolute_path)
        if error.validator == "additionalProperties" and error.validator_value is False:
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            errors.extend(FieldError(f"{path}.{name}" if path else name, "unknown field") for name in unknown)
        elif error.validator == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            errors.extend(FieldError(f"{path}.{name}" if path else name, "required value") for name in missing)
        else:
            errors.append(FieldError(path, error.message))
    errors.extend(_list_map_duplicates(openapi_schema, obj))
    # One error per missing property and per unknown field, however many times the validator named the object.
    return list(dict.fromkeys(errors))
