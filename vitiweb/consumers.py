"""The websocket that keeps open pages equal to the database.

A page connects to ``/ws/live/?page=<its path and query>``. The consumer
checks the user may see that page (by rendering it with the user's
permissions), joins the groups the page follows, and sends the page's live
regions as htmx out-of-band fragments:

- at once on connect, so a page that reconnects catches up on what it missed;
- after a change announced to its groups, at most once per ``WINDOW``
  seconds however many changes arrive (coalescing: the latest state only);
- every ``RESYNC`` seconds in any case, because the channel layer delivers at
  most once (channels-redis drops messages to a full channel): a page whose
  message was lost still converges on the database's state.

Access is not decided once: before every render the user is read again from
the database and must still be active, their session must still exist and
belong to them (a logout, a password change or a deleted session ends it),
and the page's own view must still let them see it (a role taken away). When
any of that fails the socket is closed (4401 or 4403).

A region is sent only when its HTML differs from what this connection last
sent. Renders and access checks are shared by the connections of one user
(one session, for the check) within one window, so a crowd watching the fleet
costs one render and one check per change, however many sockets it has open;
a shared result read before a connection heard of its latest change is never
reused for that connection.
"""

from __future__ import annotations

import asyncio
import time
from importlib import import_module
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare
from django.utils.html import escape

from vitiweb.live_regions import RegionUnavailable, live_page, render_regions
from vitiweb.monitoring import gauges
from vitiweb.roles import VIEWER_PERMISSIONS

WINDOW = 0.25
#: The channel-layer messages that announce a change (handled below).
NOTICES = frozenset({"objects.changed", "object.changed", "cluster.changed", "fleet.derived", "drift.changed"})
RESYNC = 15.0

#: Results shared by the connections that need them within one window, each kept with the monotonic time it
#: was computed: (user pk, page) -> (wall-clock time the database was read, {region: html}), and
#: (user pk, session key, whether the session is checked) -> the user, or the AccessGone that refused them.
_render_cache: dict[tuple, tuple[float, object]] = {}
_access_cache: dict[tuple, tuple[float, object]] = {}


def _shared(cache: dict, key: tuple, since: float, compute):
    """``compute()``, or its result for ``key`` computed at or after ``since`` (monotonic) and within ``WINDOW``.

    A crowd of connections notified of the same change flushes within the same window: the first computes
    (one render, one access check) and the others reuse it. A result computed before a connection heard
    of its latest change is never reused for it: that connection would be sent the state before the change.
    """
    found = _reusable(cache, key, since)
    if found is not None:
        return found
    now = time.monotonic()
    value = compute()
    cache[key] = (now, value)
    if len(cache) > 1000:
        for stale in [k for k, (at, _) in cache.items() if now - at >= WINDOW]:
            cache.pop(stale, None)
    return value


def _reusable(cache: dict, key: tuple, since: float):
    """The shared result for ``key`` if computed at or after ``since`` and within ``WINDOW``, else None."""
    cached = cache.get(key)
    if cached and since <= cached[0] and time.monotonic() - cached[0] < WINDOW:
        return cached[1]
    return None


def _render(user, page, since: float = 0.0) -> tuple[float, dict[str, str]]:
    """(wall-clock time the database was read, {region: html}) of a page's live regions."""

    def render():
        read_at = time.time()
        return read_at, render_regions(user, page.path, page.regions)

    return _shared(_render_cache, (user.pk, page.path), since, render)


@database_sync_to_async
def _count_socket(name: str, delta: int) -> None:
    gauges.adjust(name, delta)


@database_sync_to_async
def _socket_heartbeat(name: str) -> None:
    gauges.heartbeat(name)


class AccessGone(Exception):
    """The user was deactivated or deleted, or their session ended."""


def current_user(user_pk, session_key: str | None, check_session: bool, since: float = 0.0):
    """The user as the database has them now, if they may still be logged in on this session.

    Read at most once per window for all the connections of one session (``_shared``).
    """
    outcome = _shared(
        _access_cache,
        (user_pk, session_key, check_session),
        since,
        lambda: _read_access(user_pk, session_key, check_session),
    )
    if isinstance(outcome, AccessGone):
        raise AccessGone(*outcome.args)
    return outcome


def _read_access(user_pk, session_key: str | None, check_session: bool):
    """The user, or the AccessGone saying why they may no longer follow a page."""
    user = get_user_model().objects.filter(pk=user_pk).first()
    if user is None or not user.is_active:
        return AccessGone("the user is gone or inactive")
    if check_session:
        data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load() if session_key else {}
        if str(data.get(SESSION_KEY)) != str(user.pk):
            return AccessGone("the session ended")
        stored_hash = data.get(HASH_SESSION_KEY) or ""
        if not constant_time_compare(stored_hash, user.get_session_auth_hash()):
            return AccessGone("the password changed since the session began")
    return user


class LiveConsumer(AsyncWebsocketConsumer):
    window = WINDOW
    resync = RESYNC

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.page = live_page((query.get("page") or [""])[0])
        if self.page is None:
            await self.close(code=4404)
            return
        self.user = user
        # A socket opened through the session middleware re-checks that session on every render.
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        self.check_session = session is not None
        self.permitted = False
        self.closed_for_good = False
        self.sent: dict[str, str] = {}
        self.changed_kinds: set[str] = set()
        #: When this connection last heard of a change (monotonic): what it is sent must be read after that.
        self.noted_at = time.monotonic()
        try:
            # Rendering is also the permission check: what the page would refuse, the socket refuses.
            first = await self._render_regions()
        except AccessGone:
            await self.close(code=4401)
            return
        except RegionUnavailable:
            await self.close(code=4403)
            return
        await self.accept()
        await _count_socket("websockets_live", 1)
        self.counted = True
        for group in self.page.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flush_task: asyncio.Task | None = None
        self._resync_task = asyncio.ensure_future(self._resync_forever())
        await self._send_changed(first)

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            await _count_socket("websockets_live", -1)
        for task in (getattr(self, "_resync_task", None), getattr(self, "_flush_task", None)):
            if task is not None:
                task.cancel()
        handle = getattr(self, "_flush_handle", None)
        if handle is not None:
            handle.cancel()
        for group in getattr(self, "page", None).groups if getattr(self, "page", None) else ():
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """Browsers only listen; anything they send is ignored."""

    # -- messages from vitiweb.live ------------------------------------------------------------------

    async def dispatch(self, message):
        # A notice from the channel layer only schedules a flush, in memory: it skips the thread hop that
        # channels makes before every handler to close stale database connections (200 sockets x every
        # change). The flush reads the database through database_sync_to_async, which closes them itself.
        if message.get("type") in NOTICES:
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)

    async def objects_changed(self, message):
        self._note(message.get("kind"))

    async def object_changed(self, message):
        self._note(message.get("kind"))

    async def cluster_changed(self, message):
        # Signalled too: what pages draw from the fleet (findings, charts) says which clusters are current.
        self._note("Cluster")

    async def fleet_derived(self, message):
        # The findings and the overview's figures were derived anew from the committed fleet.
        self._note("derived")

    async def drift_changed(self, message):
        self._note(None)

    def _note(self, kind: str | None) -> None:
        if self.closed_for_good:
            return
        if kind:
            self.changed_kinds.add(kind)
        self.noted_at = time.monotonic()
        if self._flush_handle is None and (self._flush_task is None or self._flush_task.done()):
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self.window, self._start_flush)

    def _start_flush(self) -> None:
        self._flush_handle = None
        self._flush_task = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        try:
            fragments = await self._render_regions()
        except AccessGone:
            await self._close_for_good(4401)  # deactivated, deleted, logged out
            return
        except RegionUnavailable:
            await self._close_for_good(4403)  # the object went away or the user lost the permission
            return
        await self._send_changed(fragments, signal=True)

    async def _close_for_good(self, code: int) -> None:
        """Close, and stop every timer and group now: nothing more is sent on this socket."""
        self.closed_for_good = True
        for group in self.page.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        handle = self._flush_handle
        if handle is not None:
            handle.cancel()
        resync = getattr(self, "_resync_task", None)
        if resync is not None and resync is not asyncio.current_task():
            resync.cancel()
        await self.close(code=code)

    async def _resync_forever(self) -> None:
        while not self.closed_for_good:
            await asyncio.sleep(self.resync)
            await _socket_heartbeat("websockets_live")
            await self._flush()

    # -- rendering -------------------------------------------------------------------------------

    async def _render_regions(self) -> tuple[float, dict[str, str]]:
        """(database read at, {region: html}), from the crowd's shared results when both the access check
        and the render are reusable for this socket (no thread hop), else read."""
        if self.permitted and self.page.regions:
            access = _reusable(_access_cache, (self.user.pk, self.session_key, self.check_session), self.noted_at)
            rendered = _reusable(_render_cache, (self.user.pk, self.page.path), self.noted_at)
            if isinstance(access, AccessGone):
                raise AccessGone(*access.args)
            if access is not None and rendered is not None:
                self.user = access
                return rendered
        return await self._read_regions()

    @database_sync_to_async
    def _read_regions(self) -> tuple[float, dict[str, str]]:
        self.user = current_user(self.user.pk, self.session_key, self.check_session, since=self.noted_at)
        if not self.page.regions and self.permitted:
            # A self-drawing page (the topology): only the signal is sent. Its view was the check at
            # connect; rendering it again per change would cost a whole figure, so the role is checked.
            if not self.user.has_perms(VIEWER_PERMISSIONS):
                raise RegionUnavailable("permission denied")
            return time.time(), {}
        rendered = _render(self.user, self.page, since=self.noted_at)
        self.permitted = True
        return rendered

    async def _send_changed(self, rendered: tuple[float, dict[str, str]], signal: bool = False) -> None:
        # The page now shows the database as it was when these regions were read.
        as_of, fragments = rendered
        parts = [
            f'<div id="{region}" hx-swap-oob="innerHTML">{html}</div>'
            for region, html in fragments.items()
            if self.sent.get(region) != html
        ]
        self.sent.update(fragments)
        kinds, self.changed_kinds = self.changed_kinds, set()
        # Every flush after a change says so, with the time the database was read: pages that
        # draw themselves (charts, topology) refetch on it.
        if signal and kinds:
            parts.append(
                f'<div id="live-signal" hx-swap-oob="innerHTML"><span data-kinds="{escape(",".join(sorted(kinds)))}"'
                f' data-as-of="{as_of:.3f}"></span></div>'
            )
        if parts:
            await self.send(text_data="\n".join(parts))
