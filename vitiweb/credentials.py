"""Credentials in plain text inside specs (the published ProxmoxConfig's ``spec.token``).

A kind declares such fields in the registry (``credential_paths``). The mirror
drops them from every object before anything else sees it (``strip``): they
are never stored, so no page, API answer, export, journal, log or audit row
can hold them. Objects the dashboard handles on the write path (what the
cluster returns to a dry-run or apply, what an operator typed) are masked
(``mask``) before they are shown, diffed or audited.
"""

from __future__ import annotations

import copy
import json

from vitiweb import registry

MASK = "<write-only>"
#: kubectl keeps the whole applied manifest in this annotation, credential fields included.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _paths(obj) -> tuple[str, ...]:
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
        return ()
    return registry.credential_paths(obj["kind"])


def _walk(obj: dict, path: str, replace) -> bool:
    """Apply ``replace(parent, key)`` at ``path`` (dotted); True if the field was there."""
    *parents, last = path.split(".")
    node = obj
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and last in node:
        replace(node, last)
        return True
    return False


def strip(obj: dict) -> dict:
    """``obj`` without its kind's credential fields (a copy when there were some; ``obj`` itself otherwise)."""
    paths = _paths(obj)
    if not paths:
        return obj
    out = copy.deepcopy(obj)
    for path in paths:
        _walk(out, path, lambda node, key: node.pop(key))
    annotations = (out.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        try:
            applied = json.loads(annotations[LAST_APPLIED])
        except (TypeError, ValueError):
            applied = None
        if isinstance(applied, dict):
            annotations[LAST_APPLIED] = json.dumps(strip({**applied, "kind": obj["kind"]}), separators=(",", ":"))
        else:
            del annotations[LAST_APPLIED]
    return out


def mask(obj: dict) -> dict:
    """``obj`` with each credential field it holds replaced by a marker, for showing, diffing and auditing."""
    paths = _paths(obj)
    if not paths:
        return obj
    out = strip(obj)
    for path in paths:
        if not _walk(obj, path, lambda node, key: None):
            continue
        *parents, last = path.split(".")
        node = out
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[last] = MASK
    return out


def holds_credentials(kind: str) -> bool:
    return bool(registry.credential_paths(kind))
