"""Pages for Git sources, drift, sync from Git, back to Git and promotion."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from gitops import operations, promotion
from gitops.filters import DriftFilter
from gitops.forms import GitSourceForm, PromotionForm
from gitops.models import DriftRecord, GitSource, GitTarget, Promotion
from gitops.repository import GitSourceError
from gitops.sources import SourceError, register_source
from gitops.summary import drift_summary
from gitops.tasks import fetch_and_compare
from vitiweb.editing.operations import to_yaml
from vitiweb.ui import render_page, require_permission

#: The most objects one sync or commit may carry: a page of the drift list.
MAX_SELECTED = 500


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"{perm} is required")


@require_permission("gitops.view_gitsource")
def gitsource_list(request):
    sources = GitSource.objects.prefetch_related("targets__cluster").order_by("name")
    failing = request.GET.get("failing") == "yes"
    if failing:  # the overview's "N sources with an unusable revision"
        sources = sources.exclude(last_error="")
    context = {"sources": sources, "failing": failing, **drift_summary()}
    return render_page(request, "gitops/gitsource_list.html", context)


@sensitive_post_parameters("credentials")
@sensitive_variables("form")
@require_permission("gitops.add_gitsource")
@require_http_methods(["GET", "POST"])
def gitsource_add(request):
    form = GitSourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            source = register_source(
                data["name"],
                url=data["url"],
                local_path=data["local_path"],
                branch=data["branch"],
                path=data["path"],
                targets=[(cluster.name, data["namespace"]) for cluster in data["clusters"]],
                auth=data["auth"],
                credentials=data["credentials"],
                push_enabled=data["push_enabled"],
            )
        except SourceError as exc:
            form.add_error(None, str(exc))
        else:
            fetch_and_compare(source)
            return redirect(source)
    return render_page(request, "gitops/gitsource_add.html", {"form": form}, status=422 if form.errors else 200)


@require_permission("gitops.view_gitsource")
def gitsource_detail(request, pk: int):
    source = get_object_or_404(GitSource, pk=pk)
    counts = {state: 0 for state, _ in DriftRecord.State.choices}
    for state in source.drift.values_list("state", flat=True):
        counts[state] += 1
    context = {
        "source": source,
        "targets": GitTarget.objects.filter(source=source).select_related("cluster"),
        "counts": [(value, label, counts[value]) for value, label in DriftRecord.State.choices],
        "desired_count": source.desired_objects.count(),
    }
    return render_page(request, "gitops/gitsource_detail.html", context, {"source-state": "gitops/_source_state.html"})


@require_permission("gitops.view_gitsource", "vitiweb.dry_run")
@require_POST
def gitsource_fetch(request, pk: int):
    source = get_object_or_404(GitSource, pk=pk)
    result = fetch_and_compare(source)
    if result.ok:
        messages.success(request, f"Fetched {source.name}: revision {result.commit[:12]}.")
    else:
        messages.error(request, f"{source.name}: the newest revision could not be used (see below).")
    return redirect(source)


@require_permission("gitops.view_driftrecord")
def drift_list(request):
    queryset = DriftRecord.objects.select_related("source", "cluster").order_by(
        "cluster__name", "kind", "namespace", "name"
    )
    filterset = DriftFilter(request.GET or None, queryset=queryset)
    records = filterset.qs if not filterset.is_bound or filterset.is_valid() else queryset.none()
    page = Paginator(records, MAX_SELECTED).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filter": filterset,
        "page": page,
        "records": page.object_list,
        "query": params.urlencode(),
        "can_sync": request.user.has_perm("vitiweb.dry_run"),
        **drift_summary(),
    }
    return render_page(request, "gitops/drift_list.html", context, {"drift-results": "gitops/_drift_table.html"})


@require_permission("gitops.view_driftrecord")
def drift_detail(request, pk: int):
    record = get_object_or_404(DriftRecord.objects.select_related("source", "cluster", "desired"), pk=pk)
    context = {
        "record": record,
        "desired_yaml": to_yaml(record.desired.body) if record.desired else "",
        "can_sync": request.user.has_perm("vitiweb.dry_run"),
    }
    return render_page(request, "gitops/drift_detail.html", context, {"drift-record": "gitops/_drift_record.html"})


def _chosen(request) -> list[DriftRecord]:
    if request.POST.get("all_drifted"):
        # Everything Git can bring back in line, whatever page the operator was looking at.
        return list(
            DriftRecord.objects.filter(state__in=operations.SYNCABLE).select_related("source", "cluster", "desired")
        )
    ids = [value for value in request.POST.getlist("record") if value.isdigit()][: MAX_SELECTED + 1]
    if len(ids) > MAX_SELECTED:
        raise PermissionDenied(f"at most {MAX_SELECTED} objects at once")
    return list(DriftRecord.objects.filter(pk__in=ids).select_related("source", "cluster", "desired"))


@require_permission("gitops.view_driftrecord", "vitiweb.dry_run")
@require_POST
def drift_sync(request):
    """Bring the chosen objects back to Git: dry-run or apply through the bulk apply path."""
    dry_run = request.POST.get("_action") != "apply"
    _require(request, "vitiweb.dry_run" if dry_run else "vitiweb.apply")
    force = bool(request.POST.get("force"))
    if force:
        _require(request, "vitiweb.force_apply")
    records = _chosen(request)
    if not records:
        messages.error(request, "Choose at least one object to sync from Git.")
        return redirect("driftrecord_list")
    runs = []
    for source in {r.source for r in records}:
        runs += operations.sync_from_git(
            source, [r for r in records if r.source_id == source.pk], user=request.user, dry_run=dry_run, force=force
        )
    if not runs:
        messages.error(request, "None of the chosen objects is in Git (objects only in the cluster are not synced).")
        return redirect("driftrecord_list")
    if len(runs) == 1:
        return redirect("applyrun_detail", pk=runs[0].pk)
    messages.success(request, "Queued runs " + ", ".join(f"#{run.pk}" for run in runs) + ".")
    return redirect("driftrecord_list")


@require_permission("gitops.view_driftrecord", "vitiweb.apply")
@require_POST
def drift_delete(request, pk: int):
    """Delete one unmanaged object (never in bulk: each deletion is asked for on its own)."""
    record = get_object_or_404(DriftRecord.objects.select_related("source", "cluster"), pk=pk)
    if request.POST.get("confirm") != record.name:
        messages.error(request, f"Type the object's name ({record.name}) to confirm the deletion.")
        return redirect("driftrecord_detail", pk=pk)
    ok, message = operations.delete_unmanaged(
        record.source, record, user=request.user, dry_run=request.POST.get("_action") != "delete"
    )
    (messages.success if ok else messages.error)(request, message)
    return redirect("driftrecord_detail", pk=pk)


@require_permission("gitops.view_driftrecord", "vitiweb.dry_run")
@require_POST
def drift_back_to_git(request):
    """Bring Git up to the cluster: a commit on a new branch (pushed where allowed), or the patch."""
    records = [r for r in _chosen(request) if r.state in (DriftRecord.State.DIFFERS, DriftRecord.State.CLUSTER_ONLY)]
    sources = {r.source for r in records}
    if len(sources) != 1:
        messages.error(request, "Choose objects of one Git source that differ from it or are missing from it.")
        return redirect("driftrecord_list")
    (source,) = sources
    try:
        written = operations.back_to_git(source, records, user=request.user)
    except (GitSourceError, ValueError, OSError) as exc:
        messages.error(request, f"Could not write to {source.name}: {exc}")
        return redirect("driftrecord_list")
    if request.POST.get("_action") == "patch" or not written.pushed:
        response = HttpResponse(written.patch, content_type="text/x-patch; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{source.name}-{written.commit[:7]}.patch"'
        return response
    messages.success(request, f"Committed {written.commit[:12]} on the new branch {written.branch} of {source.name}.")
    return redirect(source)


@require_permission("gitops.view_promotion", "vitiweb.dry_run")
@require_http_methods(["GET", "POST"])
def promotion_new(request):
    form = PromotionForm(request.POST or request.GET or None)
    candidates, previews = [], []
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        candidates = list(promotion.selectable(data["source_cluster"], data["source_namespace"]))
        chosen_keys = set(request.POST.getlist("object"))
        chosen = [obj for obj in candidates if f"{obj.kind}:{obj.pk}" in chosen_keys]
        if request.method == "POST" and chosen:
            items = promotion.plan(
                chosen,
                from_env=data["from_environment"],
                to_env=data["to_environment"],
                to_namespace=data["target_namespace"],
                batch_size=data["batch_size"],
            )
            if request.POST.get("_action") == "apply":
                _require(request, "vitiweb.apply")
                record = _promotion_record(request, data)
                promotion.start(record, items)
                return redirect("promotion_detail", pk=record.pk)
            previews = promotion.preview(items, data["target_cluster"], request.user)
        elif request.method == "POST":
            messages.error(request, "Choose at least one object to promote.")
    context = {
        "form": form,
        "candidates": candidates,
        "chosen": set(request.POST.getlist("object")),
        "previews": previews,
        "all_ok": bool(previews) and all(p["outcome"].ok for p in previews),
    }
    return render_page(request, "gitops/promotion_new.html", context)


def _promotion_record(request, data) -> Promotion:
    source = (
        GitSource.objects.filter(
            targets__cluster=data["source_cluster"], targets__namespace__in=("", data["source_namespace"])
        )
        .exclude(commit="")
        .first()
    )
    return Promotion.objects.create(
        user=request.user,
        source_cluster=data["source_cluster"],
        source_namespace=data["source_namespace"],
        target_cluster=data["target_cluster"],
        target_namespace=data["target_namespace"],
        from_environment=data["from_environment"],
        to_environment=data["to_environment"],
        batch_size=data["batch_size"],
        git_source=source,
        revision=source.commit if source else "",
    )


@require_permission("gitops.view_promotion")
def promotion_detail(request, pk: int):
    record = get_object_or_404(Promotion.objects.select_related("source_cluster", "target_cluster", "user"), pk=pk)
    return render_page(
        request,
        "gitops/promotion_detail.html",
        {"promotion": record},
        {"promotion-progress": "gitops/_promotion_progress.html"},
    )


@require_permission("gitops.view_promotion")
def promotion_list(request):
    records = Promotion.objects.select_related("source_cluster", "target_cluster", "user")
    page = Paginator(records, 50).get_page(request.GET.get("page"))
    return render_page(request, "gitops/promotion_list.html", {"page": page, "promotions": page.object_list})
