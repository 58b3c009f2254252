"""The multi-document apply as a Celery task, its progress kept on the ``ApplyRun`` row.

Documents go in dependency order and the run stops at the first failure:
what was applied stays applied (each is a complete object on its own), the
rest is reported as not applied. Progress is written to the database after
every document, so a page served by any web worker can show it.
"""

import logging

import orjson
from celery import shared_task
from django.db import transaction
from django.utils import timezone

import vitiweb.celery  # noqa: F401 - the project's Celery app, which these shared tasks are sent through
from vitiweb import crypto
from vitiweb.editing.models import ApplyRun
from vitiweb.editing.operations import apply_document, audit_origin
from vitiweb.kube.errors import KubeError
from vitiweb.sync.clusters import api_client_for

log = logging.getLogger(__name__)


def start_run(run: ApplyRun, documents: list[dict]) -> None:
    """Store the documents (encrypted: they may hold Secret values) and queue the run."""
    run.payload_encrypted = crypto.encrypt(orjson.dumps(documents).decode())
    run.save(update_fields=["payload_encrypted"])
    # A worker must find the row committed.
    transaction.on_commit(lambda: apply_run.delay(run.pk))


@shared_task
def apply_run(run_id: int) -> str:
    run = ApplyRun.objects.select_related("cluster", "user").get(pk=run_id)
    if run.state != ApplyRun.State.QUEUED:
        return run.state  # delivered twice: the first delivery owns the run
    documents = orjson.loads(crypto.decrypt(bytes(run.payload_encrypted))) if run.payload_encrypted else []
    run.state = ApplyRun.State.RUNNING
    run.save(update_fields=["state"])
    items = run.items
    try:
        api_client = api_client_for(run.cluster)
    except KubeError as exc:
        _finish(run, ApplyRun.State.FAILED, f"cannot connect to {run.cluster}: {exc}")
        return run.state
    known_namespaces: dict[str, bool] = {}
    failed = False
    origin = audit_origin.set(run.origin)
    try:
        for index, obj in enumerate(documents):
            if failed:
                items[index]["state"] = "skipped"
                items[index]["message"] = "not applied: an earlier document failed"
                continue
            items[index]["state"] = "running"
            ApplyRun.objects.filter(pk=run.pk).update(items=items)
            try:
                state, message, diff = apply_document(
                    api_client,
                    run.cluster,
                    obj,
                    user=run.user,
                    dry_run=run.dry_run,
                    create_namespaces=run.create_namespaces,
                    known_namespaces=known_namespaces,
                    force=run.force,
                )
            except Exception as exc:  # noqa: BLE001 - a run reports every failure on its row
                log.exception("apply run %s: document %s failed", run.pk, index)
                state, message, diff = "failed", f"unexpected error: {type(exc).__name__}", ""
            items[index].update(state=state, message=message, diff=diff)
            failed = state == "failed"
            ApplyRun.objects.filter(pk=run.pk).update(items=items)
    finally:
        audit_origin.reset(origin)
        api_client.close()
    run.items = items
    applied = sum(1 for i in items if i["state"] in ("applied", "unchanged"))
    verb = "checked (dry run)" if run.dry_run else "applied"
    if failed:
        summary = f"Stopped at the first failure: {applied} of {len(items)} {verb}, the rest not applied."
    else:
        summary = f"All {len(items)} documents {verb}."
    _finish(run, ApplyRun.State.FAILED if failed else ApplyRun.State.SUCCEEDED, summary)
    return run.state


def _finish(run: ApplyRun, state: str, message: str) -> None:
    run.state = state
    run.message = message
    run.finished_at = timezone.now()
    run.payload_encrypted = b""
    run.save(update_fields=["state", "message", "finished_at", "payload_encrypted", "items"])
