"""Loading CRDs and manifest directories into a store, as `kubectl apply` would.

Objects are written the way a client-side `kubectl apply -f` writes them (field
manager `kubectl-client-side-apply`, the last-applied-configuration annotation),
so a loaded cluster looks like one a person set up by following the guide: a
later `kubectl apply` of the same files reports "unchanged", and a server-side
apply that changes a loaded field meets the conflict it would meet there.

Namespaces and CRDs go first so that everything after them has a place and a
kind; a namespace an object names but no manifest creates is created; a document
of a kind the cluster does not serve is skipped with a warning.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ApiError
from .store import Store, WriteOptions

KUBECTL_MANAGER = "kubectl-client-side-apply"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _documents(paths: Iterable[Path]) -> list[tuple[str, dict]]:
    docs = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for i, doc in enumerate(yaml.load_all(f, Loader=_YAML)):
                if isinstance(doc, dict) and doc.get("kind") == "List":
                    docs.extend(
                        (f"{path} (document {i + 1}, item {j + 1})", item)
                        for j, item in enumerate(doc.get("items") or [])
                    )
                elif isinstance(doc, dict) and doc:
                    docs.append((f"{path} (document {i + 1})", doc))
    return docs


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file())


def _rank(doc: dict) -> int:
    kind = doc.get("kind")
    return 0 if kind == "Namespace" else 1 if kind == "CustomResourceDefinition" else 2


def load(store: Store, root: str | Path, warn: Callable[[str], None] = print) -> LoadReport:
    """Apply every manifest under `root` (recursively), server-side, owned by the sandbox loader."""
    report = LoadReport()
    docs = sorted(_documents(_files(Path(root))), key=lambda d: _rank(d[1]))
    for where, doc in docs:
        api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
        rt = store.registry.for_api_version(api_version, kind)
        if rt is None:
            warn(f"sandbox: skipping {where}: kind {kind!r} of {api_version!r} is not served by this cluster")
            report.skipped.append(where)
            continue
        namespace = None
        if rt.namespaced:
            namespace = (doc.get("metadata") or {}).get("namespace") or "default"
            ensure_namespace(store, namespace)
        try:
            apply_like_kubectl(store, doc, namespace)
        except ApiError as exc:
            fields = ", ".join(c["field"] for c in (exc.details or {}).get("causes", []) if c.get("field"))
            warn(f"sandbox: {where}: {exc.message}" + (f" (fields: {fields})" if fields else ""))
            report.failed.append(where)
            continue
        report.loaded.append(f"{kind}/{(doc.get('metadata') or {}).get('name')}")
    return report


def load_crds(store: Store, crds_dir: str | Path) -> list[str]:
    """The CRDs of one directory (not its subdirectories: ``crds/published/`` is another API shape)."""
    root = Path(crds_dir)
    files = [root] if root.is_file() else sorted(p for p in root.glob("*") if p.suffix in (".yaml", ".yml", ".json"))
    names = []
    for _, doc in _documents(files):
        if doc.get("kind") == "CustomResourceDefinition":
            apply_like_kubectl(store, doc, None)
            names.append(doc["metadata"]["name"])
    return names


def _last_applied(doc: dict) -> str:
    # kubectl records the manifest as Go's encoding/json writes it: sorted keys,
    # compact, HTML characters escaped, with the (emptied) annotations map kept.
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def apply_like_kubectl(store: Store, doc: dict, namespace: str | None) -> dict:
    """Create, or merge into the existing object, as `kubectl apply` (client-side) does."""
    doc = copy.deepcopy(doc)
    meta = doc.setdefault("metadata", {})
    if namespace is not None:
        meta["namespace"] = namespace
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    meta["annotations"] = annotations
    recorded = _last_applied(doc)
    meta["annotations"] = {**annotations, LAST_APPLIED: recorded}
    options = WriteOptions(manager=KUBECTL_MANAGER)
    rt = store.resource(doc.get("apiVersion", ""), doc.get("kind", ""))
    with store.lock:
        try:
            store.read(rt, namespace, meta.get("name", ""))
        except ApiError:
            return store.create(doc, namespace, rt=rt, options=options)
        return store.patch(None, None, meta["name"], doc, namespace, rt=rt, options=options)


def ensure_namespace(store: Store, name: str) -> None:
    with store.lock:
        rt = store.registry.lookup("", "v1", "namespaces")
        try:
            store.read(rt, None, name)
        except ApiError:
            store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
