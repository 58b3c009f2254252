"""Pages of the write path: the manifest editor, dry-run, diff, apply, bulk apply, Secrets, audit, export.

Permissions are checked on every request that reaches a cluster, whatever
buttons a page shows: dry-run needs ``vitiweb.dry_run``, apply
``vitiweb.apply``, taking fields over from another manager
``vitiweb.force_apply``. An apply must follow a dry-run of the very same
manifest on the same cluster (a signed token carries the manifest's hash).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

import django_filters
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from vitiweb.editing import export as exporting
from vitiweb.editing.forms import BulkApplyForm, SecretForm, form_class_for, writable_clusters
from vitiweb.editing.models import ApplyRun
from vitiweb.editing.operations import apply_object, create_secret, describe, plan, record, redact, to_yaml
from vitiweb.editing.tasks import start_run
from vitiweb.kinds import KINDS, kind_for_plural, model_for
from vitiweb.kube.errors import KubeError
from vitiweb.models import AuditEntry, Cluster
from vitiweb.sync.clusters import api_client_for
from vitiweb.ui import render_page, require_permission, viewer_required

log = logging.getLogger(__name__)

TOKEN_SALT = "vitiweb.editing.dry-run"
TOKEN_MAX_AGE = 30 * 60


def _kind(plural: str) -> str:
    kind = kind_for_plural(plural)
    if kind is None:
        raise Http404("no such kind")
    return kind


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"{perm} is required")


def _view_perm(kind: str) -> str:
    model = model_for(kind)
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


def _form_for(request, kind: str, data_source=None, *, fresh: bool = False):
    """(form, object or None, cluster) from the request: the edited object's id and the target cluster.

    ``fresh``: check the target cluster's CRD now (before a dry run or an apply), not within ``FRESH_FOR``.
    """
    model = model_for(kind)
    source = data_source if data_source is not None else request.POST
    obj = None
    pk = source.get("_pk") or ""
    if pk:
        if not str(pk).isdigit():
            raise Http404("no such object")
        obj = get_object_or_404(model.objects.select_related("cluster"), pk=int(pk))
    cluster = _cluster(source.get("_cluster"), default=obj.cluster if obj else None)
    form_class = form_class_for(kind)
    base = obj.as_manifest() if obj else None
    form = form_class.from_post(source, base=base, cluster=cluster, schema_max_age=timedelta(0) if fresh else None)
    return form, obj, cluster


def _cluster(value, default=None):
    clusters = writable_clusters()
    if value and str(value).isdigit():
        found = clusters.filter(pk=int(value)).first()
        if found:
            return found
    return default or clusters.first()


def _apply_token(user, cluster, manifest: dict) -> str:
    return signing.dumps({"u": user.pk, "c": cluster.pk, "h": _manifest_hash(manifest)}, salt=TOKEN_SALT)


def _manifest_hash(manifest: dict) -> str:
    # The content, whatever the order of its keys: a served schema read back from PostgreSQL (jsonb keeps
    # no key order) builds the same manifest in another order than the copy just fetched from the cluster.
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _token_matches(token: str, user, cluster, manifest: dict) -> bool:
    try:
        payload = signing.loads(token or "", salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return False
    return payload == {"u": user.pk, "c": cluster.pk, "h": _manifest_hash(manifest)}


# -- the editor ---------------------------------------------------------------------------------


def editor_context(request, kind: str, form, obj=None, cluster=None, result=None) -> dict:
    model = model_for(kind)
    problems = form.problems()
    errors = form.field_errors(problems)
    if result and result.get("field_errors"):
        for name, messages in result["field_errors"].items():
            errors.setdefault(name, []).extend(messages)
    meta = model._meta
    return {
        "kind": kind,
        "model_name": meta.model_name,
        "verbose_name": meta.verbose_name,
        "verbose_name_plural": meta.verbose_name_plural,
        "list_url": reverse(f"{meta.model_name}_list"),
        "object": obj,
        "form": form,
        "sections": form.bound_sections(errors),
        "meta_fields": form.metadata_fields(errors),
        "problems": problems,
        "manifest_yaml": to_yaml(redact(form.manifest)),
        "naming": {
            "pattern": form.naming_pattern,
            "suggestion": form.naming_suggestion(),
            "current": form.data.get("metadata.name") or "",
        },
        "datalists": form.datalists(),
        "clusters": writable_clusters(),
        "cluster": cluster,
        "urls": {
            "edit": reverse(f"{meta.model_name}_edit", args=[obj.pk]) if obj else reverse(f"{meta.model_name}_create"),
            "preview": reverse("manifest_preview", args=[model.PLURAL]),
            "dry_run": reverse("manifest_dry_run", args=[model.PLURAL]),
            "apply": reverse("manifest_apply", args=[model.PLURAL]),
        },
        "can_dry_run": request.user.has_perm("vitiweb.dry_run"),
        "can_apply": request.user.has_perm("vitiweb.apply"),
        "can_force": request.user.has_perm("vitiweb.force_apply"),
        "result": result,
        "secret_url": reverse("secret_create"),
        "schema_source": form.schema_source,
    }


@login_required
@require_http_methods(["GET", "POST"])
def manifest_editor(request, plural: str, pk: int | None = None):
    """The form of one kind: new (no ``pk``) or pre-filled from an object as the cluster holds it.

    A POST re-renders the form with a list item added or removed (``_add`` /
    ``_remove``); nothing reaches a cluster from here.
    """
    kind = _kind(plural)
    _require(request, _view_perm(kind))
    model = model_for(kind)
    form_class = form_class_for(kind)
    if request.method == "GET":
        obj = get_object_or_404(model.objects.select_related("cluster"), pk=pk) if pk else None
        cluster = obj.cluster if obj else _cluster(request.GET.get("cluster"))
        form = form_class(base=obj.as_manifest() if obj else None, cluster=cluster)
        if not obj and request.GET.get("namespace"):
            form.data["metadata.namespace"] = request.GET["namespace"][:63]
        if not obj and request.GET.get("type") and form.variant_key:
            form.data[f"spec.{form.variant_key}"] = request.GET["type"][:40]
    else:
        action = request.POST.get("_action")
        if action in ("dry-run", "apply") and not (request.POST.get("_add") or request.POST.get("_remove")):
            # Without JavaScript the buttons submit the form here.
            return (manifest_dry_run if action == "dry-run" else manifest_apply)(request, plural)
        data = request.POST.copy()
        if pk:
            data["_pk"] = str(pk)
        form, obj, cluster = _form_for(request, kind, data)
        _add_or_remove(form, request.POST)
    context = editor_context(request, kind, form, obj, cluster)
    response = render_page(request, "editing/editor.html", context, {"form-sections": "editing/_form_sections.html"})
    if request.method == "POST" and getattr(request, "htmx", False):
        response["HX-Trigger-After-Settle"] = "refresh-preview"
    return response


def _add_or_remove(form, post) -> None:
    from vitiweb.editing.schemaform import ITEM, NEW, item_indices

    add, remove = post.get("_add"), post.get("_remove")
    if add and add.startswith("spec.") and len(add) < 500:
        indices = item_indices(form.data, add)
        form.data[f"{add}.{(indices[-1] + 1) if indices else 0}.{ITEM}"] = NEW
    if remove and remove.startswith("spec.") and len(remove) < 500:
        prefix = remove + "."
        for key in [k for k in form.data if k.startswith(prefix)]:
            del form.data[key]
    form._built = None


@login_required
@require_POST
def manifest_preview(request, plural: str):
    """The YAML the form describes, its problems at their fields, naming hints and suggestions."""
    kind = _kind(plural)
    _require(request, _view_perm(kind))
    form, obj, cluster = _form_for(request, kind)
    context = editor_context(request, kind, form, obj, cluster)
    return render_page(request, "editing/_preview.html", context)


def _outcome_result(outcome, form, kind: str, cluster, request, manifest) -> dict:
    field_errors: dict[str, list[str]] = {}
    for path, message in outcome.causes:
        if path:
            field_errors.setdefault(form.form_name_for(path.removeprefix(".")), []).append(message)
    result = {
        "outcome": outcome,
        "field_errors": field_errors,
        "causes": [
            (path, form.form_name_for(path.removeprefix(".")) if path else "", message)
            for path, message in outcome.causes
        ],
        "conflicts": [
            (path, form.form_name_for(path.removeprefix(".")) if path else "", manager, message)
            for path, manager, message in outcome.conflicts
        ],
        "cluster": cluster,
        "kind": kind,
        "name": manifest["metadata"].get("name", ""),
        "namespace": manifest["metadata"].get("namespace", ""),
    }
    if outcome.ok and outcome.action == AuditEntry.Action.DRY_RUN:
        result["token"] = _apply_token(request.user, cluster, manifest)
    if outcome.ok and outcome.action == AuditEntry.Action.APPLY:
        result["resource_version"] = ((outcome.result or {}).get("metadata") or {}).get("resourceVersion", "")
    return result


def _refuse_invalid(request, kind, form, obj, cluster, action):
    """A manifest with schema problems does not go to a cluster; the problems are shown at their fields."""
    problems = form.problems()
    if not problems:
        return None
    result = {"invalid": problems, "action": action}
    context = editor_context(request, kind, form, obj, cluster, result)
    return render_page(request, "editing/editor.html", context, {"result": "editing/_result.html"}, status=422)


@login_required
@require_POST
def manifest_dry_run(request, plural: str):
    """Server-side dry-run on the chosen cluster, and the diff against the live object."""
    kind = _kind(plural)
    _require(request, "vitiweb.dry_run")
    force = request.POST.get("_force") == "1"
    if force:
        _require(request, "vitiweb.force_apply")
    form, obj, cluster = _form_for(request, kind, fresh=True)
    if cluster is None:
        return HttpResponseBadRequest("no cluster to dry-run on")
    refused = _refuse_invalid(request, kind, form, obj, cluster, "dry-run")
    if refused:
        return refused
    manifest = form.manifest
    outcome = apply_object(cluster, manifest, user=request.user, dry_run=True, force=force)
    result = _outcome_result(outcome, form, kind, cluster, request, manifest)
    result["forced"] = force
    if outcome.conflicts:
        result["token"] = ""  # nothing to apply until a dry-run succeeds
    context = editor_context(request, kind, form, obj, cluster, result)
    return render_page(request, "editing/editor.html", context, {"result": "editing/_result.html"})


@login_required
@require_POST
def manifest_apply(request, plural: str):
    """Server-side apply of what was dry-run; with ``_force``, over another manager's fields."""
    kind = _kind(plural)
    _require(request, "vitiweb.apply")
    force = request.POST.get("_force") == "1"
    if force:
        _require(request, "vitiweb.force_apply")
    form, obj, cluster = _form_for(request, kind, fresh=True)
    if cluster is None:
        return HttpResponseBadRequest("no cluster to apply to")
    refused = _refuse_invalid(request, kind, form, obj, cluster, "apply")
    if refused:
        return refused
    manifest = form.manifest
    if not _token_matches(request.POST.get("_token", ""), request.user, cluster, manifest):
        result = {"stale": True}
        context = editor_context(request, kind, form, obj, cluster, result)
        return render_page(request, "editing/editor.html", context, {"result": "editing/_result.html"}, status=409)
    outcome = apply_object(cluster, manifest, user=request.user, dry_run=False, force=force)
    result = _outcome_result(outcome, form, kind, cluster, request, manifest)
    if outcome.conflicts:
        result["token"] = request.POST.get("_token")  # the same manifest may be forced without another dry-run
    context = editor_context(request, kind, form, obj, cluster, result)
    return render_page(request, "editing/editor.html", context, {"result": "editing/_result.html"})


@login_required
def manifest_locate(request):
    """Polled after an apply: has the object come back through the watch yet?"""
    kind = request.GET.get("kind", "")
    if kind not in KINDS:
        raise Http404("no such kind")
    _require(request, _view_perm(kind))
    model = model_for(kind)
    try:
        attempt = int(request.GET.get("attempt", "0"))
    except ValueError:
        attempt = 0
    found = (
        model.objects.filter(
            cluster_id=request.GET.get("cluster") if str(request.GET.get("cluster", "")).isdigit() else None,
            namespace=request.GET.get("namespace", ""),
            name=request.GET.get("name", ""),
        )
        .only("pk", "resource_version", "name", "namespace", "cluster_id")
        .first()
    )
    wanted_rv = request.GET.get("rv", "")
    synced = found is not None and (
        not wanted_rv or found.resource_version == wanted_rv or _rv_newer(found.resource_version, wanted_rv)
    )
    params = request.GET.copy()
    params["attempt"] = str(attempt + 1)
    context = {
        "found": found if synced else None,
        "attempt": attempt,
        "gave_up": attempt >= 30,
        "next_url": f"{reverse('manifest_locate')}?{params.urlencode()}",
        "list_url": reverse(f"{model._meta.model_name}_list"),
    }
    return render_page(request, "editing/_locate.html", context)


def _rv_newer(have: str, want: str) -> bool:
    return have.isdigit() and want.isdigit() and int(have) >= int(want)


# -- multi-document apply -----------------------------------------------------------------------


@sensitive_post_parameters("manifests")
@sensitive_variables("form", "found", "ordered")
@login_required
@require_http_methods(["GET", "POST"])
def manifest_bulk_apply(request):
    """Paste or upload a YAML stream; its documents are applied in dependency order."""
    can_apply = request.user.has_perm("vitiweb.apply")
    can_dry_run = request.user.has_perm("vitiweb.dry_run")
    if not (can_apply or can_dry_run):
        raise PermissionDenied("vitiweb.dry_run or vitiweb.apply is required")
    problems: list[str] = []
    ordered: list[dict] = []
    if request.method == "POST":
        dry_run = request.POST.get("_action") != "apply"
        _require(request, "vitiweb.dry_run" if dry_run else "vitiweb.apply")
        form = BulkApplyForm(request.POST, request.FILES)
        if form.is_valid():
            found = plan(form.cleaned_data["text"], form.cleaned_data["source"], form.cleaned_data["cluster"])
            problems, ordered = found.problems, found.documents
            if not ordered and not problems:
                problems = ["the stream holds no documents"]
            if not problems:
                # One transaction: a run whose documents could not be stored does not exist at all.
                with transaction.atomic():
                    run = ApplyRun.objects.create(
                        user=request.user,
                        cluster=form.cleaned_data["cluster"],
                        dry_run=dry_run,
                        create_namespaces=form.cleaned_data["create_namespaces"],
                        items=[describe(doc) for doc in ordered],
                    )
                    start_run(run, ordered)
                return redirect("applyrun_detail", pk=run.pk)
    else:
        form = BulkApplyForm()
    context = {
        "form": form,
        "problems": problems,
        "can_apply": can_apply,
        "can_dry_run": can_dry_run,
        "order": ("Namespace", "Secret", *KINDS),
        "recent": ApplyRun.objects.filter(user=request.user)[:5],
    }
    return render_page(request, "editing/bulk_apply.html", context, status=422 if problems else 200)


@require_permission("vitiweb.view_auditentry")
def applyrun_detail(request, pk: int):
    run = get_object_or_404(ApplyRun.objects.select_related("cluster", "user"), pk=pk)
    if run.user_id != request.user.pk and not request.user.has_perm("vitiweb.force_apply"):
        raise PermissionDenied("another operator's run")
    context = {
        "run": run,
        "items": run.items,
        "applied": [i for i in run.items if i.get("state") in ("applied", "unchanged")],
        "not_applied": [i for i in run.items if i.get("state") not in ("applied", "unchanged")],
    }
    return render_page(request, "editing/applyrun_detail.html", context, {"run-progress": "editing/_run_progress.html"})


# -- credentials ----------------------------------------------------------------------------------


@sensitive_post_parameters()
@sensitive_variables("form", "string_data")
@login_required
@require_http_methods(["GET", "POST"])
def secret_create(request):
    """Create the credentials Secret a provider references. Values are write-only: never shown again."""
    _require(request, "vitiweb.apply")
    outcome = None
    if request.method == "POST":
        form = SecretForm(request.POST)
        if form.is_valid():
            cluster = form.cleaned_data["cluster"]
            string_data = form.cleaned_data["string_data"]
            obj = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": form.cleaned_data["name"], "namespace": form.cleaned_data["namespace"]},
                "stringData": string_data,
            }
            try:
                api_client = api_client_for(cluster)
            except KubeError as exc:
                record(request.user, cluster, AuditEntry.Action.APPLY, obj, False, message=str(exc))
                outcome = ("failed", f"cannot connect to {cluster.name}: {exc}")
            else:
                try:
                    state, message, _ = create_secret(api_client, cluster, obj, user=request.user, dry_run=False)
                finally:
                    api_client.close()
                outcome = (state, message)
            # Never rendered back: the next form starts empty but for where the Secret went.
            form = SecretForm(
                initial={
                    "cluster": cluster.pk,
                    "namespace": form.cleaned_data["namespace"],
                    "name": form.cleaned_data["name"],
                }
            )
    else:
        form = SecretForm(
            initial={k: request.GET.get(k, "")[:253] for k in ("namespace", "name")}
            | ({"cluster": request.GET["cluster"]} if str(request.GET.get("cluster", "")).isdigit() else {})
        )
        keys = [k for k in request.GET.get("keys", "").split(",") if k][: SecretForm.VALUE_SLOTS]
        for index, key in enumerate(keys or ["access-key-id", "secret-access-key"]):
            form.initial[f"key_{index}"] = key[:253]
    return render_page(request, "editing/secret_create.html", {"form": form, "outcome": outcome})


# -- audit ----------------------------------------------------------------------------------------


class AuditFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Object")
    cluster = django_filters.ModelChoiceFilter(queryset=Cluster.objects.all(), to_field_name="name")
    user = django_filters.CharFilter(field_name="user__username", label="User")
    action = django_filters.ChoiceFilter(choices=AuditEntry.Action.choices)
    result = django_filters.ChoiceFilter(choices=AuditEntry.Result.choices)
    kind = django_filters.ChoiceFilter(choices=[(k, k) for k in ("Namespace", "Secret", *KINDS)])
    since = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label="Since")

    class Meta:
        model = AuditEntry
        fields = ["q", "cluster", "user", "action", "result", "kind", "since"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(namespace__icontains=value) | Q(message__icontains=value))


@require_permission("vitiweb.view_auditentry")
def auditentry_list(request):
    queryset = AuditEntry.objects.select_related("user", "cluster").defer("manifest", "diff")
    filterset = AuditFilter(request.GET or None, queryset=queryset)
    entries = filterset.qs if not filterset.is_bound or filterset.is_valid() else queryset.none()
    page = Paginator(entries.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {"filter": filterset, "page": page, "entries": page.object_list, "query": params.urlencode()}
    return render_page(request, "editing/audit_list.html", context, {"audit-results": "editing/_audit_table.html"})


@require_permission("vitiweb.view_auditentry")
def auditentry_detail(request, pk: int):
    entry = get_object_or_404(AuditEntry.objects.select_related("user", "cluster"), pk=pk)
    return render_page(request, "editing/audit_detail.html", {"entry": entry})


# -- export ---------------------------------------------------------------------------------------


def _exportable(request, kind: str):
    _require(request, _view_perm(kind))
    return model_for(kind).objects.select_related("cluster")


@login_required
def object_export(request, plural: str, pk: int):
    """One object as YAML to keep in Git: no status, no server-set metadata."""
    kind = _kind(plural)
    obj = get_object_or_404(_exportable(request, kind), pk=pk)
    if request.GET.get("format") == "zip":
        return _zip_response(exporting.build_zip([obj]), f"{exporting.safe(obj.name)}.zip")
    response = HttpResponse(exporting.export_yaml(obj), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{exporting.safe(obj.name)}.yaml")
    return response


@viewer_required
def export_zip(request):
    """A selection (``?object=Machine:12&object=Vitistack:3``), a cluster (``?cluster=name``) or the whole fleet, zipped."""
    selected = request.GET.getlist("object")
    cluster = request.GET.get("cluster", "")
    objects = []
    if selected:
        wanted: dict[str, list[int]] = {}
        # No cut here: Django refuses a query of more than DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) fields.
        for item in selected:
            kind, _, pk = item.partition(":")
            if kind in KINDS and pk.isdigit():
                wanted.setdefault(kind, []).append(int(pk))
        for kind, pks in wanted.items():
            objects += list(_exportable(request, kind).filter(pk__in=pks))
    else:
        for kind in KINDS:
            if request.user.has_perm(_view_perm(kind)):
                queryset = model_for(kind).objects.select_related("cluster")
                if cluster:
                    queryset = queryset.filter(cluster__name=cluster)
                objects += list(queryset)
    if not objects:
        raise Http404("nothing to export")
    name = f"vitiweb-{exporting.safe(cluster) if cluster else ('selection' if selected else 'fleet')}.zip"
    return _zip_response(exporting.build_zip(objects), name)


def _zip_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
