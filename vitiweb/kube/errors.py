"""Failures talking to a cluster, each with a reason a person can act on.

Two families: the request never got an HTTP status (``TransportError``:
unreachable, timeout, TLS, dropped connection), or the server answered with an
error ``Status`` (``ApiStatusError``, decoded from the ``kind: Status`` body:
code, reason, message, ``details.causes[]``). ``str(error)`` is the human
reason, e.g. "unauthorized: the token was rejected",
"unreachable: connection refused at https://127.0.0.1:6443",
"TLS: unknown certificate authority", "timeout after 5s".

The Kubernetes client is imported only to convert its exceptions: modules that
only catch ``KubeError`` (views, forms, commands) load without it.
"""

from __future__ import annotations

import email.utils
import re
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import urllib3.exceptions

if TYPE_CHECKING:
    from kubernetes.client.exceptions import ApiException

# Categories a caller can branch on without parsing text.
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
TLS = "tls"
DROPPED = "dropped"
UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
CONFLICT = "conflict"
ALREADY_EXISTS = "already_exists"
INVALID = "invalid"
EXPIRED = "expired"
THROTTLED = "throttled"
SERVER = "server_error"
BAD_REQUEST = "bad_request"
PROTOCOL = "protocol"
CONFIG = "config"
OTHER = "other"

# Failures worth retrying soon: the same request may well succeed next time.
TRANSIENT = frozenset({UNREACHABLE, TIMEOUT, DROPPED, THROTTLED, SERVER, PROTOCOL})


class KubeError(Exception):
    """A failed call to a cluster; ``str()`` is the human reason."""

    category: str = OTHER
    retry_after: float | None = None

    def __init__(self, message: str, *, category: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        if category is not None:
            self.category = category
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.category in TRANSIENT


class KubeconfigError(KubeError):
    """A kubeconfig that cannot be used: malformed, missing context, disallowed feature."""

    category = CONFIG


class TransportError(KubeError):
    """The request got no HTTP status: unreachable, timeout, TLS, dropped."""


@dataclass(frozen=True)
class Cause:
    """One entry of a Status's ``details.causes[]``."""

    field: str | None
    message: str | None
    reason: str | None


@dataclass(frozen=True)
class FieldConflict:
    """A field another manager owns, from a server-side apply conflict."""

    field: str | None
    manager: str | None
    message: str | None


class ApiStatusError(KubeError):
    """The server answered with an error ``Status``."""

    def __init__(
        self,
        code: int,
        reason: str | None,
        message: str | None,
        *,
        causes: tuple[Cause, ...] = (),
        details: Mapping[str, Any] | None = None,
        status: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
        human: str | None = None,
    ):
        self.code = code
        self.reason = reason
        self.message = message
        self.causes = causes
        self.details = dict(details or {})
        self.status = dict(status or {})
        category = _category_for(code, reason)
        super().__init__(human or _human_for(category, code, message), category=category, retry_after=retry_after)

    @classmethod
    def from_status(
        cls,
        status: Mapping[str, Any],
        *,
        code: int | None = None,
        retry_after: float | None = None,
        human: str | None = None,
    ) -> ApiStatusError:
        """Build from a decoded ``kind: Status`` object (HTTP body or watch ERROR event)."""
        details = status.get("details") or {}
        causes = tuple(
            Cause(field=c.get("field"), message=c.get("message"), reason=c.get("reason"))
            for c in (details.get("causes") or [])
            if isinstance(c, Mapping)
        )
        code = int(status.get("code") or code or 0)
        if retry_after is None and details.get("retryAfterSeconds"):
            retry_after = float(details["retryAfterSeconds"])
        error_cls = ApplyConflict if code == 409 and status.get("reason") == "Conflict" else cls
        return error_cls(
            code,
            status.get("reason"),
            status.get("message"),
            causes=causes,
            details=details,
            status=status,
            retry_after=retry_after,
            human=human,
        )

    def __reduce__(self):
        return (
            _rebuild_status_error,
            (
                self.status or {"code": self.code, "reason": self.reason, "message": self.message},
                self.code,
                self.retry_after,
                str(self),
            ),
        )


def _rebuild_status_error(status, code, retry_after, human):
    return ApiStatusError.from_status(status, code=code, retry_after=retry_after, human=human)


class ApplyConflict(ApiStatusError):
    """409 Conflict from server-side apply: fields owned by other managers."""

    _MANAGER = re.compile(r'conflict with "([^"]*)"')

    @property
    def conflicts(self) -> tuple[FieldConflict, ...]:
        found = []
        for cause in self.causes:
            if cause.reason not in (None, "FieldManagerConflict"):
                continue
            match = self._MANAGER.search(cause.message or "")
            found.append(
                FieldConflict(field=cause.field, manager=match.group(1) if match else None, message=cause.message)
            )
        return tuple(found)

    @property
    def managers(self) -> tuple[str, ...]:
        return tuple(sorted({c.manager for c in self.conflicts if c.manager}))


def _category_for(code: int, reason: str | None) -> str:
    if code == 401:
        return UNAUTHORIZED
    if code == 403:
        return FORBIDDEN
    if code == 404:
        return NOT_FOUND
    if code == 409:
        return ALREADY_EXISTS if reason == "AlreadyExists" else CONFLICT
    if code == 410 or reason in ("Expired", "Gone"):
        return EXPIRED
    if code == 422:
        return INVALID
    if code == 429:
        return THROTTLED
    if code == 400:
        return BAD_REQUEST
    if code >= 500:
        return SERVER
    return OTHER


_PREFIX = {
    FORBIDDEN: "forbidden",
    NOT_FOUND: "not found",
    CONFLICT: "conflict",
    ALREADY_EXISTS: "already exists",
    EXPIRED: "expired",
    INVALID: "invalid",
    THROTTLED: "throttled",
    BAD_REQUEST: "bad request",
}


def _human_for(category: str, code: int, message: str | None) -> str:
    if category == UNAUTHORIZED:
        return "unauthorized: the credentials were rejected"
    text = (message or "").strip() or f"HTTP {code}"
    if category == SERVER:
        return f"server error ({code}): {text}"
    if category in _PREFIX:
        return f"{_PREFIX[category]}: {text}"
    return f"HTTP {code}: {text}"


# -- Retry-After -----------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name)
    if value is None and isinstance(headers, Mapping):
        lowered = name.lower()
        for key, candidate in headers.items():
            if str(key).lower() == lowered:
                return candidate
    return value


# -- converting what the client raises -------------------------------------------------------------


def decode_status_body(body: bytes | str | None) -> dict | None:
    """The ``kind: Status`` object in an error body, or None if it is not one."""
    if not body:
        return None
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        return decoded
    return None


def status_error(
    code: int,
    body: bytes | str | None,
    headers: Any = None,
    *,
    http_reason: str | None = None,
    auth_method: str | None = None,
) -> ApiStatusError:
    """Build the error for an HTTP error response (status code, body, headers)."""
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    status = decode_status_body(body)
    if status is None:
        # Not an API server's answer (a proxy's page, or whatever a mistyped URL reached): only the
        # status line is kept, never the body, which may be anything the other end chose to show us.
        status = {
            "kind": "Status",
            "status": "Failure",
            "code": code,
            "reason": _reason_for_code(code),
            "message": _status_line(code, http_reason),
        }
    human = unauthorized_reason(auth_method) if code == 401 else None
    return ApiStatusError.from_status(status, code=code, retry_after=retry_after, human=human)


def _status_line(code: int, http_reason: str | None) -> str:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    reason = http_reason if http_reason and http_reason.isprintable() and len(http_reason) < 100 else phrase
    return reason or f"HTTP {code}"


def unauthorized_reason(auth_method: str | None) -> str:
    what = {
        "token": "the token was rejected",
        "exec": "the token was rejected",
        "auth-provider": "the token was rejected",
        "client-certificate": "the client certificate was rejected",
        "basic": "the username and password were rejected",
        None: "the credentials were rejected",
        "none": "the server requires credentials",
    }.get(auth_method, "the credentials were rejected")
    return f"unauthorized: {what}"


def _reason_for_code(code: int) -> str:
    return {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        405: "MethodNotAllowed",
        406: "NotAcceptable",
        409: "Conflict",
        410: "Expired",
        415: "UnsupportedMediaType",
        422: "Invalid",
        429: "TooManyRequests",
        500: "InternalError",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "Timeout",
    }.get(code, "Unknown")


def from_api_exception(
    exc: ApiException, *, server: str | None = None, timeout: float | None = None, auth_method: str | None = None
) -> KubeError:
    """Convert the client's ``ApiException`` (status 0 means no HTTP status was had)."""
    if not exc.status:
        return transport_error(exc, server=server, timeout=timeout)
    return status_error(exc.status, exc.body, exc.headers, http_reason=exc.reason, auth_method=auth_method)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                todo.append(arg)
        todo.append(current.__cause__)
        todo.append(current.__context__)


_TIMEOUT_IN_TEXT = re.compile(r"timeout=([0-9.]+)")

_UNKNOWN_CA_CODES = {
    2,
    18,
    19,
    20,
    21,
}  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, DEPTH_ZERO_SELF_SIGNED, SELF_SIGNED_IN_CHAIN, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, UNABLE_TO_VERIFY_LEAF_SIGNATURE


def _seconds(value: float) -> str:
    return f"{value:g}s"


def transport_error(exc: BaseException, *, server: str | None = None, timeout: float | None = None) -> TransportError:
    """Name what went wrong below HTTP, in the words of the connection test."""
    where = f" at {server}" if server else ""
    chain = list(_chain(exc))

    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            code = getattr(e, "verify_code", None)
            text = getattr(e, "verify_message", None) or str(e)
            if code in _UNKNOWN_CA_CODES:
                return TransportError("TLS: unknown certificate authority", category=TLS)
            if code == 10:
                return TransportError("TLS: the server certificate has expired", category=TLS)
            if code == 62 or "hostname" in text.lower() or "ip address mismatch" in text.lower():
                host = urlsplit(server).hostname if server else None
                return TransportError(
                    f"TLS: the server certificate is not valid for {host or 'this host'}", category=TLS
                )
            return TransportError(f"TLS: {text}", category=TLS)
        if type(e).__name__ == "CertificateError":
            return TransportError(f"TLS: {e}", category=TLS)
    for e in chain:
        if isinstance(e, ssl.SSLError):
            text = getattr(e, "reason", None) or str(e)
            if text == "WRONG_VERSION_NUMBER":
                return TransportError(
                    f"TLS: handshake failed{where} (is the server speaking plain HTTP?)", category=TLS
                )
            if "CERTIFICATE_REQUIRED" in str(text):
                return TransportError("TLS: the server requires a client certificate", category=TLS)
            return TransportError(f"TLS: {text}", category=TLS)

    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return TransportError(f"unreachable: connection refused{where}", category=UNREACHABLE)
        if isinstance(e, socket.gaierror) or type(e).__name__ == "NameResolutionError":
            host = urlsplit(server).hostname if server else None
            return TransportError(f"unreachable: cannot resolve host {host or ''}".rstrip(), category=UNREACHABLE)
    for e in chain:
        # urllib3's NewConnectionError subclasses ConnectTimeoutError: a refusal is not a timeout.
        if isinstance(e, urllib3.exceptions.NewConnectionError):
            continue
        if isinstance(
            e,
            (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.ReadTimeoutError, socket.timeout, TimeoutError),
        ):
            seconds = timeout
            if seconds is None:
                match = _TIMEOUT_IN_TEXT.search(str(e))
                seconds = float(match.group(1)) if match else None
            text = f"timeout after {_seconds(seconds)}" if seconds is not None else "timeout"
            return TransportError(text, category=TIMEOUT)

    for e in chain:
        if isinstance(e, urllib3.exceptions.NewConnectionError):
            os_error = next((c for c in chain if isinstance(c, OSError) and getattr(c, "strerror", None)), None)
            text = os_error.strerror.lower() if os_error else "cannot connect"
            return TransportError(f"unreachable: {text}{where}", category=UNREACHABLE)

    for e in chain:
        if isinstance(e, (urllib3.exceptions.ProtocolError, ConnectionError, urllib3.exceptions.IncompleteRead)):
            return TransportError(f"connection dropped{where}: {_short(e)}", category=DROPPED)

    for e in chain:
        if isinstance(e, OSError) and getattr(e, "strerror", None):
            return TransportError(f"unreachable: {e.strerror.lower()}{where}", category=UNREACHABLE)
    return TransportError(f"connection failed{where}: {_short(exc)}", category=PROTOCOL)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def to_kube_error(
    exc: BaseException, *, server: str | None = None, timeout: float | None = None, auth_method: str | None = None
) -> KubeError:
    """Whatever the client raised, as a KubeError with a human reason."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, KubeError):
        return exc
    if isinstance(exc, ApiException):
        return from_api_exception(exc, server=server, timeout=timeout, auth_method=auth_method)
    return transport_error(exc, server=server, timeout=timeout)
