"""Dry-run, diff and apply against a cluster, each recorded in the audit trail.

Everything goes through server-side apply (``fieldManager: vitiweb``); the
result comes back into the database through the watch, never written here.
Secret values are never logged, never returned and never stored: the audit
keeps ``<redacted>`` in their place.
"""

from __future__ import annotations

import base64
import difflib
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta

import yaml

from vitiweb import credentials, policy, served
from vitiweb import schema as crd_schema
from vitiweb.editing.forms import SERVER_METADATA, clean_manifest
from vitiweb.kinds import API_VERSION, KINDS
from vitiweb.kube import apply as kube_apply
from vitiweb.kube.errors import ApiStatusError, ApplyConflict, KubeError
from vitiweb.manifests import Document, parse_stream
from vitiweb.models import AuditEntry, Cluster
from vitiweb.sync.clusters import api_client_for

log = logging.getLogger(__name__)

REDACTED = "<redacted>"
#: The order the seed guide applies in (step 5): what must exist before what.
APPLY_ORDER = ("Namespace", "Secret", *KINDS)


def to_yaml(obj) -> str:
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, default_flow_style=False)


def redact(obj: dict) -> dict:
    """A Secret with every value replaced by ``<redacted>``; a VitiStack object with its credential
    fields masked (see vitiweb.credentials); other objects unchanged."""
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        return credentials.mask(obj)
    out = dict(obj)
    for key in ("data", "stringData"):
        if isinstance(out.get(key), dict):
            out[key] = {k: REDACTED for k in out[key]}
    return out


def for_diff(obj: dict | None) -> dict:
    """What a diff should compare: no status, no server-set metadata, no last-applied annotation."""
    if not obj:
        return {}
    out = clean_manifest(obj)
    metadata = dict(out.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    for key in SERVER_METADATA:
        metadata.pop(key, None)
    out["metadata"] = metadata
    return out


def unified_diff(before: dict | None, after: dict | None, name: str = "object") -> str:
    old = to_yaml(for_diff(before)) if before else ""
    new = to_yaml(for_diff(after)) if after else ""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"live/{name}",
        tofile=f"after-apply/{name}",
        n=3,
    )
    return "".join(lines)


def object_label(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') + '/' if meta.get('namespace') else ''}{meta.get('name', '')}"


@dataclass
class Outcome:
    """What a dry-run or apply of one object came to."""

    ok: bool
    action: str
    diff: str = ""
    message: str = ""
    created: bool = False
    unchanged: bool = False
    causes: list[tuple[str, str]] = field(default_factory=list)  # (field path, message)
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)  # (field path, manager, message)
    result: dict | None = None
    audit: AuditEntry | None = None

    @property
    def conflict(self) -> bool:
        return bool(self.conflicts)


#: Where the manifests being applied came from (a Git source at a commit), noted in each audit entry.
audit_origin: ContextVar[str] = ContextVar("audit_origin", default="")


#: What one audit row keeps of a manifest or a diff; the rest is cut with a note (the input limits bound it anyway).
AUDIT_TEXT_LIMIT = 256 * 1024


def _bounded(text: str) -> str:
    if len(text) <= AUDIT_TEXT_LIMIT:
        return text
    return text[:AUDIT_TEXT_LIMIT] + f"\n# ... cut: {len(text) - AUDIT_TEXT_LIMIT:,} more characters not kept\n"


def record(user, cluster, action, obj, ok, diff="", message="") -> AuditEntry:
    meta = obj.get("metadata") or {}
    if audit_origin.get():
        message = f"{message} (from {audit_origin.get()})"
    return AuditEntry.objects.create(
        user=user if getattr(user, "is_authenticated", False) else None,
        cluster=cluster,
        action=action,
        kind=str(obj.get("kind", ""))[:50],
        namespace=str(meta.get("namespace", ""))[:253],
        name=str(meta.get("name", ""))[:253],
        manifest=_bounded(to_yaml(redact(obj))),
        diff=_bounded(diff),
        result=AuditEntry.Result.SUCCESS if ok else AuditEntry.Result.FAILURE,
        message=message[:5000],
    )


def _failure(exc: Exception, action: str) -> Outcome:
    if isinstance(exc, ApplyConflict):
        conflicts = [(c.field or "", c.manager or "another manager", c.message or "") for c in exc.conflicts]
        managers = ", ".join(sorted({m for _, m, _ in conflicts}))
        return Outcome(
            False,
            action,
            conflicts=conflicts,
            message=f"{len(conflicts)} field(s) are managed by {managers}; applying would take them over.",
        )
    if isinstance(exc, ApiStatusError):
        causes = [(c.field or "", c.message or c.reason or "") for c in exc.causes if c.field or c.message]
        return Outcome(False, action, causes=causes, message=str(exc))
    if isinstance(exc, kube_apply.ManifestError):
        return Outcome(False, action, causes=[(exc.field or "", str(exc))], message=str(exc))
    return Outcome(False, action, message=str(exc))


def apply_object(
    cluster: Cluster, obj: dict, *, user=None, dry_run: bool, force: bool = False, api_client=None
) -> Outcome:
    """Dry-run or apply one VitiStack object, with the diff against what the cluster holds now.

    A dry-run shows what an apply would do (``dryRun=All``: the server merges,
    defaults and validates, and stores nothing); an apply does it. Either is
    audited, success or failure.
    """
    action = AuditEntry.Action.DRY_RUN if dry_run else AuditEntry.Action.APPLY
    obj = clean_manifest(obj)
    meta = obj.get("metadata") or {}
    own_client = api_client is None
    try:
        api_client = api_client or api_client_for(cluster)
    except KubeError as exc:
        outcome = Outcome(False, action, message=f"cannot connect to {cluster.name}: {exc}")
        outcome.audit = record(user, cluster, action, obj, False, message=outcome.message)
        return outcome
    try:
        live = kube_apply.get_object(api_client, obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        result = kube_apply.apply(api_client, obj, dry_run=dry_run, force=force)
    except (KubeError, ValueError) as exc:
        outcome = _failure(exc, action)
        outcome.audit = record(
            user,
            cluster,
            action,
            obj,
            False,
            message=outcome.message
            + "".join(f"\n{path}: {message}" for path, message in outcome.causes)
            + "".join(f"\n{path}: conflict with {manager}" for path, manager, _ in outcome.conflicts),
        )
        return outcome
    finally:
        if own_client:
            api_client.close()
    live, result = redact(live) if live else live, redact(result) if result else result
    diff = unified_diff(live, result, object_label(obj))
    verb = "would be" if dry_run else "was"
    if live is None:
        message = f"{obj['kind']} {object_label(obj)} {verb} created."
    elif not diff:
        message = f"{obj['kind']} {object_label(obj)} is unchanged."
    else:
        message = f"{obj['kind']} {object_label(obj)} {verb} changed{' (forced)' if force else ''}."
    outcome = Outcome(
        True,
        action,
        diff=diff,
        message=message,
        created=live is None,
        unchanged=not diff and live is not None,
        result=result,
    )
    outcome.audit = record(user, cluster, action, obj, True, diff=diff, message=message)
    return outcome


# -- multi-document apply ---------------------------------------------------------------------------


@dataclass
class Plan:
    documents: list[dict]  # in apply order
    problems: list[str]  # "file, document N: path: message"

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.documents)


def order_key(obj: dict) -> int:
    kind = obj.get("kind")
    return APPLY_ORDER.index(kind) if kind in APPLY_ORDER else len(APPLY_ORDER)


def plan(text: str, source: str, cluster: Cluster | None = None) -> Plan:
    """Parse and check a YAML stream; order its documents for applying.

    Every problem in every document is reported up front (file, document,
    field path), and a stream with any problem is not applied at all. With
    the target ``cluster``, VitiStack objects are checked against the CRDs it
    serves (scope included); without, against the shape each one matches.
    """
    documents, errors = parse_stream(text, source)
    problems = [str(e) for e in errors]
    bad = {e.index for e in errors}
    schemas: dict[str, served.SchemaSource] = {}
    for document in documents:
        if document.index in bad:
            continue
        problems.extend(_document_problems(document, cluster, schemas))
    ordered = sorted((d.body for d in documents), key=order_key)  # sorted() is stable: file order within a kind
    return Plan(ordered, problems)


def _document_problems(document: Document, cluster: Cluster | None, schemas: dict) -> list[str]:
    body = document.body
    kind = body.get("kind")
    if body.get("apiVersion") == API_VERSION and kind in KINDS:
        from vitiweb.editing.checks import friendly, semantic_errors

        manifest = clean_manifest(body)
        if cluster is None:
            found = crd_schema.validate(manifest, strict=True)
        else:
            if kind not in schemas:
                schemas[kind] = served.schema_for(cluster, kind, API_VERSION, max_age=timedelta(0))
            source = schemas[kind]
            if source.not_served:
                return [f"{document.where}: kind: {source.problem}"]
            found = source.validate(manifest)
            if not source.namespaced and (manifest.get("metadata") or {}).get("namespace"):
                found.append(
                    crd_schema.FieldError(
                        "metadata.namespace", f"{kind} is cluster-scoped in {cluster.name}; remove the namespace"
                    )
                )
        errors = [friendly(e) for e in found] + semantic_errors(body)
        return [
            f"{document.where}: {e}"
            for e in errors
            if e.path == "metadata.namespace" or not e.path.startswith("metadata.")
        ]
    if body.get("apiVersion") == "v1" and kind in ("Namespace", "Secret"):
        if kind == "Secret":
            problem = _secret_problem(body)
            if problem:
                return [f"{document.where}: {problem}"]
            for key in ("data", "stringData"):
                if key in body and not isinstance(body[key], dict):
                    return [f"{document.where}: {key}: must be a mapping"]
            if "data" in body:
                try:
                    for value in body["data"].values():
                        base64.b64decode(str(value), validate=True).decode("utf-8")
                except (ValueError, UnicodeDecodeError):
                    return [f"{document.where}: data: values must be base64 of UTF-8 text (or use stringData)"]
        return []
    return [
        f"{document.where}: kind: {body.get('apiVersion')} {kind} is not applied from here "
        f"(Namespace, Secret and the VitiStack kinds are)"
    ]


def _secret_problem(body: dict) -> str:
    """Why this Secret is not created from here: only Opaque ones (as the Secret form), only where allowed."""
    secret_type = body.get("type", "Opaque")
    if secret_type != "Opaque":
        return f"type: only Opaque Secrets are created from here, not {str(secret_type)[:100]}"
    namespace = str((body.get("metadata") or {}).get("namespace") or "default")
    problem = policy.secret_namespace_problem(namespace)
    return f"metadata.namespace: {problem}" if problem else ""


def describe(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    return {
        "kind": obj.get("kind", ""),
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "state": "pending",
        "message": "",
    }


def apply_document(
    api_client,
    cluster: Cluster,
    obj: dict,
    *,
    user,
    dry_run: bool,
    create_namespaces: bool,
    known_namespaces: dict[str, bool],
    force: bool = False,
) -> tuple[str, str, str]:
    """(state, message, diff) of one document of a multi-document apply.

    ``known_namespaces`` maps a namespace to True once it exists, to False when
    a dry run only pretended to create it: the server cannot dry-run objects
    into a namespace that does not exist yet, so those are checked locally.
    """
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    action = AuditEntry.Action.DRY_RUN if dry_run else AuditEntry.Action.APPLY
    if kind == "Namespace":
        name = meta["name"]
        exists = not ensure_namespace(api_client, name, create=False, dry_run=dry_run)
        if not exists:
            try:
                kube_apply.create_namespace(api_client, name, labels=meta.get("labels"), dry_run=dry_run)
            except KubeError as exc:
                record(user, cluster, action, obj, False, message=str(exc))
                return "failed", str(exc), ""
        known_namespaces[name] = exists or not dry_run
        message = f"namespace {name} {'exists' if exists else ('would be created' if dry_run else 'was created')}"
        record(user, cluster, action, obj, True, message=message)
        return ("unchanged" if exists else "applied"), message, ""
    if kind != "Secret" and not _namespaced(api_client, obj):
        # Cluster-scoped in this cluster (the published shape's Vitistack, providers...): no namespace to prepare.
        return _applied(apply_object(cluster, obj, user=user, dry_run=dry_run, force=force, api_client=api_client))
    namespace = meta.get("namespace") or "default"
    if namespace not in known_namespaces:
        exists = not ensure_namespace(api_client, namespace, create=False, dry_run=dry_run)
        if not exists:
            problem = ensure_namespace(api_client, namespace, create=create_namespaces, dry_run=dry_run)
            if problem:
                record(user, cluster, action, obj, False, message=problem)
                return "failed", problem, ""
        known_namespaces[namespace] = exists or not dry_run
    if dry_run and not known_namespaces[namespace]:
        message = (
            f"namespace {namespace} would be created first; checked against the schema only "
            "(the server cannot dry-run into a namespace that does not exist yet)"
        )
        record(user, cluster, action, redact(obj), True, message=message)
        return "applied", message, ""
    if kind == "Secret":
        return create_secret(api_client, cluster, obj, user=user, dry_run=dry_run)
    return _applied(apply_object(cluster, obj, user=user, dry_run=dry_run, force=force, api_client=api_client))


def _namespaced(api_client, obj: dict) -> bool:
    """Whether the cluster serves the object's kind namespaced (when it cannot say, the apply will)."""
    from vitiweb.kube.discovery import resolve_resource

    try:
        return resolve_resource(api_client, str(obj.get("apiVersion")), str(obj.get("kind"))).namespaced
    except KubeError:
        return True


def _applied(outcome: Outcome) -> tuple[str, str, str]:
    if outcome.ok:
        return ("unchanged" if outcome.unchanged else "applied"), outcome.message, outcome.diff
    detail = outcome.message + "".join(f"; {p}: {m}" for p, m in outcome.causes if p)
    if outcome.conflicts:
        detail += "; " + ", ".join(f"{p} ({m})" for p, m, _ in outcome.conflicts)
    return "failed", detail, ""


def ensure_namespace(api_client, namespace: str, *, create: bool, dry_run: bool) -> str:
    """Why ``namespace`` is not usable, or ''. Creates it when asked."""
    import kubernetes.client

    core = kubernetes.client.CoreV1Api(api_client)
    try:
        core.read_namespace(namespace, _preload_content=False)
        return ""
    except kubernetes.client.ApiException as exc:
        if exc.status != 404:
            return f"cannot read namespace {namespace}: HTTP {exc.status}"
    except Exception as exc:  # noqa: BLE001 - transport problems are reported, not raised
        return f"cannot read namespace {namespace}: {exc}"
    if not create:
        return f"namespace {namespace} does not exist (tick “Create missing namespaces” to create it)"
    try:
        kube_apply.create_namespace(api_client, namespace, dry_run=dry_run)
    except KubeError as exc:
        return f"cannot create namespace {namespace}: {exc}"
    return ""


def secret_values(obj: dict) -> dict[str, str]:
    values = {str(k): str(v) for k, v in (obj.get("stringData") or {}).items()}
    for key, value in (obj.get("data") or {}).items():
        values.setdefault(str(key), base64.b64decode(str(value)).decode("utf-8"))
    return values


def create_secret(api_client, cluster, obj: dict, *, user, dry_run: bool) -> tuple[str, str, str]:
    """Create a Secret; an existing one is left as it is (credentials are never silently overwritten)."""
    meta = obj.get("metadata") or {}
    action = AuditEntry.Action.DRY_RUN if dry_run else AuditEntry.Action.APPLY
    try:
        kube_apply.create_secret(
            api_client,
            meta.get("namespace") or "default",
            meta["name"],
            secret_values(obj),
            secret_type="Opaque",  # the only type created from here (see _secret_problem)
            labels=meta.get("labels"),
            annotations=meta.get("annotations"),
            dry_run=dry_run,
        )
    except ApiStatusError as exc:
        if exc.code == 409:
            message = "exists already; left unchanged (Secrets are never overwritten from here)"
            record(user, cluster, action, obj, True, message=message)
            return "unchanged", message, ""
        record(user, cluster, action, obj, False, message=str(exc))
        return "failed", str(exc), ""
    except KubeError as exc:
        record(user, cluster, action, obj, False, message=str(exc))
        return "failed", str(exc), ""
    message = f"Secret {object_label(obj)} {'would be' if dry_run else 'was'} created ({len(secret_values(obj))} keys)"
    record(user, cluster, action, obj, True, message=message)
    return "applied", message, ""
