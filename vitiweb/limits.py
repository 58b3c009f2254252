"""What the ASGI application refuses before Django reads a byte of it.

Django's ASGI handler reads the whole request body (into a spooled file)
before any middleware or view runs, so a size check in a view comes after a
50 MiB upload has been received. This wrapper refuses a body larger than
``VITIWEB_MAX_REQUEST_BYTES`` from its ``Content-Length`` at once, and counts
a body sent without one (chunked), aborting it at the limit. Daphne itself
buffers a body to a temporary file before it calls the application, so it is
also told to answer 413 and hang up as soon as it sees such a
``Content-Length`` (``refuse_large_bodies_in_daphne``).

Websocket connections are checked here too: the ``Origin`` must be the
page's own origin (scheme, host and port, as the ``Host`` header gives them)
or one of ``CSRF_TRUSTED_ORIGINS``, and its host one of ``ALLOWED_HOSTS``.
Channels' ``AllowedHostsOriginValidator`` compares the host only, so a page
on another port of the same host could open the socket.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.http.request import validate_host


class RequestSizeLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.VITIWEB_MAX_REQUEST_BYTES
        length = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            return await _refuse(send, limit)
        received = 0
        over = False

        async def counting_receive():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise RequestAborted("request body over the limit")  # Django stops reading and answers nothing
            return message

        await self.app(scope, counting_receive, send)
        if over:
            await _refuse(send, limit)


def _refusal(limit: int) -> bytes:
    return f"The request is larger than {limit / (1024 * 1024):g} MiB, the most this server accepts.\n".encode()


class _Discard:
    """Where the rest of a refused body goes while the connection closes."""

    def write(self, data):
        pass

    def close(self):
        pass


def refuse_large_bodies_in_daphne() -> None:
    """Make Daphne answer 413 and hang up instead of receiving a large body first (idempotent).

    From the ``Content-Length`` before any of the body is read; for a body sent
    without one (chunked), as soon as what arrived passes the limit.
    """
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by another ASGI server: RequestSizeLimit covers it
        return
    if getattr(WebRequest.gotLength, "vitiweb_limited", False):
        return
    got_length, content_chunk = WebRequest.gotLength, WebRequest.handleContentChunk

    def hang_up(request) -> None:
        body = _refusal(settings.VITIWEB_MAX_REQUEST_BYTES)
        request.content = _Discard()
        request.channel.transport.write(
            b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        request.channel.transport.loseConnection()

    def gotLength(self, length):  # noqa: N802 - Twisted's name
        self.vitiweb_received = 0
        if length is not None and length > settings.VITIWEB_MAX_REQUEST_BYTES:
            return hang_up(self)
        return got_length(self, length)

    def handleContentChunk(self, data):  # noqa: N802 - Twisted's name
        if isinstance(self.content, _Discard):
            return None
        self.vitiweb_received = getattr(self, "vitiweb_received", 0) + len(data)
        if self.vitiweb_received > settings.VITIWEB_MAX_REQUEST_BYTES:
            return hang_up(self)
        return content_chunk(self, data)

    gotLength.vitiweb_limited = True
    WebRequest.gotLength = gotLength
    WebRequest.handleContentChunk = handleContentChunk


async def _refuse(send, limit: int) -> None:
    body = _refusal(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def origin_allowed(origin: str, host_header: str, secure: bool) -> bool:
    """Whether a websocket opened with ``Origin: origin`` to ``Host: host_header`` comes from our own pages."""
    wanted = _origin(origin)
    if wanted is None:
        return False
    hostname = wanted[1]
    if not validate_host(f"[{hostname}]" if ":" in hostname else hostname, settings.ALLOWED_HOSTS):
        return False
    own = _origin(f"{'https' if secure else 'http'}://{host_header}") if host_header else None
    trusted = [_origin(item) for item in settings.CSRF_TRUSTED_ORIGINS]
    return wanted == own or wanted in trusted


def _secure(scope, headers: dict) -> bool:
    """Whether the browser reached us over TLS: wss, or a trusted proxy's header (SECURE_PROXY_SSL_HEADER)."""
    if scope.get("scheme") == "wss":
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, value = proxy_header
        sent = headers.get(name.removeprefix("HTTP_").replace("_", "-").lower().encode(), b"")
        return sent.decode("latin1").split(",")[0].strip() == value
    return False


class OriginValidator:
    """Refuses a websocket whose ``Origin`` is not this site's own (scheme, host and port) or a trusted one."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers") or ())
            origin = headers.get(b"origin", b"").decode("latin1")
            host = headers.get(b"host", b"").decode("latin1")
            if not origin_allowed(origin, host, _secure(scope, headers)):
                await receive()  # the websocket.connect message
                await send({"type": "websocket.close", "code": 4403})
                return None
        return await self.app(scope, receive, send)
