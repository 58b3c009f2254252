"""What an operator does with drift: bring the cluster back to Git, or bring Git up to the cluster.

Sync from Git goes through the bulk apply path (dependency order, dry-run
first, every document audited with the commit it came from). Unmanaged
objects are deleted only when asked object by object. Back to Git writes the
cluster's values of the fields that differ into the manifest's own file, as a
commit on a new branch (pushed where the source allows it), or as a patch.
"""

from __future__ import annotations

import re

import yaml

from gitops import repository
from gitops.models import DriftRecord, GitSource
from vitiweb import safeyaml
from vitiweb.editing.export import export_manifest, folder_for, safe
from vitiweb.editing.models import ApplyRun
from vitiweb.editing.operations import audit_origin, describe, order_key, record, to_yaml
from vitiweb.editing.tasks import start_run
from vitiweb.kinds import model_for
from vitiweb.kube import apply as kube_apply
from vitiweb.kube.errors import KubeError
from vitiweb.models import AuditEntry
from vitiweb.sync.clusters import api_client_for

SYNCABLE = (DriftRecord.State.DIFFERS, DriftRecord.State.GIT_ONLY)


def origin_of(source: GitSource) -> str:
    return f"Git source {source.name} at {source.short_commit}"


def desired_manifest(record_: DriftRecord) -> dict:
    """The object as Git declares it, placed in the namespace it lands in."""
    body = dict(record_.desired.body)
    metadata = dict(body.get("metadata") or {})
    if record_.namespace:
        metadata["namespace"] = record_.namespace
    body["metadata"] = metadata
    return body


def sync_from_git(source: GitSource, records, *, user, dry_run: bool, force: bool = False) -> list[ApplyRun]:
    """Queue one apply run per cluster for the chosen records that Git can bring back in line."""
    by_cluster: dict = {}
    for record_ in records:
        if record_.state in SYNCABLE and record_.desired_id:
            by_cluster.setdefault(record_.cluster, []).append(record_)
    # Git's own Namespace manifests, applied first where a chosen object needs one.
    namespaces = {obj.name: obj.body for obj in source.desired_objects.filter(kind="Namespace")}
    runs = []
    for cluster, chosen in by_cluster.items():
        documents = [desired_manifest(r) for r in chosen]
        needed = {r.namespace for r in chosen if r.namespace}
        documents += [namespaces[name] for name in sorted(needed) if name in namespaces]
        documents.sort(key=order_key)
        run = ApplyRun.objects.create(
            user=user,
            cluster=cluster,
            dry_run=dry_run,
            create_namespaces=True,
            force=force,
            origin=origin_of(source),
            items=[describe(doc) for doc in documents],
        )
        start_run(run, documents)
        runs.append(run)
    return runs


def delete_unmanaged(source: GitSource, record_: DriftRecord, *, user, dry_run: bool) -> tuple[bool, str]:
    """Delete one object that is in the cluster but not in Git (asked for explicitly, object by object)."""
    if record_.state != DriftRecord.State.CLUSTER_ONLY:
        return False, f"{record_.kind} {record_.address} is in Git: it is not deleted from here"
    obj = model_for(record_.kind).objects.filter(pk=record_.object_id).first()
    if obj is None:
        return False, f"{record_.kind} {record_.address} is already gone"
    action = AuditEntry.Action.DRY_RUN if dry_run else AuditEntry.Action.DELETE
    manifest = export_manifest(obj)
    token = audit_origin.set(origin_of(source))
    try:
        api_client = api_client_for(record_.cluster)
        try:
            kube_apply.delete_object(
                api_client, obj.api_version, obj.kind, obj.name, obj.namespace or None, dry_run=dry_run
            )
        finally:
            api_client.close()
    except KubeError as exc:
        record(user, record_.cluster, action, manifest, False, message=f"delete failed: {exc}")
        return False, f"{record_.kind} {record_.address} could not be deleted: {exc}"
    finally:
        audit_origin.reset(token)
    verb = "would be deleted" if dry_run else "was deleted"
    message = f"{record_.kind} {record_.address} {verb} (not in Git)."
    record(user, record_.cluster, action, manifest, True, message=message)
    return True, message


# -- back to Git ------------------------------------------------------------------------------------

_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)


def _set_path(body: dict, path: str, value, remove: bool) -> None:
    """Set (or remove) a dotted path such as ``spec.region`` or ``metadata.labels.team``."""
    head, _, rest = path.partition(".")
    if head == "metadata" and rest.partition(".")[0] in ("labels", "annotations"):
        section, _, key = rest.partition(".")
        target = body.setdefault("metadata", {}).setdefault(section, {})
        if remove:
            target.pop(key, None)
        else:
            target[key] = value
        return
    parts = path.split(".")
    node = body
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if remove:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


def updated_manifest(record_: DriftRecord) -> dict:
    """Git's manifest with the cluster's value in each field that differs."""
    body = yaml.safe_load(yaml.safe_dump(record_.desired.body))  # a deep copy in plain types
    for difference in record_.fields:
        _set_path(body, difference["path"], difference["cluster"], difference["cluster"] is None)
    return body


def _replace_document(text: str, index: int, new_yaml: str) -> str:
    """``text`` with its document ``index`` replaced; the other documents (and their comments) kept as written."""
    pieces = _SEPARATOR.split(text)
    # Text from the repository: read under the same limits as every manifest (vitiweb.safeyaml).
    documents = [i for i, piece in enumerate(pieces) if safeyaml.load(piece) is not None]
    parsed = [d for d in safeyaml.load_all(text) if d is not None]
    if len(documents) != len(parsed) or index >= len(documents):
        # A separator inside a block scalar, say: rewrite the file from its parsed documents.
        parsed[index] = safeyaml.load(new_yaml)
        return "---\n".join(to_yaml(d) for d in parsed)
    position = documents[index]
    pieces[position] = ("\n" if position else "") + new_yaml
    return "---".join(pieces)


def change_for(source: GitSource, record_: DriftRecord) -> tuple[str, str]:
    """(path inside the source's folder, new text) that brings Git up to the cluster for one record."""
    if record_.state == DriftRecord.State.DIFFERS:
        text = repository.read_revision_file(source, record_.desired.file)
        return record_.desired.file, _replace_document(text, record_.desired.index, to_yaml(updated_manifest(record_)))
    if record_.state == DriftRecord.State.CLUSTER_ONLY:
        obj = model_for(record_.kind).objects.get(pk=record_.object_id)
        return f"{folder_for(obj)}/{safe(obj.name)}.yaml", to_yaml(export_manifest(obj))
    raise ValueError(f"{record_.kind} {record_.address} is {record_.get_state_display().lower()}: nothing to commit")


def back_to_git(source: GitSource, records, *, user) -> repository.WriteBack:
    changes: dict[str, str] = {}
    for record_ in records:
        path, text = change_for(source, record_)
        if path in changes and record_.state == DriftRecord.State.DIFFERS:
            # Two objects of one file: apply the second change on top of the first.
            changes[path] = _replace_document(changes[path], record_.desired.index, to_yaml(updated_manifest(record_)))
        else:
            changes[path] = text
    names = ", ".join(f"{r.kind} {r.address}" for r in records)
    who = user.get_username() if getattr(user, "is_authenticated", False) else "vitiweb"
    author = f"{who} via Vitiweb <vitiweb@localhost>"
    message = f"Bring Git up to the cluster: {names}\n\nWritten by Vitiweb from the live objects."
    return repository.commit_changes(source, changes, message[:2000], author)
