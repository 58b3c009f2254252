"""One log line per HTTP request, under a request id the response carries back.

The id comes from the proxy's ``X-Request-ID`` when it is a plain token (so a
request can be followed from the ingress's log into ours), otherwise a new
one. Everything logged while serving the request carries it (``vitiweb.logs``).
Static files and the health probes never reach this middleware.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from vitiweb import logs

logger = logging.getLogger("vitiweb.request")

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id(request) -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _VALID_ID.match(given) else uuid.uuid4().hex


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request_id(request)
        request.request_id = rid
        started = time.monotonic()
        with logs.bind(request_id=rid):
            response = self.get_response(request)
            user = getattr(request, "user", None)
            logger.info(
                "%s %s %s %.0fms user=%s",
                request.method,
                request.path,
                response.status_code,
                (time.monotonic() - started) * 1000,
                user.get_username() if user is not None and user.is_authenticated else "-",
            )
        response["X-Request-ID"] = rid
        return response
