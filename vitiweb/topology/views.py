"""The topology explorer and the findings page.

Every picture has two URLs: the page (``topology:view``), which embeds the
first figure as JSON, and the figure itself (``topology:figure``), which the
page re-fetches when the fleet changes (the ``vitiweb:objects-changed`` event
on ``<body>``) or when a collapsed group is expanded. A click on a node asks
``topology:panel`` for the object's side panel, through htmx.
"""

from __future__ import annotations

import time
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from vitiweb import registry
from vitiweb.fleet import (
    KUBERNETES_PROVIDER,
    MACHINE,
    MACHINE_PROVIDER,
    VITISTACK,
    Fleet,
    detail_url,
    search_objects,
)
from vitiweb.integrity import SEVERITIES, current_findings
from vitiweb.integrity.checks import CHECKS, RELATION_WORDS
from vitiweb.kinds import KINDS
from vitiweb.models import Reference
from vitiweb.topology.builders import (
    VIEWS,
    Options,
    build_picture,
    clouds,
    effective_policies,
    stack_hover,
)
from vitiweb.topology.figure import build_figure
from vitiweb.topology.graph import layout
from vitiweb.ui import render_page

#: References a side panel lists; past that it says how many there are and where to see them all.
PANEL_ITEMS = 50


def topology_permissions() -> tuple[str, ...]:
    """Seeing the topology means seeing every kind it draws (the registry's node types) and the references."""
    return (*(registry.view_permission(d.kind) for d in registry.topology_kinds()), "vitiweb.view_reference")


def topology_required(view):
    @wraps(view)
    def check(request, *args, **kwargs):
        if not request.user.has_perms(topology_permissions()):
            raise PermissionDenied("the topology needs the view permission of every kind it draws")
        return view(request, *args, **kwargs)

    return login_required(check)


def may_see(user, kind: str) -> bool:
    """Whether ``kind`` is a declared kind and ``user`` may see its objects."""
    permission = registry.view_permission(kind)
    return permission is not None and user.has_perm(permission)


def options_from(request) -> Options:
    def integer(name):
        try:
            return int(request.GET.get(name, ""))
        except ValueError:
            return None

    return Options(
        expanded=set(request.GET.getlist("expand")),
        query=request.GET.get("q", "").strip()[:100],
        stack=integer("stack"),
        kind=request.GET.get("kind", "") if request.GET.get("kind", "") in KINDS else "",
        pk=integer("pk"),
    )


def make_figure(view: str, options: Options, fleet: Fleet | None = None):
    fleet = fleet or Fleet()
    started = time.perf_counter()
    picture = build_picture(view, fleet, current_findings(), options)
    placement = layout(picture.graph, picture.direction)
    figure = build_figure(picture.graph, placement, picture.direction)
    figure["meta"]["build_ms"] = round((time.perf_counter() - started) * 1000, 1)
    figure["meta"]["empty"] = picture.empty_text if not picture.graph.nodes else ""
    figure["meta"]["direction"] = picture.direction
    return picture, figure


def _query_string(request, **overrides) -> str:
    params = request.GET.copy()
    for key, value in overrides.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


@topology_required
def index(request):
    return redirect("topology:view", view="hierarchy")


@topology_required
def view_page(request, view):
    if view not in VIEWS:
        raise Http404("no such topology view")
    options = options_from(request)
    fleet = Fleet()
    picture, figure = make_figure(view, options, fleet)
    query = _query_string(request)
    context = {
        "view": view,
        "view_title": VIEWS[view][0],
        "views": [(key, title, reverse("topology:view", args=[key])) for key, (title, _) in VIEWS.items()],
        "picture": picture,
        "figure": figure,
        "figure_url": reverse("topology:figure", args=[view]) + (f"?{query}" if query else ""),
        "tables_url": request.get_full_path(),
        "options": options,
        "stacks": [
            (s.id, f"{s.name} ({s.namespace}, {fleet.clusters.get(s.cluster_id, '?')})")
            for s in sorted(fleet.stacks.values(), key=lambda s: (s.name, s.namespace))
        ]
        if view == "composition"
        else [],
        "collapse_url": "?" + _query_string(request, expand=None),
        "candidates": _candidates(options) if view == "blast-radius" else [],
        "picked": fleet.get(options.kind, options.pk) if view == "blast-radius" and options.kind else None,
        "clusters": fleet.clusters,
    }
    return render_page(request, "topology/explorer.html", context, {"topology-tables": "topology/_tables.html"})


def _candidates(options: Options):
    if not options.query or options.pk:
        return []
    return [
        {
            "obj": obj,
            "url": reverse("topology:view", args=["blast-radius"]) + "?" + urlencode({"kind": obj.kind, "pk": obj.id}),
        }
        for obj in search_objects(options.query)
    ]


@topology_required
def figure_json(request, view):
    if view not in VIEWS:
        raise Http404("no such topology view")
    _, figure = make_figure(view, options_from(request))
    response = JsonResponse(figure)
    response["Cache-Control"] = "no-store"
    return response


@login_required
def panel(request, kind, pk):
    """The side panel of one object: summary, findings, relationships, links."""
    if not may_see(request.user, kind):
        raise Http404("no such object")
    fleet = Fleet()
    obj = fleet.get(kind, pk)
    if obj is None:
        raise Http404("no such object")
    findings = current_findings().for_object(kind, pk)
    declared = Reference.objects.filter(source_kind=kind, source_id=pk).order_by("id")
    refs = declared[:PANEL_ITEMS]
    incoming = Reference.objects.filter(target_kind=kind, target_id=pk).exclude(target_entry="").count()
    context = {
        "obj": obj,
        "cluster": fleet.clusters.get(obj.cluster_id, "?"),
        "url": detail_url(kind, pk),
        "findings": findings,
        "outgoing": [{"ref": ref, "words": RELATION_WORDS.get(ref.relation, ref.relation)} for ref in refs],
        "outgoing_count": declared.count() if len(refs) == PANEL_ITEMS else len(refs),
        "incoming_entries": incoming,
        "composition_url": reverse("topology:view", args=["composition"]) + f"?stack={pk}" if kind == VITISTACK else "",
        "blast_url": (
            reverse("topology:view", args=["blast-radius"]) + "?" + urlencode({"kind": kind, "pk": pk})
            if kind != MACHINE
            else ""
        ),
        "panel_url": request.get_full_path(),
    }
    if kind == VITISTACK:
        context["stack_lines"] = stack_hover(fleet, obj)
        context["clouds"] = clouds(fleet, obj)
        context["policies"] = effective_policies(fleet, obj)
        context["inherits"] = obj.spec.get("inheritPolicies") is True
        context["stack_lines"] += stack_role_lines(obj)
    elif kind == MACHINE_PROVIDER:
        context["machine_count"] = fleet.machine_count(pk)
        context["listed_by"] = [fleet.stacks[s] for s in fleet.stacks_listing().get(obj.key, []) if s in fleet.stacks]
    elif kind == KUBERNETES_PROVIDER:
        context["node_groups"] = fleet.node_groups.get(pk, [])
        context["listed_by"] = [fleet.stacks[s] for s in fleet.stacks_listing().get(obj.key, []) if s in fleet.stacks]
    return render_page(request, "topology/_side_panel.html", context)


def stack_role_lines(stack) -> list[str]:
    """What the stack's edge and disaster-recovery blocks say, in one line each."""
    spec = stack.spec
    lines = []
    edge = spec.get("edge") if isinstance(spec.get("edge"), dict) else {}
    connectivity = edge.get("connectivity") if isinstance(edge.get("connectivity"), dict) else {}
    autonomy = edge.get("autonomy") if isinstance(edge.get("autonomy"), dict) else {}
    if connectivity:
        lines.append(
            "connectivity "
            + " · ".join(str(connectivity[key]) for key in ("type", "bandwidth", "latency") if key in connectivity)
        )
    if autonomy:
        lines.append(
            ("autonomous" if autonomy.get("enabled") is True else "not autonomous")
            + (f", offline timeout {autonomy['offlineTimeout']}" if "offlineTimeout" in autonomy else "")
            + (", local decisions" if autonomy.get("localDecisionMaking") is True else "")
        )
    dr = spec.get("disasterRecovery") if isinstance(spec.get("disasterRecovery"), dict) else {}
    for target in dr.get("replicationTargets") or []:
        if isinstance(target, dict):
            lines.append(
                f"replicates to {target.get('name', '?')} ({target.get('replicationMode', '?')}, "
                f"RPO {target.get('rpo', '?')}, RTO {target.get('rto', '?')})"
            )
    primary = spec.get("primaryVitistack") if isinstance(spec.get("primaryVitistack"), dict) else {}
    if primary:
        lines.append(f"disaster recovery for {primary.get('name', '?')}")
    return lines


@topology_required
def panel_missing(request):
    """The side panel of an object that is referenced but does not exist."""
    kind, namespace, name = (request.GET.get(key, "")[:253] for key in ("kind", "namespace", "name"))
    fleet = Fleet()
    naming = (
        Reference.objects.filter(target_kind=kind, target_namespace=namespace, target_name=name)
        .exclude(state=Reference.State.RESOLVED)
        .order_by("id")
    )
    refs = naming[:PANEL_ITEMS]
    referrers = []
    for ref in refs:
        source = fleet.get(ref.source_kind, ref.source_id)
        referrers.append(
            {
                "ref": ref,
                "source": source,
                "url": detail_url(ref.source_kind, ref.source_id),
                "words": RELATION_WORDS.get(ref.relation, ref.relation),
            }
        )
    elsewhere = (
        [obj for obj in fleet.find_by_name(kind, name) if obj.namespace != namespace] if kind != "Secret" else []
    )
    context = {
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "referrers": referrers,
        "referrer_count": naming.count() if len(refs) == PANEL_ITEMS else len(refs),
        "findings_url": reverse("topology:findings")
        + "?"
        + urlencode({"check": "dangling-reference", "q": f"{namespace}/{name}" if namespace else name}),
        "elsewhere": [
            {"obj": obj, "cluster": fleet.clusters.get(obj.cluster_id, "?"), "url": detail_url(obj.kind, obj.id)}
            for obj in elsewhere
        ],
    }
    return render_page(request, "topology/_side_panel_missing.html", context)


@topology_required
def findings_page(request):
    index = current_findings()
    severity = request.GET.get("severity", "")
    check = request.GET.get("check", "")
    kind = request.GET.get("kind", "")
    cluster = request.GET.get("cluster", "")
    query = request.GET.get("q", "").strip().lower()[:100]
    shown = [
        finding
        for finding in index.findings
        if (not severity or finding.severity == severity)
        and (not check or finding.check == check)
        and (not kind or kind in finding.kinds)
        and (not cluster or any(obj.cluster == cluster for obj in finding.objects))
        and (
            not query
            or query in finding.message.lower()
            or any(query in obj.address.lower() for obj in finding.objects)
        )
    ]
    limit = 500
    context = {
        "findings": shown[:limit],
        "shown_count": len(shown),
        "truncated": len(shown) > limit,
        "total": len(index.findings),
        "counts": index.counts(),
        "by_check": index.counts_by_check(),
        "checks": [(c.slug, c.title, c.description) for c in CHECKS],
        "severities": SEVERITIES,
        "kinds": KINDS,
        "cluster_names": sorted({obj.cluster for f in index.findings for obj in f.objects if obj.cluster}),
        "selected": {
            "severity": severity,
            "check": check,
            "kind": kind,
            "cluster": cluster,
            "q": request.GET.get("q", ""),
        },
    }
    return render_page(
        request, "topology/findings.html", context, {"findings-results": "topology/_findings_results.html"}
    )


@login_required
def object_findings(request, kind, pk):
    """The findings panel of one object, re-fetched by its detail page when the fleet changes."""
    from django.template.response import TemplateResponse

    from vitiweb.templatetags.topology_tags import object_findings_context

    if not may_see(request.user, kind):
        raise Http404("no such object")
    return TemplateResponse(request, "topology/_object_findings.html", object_findings_context(kind, pk))


@topology_required
def summary(request):
    from django.template.response import TemplateResponse

    from vitiweb.templatetags.topology_tags import findings_summary_context

    return TemplateResponse(request, "topology/_findings_summary.html", findings_summary_context())
