"""Pages of troubleshooting: the fleet's Events, an object's Events tab, a cluster's controller logs, /metrics."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import content_disposition_header, urlencode

from vitiweb.kinds import KINDS
from vitiweb.kube import logs as kube_logs
from vitiweb.kube.errors import KubeError
from vitiweb.models import Cluster
from vitiweb.monitoring import alerts
from vitiweb.monitoring.models import ClusterMonitoring, Event
from vitiweb.sync.clusters import api_client_for
from vitiweb.ui import render_page, require_permission

EVENTS_SHOWN = 100
OBJECT_EVENTS_SHOWN = 50
DEFAULT_TAIL = 200
_SINCE = re.compile(r"^(\d{1,5})([mhd])$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
SINCE_CHOICES = (("", "Any time"), ("15m", "15 minutes"), ("1h", "1 hour"), ("6h", "6 hours"), ("24h", "24 hours"))


def object_events_context(obj) -> dict:
    """The Events tab: the newest Events about one object, and where the fleet page lists them all."""
    events = Event.objects.filter(
        cluster_id=obj.cluster_id, regarding_kind=obj.KIND, regarding_namespace=obj.namespace, regarding_name=obj.name
    ).order_by("-last_seen", "-id")[:OBJECT_EVENTS_SHOWN]
    query = {"cluster": obj.cluster.name, "kind": obj.KIND, "namespace": obj.namespace, "name": obj.name}
    return {"events": list(events), "all_events_url": f"{reverse('event_list')}?{urlencode(query)}"}


def _since(text: str):
    found = _SINCE.match(text or "")
    if not found:
        return None
    unit = {"m": "minutes", "h": "hours", "d": "days"}[found.group(2)]
    return timezone.now() - timedelta(**{unit: int(found.group(1))})


@require_permission("monitoring.view_event")
def event_list(request):
    """Every mirrored Event of the fleet, newest first, filtered in the URL."""
    params = request.GET
    events = Event.objects.select_related("cluster").order_by("-last_seen", "-id")
    active = {}
    errors = []
    if params.get("cluster"):
        events = events.filter(cluster__name=params["cluster"])
        active["cluster"] = params["cluster"]
    if params.get("type"):
        if params["type"] not in Event.Type.values:
            errors.append(f"type must be Normal or Warning, not {params['type']!r}")
        else:
            events = events.filter(type=params["type"])
            active["type"] = params["type"]
    for key, column in (
        ("reason", "reason"),
        ("kind", "regarding_kind"),
        ("namespace", "namespace"),
        ("name", "regarding_name"),
    ):
        if params.get(key):
            events = events.filter(**{column: params[key]})
            active[key] = params[key]
    if params.get("since"):
        since = _since(params["since"])
        if since is None:
            errors.append(f"since must be a duration such as 15m, 1h or 2d, not {params['since']!r}")
        else:
            events = events.filter(last_seen__gte=since)
            active["since"] = params["since"]
    page = Paginator(events, EVENTS_SHOWN).get_page(params.get("page"))
    context = {
        "page": page,
        "events": page.object_list,
        "active": active,
        "filter_errors": errors,
        "params": params,
        "clusters": Cluster.objects.order_by("name").values_list("name", flat=True),
        "kinds": KINDS,
        "since_choices": SINCE_CHOICES,
        "reasons": Event.objects.order_by("reason").values_list("reason", flat=True).distinct()[:200],
    }
    return render_page(
        request, "monitoring/event_list.html", context, {"event-results": "monitoring/_event_results.html"}
    )


# -- controller logs ----------------------------------------------------------------------------------


def _tail(request) -> int:
    try:
        return max(1, min(int(request.GET.get("tail") or DEFAULT_TAIL), kube_logs.MAX_TAIL))
    except ValueError:
        return DEFAULT_TAIL


def _namespace(request, cluster) -> str:
    wanted = request.GET.get("namespace") or ClusterMonitoring.for_cluster(cluster).controller_namespace
    if not _NAME.match(wanted) or len(wanted) > 63:
        raise Http404("not a namespace name")
    return wanted


def log_selection(namespace: str, deployment: str, pod: str, container: str, api_client) -> dict:
    """What the cluster has to pick from, and the pick made valid: Deployment -> Pod -> container."""
    deployments = kube_logs.deployments(api_client, namespace)
    names = [d["metadata"]["name"] for d in deployments]
    chosen = next((d for d in deployments if d["metadata"]["name"] == deployment), None)
    if chosen is None and not pod and deployments:
        chosen = deployments[0]
    pods = kube_logs.pods(api_client, namespace, kube_logs.selector_of(chosen) if chosen else None)
    pod_names = [p["metadata"]["name"] for p in pods]
    picked = next((p for p in pods if p["metadata"]["name"] == pod), pods[0] if pods else None)
    containers = kube_logs.containers(picked) if picked else []
    return {
        "deployments": names,
        "deployment": chosen["metadata"]["name"] if chosen else "",
        "pods": pod_names,
        "pod": picked["metadata"]["name"] if picked else "",
        "containers": containers,
        "container": container if container in containers else (containers[0] if containers else ""),
    }


def _line(text: str) -> dict:
    return {"text": text, "level": kube_logs.level_of(text)}


@require_permission("vitiweb.view_cluster", "monitoring.view_controller_logs")
def cluster_logs(request, pk):
    """The controllers of one cluster: pick a Deployment or Pod and container, read the last lines, follow live."""
    cluster = get_object_or_404(Cluster, pk=pk)
    if cluster.read_only:
        raise Http404("a manifest directory has no controllers")
    namespace = _namespace(request, cluster)
    tail = _tail(request)
    context = {"cluster": cluster, "namespace": namespace, "tail": tail, "lines": [], "error": ""}
    api_client = None
    try:
        # Inside the try: a cluster without usable credentials is an error on the page, not a 500.
        api_client = api_client_for(cluster)
        selection = log_selection(
            namespace,
            request.GET.get("deployment", ""),
            request.GET.get("pod", ""),
            request.GET.get("container", ""),
            api_client,
        )
        context.update(selection)
        if selection["pod"] and selection["container"]:
            context["lines"] = [
                _line(t)
                for t in kube_logs.read_log(api_client, namespace, selection["pod"], selection["container"], tail)
            ]
    except KubeError as exc:
        context["error"] = str(exc)
    finally:
        if api_client is not None:
            api_client.close()
    if context.get("pod"):
        query = {
            "cluster": cluster.pk,
            "namespace": namespace,
            "pod": context["pod"],
            "container": context["container"],
            "tail": tail,
        }
        context["socket_url"] = f"/ws/logs/?{urlencode(query)}"
        context["download_url"] = reverse("cluster_logs_download", args=[cluster.pk]) + "?" + urlencode(query)
    return render_page(request, "monitoring/cluster_logs.html", context, {"log-panel": "monitoring/_log_panel.html"})


@require_permission("vitiweb.view_cluster", "monitoring.view_controller_logs")
def cluster_logs_download(request, pk):
    cluster = get_object_or_404(Cluster, pk=pk)
    if cluster.read_only:
        raise Http404("a manifest directory has no controllers")
    namespace = _namespace(request, cluster)
    pod, container = request.GET.get("pod", ""), request.GET.get("container", "")
    if not _NAME.match(pod) or not _NAME.match(container):
        return HttpResponse("pod and container are required\n", status=400, content_type="text/plain")
    api_client = None
    try:
        api_client = api_client_for(cluster)
        lines = kube_logs.read_log(api_client, namespace, pod, container, _tail(request))
    except KubeError as exc:
        return HttpResponse(f"{exc}\n", status=502, content_type="text/plain; charset=utf-8")
    finally:
        if api_client is not None:
            api_client.close()
    response = HttpResponse("".join(f"{line}\n" for line in lines), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        True, f"{cluster.name}_{namespace}_{pod}_{container}.log"
    )
    return response


# -- /metrics ----------------------------------------------------------------------------------------


def metrics_allowed(request) -> bool:
    """A matching bearer token when one is set; otherwise only the configured networks."""
    token = settings.VITIWEB_METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and constant_time_compare(header[7:].strip(), token)
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for network in settings.VITIWEB_METRICS_NETWORKS:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def metrics(request):
    """The Prometheus text format, computed from the database (the same in every process)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from vitiweb.monitoring.metrics import REGISTRY

    if not metrics_allowed(request):
        raise PermissionDenied("metrics need the bearer token or an allowed network")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def object_alerts(kind: str, pk: int) -> list[dict]:
    return [{"alert": alert, "links": alerts.alert_links(alert)} for alert in alerts.for_object(kind, pk)]
