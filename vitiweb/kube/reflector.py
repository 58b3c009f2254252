"""The list+watch loop for one kind in one cluster, across all namespaces.

Owned here rather than taken from the client's ``Watch`` helper, which
retries a 410 once, never relists and swallows errors. The loop, as in
client-go's reflector:

1. List every page (limit 500; an expired continue token restarts the list)
   and hand the complete snapshot to ``on_list(items, resource_version)``.
   The caller reconciles against it: whatever it holds that is not in the
   snapshot is gone.
2. Watch from that resourceVersion with bookmarks and a jittered server
   timeout. Every event, BOOKMARK included, advances the resourceVersion;
   ADDED/MODIFIED/DELETED go to ``on_event(type, obj)``.
3. A stream that ends normally is watched again from the last
   resourceVersion. "Expired" (an ERROR event with code 410, or HTTP 410)
   means the history we would resume from is gone: back to 1.
4. A dropped connection, 5xx or 429 waits with capped exponential backoff
   with jitter (never sooner than ``Retry-After``) and then watches again.
   401, 403 and 404 (the CRD is gone) are reported as state "error" and
   retried slowly, with a fresh list.

``on_state(state, error=None)`` is called on every change of state:
"listing", "watching", "backoff" (with the transient error), "error" (with
the persistent error), "stopped". ``error`` is a ``KubeError`` whose
``str()`` is the human reason. Callbacks run on the reflector's thread; an
exception from ``on_list``/``on_event`` is reported as "error" and followed,
after a backoff, by a fresh list, so nothing is lost.

Streams are decoded line by line with orjson from the raw urllib3 response;
no model objects are built. ``stop()`` (from any thread) sets an event and
shuts the in-flight response's socket, so the loop ends promptly.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import urllib3

from vitiweb import logs

from .backoff import Backoff, BackoffPolicy
from .clients import Timeouts
from .errors import DROPPED, EXPIRED, PROTOCOL, TIMEOUT, TLS, UNREACHABLE, ApiStatusError, KubeError
from .resources import Resource
from .transport import ListResult, convert, open_path, paginate

log = logging.getLogger(__name__)

LISTING = "listing"
WATCHING = "watching"
BACKOFF = "backoff"
ERROR = "error"
STOPPED = "stopped"

EVENT_TYPES = ("ADDED", "MODIFIED", "DELETED")


@dataclass(frozen=True)
class ReflectorTiming:
    """Every timing constant of the loop, injectable so tests run in seconds."""

    page_size: int = 500
    #: Connect/read timeouts of each list page.
    list_timeouts: Timeouts = Timeouts(connect=5.0, read=60.0)
    connect_timeout: float = 5.0
    #: Server-side ``timeoutSeconds`` of a watch is ``watch_timeout * (1 + watch_jitter * U[0,1))``.
    watch_timeout: float = 300.0
    watch_jitter: float = 1.0
    #: The client gives up on a silent stream this long after the server should have closed it.
    read_timeout_margin: float = 30.0
    #: Transient failures (dropped connection, 5xx, 429).
    backoff: BackoffPolicy = BackoffPolicy()
    #: Persistent failures (401, 403, 404): retried, but slowly.
    error_backoff: BackoffPolicy = BackoffPolicy(initial=10.0, factor=2.0, cap=300.0, jitter=0.5, reset_after=900.0)
    #: A stream that closes this soon with no event counts as a failure, not a normal end (no hot loop).
    min_watch_duration: float = 1.0
    #: Restarts of a list whose continue token expired, before that counts as a failure.
    max_list_restarts: int = 3
    #: Bytes asked of the socket per read.
    chunk_size: int = 65536

    def server_timeout(self, rng: Callable[[], float]) -> int:
        return max(1, int(self.watch_timeout * (1.0 + self.watch_jitter * rng())))


class CallbackError(KubeError):
    """``on_list`` or ``on_event`` raised; the reflector resyncs with a fresh list."""

    category = "callback"


class _Expired(Exception):
    """The watch cannot resume from our resourceVersion: relist."""


class _Stopped(Exception):
    pass


@dataclass
class ReflectorStatus:
    """A snapshot of how the loop is doing, for a status page."""

    state: str = LISTING
    error: KubeError | None = None
    last_error: KubeError | None = None
    last_error_at: float | None = None  # wall clock (time.time())
    last_event_at: float | None = None
    last_list_at: float | None = None
    resource_version: str | None = None
    retry_at: float | None = None
    lists: int = 0
    watches: int = 0
    events: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def health(self) -> str:
        """One word for a status badge: connected, connecting, unreachable, degraded or stopped."""
        if self.state == WATCHING:
            return "connected"
        if self.state == STOPPED:
            return "stopped"
        error = self.error if self.state in (BACKOFF, ERROR) else None
        if error is None:
            return "connecting"
        if error.category in (UNREACHABLE, TIMEOUT, TLS):
            return "unreachable"
        return "degraded"


def list_objects(
    api_client: Any,
    resource: Resource,
    *,
    namespace: str | None = None,
    page_size: int = 500,
    timeouts: Timeouts | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    max_restarts: int = 3,
    should_stop: Callable[[], bool] | None = None,
) -> ListResult:
    """Every object of ``resource`` (all namespaces unless one is named), as raw dicts.

    A ``ListResult`` is a list of the items with ``.resource_version`` (the
    snapshot's, to watch from). Items carry ``apiVersion`` and ``kind`` even
    where the server left them out.
    """
    result = paginate(
        api_client,
        resource.path(namespace),
        {"labelSelector": label_selector, "fieldSelector": field_selector},
        page_size=page_size,
        timeout=(timeouts.pair() if timeouts else None),
        max_restarts=max_restarts,
        should_stop=should_stop,
    )
    kind = resource.kind or result.kind
    for item in result:
        if "apiVersion" not in item:
            item["apiVersion"] = resource.api_version
        if "kind" not in item and kind:
            item["kind"] = kind
    return result


def iter_json_lines(response: urllib3.HTTPResponse, chunk_size: int = 65536) -> Iterator[dict]:
    """Decode a watch stream: one JSON object per line, yielded as soon as its line is complete."""
    if response.chunked and response.supports_chunked_reads():
        chunks: Iterator[bytes] = response.read_chunked(chunk_size, decode_content=True)
    else:
        chunks = iter(lambda: response.read1(chunk_size), b"")
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        pending += chunk
        if b"\n" not in chunk:
            continue
        lines = pending.split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line.strip():
                yield orjson.loads(line)
    if pending.strip():
        yield orjson.loads(pending)


class Reflector:
    """List+watch one ``Resource`` of one cluster; see the module docstring for the contract."""

    def __init__(
        self,
        api_client: Any,
        resource: Resource,
        *,
        on_list: Callable[[list, str | None], None],
        on_event: Callable[[str, dict], None],
        on_state: Callable[..., None] | None = None,
        on_bookmark: Callable[[str], None] | None = None,
        timing: ReflectorTiming | None = None,
        stop_event: threading.Event | None = None,
        label_selector: str | None = None,
        list_gate: AbstractContextManager | None = None,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ):
        self.api_client = api_client
        self.resource = resource
        self.on_list = on_list
        self.on_event = on_event
        self.on_state = on_state
        self.on_bookmark = on_bookmark
        self.timing = timing or ReflectorTiming()
        self.label_selector = label_selector
        # Held around each list and its on_list: a caller syncing many clusters bounds
        # how many complete snapshots are in memory at once.
        self.list_gate = list_gate or nullcontext()
        self.name = name or f"reflector-{resource.plural}"
        self._stop = stop_event or threading.Event()
        self._clock = clock
        self._rng = rng
        self._backoff = Backoff(self.timing.backoff, clock=clock, rng=rng)
        self._error_backoff = Backoff(self.timing.error_backoff, clock=clock, rng=rng)
        self._lock = threading.Lock()
        self._response: urllib3.HTTPResponse | None = None
        self._thread: threading.Thread | None = None
        self._status = ReflectorStatus()
        self._announced: tuple[str, int | None] | None = None

    # -- public ------------------------------------------------------------------------------------

    @property
    def resource_version(self) -> str | None:
        return self._status.resource_version

    @property
    def status(self) -> ReflectorStatus:
        with self._lock:
            return replace(self._status, counts=dict(self._status.counts))

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def start(self) -> threading.Thread:
        """Run the loop in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("reflector already started")
        # Its log lines say what the starter's said (cluster, kind).
        self._thread = logs.thread(self.run, name=self.name)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Ask the loop to end, cut its in-flight stream, and wait up to ``timeout`` for it."""
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            _shutdown(response)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def run(self) -> None:
        """The loop; returns when stopped."""
        need_list = True
        try:
            while not self._stop.is_set():
                try:
                    if need_list:
                        self._list()
                        need_list = False
                    self._watch()
                except _Expired:
                    need_list = True
                except _Stopped:
                    break
                except CallbackError as exc:
                    need_list = True
                    self._wait_after(exc, self._backoff, ERROR)
                except KubeError as exc:
                    if exc.transient or exc.category == EXPIRED:
                        self._wait_after(exc, self._backoff, BACKOFF)
                    else:
                        need_list = True
                        self._wait_after(exc, self._error_backoff, ERROR)
                except Exception as exc:
                    # A bug here or in the client must not end the mirror of a cluster silently.
                    log.exception("%s: unexpected failure", self.name)
                    need_list = True
                    error = KubeError(f"unexpected failure: {exc!r}")
                    error.__cause__ = exc
                    self._wait_after(error, self._error_backoff, ERROR)
        finally:
            with self._lock:
                self._response = None
            self._set_state(STOPPED)

    # -- the two halves --------------------------------------------------------------------------

    def _list(self) -> None:
        self._set_state(LISTING)
        with self.list_gate:
            self._list_and_hand_over()

    def _list_and_hand_over(self) -> None:
        try:
            result = list_objects(
                self.api_client,
                self.resource,
                page_size=self.timing.page_size,
                timeouts=self.timing.list_timeouts,
                label_selector=self.label_selector,
                max_restarts=self.timing.max_list_restarts,
                should_stop=self._stop.is_set,
            )
        except InterruptedError:
            raise _Stopped() from None
        except KubeError:
            if self._stop.is_set():
                raise _Stopped() from None
            raise
        if self._stop.is_set():
            raise _Stopped()
        try:
            self.on_list(result, result.resource_version)
        except Exception as exc:
            log.exception("%s: on_list failed", self.name)
            raise CallbackError(f"on_list failed: {exc!r}") from exc
        with self._lock:
            self._status.resource_version = result.resource_version
            self._status.last_list_at = time.time()
            self._status.lists += 1

    def _watch(self) -> None:
        timing = self.timing
        server_timeout = timing.server_timeout(self._rng)
        try:
            response = open_path(
                self.api_client,
                self.resource.path(),
                {
                    "watch": True,
                    "allowWatchBookmarks": True,
                    "resourceVersion": self.resource_version,
                    "timeoutSeconds": server_timeout,
                    "labelSelector": self.label_selector,
                },
                timeout=(timing.connect_timeout, server_timeout + timing.read_timeout_margin),
            )
        except ApiStatusError as exc:
            if exc.category == EXPIRED:
                raise _Expired() from exc
            raise
        with self._lock:
            self._response = response
            self._status.watches += 1
        if self._stop.is_set():
            _shutdown(response)
        self._set_state(WATCHING)
        started = self._clock()
        seen = 0
        try:
            for event in iter_json_lines(response, timing.chunk_size):
                seen += 1
                self._handle(event)
        except (KubeError, _Expired, _Stopped):
            raise
        except orjson.JSONDecodeError as exc:
            if self._stop.is_set():
                raise _Stopped() from None
            raise KubeError(
                f"watch stream from {self.api_client.configuration.host} is not JSON lines", category=PROTOCOL
            ) from exc
        except Exception as exc:
            if self._stop.is_set():
                raise _Stopped() from None
            raise convert(self.api_client, exc) from exc
        finally:
            with self._lock:
                self._response = None
            response.close()
        if self._stop.is_set():
            raise _Stopped()
        if seen == 0 and self._clock() - started < timing.min_watch_duration:
            raise KubeError("watch closed by the server as soon as it opened", category=DROPPED)

    def _handle(self, event: dict) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            error = ApiStatusError.from_status(obj)
            if error.category == EXPIRED:
                raise _Expired()
            raise error
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        with self._lock:
            status = self._status
            if rv:
                status.resource_version = rv
            status.last_event_at = time.time()
            status.events += 1
            status.counts[kind] = status.counts.get(kind, 0) + 1
        if kind == "BOOKMARK":
            if self.on_bookmark is not None and rv:
                self._callback(self.on_bookmark, rv)
            return
        if kind in EVENT_TYPES:
            self._callback(self.on_event, kind, obj)
        else:
            log.warning("%s: ignoring watch event of type %r", self.name, kind)

    def _callback(self, func: Callable[..., Any], *args: Any) -> None:
        try:
            func(*args)
        except Exception as exc:
            log.exception("%s: %s failed", self.name, getattr(func, "__name__", "callback"))
            raise CallbackError(f"{getattr(func, '__name__', 'callback')} failed: {exc!r}") from exc

    # -- state -------------------------------------------------------------------------------------

    def _wait_after(self, error: KubeError, backoff: Backoff, state: str) -> None:
        if self._stop.is_set():
            return
        delay = backoff.next_delay(error.retry_after)
        with self._lock:
            self._status.last_error = error
            self._status.last_error_at = time.time()
            self._status.retry_at = time.time() + delay
        log.info("%s: %s (%s); retrying in %.1fs", self.name, state, error, delay)
        self._set_state(state, error)
        self._stop.wait(delay)
        with self._lock:
            self._status.retry_at = None

    def _set_state(self, state: str, error: KubeError | None = None) -> None:
        with self._lock:
            self._status.state = state
            self._status.error = error
        if state == WATCHING:
            # Access and the kind are back: the next persistent failure starts a new slow streak.
            self._error_backoff.reset()
        key = (state, id(error) if error is not None else None)
        if key == self._announced:
            return
        self._announced = key
        if self.on_state is None:
            return
        try:
            self.on_state(state, error)
        except Exception:
            log.exception("%s: on_state failed", self.name)


def _shutdown(response: urllib3.HTTPResponse) -> None:
    # shutdown() wakes a thread blocked reading the socket; close() alone may not.
    try:
        response.shutdown()
    except Exception:
        pass
