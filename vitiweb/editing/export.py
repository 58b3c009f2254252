"""Export as YAML in the Git layout the seed guide recommends ("Configuration Management")::

    vitistacks/<environment>/<name>.yaml
    providers/machine-providers/<name>.yaml
    providers/kubernetes-providers/<name>.yaml
    machines/<role>/<name>.yaml
    <plural>/<name>.yaml                      (every other kind; see its declaration's export_folder)

The environment is the ``vitistack.io/environment`` label, else the
namespace; a machine's role is its ``role`` label. Objects from several
clusters go under one folder per cluster. What is exported is what one would
apply: the manifest without status and server-set metadata.
"""

from __future__ import annotations

import io
import re
import zipfile

from vitiweb import registry
from vitiweb.editing.forms import clean_manifest
from vitiweb.editing.operations import to_yaml

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe(part: str) -> str:
    return _UNSAFE.sub("-", part or "").strip("-.") or "_"


def export_manifest(obj) -> dict:
    return clean_manifest(obj.as_manifest())


def export_yaml(obj) -> str:
    return to_yaml(export_manifest(obj))


def folder_for(obj) -> str:
    declaration = registry.get(obj.kind)
    folder = declaration.export_folder or declaration.plural
    labels = obj.labels if isinstance(obj.labels, dict) else {}
    if obj.KIND == "Vitistack":
        return f"{folder}/{safe(str(labels.get('vitistack.io/environment') or obj.namespace or 'default'))}"
    if obj.KIND == "Machine":
        spec_labels = (obj.spec or {}).get("labels") if isinstance(obj.spec, dict) else None
        role = (spec_labels or {}).get("role") if isinstance(spec_labels, dict) else None
        role = role or labels.get("vitistack.io/role") or labels.get("role")
        return f"{folder}/{safe(str(role))}" if role else folder
    return folder


def build_zip(objects) -> bytes:
    """A zip of ``objects`` (mirrored model instances) in the Git layout."""
    objects = list(objects)
    clusters = {o.cluster.name for o in objects}
    per_cluster = len(clusters) > 1
    used: set[str] = set()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for obj in sorted(objects, key=lambda o: (o.cluster.name, o.KIND, o.namespace, o.name)):
            root = f"{safe(obj.cluster.name)}/" if per_cluster else ""
            stem = f"{root}{folder_for(obj)}/{safe(obj.name)}"
            path = f"{stem}.yaml"
            if path in used:  # the same name in another namespace
                path = f"{stem}.{safe(obj.namespace)}.yaml"
            used.add(path)
            archive.writestr(path, export_yaml(obj))
    return buffer.getvalue()
