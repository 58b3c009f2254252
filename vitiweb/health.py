"""``/healthz`` and ``/readyz``: cheap, unauthenticated answers for probes and load balancers.

``/healthz`` says the process serves requests and touches nothing else (a
liveness probe must not restart pods because PostgreSQL is away).
``/readyz`` says this process can serve pages now: the database answers, every
migration this code knows is applied (false while an upgrade's migrate Job has
not run yet), and the channel layer answers. Both are answered before host
checks, HTTPS redirection, sessions and request logging: probes come from the
kubelet with the pod's IP as host, over plain HTTP, every few seconds.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import JsonResponse

logger = logging.getLogger(__name__)

#: Set once every migration is seen applied: migrations are not unapplied under a running process.
_migrated = False


def _database() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")


def _migrations() -> None:
    global _migrated
    if _migrated:
        return
    from django.db.migrations.loader import MigrationLoader

    # Every migration of the code, not only a plan to the leaves: a plan skips a hole under an applied leaf.
    loader = MigrationLoader(connections[DEFAULT_DB_ALIAS])
    missing = set(loader.graph.nodes) - set(loader.applied_migrations)
    if missing:
        raise RuntimeError(f"{len(missing)} migration(s) not applied")
    _migrated = True


def _channel_layer() -> None:
    if not settings.REDIS_URL:
        return  # the in-memory layer lives in this process
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


CHECKS = {"database": _database, "migrations": _migrations, "channel_layer": _channel_layer}


def readiness() -> dict[str, str]:
    results = {}
    for name, check in CHECKS.items():
        if name == "migrations" and results.get("database") != "ok":
            results[name] = "unknown"  # cannot be read without the database
            continue
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; the reason goes to the log, not the caller
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = "failing"
    return results


class HealthMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return _answer({"status": "ok"}, 200)
        if request.path == "/readyz":
            checks = readiness()
            ready = all(value == "ok" for value in checks.values())
            return _answer({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)
        return self.get_response(request)


def _answer(body: dict, status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response
