"""Fault injection: the failures a real cluster has, on demand.

Used from Python (`sandbox.faults.fail_next(3, status=429)`) or over HTTP
(`POST /_sandbox/faults` with the same words as JSON, see `Faults.apply`).
Requests to `/_sandbox/` are never delayed or failed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import ApiError


@dataclass
class _Failure:
    remaining: int
    status: int
    retry_after: int
    path_contains: str | None
    methods: tuple[str, ...] | None

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method.upper() not in self.methods:
            return False
        return self.path_contains is None or self.path_contains in path


class Faults:
    def __init__(
        self,
        store,
        drop_watches: Callable[[bool], int],
        restart: Callable[[float], None],
    ):
        self._store = store
        self._drop = drop_watches
        self._restart = restart
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self.latency = 0.0
        self.failed = 0

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        retry_after: int = 1,
        path_contains: str | None = None,
        methods: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        """Fail the next `count` matching API requests with 500 InternalError or 429 TooManyRequests."""
        if status not in (429, 500, 503):
            raise ValueError("status must be 429, 500 or 503")
        with self._lock:
            self._failures.append(
                _Failure(
                    count, status, retry_after, path_contains, tuple(m.upper() for m in methods) if methods else None
                )
            )

    def set_latency(self, seconds: float) -> None:
        """Delay every API request by `seconds` (0 to stop)."""
        self.latency = max(0.0, float(seconds))

    def drop_watches(self, abrupt: bool = False) -> int:
        """End every open watch now: a clean end of stream, or (abrupt) a closed connection."""
        return self._drop(abrupt)

    def compact(self) -> int:
        """Forget the change history: older resourceVersions and continue tokens get 410 Expired."""
        return self._store.compact()

    def restart(self, downtime: float = 0.0) -> None:
        """Stop serving, wait `downtime` seconds, serve again on the same port with the same state."""
        self._restart(downtime)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
        self.latency = 0.0

    def take(self, method: str, path: str) -> ApiError | None:
        """The error to answer this request with, if a failure is pending for it."""
        with self._lock:
            for failure in self._failures:
                if failure.matches(method, path):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    self.failed += 1
                    if failure.status == 429:
                        return errors.too_many_requests(failure.retry_after)
                    if failure.status == 503:
                        err = ApiError(
                            503, "ServiceUnavailable", "the server is currently unable to handle the request"
                        )
                        err.headers["Retry-After"] = str(failure.retry_after)
                        return err
                    return errors.internal_error("injected fault")
        return None

    def state(self) -> dict[str, Any]:
        with self._lock:
            pending = [
                {
                    "count": f.remaining,
                    "status": f.status,
                    "retryAfter": f.retry_after,
                    "pathContains": f.path_contains,
                    "methods": list(f.methods) if f.methods else None,
                }
                for f in self._failures
            ]
        return {"latency": self.latency, "pendingFailures": pending, "failedSoFar": self.failed}

    def apply(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Carry out a JSON fault request; keys are optional and run in this order:

        {"reset": true,
         "latency": 0.5,
         "fail": {"count": 3, "status": 429, "retryAfter": 2, "pathContains": "machines", "methods": ["GET"]},
         "compact": true,
         "dropWatches": true | {"abrupt": true},
         "restart": {"downtime": 1.0}}
        """
        if not isinstance(spec, dict):
            raise errors.bad_request("fault request must be a JSON object")
        known = {"reset", "latency", "fail", "compact", "dropWatches", "restart"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise errors.bad_request(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        done: dict[str, Any] = {}
        try:
            if spec.get("reset"):
                self.reset()
                done["reset"] = True
            if "latency" in spec:
                self.set_latency(float(spec["latency"]))
                done["latency"] = self.latency
            if spec.get("fail"):
                fail = spec["fail"]
                self.fail_next(
                    int(fail.get("count", 1)),
                    int(fail.get("status", 500)),
                    int(fail.get("retryAfter", 1)),
                    fail.get("pathContains"),
                    fail.get("methods"),
                )
                done["fail"] = fail
            if spec.get("compact"):
                done["compactedAt"] = self.compact()
            if spec.get("dropWatches"):
                abrupt = isinstance(spec["dropWatches"], dict) and bool(spec["dropWatches"].get("abrupt"))
                done["droppedWatches"] = self.drop_watches(abrupt)
            if spec.get("restart"):
                downtime = float((spec["restart"] if isinstance(spec["restart"], dict) else {}).get("downtime", 0.0))
                self.restart(downtime)
                done["restart"] = {"downtime": downtime}
        except (TypeError, ValueError, AttributeError) as exc:
            raise errors.bad_request(f"invalid fault request: {exc}") from None
        return {"applied": done, "faults": self.state()}
