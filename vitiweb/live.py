"""The one place that publishes live updates to the channel layer (and, for mirrored objects, to in-process
listeners through ``vitiweb.signals.mirror_changed``).

Messages go out only after the surrounding transaction commits, so a browser
never hears of a row it cannot read yet; they carry keys, not data, because
every consumer re-reads what its user may see. Group names follow DESIGN.md:
``fleet``, ``cluster-<pk>``, ``<kind>-list``, ``<kind>-<pk>``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Iterable

from channels.layers import get_channel_layer
from django.db import transaction

from vitiweb import signals

logger = logging.getLogger(__name__)

FLEET = "fleet"


def cluster_group(cluster_id: int) -> str:
    return f"cluster-{cluster_id}"


def list_group(kind: str) -> str:
    return f"{kind.lower()}-list"


def object_group(kind: str, pk: int) -> str:
    return f"{kind.lower()}-{pk}"


class _Publisher:
    """The event loop, in a daemon thread of its own, that sends every live update of this process.

    One loop for the process's life, so the channel layer keeps its connections to Redis: with a fresh
    loop per message (``async_to_sync`` from a thread without one) every batch a sync writer committed
    paid for a new connection, some 20 ms, which was half the batch's time. A forked child starts its own
    (the parent's thread is not in it).
    """

    #: Group sends in flight at once. Each holds one of the channel layer's Redis connections (redis-py's
    #: pool refuses past 100): a hundred clusters' writers committing together lost updates to
    #: "Too many connections" when every send of every batch went at once.
    IN_FLIGHT = 16

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self.slots: asyncio.Semaphore | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="live-publish", daemon=True).start()
                self._loop, self._pid, self.slots = loop, os.getpid(), asyncio.Semaphore(self.IN_FLIGHT)
            return self._loop


_publisher = _Publisher()


def _send(messages: dict[str, dict]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_one(group: str, message: dict) -> None:
        async with _publisher.slots:
            await layer.group_send(group, message)

    async def send_all():
        # Side by side (up to IN_FLIGHT), not one round trip to Redis after another.
        outcomes = await asyncio.gather(
            *(send_one(group, message) for group, message in messages.items()), return_exceptions=True
        )
        for group, outcome in zip(messages, outcomes, strict=True):
            if isinstance(outcome, Exception):  # a lost live update must never fail a sync; pages converge
                logger.error("could not publish to group %s", group, exc_info=outcome)

    # Waited for, so what follows the commit (a test, the next batch) sees the update sent; never longer
    # than a page would wait for it.
    loop = _publisher.loop()
    try:
        asyncio.run_coroutine_threadsafe(send_all(), loop).result(5)
    except TimeoutError:
        logger.warning("publishing %d live updates took over 5 s; pages will converge on their own", len(messages))


def publish_object_changes(cluster_id: int, kind: str, changes: Iterable[tuple[str, int]]) -> None:
    """Announce (action, pk) changes of ``kind`` objects in one cluster, after commit."""
    by_action: dict[str, list[int]] = defaultdict(list)
    for action, pk in changes:
        by_action[action].append(pk)
    if not by_action:
        return
    summary = {"type": "objects.changed", "kind": kind, "cluster": cluster_id, "changes": dict(by_action)}
    messages = {FLEET: summary, cluster_group(cluster_id): summary, list_group(kind): summary}
    # Nobody can be watching the page of an object that did not exist yet.
    for action, pks in by_action.items():
        if action == "created":
            continue
        for pk in pks:
            messages[object_group(kind, pk)] = {
                "type": "object.changed",
                "kind": kind,
                "cluster": cluster_id,
                "action": action,
                "pk": pk,
            }
    changed = [pk for pks in by_action.values() for pk in pks]

    def after_commit():
        _send(messages)
        signals.mirror_changed.send(sender=None, cluster_id=cluster_id, kind=kind, pks=changed)

    transaction.on_commit(after_commit)


def publish_derived() -> None:
    """Announce that the fleet-wide derivations (findings, the overview's figures) were stored anew, after
    commit: pages showing them re-render (``vitiweb.derive``)."""
    transaction.on_commit(lambda: _send({FLEET: {"type": "fleet.derived"}}))


def publish_cluster_state(cluster_id: int) -> None:
    """Announce that a cluster's connection or sync state changed, after commit."""
    message = {"type": "cluster.changed", "cluster": cluster_id}
    # Lists too: their rows say whether their cluster is current (vitiweb.freshness).
    from vitiweb.kinds import KINDS

    groups = [FLEET, cluster_group(cluster_id), *(list_group(kind) for kind in KINDS)]
    transaction.on_commit(lambda: _send(dict.fromkeys(groups, message)))


DRIFT = "drift"


def publish_drift_changes(source_id: int, objects: Iterable[tuple[str, int]]) -> None:
    """Announce that a Git source's drift changed (and for which mirrored objects), after commit."""
    message = {"type": "drift.changed", "source": source_id}
    messages = {DRIFT: message, FLEET: message}
    for kind, pk in objects:
        messages[object_group(kind, pk)] = {"type": "object.changed", "kind": kind, "action": "drift", "pk": pk}
    transaction.on_commit(lambda: _send(messages))


def publish_related_changes(
    cluster_id: int, kind: str, list_group_name: str, objects: Iterable[tuple[str, int]]
) -> None:
    """Announce, after commit, that rows about objects changed (Events, alerts): to the fleet, the cluster,
    the rows' own list page, and the page of each (object kind, pk) they concern."""
    summary = {"type": "objects.changed", "kind": kind, "cluster": cluster_id, "changes": {}}
    messages = {FLEET: summary, cluster_group(cluster_id): summary, list_group_name: summary}
    for object_kind, pk in objects:
        messages[object_group(object_kind, pk)] = {
            "type": "object.changed",
            "kind": kind,
            "cluster": cluster_id,
            "action": "updated",
            "pk": pk,
        }
    transaction.on_commit(lambda: _send(messages))
