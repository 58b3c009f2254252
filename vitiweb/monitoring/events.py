"""The Events mirror: Kubernetes Events about VitiStack objects, kept within bounds.

The cluster is the source of truth for what happened; the database keeps what
it has seen for longer than the cluster's event TTL, but never more than
`VITIWEB_EVENTS_PER_OBJECT` Events per object, none older than
`VITIWEB_EVENTS_MAX_AGE_HOURS`, and at most `VITIWEB_EVENTS_PER_CLUSTER` per
cluster, so a noisy cluster cannot fill the database.

Events are read from events.k8s.io/v1 where the cluster serves it, else from
core v1. Kept: those whose regarding (involvedObject) object is in the
`vitistack.io` group, and every Event in the controllers' namespace (their
Deployments and Pods). One `EventMirror` per cluster lists and watches them
(the same reflector as the objects' sync) and writes in batches from one thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from vitiweb import live
from vitiweb.bulk import upsert_all
from vitiweb.kinds import GROUP, KINDS, model_for
from vitiweb.kube.discovery import group_versions
from vitiweb.kube.errors import KubeError
from vitiweb.kube.reflector import Reflector, ReflectorTiming
from vitiweb.kube.resources import Resource
from vitiweb.monitoring.models import Event

logger = logging.getLogger(__name__)

EVENTS_V1 = Resource("events.k8s.io", "v1", "events", True, "Event")
CORE_EVENTS = Resource("", "v1", "events", True, "Event")
#: The live group of the fleet Events page.
LIST_GROUP = "event-list"
#: Rows written after which retention runs without waiting for its timer.
PRUNE_AFTER_ROWS = 1000
#: Seconds between retention passes while nothing is written: only the age limit (hours) can drop a row then.
AGE_PRUNE_INTERVAL = 60.0


def event_resource(api_client) -> Resource:
    """events.k8s.io/v1 where served (the API controllers write today), else core v1."""
    _, versions = group_versions(api_client, "events.k8s.io", timeout=(5.0, 15.0))
    return EVENTS_V1 if "v1" in versions else CORE_EVENTS


def _time(*values):
    for value in values:
        if isinstance(value, str) and value:
            parsed = parse_datetime(value)
            if parsed is not None:
                return parsed if parsed.tzinfo else timezone.make_aware(parsed, timezone.utc)
    return None


def _text(value, limit: int | None = None) -> str:
    text = value if isinstance(value, str) else ""
    return text[:limit] if limit else text


def normalize(obj: dict) -> dict | None:
    """The row of one Event in either API's shape; None for something that is not one."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    if not meta.get("name"):
        return None
    new_api = str(obj.get("apiVersion", "")).startswith("events.k8s.io/")
    if new_api:
        regarding = obj.get("regarding") if isinstance(obj.get("regarding"), dict) else {}
        series = obj.get("series") if isinstance(obj.get("series"), dict) else {}
        count = series.get("count") or obj.get("deprecatedCount") or 1
        message = obj.get("note")
        first = _time(obj.get("deprecatedFirstTimestamp"), obj.get("eventTime"), meta.get("creationTimestamp"))
        last = _time(
            series.get("lastObservedTime"),
            obj.get("deprecatedLastTimestamp"),
            obj.get("eventTime"),
            meta.get("creationTimestamp"),
        )
        controller = obj.get("reportingController") or (obj.get("deprecatedSource") or {}).get("component")
    else:
        regarding = obj.get("involvedObject") if isinstance(obj.get("involvedObject"), dict) else {}
        series = obj.get("series") if isinstance(obj.get("series"), dict) else {}
        count = series.get("count") or obj.get("count") or 1
        message = obj.get("message")
        first = _time(obj.get("firstTimestamp"), obj.get("eventTime"), meta.get("creationTimestamp"))
        last = _time(
            series.get("lastObservedTime"),
            obj.get("lastTimestamp"),
            obj.get("eventTime"),
            meta.get("creationTimestamp"),
        )
        source = obj.get("source") if isinstance(obj.get("source"), dict) else {}
        controller = obj.get("reportingComponent") or source.get("component")
    last = last or timezone.now()
    return {
        "namespace": _text(meta.get("namespace"), 253),
        "name": _text(meta.get("name"), 253),
        "uid": _text(meta.get("uid"), 64),
        "api_version": "events.k8s.io/v1" if new_api else "v1",
        "type": _text(obj.get("type"), 20) or "Normal",
        "reason": _text(obj.get("reason"), 200),
        "message": _text(message, 10_000),
        "count": count if isinstance(count, int) and count > 0 else 1,
        "first_seen": first or last,
        "last_seen": last,
        "reporting_controller": _text(controller, 300),
        "action": _text(obj.get("action"), 200),
        "regarding_api_version": _text(regarding.get("apiVersion"), 200),
        "regarding_kind": _text(regarding.get("kind"), 100),
        "regarding_namespace": _text(regarding.get("namespace"), 253),
        "regarding_name": _text(regarding.get("name"), 253),
        "regarding_uid": _text(regarding.get("uid"), 64),
    }


def concerns_vitistack(values: dict, controller_namespaces: set[str]) -> bool:
    group = values["regarding_api_version"].rpartition("/")[0]
    return group == GROUP or values["namespace"] in controller_namespaces


def store_events(cluster_id: int, rows: list[dict]) -> int:
    """Upsert Event rows (one per cluster, namespace and name) and announce them after commit; returns the count."""
    latest: dict[tuple[str, str], dict] = {}
    for row in rows:
        latest[(row["namespace"], row["name"])] = row
    if not latest:
        return 0
    events = [Event(cluster_id=cluster_id, **row) for row in latest.values()]
    fields = [f for f in next(iter(latest.values())) if f not in ("namespace", "name")] + ["synced_at"]
    now = timezone.now()
    for event in events:
        event.synced_at = now
    with transaction.atomic():
        # COPY and one INSERT ... ON CONFLICT on PostgreSQL: a flood of Events costs little SQL building.
        upsert_all(Event, events, ["cluster", "namespace", "name"], fields, batch_size=2000)
        publish(cluster_id, latest.values())
    return len(events)


def publish(cluster_id: int, rows) -> None:
    """Tell the fleet, the Events page and each regarding object's page (after commit)."""
    by_kind: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in rows:
        if row["regarding_kind"] in KINDS:
            by_kind[row["regarding_kind"]].add((row["regarding_namespace"], row["regarding_name"]))
    objects = []
    for kind, keys in by_kind.items():
        names = {name for _, name in keys}
        found = (
            model_for(kind).objects.filter(cluster_id=cluster_id, name__in=names).values_list("pk", "namespace", "name")
        )
        objects.extend((kind, pk) for pk, namespace, name in found if (namespace, name) in keys)
    live.publish_related_changes(cluster_id, "Event", LIST_GROUP, objects)


def prune(cluster_id: int, per_object: int | None = None, max_age_hours: float | None = None, per_cluster=None) -> int:
    """Drop what retention does not keep: beyond N per object, older than the age, beyond the cluster cap."""
    per_object = per_object if per_object is not None else settings.VITIWEB_EVENTS_PER_OBJECT
    max_age = max_age_hours if max_age_hours is not None else settings.VITIWEB_EVENTS_MAX_AGE_HOURS
    per_cluster = per_cluster if per_cluster is not None else settings.VITIWEB_EVENTS_PER_CLUSTER
    mine = Event.objects.filter(cluster_id=cluster_id)
    deleted = mine.filter(last_seen__lt=timezone.now() - timedelta(hours=max_age)).delete()[0]
    ranked = mine.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("regarding_kind"), F("regarding_namespace"), F("regarding_name")],
            order_by=[F("last_seen").desc(), F("id").desc()],
        )
    ).filter(rank__gt=per_object)
    excess = list(ranked.values_list("pk", flat=True))
    cutoff = mine.order_by("-last_seen", "-id").values_list("last_seen", "id")[per_cluster : per_cluster + 1]
    for start in range(0, len(excess), 500):
        deleted += Event.objects.filter(pk__in=excess[start : start + 500]).delete()[0]
    for last_seen, pk in cutoff:
        deleted += mine.filter(last_seen__lte=last_seen).exclude(last_seen=last_seen, id__gt=pk).delete()[0]
    return deleted


class EventMirror:
    """Lists and watches one cluster's Events into the database until stopped."""

    def __init__(
        self,
        cluster_id: int,
        api_client,
        controller_namespaces: set[str],
        *,
        batch_window: float = 0.05,
        prune_interval: float = 1.0,
        timing: ReflectorTiming | None = None,
    ):
        self.cluster_id = cluster_id
        self.api_client = api_client
        self.controller_namespaces = set(controller_namespaces)
        self.batch_window = batch_window
        self.prune_interval = prune_interval
        self.timing = timing
        self.resource: Resource | None = None
        self.reflector: Reflector | None = None
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self.written = 0

    def start(self) -> None:
        self.resource = event_resource(self.api_client)
        self.reflector = Reflector(
            self.api_client,
            self.resource,
            on_list=lambda items, rv: self._queue.put(items),
            on_event=lambda event_type, obj: self._queue.put([obj]) if event_type != "DELETED" else None,
            timing=self.timing,
            name=f"events-{self.cluster_id}",
        )
        self._writer = threading.Thread(target=self._write_loop, name=f"events-{self.cluster_id}-writer", daemon=True)
        self._writer.start()
        self.reflector.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self.reflector is not None:
            self.reflector.stop(timeout)
        if self._writer is not None and self._writer is not threading.current_thread():
            self._writer.join(timeout)

    def _write_loop(self) -> None:
        # An Event deleted by the cluster's TTL stays here until retention drops it: the mirror keeps history.
        next_prune = time.monotonic() + self.prune_interval
        since_prune = 0
        try:
            while not self._stop.is_set():
                try:
                    items = self._queue.get(timeout=0.2)
                except queue.Empty:
                    items = []
                deadline = time.monotonic() + self.batch_window
                while items and len(items) < 5000 and time.monotonic() < deadline:
                    try:
                        items.extend(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                    except queue.Empty:
                        break
                try:
                    rows = [row for row in map(normalize, items) if row is not None]
                    rows = [row for row in rows if concerns_vitistack(row, self.controller_namespaces)]
                    written = store_events(self.cluster_id, rows)
                    self.written += written
                    since_prune += written
                    # After writes, at most every prune_interval, and at once under a flood, so the table
                    # stays near its bound; without writes only age can drop rows, checked every minute.
                    now = time.monotonic()
                    if (
                        since_prune >= PRUNE_AFTER_ROWS
                        or (since_prune and now >= next_prune)
                        or now >= next_prune + AGE_PRUNE_INTERVAL
                    ):
                        prune(self.cluster_id)
                        next_prune = time.monotonic() + self.prune_interval
                        since_prune = 0
                except Exception:  # a bad batch must not end the mirror; the next relist converges
                    logger.exception("cluster %s: writing events failed", self.cluster_id)
                finally:
                    close_old_connections()
        finally:
            close_old_connections()


def start_mirror(cluster_id: int, api_client, controller_namespaces: set[str]) -> EventMirror | None:
    try:
        mirror = EventMirror(cluster_id, api_client, controller_namespaces)
        mirror.start()
    except KubeError as exc:
        logger.info("cluster %s: events not mirrored: %s", cluster_id, exc)
        return None
    return mirror
