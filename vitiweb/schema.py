"""Validation of VitiStack objects against the openAPIV3Schema of their CRD.

The CRDs in ``crds/`` are the single statement of what each kind accepts;
this module turns their OpenAPI schemas into JSON Schema validators and
reports every problem with the field path Kubernetes would name
(``spec.resourceQuotas.maxMachines``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml
from django.conf import settings


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
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = openapi_to_jsonschema(value, strict)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [openapi_to_jsonschema(child, strict) for child in value]
        elif key == "not":
            out[key] = openapi_to_jsonschema(value, strict)
        elif key.startswith("x-kubernetes-") or key == "nullable":
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if strict and "properties" in node and "additionalProperties" not in node and not node.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        out["additionalProperties"] = False
    return out


def _json_path(error: jsonschema.ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


@lru_cache(maxsize=8)
def _crd_schemas(crds_dir: str) -> dict[str, dict]:
    schemas = {}
    for path in sorted(Path(crds_dir).glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            kind = crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schemas[f"{crd['spec']['group']}/{version['name']}/{kind}"] = version["schema"]["openAPIV3Schema"]
    return schemas


@lru_cache(maxsize=32)
def _validator(api_version: str, kind: str, strict: bool, crds_dir: str):
    schema = _crd_schemas(crds_dir).get(f"{api_version}/{kind}")
    if schema is None:
        return None
    # metadata is the API server's business, not the CRD's.
    translated = openapi_to_jsonschema({**schema, "properties": {**schema.get("properties", {}), "metadata": {"type": "object"}}}, strict)
    return jsonschema.Draft202012Validator(translated)


def is_known(api_version: str, kind: str) -> bool:
    return f"{api_version}/{kind}" in _crd_schemas(str(settings.VITIWEB_CRDS_DIR))


def validate(obj: dict, strict: bool = False) -> list[FieldError]:
    """Every schema violation of ``obj``, each with its field path."""
    validator = _validator(str(obj.get("apiVersion")), str(obj.get("kind")), strict, str(settings.VITIWEB_CRDS_DIR))
    if validator is None:
        return [FieldError("kind", f"no CRD defines {obj.get('kind')} in {obj.get('apiVersion')}")]
    errors = []
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        path = _json_path(error)
        if error.validator == "additionalProperties" and error.validator_value is False:
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            errors.extend(FieldError(f"{path}.{name}" if path else name, "unknown field") for name in unknown)
        elif error.validator == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            errors.extend(FieldError(f"{path}.{name}" if path else name, "required value") for name in missing)
        else:
            errors.append(FieldError(path, error.message))
    return errors
