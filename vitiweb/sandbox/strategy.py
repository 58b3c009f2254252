"""Per-kind write strategies: what kube-apiserver's registry strategies do before storing.

Defaults and derived fields of the core kinds (a namespace's phase, a secret's
`stringData` folded into `data`, a CRD's acceptance status), metadata
validation, which writes count as a new generation, and the field order of
stored objects.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Any

from . import errors
from .resources import ResourceType, crd_problems
from .selectors import label_key_problem, label_value_problem

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare(rt: ResourceType, body: dict, old: dict | None) -> None:
    """What the kind's strategy adds or keeps on a create (old is None) or an update."""
    if rt.group == "" and rt.plural == "namespaces":
        body.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        if old is None:
            body["status"] = {"phase": "Active"}
    elif rt.group == "" and rt.plural == "secrets":
        data = body.get("data") or {}
        for key, value in (body.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        for value in data.values():
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise errors.bad_request(
                    'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0'
                ) from None
        if data:
            body["data"] = data
        body.setdefault("type", "Opaque")
    elif rt.group == "apiextensions.k8s.io":
        causes = crd_problems(body)
        if causes:
            raise errors.invalid(rt, body.get("metadata", {}).get("name", ""), causes)
        spec = body["spec"]
        names = dict(spec["names"])
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
        stamp = now()
        body["status"] = {
            "acceptedNames": names,
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": stamp,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": stamp,
                },
            ],
            "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")],
        }
        if old is not None and old.get("status") and _same_names(old["status"], body["status"]):
            body["status"] = old["status"]


_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


_OMIT_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields", "generateName")


def ordered(body: dict) -> dict:
    """The object as the API server writes it: ObjectMeta's field order, empty fields omitted."""
    out: dict[str, Any] = {}
    for key in ("apiVersion", "kind", "metadata"):
        if key in body:
            out[key] = body[key]
    meta = {k: v for k, v in out.get("metadata", {}).items() if not (k in _OMIT_EMPTY and not v)}
    out["metadata"] = {k: meta[k] for k in _META_ORDER if k in meta}
    out["metadata"].update({k: v for k, v in meta.items() if k not in out["metadata"]})
    for key, value in body.items():
        if key not in out:
            out[key] = value
    return out


def tracks_generation(rt: ResourceType) -> bool:
    return rt.from_crd or rt.plural == "customresourcedefinitions"


def allows_unconditional_update(rt: ResourceType) -> bool:
    """Custom resources and CRDs refuse a PUT without metadata.resourceVersion; most core kinds take it."""
    return not tracks_generation(rt)


def spec_changed(rt: ResourceType, old: dict, new: dict) -> bool:
    skip = {"metadata", "status"} if rt.status_subresource else {"metadata"}
    keys = (set(old) | set(new)) - skip
    return any(old.get(k) != new.get(k) for k in keys)


def _same_names(a: dict, b: dict) -> bool:
    return a.get("acceptedNames") == b.get("acceptedNames") and a.get("storedVersions") == b.get("storedVersions")


def metadata_problems(rt: ResourceType, meta: dict) -> list[dict[str, str]]:
    causes: list[dict[str, str]] = []
    name = meta.get("name")
    if not name:
        causes.append(
            {
                "reason": "FieldValueRequired",
                "message": "Required value: name or generateName is required",
                "field": "metadata.name",
            }
        )
    else:
        label_only = rt.group == "" and rt.plural == "namespaces"
        if label_only and (len(name) > 63 or not _DNS_LABEL.match(name)):
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "metadata.name",
                    "message": f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower case '
                    "alphanumeric characters or '-', and must start and end with an alphanumeric character "
                    "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                }
            )
        elif not label_only and (len(name) > 253 or not _DNS_SUBDOMAIN.match(name)):
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "metadata.name",
                    "message": f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                    "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'example.com', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                }
            )
    for key, value in (meta.get("labels") or {}).items():
        problem = label_key_problem(key)
        if problem:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "metadata.labels",
                    "message": f'Invalid value: "{key}": {problem}',
                }
            )
        problem = label_value_problem(value) if isinstance(value, str) else None
        if problem:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "metadata.labels",
                    "message": f'Invalid value: "{value}": {problem}',
                }
            )
    for key in meta.get("annotations") or {}:
        problem = label_key_problem(key)
        if problem:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "metadata.annotations",
                    "message": f'Invalid value: "{key}": {problem}',
                }
            )
    return causes
