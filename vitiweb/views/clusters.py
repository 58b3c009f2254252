"""Cluster pages: the list, one cluster's sync state and discovery, and adding one (Admin).

The Kubernetes client and the sync engine's registry are imported by the views that add a cluster,
not with the URLconf: heavy imports are deferred so commands start fast.
"""

from __future__ import annotations

from collections import Counter

from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django_htmx.http import HttpResponseClientRedirect

from vitiweb.filters import NO_PHASE, PROBLEM_PHASES
from vitiweb.forms import ClusterAddForm
from vitiweb.freshness import current_q, is_current
from vitiweb.kinds import all_models
from vitiweb.kube.errors import KubeError
from vitiweb.kube.kubeconfig import credential_kinds, dump_kubeconfig, resolve_context
from vitiweb.models import Cluster, JournalEntry, Reference
from vitiweb.overview import broken_references_url, list_url
from vitiweb.shapes import kind_specs
from vitiweb.ui import render_page, require_permission, url_name

CONNECTION_TEST_TIMEOUT = 5.0
JOURNAL_SHOWN = 15
BROKEN_STATES = (Reference.State.DANGLING, Reference.State.AMBIGUOUS)


def _counts_by_cluster() -> dict[int, list]:
    """{cluster pk: [(label, count, list url)]} with one grouped query per kind."""
    counts: dict[int, list] = {}
    for model in all_models():
        per_cluster = dict(model.objects.order_by().values_list("cluster_id").annotate(n=Count("*")))
        for pk in per_cluster:
            counts.setdefault(pk, [])
        label, url = model._meta.verbose_name_plural.capitalize(), reverse(url_name(model, "list"))
        for pk, items in counts.items():
            items.append((label, per_cluster.get(pk, 0), url))
    return counts


#: ``?state=unhealthy``: the clusters the overview counts as unhealthy.
UNHEALTHY = "unhealthy"
UNHEALTHY_STATES = (Cluster.State.DEGRADED, Cluster.State.UNREACHABLE)
CURRENT_FILTER = {"yes": "current", "no": "not current"}


def cluster_filters(request) -> tuple[Q, list[tuple[str, str]]]:
    """The cluster list's filters (``state``, ``current``) as a condition, and the chips naming them."""
    condition, chips = Q(), []
    state = request.GET.get("state", "")
    if state == UNHEALTHY:
        condition &= Q(state__in=UNHEALTHY_STATES)
        chips.append(("State", "degraded or unreachable"))
    elif state in Cluster.State.values:
        condition &= Q(state=state)
        chips.append(("State", Cluster.State(state).label))
    current = request.GET.get("current", "")
    if current in CURRENT_FILTER:
        condition &= current_q() if current == "yes" else ~current_q()
        chips.append(("Data", CURRENT_FILTER[current]))
    return condition, chips


@require_permission("vitiweb.view_cluster")
def cluster_list(request):
    condition, chips = cluster_filters(request)
    clusters = list(Cluster.objects.defer("credentials_encrypted").filter(condition).order_by("name"))
    counts = _counts_by_cluster()
    for cluster in clusters:
        cluster.kind_counts = counts.get(cluster.pk, [])
        cluster.object_total = sum(n for _, n, _ in cluster.kind_counts)
    return render_page(request, "vitiweb/cluster_list.html", {"clusters": clusters, "active_filters": chips})


@require_permission("vitiweb.view_cluster")
def cluster_detail(request, pk):
    cluster = get_object_or_404(Cluster, pk=pk)
    kinds = []
    for model in all_models():
        rows = list(model.objects.filter(cluster=cluster).order_by().values("phase", "ready").annotate(n=Count("*")))
        phases = Counter()
        for row in rows:
            phases[row["phase"] or NO_PHASE] += row["n"]
        kinds.append(
            {
                "label": model._meta.verbose_name_plural.capitalize(),
                "kind": model.KIND,
                "list_url": list_url(model, cluster=cluster.name),
                "attention_url": list_url(model, cluster=cluster.name, attention="yes"),
                "total": sum(r["n"] for r in rows),
                "not_ready": sum(r["n"] for r in rows if r["ready"] is False or r["phase"] in PROBLEM_PHASES),
                # Every phase, each with the list of exactly its objects.
                "phases": [
                    (phase, n, list_url(model, cluster=cluster.name, phase=phase)) for phase, n in phases.most_common()
                ],
                "discovered": (cluster.discovered_kinds or {}).get(model.KIND)
                if isinstance(cluster.discovered_kinds, dict)
                else None,
                "state": (cluster.kind_states or {}).get(model.KIND) if isinstance(cluster.kind_states, dict) else None,
            }
        )
    broken = Reference.objects.filter(source_cluster=cluster, state__in=BROKEN_STATES)
    broken_counts = dict(broken.order_by().values_list("state").annotate(n=Count("*")))
    api = reverse("api-reference-list")
    context = {
        "cluster": cluster,
        "current": is_current(cluster),
        "broken_states": [
            (state.label, broken_counts.get(state.value, 0), f"{api}?source_cluster={cluster.pk}&state={state.value}")
            for state in (Reference.State.DANGLING, Reference.State.AMBIGUOUS)
        ],
        "kinds": kinds,
        "permissions": _permission_rows(cluster.permissions),
        "broken_count": broken.count(),
        "broken_url": broken_references_url(source_cluster=cluster.pk),
        # Newest first, a page at a time: the page says which of how many it shows.
        "journal": Paginator(
            JournalEntry.objects.filter(cluster=cluster)
            .only("kind", "namespace", "name", "action", "changed_by", "recorded_at", "resource_version")
            .order_by("-recorded_at", "-pk"),
            JOURNAL_SHOWN,
        ).get_page(request.GET.get("changes-page")),
    }
    return render_page(request, "vitiweb/cluster_detail.html", context, {"cluster-page": "vitiweb/_cluster_page.html"})


def _permission_rows(permissions) -> dict:
    """Cluster.permissions as the registry records it: {tested_at, ok, problems, kinds: {kind: {verb: bool}}, secrets}."""
    permissions = permissions if isinstance(permissions, dict) else {}
    kinds = permissions.get("kinds") if isinstance(permissions.get("kinds"), dict) else {}
    verbs = sorted({verb for access in kinds.values() if isinstance(access, dict) for verb in access})
    return {
        "tested_at": parse_datetime(permissions["tested_at"])
        if isinstance(permissions.get("tested_at"), str)
        else None,
        "ok": permissions.get("ok"),
        "problems": [p for p in permissions.get("problems") or [] if isinstance(p, str)],
        "verbs": verbs,
        "kinds": [
            (kind, [(access if isinstance(access, dict) else {}).get(verb) for verb in verbs])
            for kind, access in sorted(kinds.items())
        ],
        "secrets": permissions.get("secrets"),
        "recorded": bool(permissions),
    }


@sensitive_variables("kubeconfig", "client")
def run_connection_test(kubeconfig: dict, context: str | None):
    """(report, error text): the kube layer's connection test for one context, exec plugins and file paths refused."""
    from vitiweb.kube.clients import api_client_from_kubeconfig
    from vitiweb.kube.discovery import connection_test

    try:
        client = api_client_from_kubeconfig(kubeconfig, context, allow_exec=False, allow_file_references=False)
    except KubeError as exc:
        return None, str(exc)
    try:
        return connection_test(client, timeout=CONNECTION_TEST_TIMEOUT, kinds=kind_specs()), ""
    finally:
        client.close()


@sensitive_post_parameters("kubeconfig_text")
@sensitive_variables("kubeconfig", "form", "resolved", "context")
@require_permission("vitiweb.add_cluster")
def cluster_add(request):
    """Test a kubeconfig's connection, then save it: the secret part encrypted, never shown again."""
    form = ClusterAddForm(request.POST or None, request.FILES or None)
    context = {"form": form, "report": None, "test_error": "", "tested": False}
    if request.method == "POST" and form.is_valid():
        kubeconfig = form.cleaned_data["kubeconfig"]
        resolved = resolve_context(kubeconfig)
        report, error = run_connection_test(kubeconfig, resolved.name)
        context.update(
            tested=True,
            report=report,
            test_error=error or (report.error if report else ""),
            resolved=resolved,
            contexts=form.cleaned_data["contexts"],
            credential_kinds=credential_kinds(kubeconfig).get(resolved.user_name or "", []),
        )
        reachable = bool(report and report.reachable and not report.error)
        if request.POST.get("action") == "save":
            if report is None:
                # No client could even be built (an exec plugin, a file on this machine): nothing to save.
                form.add_error(None, f"This kubeconfig cannot be used from the web form: {error}")
            elif reachable or form.cleaned_data["save_unreachable"]:
                try:
                    cluster = _save_cluster(form.cleaned_data["name"], kubeconfig, resolved, report)
                except KubeError as exc:
                    form.add_error(None, f"This kubeconfig cannot be saved: {exc}")
                else:
                    if request.htmx:
                        return HttpResponseClientRedirect(reverse("cluster_detail", args=[cluster.pk]))
                    return redirect("cluster_detail", pk=cluster.pk)
            else:
                form.add_error(
                    "save_unreachable",
                    "The connection test failed: fix the kubeconfig, or tick this box to save anyway.",
                )
    return render_page(
        request, "vitiweb/cluster_add.html", context, {"connection-test": "vitiweb/_connection_test.html"}
    )


@sensitive_variables("kubeconfig", "resolved")
def _save_cluster(name, kubeconfig, resolved, report) -> Cluster:
    """Register through the sync engine's registry (public part as JSON, secrets encrypted) and record the test."""
    from vitiweb.sync.clusters import record_connection_test, register_cluster

    with transaction.atomic():
        cluster = register_cluster(name, kubeconfig=dump_kubeconfig(kubeconfig), context=resolved.name)
        if report is not None:
            record_connection_test(cluster, report)
    return cluster
