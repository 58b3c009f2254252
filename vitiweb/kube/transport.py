"""Calling the Kubernetes API for raw JSON, with our errors.

Reads that the sync repeats (lists, watches, discovery) go by path through
the client's ``ApiClient`` (``open_path``, ``get_json``, ``paginate``): a
generated API class costs a second of imports the first time (``CoreV1Api``)
and a pydantic validation of its arguments on every call, for nothing we use.
Other calls go through a generated method with ``_preload_content=False``
(``call_json``). Either way the body is decoded with orjson (no model
objects), and whatever the client raises comes out as a ``KubeError`` whose
text names the problem.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import urllib3

from .errors import KubeError, to_kube_error


def server_of(api_client: Any) -> str | None:
    return getattr(getattr(api_client, "configuration", None), "host", None)


def auth_method_of(api_client: Any) -> str | None:
    return getattr(api_client, "auth_method", None)


def convert(api_client: Any, exc: BaseException) -> KubeError:
    return to_kube_error(exc, server=server_of(api_client), auth_method=auth_method_of(api_client))


def open_response(
    api_client: Any, method: Callable[..., Any], *args: Any, timeout: Any = None, **kwargs: Any
) -> urllib3.HTTPResponse:
    """Call a generated API method and return the open urllib3 response (2xx only)."""
    if timeout is not None:
        kwargs["_request_timeout"] = timeout
    try:
        return method(*args, _preload_content=False, **kwargs)
    except KubeError:
        raise
    except Exception as exc:  # the client raises ApiException, urllib3 and OS errors alike
        raise convert(api_client, exc) from exc


def open_path(
    api_client: Any,
    path: str,
    query: dict[str, Any] | None = None,
    *,
    accept: str = "application/json",
    timeout: Any = None,
) -> urllib3.HTTPResponse:
    """GET ``path`` (e.g. ``/apis/vitistack.io/v1alpha1/machines``) and return the open response (2xx only).

    ``query`` values that are None are left out; booleans are sent as ``true``/``false``.
    """
    from kubernetes.client.exceptions import ApiException

    try:
        request = api_client.param_serialize(
            method="GET",
            resource_path=path,
            query_params=[(key, value) for key, value in (query or {}).items() if value is not None],
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
        )
        response = api_client.call_api(*request, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response
    except KubeError:
        raise
    except Exception as exc:  # the client raises ApiException, urllib3 and OS errors alike
        raise convert(api_client, exc) from exc


def read_body(api_client: Any, response: urllib3.HTTPResponse) -> bytes:
    try:
        return response.data
    except Exception as exc:
        raise convert(api_client, exc) from exc
    finally:
        response.release_conn()


def call_json(api_client: Any, method: Callable[..., Any], *args: Any, timeout: Any = None, **kwargs: Any) -> Any:
    """Call a generated API method and return its JSON body decoded with orjson."""
    response = open_response(api_client, method, *args, timeout=timeout, **kwargs)
    return decode(api_client, read_body(api_client, response))


_gc_lock = threading.Lock()
_gc_pauses = 0


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while inside (in any thread), for building large acyclic data.

    Decoding a page of 500 objects allocates some 15,000 dicts and lists; each
    allocation burst starts collections that traverse everything alive,
    which took about 40% of a list's time. Decoded JSON holds no cycles, so
    there is nothing for them to find.
    """
    global _gc_pauses
    with _gc_lock:
        _gc_pauses += 1
        if _gc_pauses == 1:
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                gc.enable()


def decode(api_client: Any, body: bytes) -> Any:
    if not body:
        return None
    try:
        with gc_paused():
            return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise KubeError(
            f"the server at {server_of(api_client)} answered with something that is not JSON", category="protocol"
        ) from exc


def get_json(
    api_client: Any,
    path: str,
    query: dict[str, Any] | None = None,
    *,
    accept: str = "application/json",
    timeout: Any = None,
) -> Any:
    """GET ``path`` and return its JSON body decoded with orjson."""
    response = open_path(api_client, path, query, accept=accept, timeout=timeout)
    return decode(api_client, read_body(api_client, response))


class ListResult(list):
    """The items of a complete (all pages) list, with the list's resourceVersion."""

    def __init__(
        self,
        items=(),
        resource_version: str | None = None,
        *,
        kind: str | None = None,
        api_version: str | None = None,
        pages: int = 0,
        restarts: int = 0,
    ):
        super().__init__(items)
        self.resource_version = resource_version
        self.kind = kind
        self.api_version = api_version
        self.pages = pages
        self.restarts = restarts


def paginate(
    api_client: Any,
    path: str,
    query: dict[str, Any] | None = None,
    *,
    accept: str = "application/json",
    page_size: int = 500,
    timeout: Any = None,
    max_restarts: int = 3,
    should_stop: Callable[[], bool] | None = None,
) -> ListResult:
    """Every page of a list, as one consistent snapshot.

    All pages come from the snapshot of the first; when the continue token
    expires before the last page (410), the pages read so far belong to a
    snapshot the server no longer has, so the list starts again from scratch
    (up to ``max_restarts`` times, then the 410 is raised).
    """
    from .errors import EXPIRED, ApiStatusError

    restarts = 0
    while True:
        items: list = []
        token = None
        pages = 0
        meta: dict = {}
        body: dict = {}
        while True:
            if should_stop is not None and should_stop():
                raise InterruptedError("stopped")
            try:
                page_query = {**(query or {}), "limit": page_size, "continue": token}
                body = get_json(api_client, path, page_query, accept=accept, timeout=timeout) or {}
            except ApiStatusError as exc:
                if token is not None and exc.category == EXPIRED and restarts < max_restarts:
                    restarts += 1
                    break
                raise
            pages += 1
            items.extend(body.get("items") or ())
            meta = body.get("metadata") or {}
            token = meta.get("continue") or None
            if token is None:
                kind = body.get("kind") or ""
                return ListResult(
                    items,
                    meta.get("resourceVersion"),
                    kind=kind[:-4] if kind.endswith("List") else kind or None,
                    api_version=body.get("apiVersion"),
                    pages=pages,
                    restarts=restarts,
                )
