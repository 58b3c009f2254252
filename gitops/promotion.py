"""Promotion, as the guide's testing strategy asks: test in staging, then roll out to production gradually.

Objects chosen in a staging namespace (or cluster) are rewritten for the
target environment: names by the naming convention (the ``{environment}``
part, or an environment word of the name), the namespace, the
``vitistack.io/environment`` label, and references between promoted objects.
The result is previewed with its diff against the target (a server dry-run),
then applied: everything but Machines first, in dependency order, then the
Machines in batches, each batch Ready before the next starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from celery import shared_task
from django.conf import settings
from django.utils import timezone

import vitiweb.celery  # noqa: F401 - the project's Celery app, which these shared tasks are sent through
from gitops.models import Promotion
from vitiweb.editing.forms import clean_manifest
from vitiweb.editing.operations import apply_object, audit_origin, order_key
from vitiweb.integrity.conventions import ENVIRONMENT_LABEL, compile_pattern, conventions
from vitiweb.kinds import KINDS, model_for


def promoted_name(kind: str, name: str, from_env: str, to_env: str) -> str:
    """``name`` for the target environment: the convention's ``{environment}`` part, else an environment word."""
    pattern = conventions()["names"].get(kind)
    if pattern:
        match = compile_pattern(pattern).match(name)
        if match and match.groupdict().get("environment") == from_env:
            start, end = match.span("environment")
            return name[:start] + to_env + name[end:]
    words = name.split("-")
    return "-".join(to_env if word == from_env else word for word in words)


def _rewrite_values(value, names: dict[str, str], from_namespace: str, to_namespace: str):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "namespace" and item == from_namespace:
                out[key] = to_namespace
            else:
                out[key] = _rewrite_values(item, names, from_namespace, to_namespace)
        return out
    if isinstance(value, list):
        return [_rewrite_values(item, names, from_namespace, to_namespace) for item in value]
    if isinstance(value, str) and value in names:
        return names[value]
    return value


@dataclass
class PromotionItem:
    kind: str
    source: str  # namespace/name where it comes from
    target: str  # namespace/name it becomes
    manifest: dict
    batch: int = 0


def plan(objects, *, from_env: str, to_env: str, to_namespace: str, batch_size: int) -> list[PromotionItem]:
    """Rewritten manifests for ``objects`` (mirrored instances), in apply order, Machines numbered in batches."""
    objects = list(objects)
    names = {obj.name: promoted_name(obj.kind, obj.name, from_env, to_env) for obj in objects}
    items = []
    for obj in sorted(objects, key=lambda o: (order_key({"kind": o.kind}), o.name)):
        manifest = clean_manifest(obj.as_manifest())
        metadata = dict(manifest["metadata"])
        metadata["name"] = names[obj.name]
        if obj.namespace:
            metadata["namespace"] = to_namespace
        labels = dict(metadata.get("labels") or {})
        labels[ENVIRONMENT_LABEL] = to_env
        labels = {k: (to_env if v == from_env else v) for k, v in labels.items()}
        metadata["labels"] = labels
        manifest["metadata"] = metadata
        for key in [k for k in manifest if k not in ("apiVersion", "kind", "metadata")]:
            manifest[key] = _rewrite_values(manifest[key], names, obj.namespace, to_namespace)
        items.append(
            PromotionItem(
                obj.kind,
                _address(obj.namespace, obj.name),
                _address(metadata.get("namespace", ""), metadata["name"]),
                manifest,
            )
        )
    machines = [item for item in items if item.kind == "Machine"]
    if batch_size:  # otherwise every machine goes with the rest (batch 0), nothing waited for
        for index, item in enumerate(machines):
            item.batch = 1 + index // batch_size
    return items


def _address(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def selectable(cluster, namespace: str):
    """The objects of one namespace of a cluster that can be promoted (the VitiStack kinds)."""
    for kind in KINDS:
        yield from model_for(kind).objects.filter(cluster=cluster, namespace=namespace).order_by("name")


def preview(items: list[PromotionItem], target_cluster, user) -> list[dict]:
    """Each rewritten object dry-run against the target: its diff, or why it would fail."""
    results = []
    for item in items:
        outcome = apply_object(target_cluster, item.manifest, user=user, dry_run=True)
        results.append({"item": item, "outcome": outcome})
    return results


def start(promotion: Promotion, items: list[PromotionItem]) -> None:
    promotion.items = [
        {
            "kind": item.kind,
            "from": item.source,
            "to": item.target,
            "batch": item.batch,
            "manifest": item.manifest,
            "state": "pending",
            "message": "",
        }
        for item in items
    ]
    promotion.save(update_fields=["items"])
    run_promotion.delay(promotion.pk)


def _is_ready(cluster_id: int, kind: str, address: str) -> bool:
    namespace, _, name = address.rpartition("/")
    obj = model_for(kind).objects.filter(cluster_id=cluster_id, namespace=namespace, name=name).first()
    return obj is not None and (obj.ready is True or obj.phase in ("Running", "Ready", "Active"))


@shared_task
def run_promotion(promotion_id: int) -> str:
    promotion = Promotion.objects.select_related("target_cluster", "user").get(pk=promotion_id)
    items = promotion.items
    origin = audit_origin.set(f"promotion {promotion.pk} from {promotion.from_environment}")
    failed = ""
    try:
        for batch in sorted({item["batch"] for item in items}):
            chosen = [item for item in items if item["batch"] == batch]
            for item in chosen:
                outcome = apply_object(promotion.target_cluster, item["manifest"], user=promotion.user, dry_run=False)
                item["state"] = "applied" if outcome.ok else "failed"
                item["message"] = outcome.message
                Promotion.objects.filter(pk=promotion.pk).update(items=items)
                if not outcome.ok:
                    failed = f"{item['kind']} {item['to']}: {outcome.message}"
                    break
            if failed:
                break
            if batch and not _wait_ready(promotion, chosen):
                failed = f"batch {batch} was not Ready within {settings.VITIWEB_PROMOTION_BATCH_TIMEOUT:.0f} s"
                break
    finally:
        audit_origin.reset(origin)
    for item in items:
        if item["state"] == "pending":
            item["state"] = "skipped"
            item["message"] = "not applied: " + (failed or "stopped")
    promotion.items = items
    promotion.state = Promotion.State.FAILED if failed else Promotion.State.SUCCEEDED
    promotion.message = failed or f"{len(items)} object(s) promoted to {promotion.to_environment}."
    promotion.finished_at = timezone.now()
    promotion.save(update_fields=["items", "state", "message", "finished_at"])
    return promotion.state


def _wait_ready(promotion: Promotion, chosen: list[dict]) -> bool:
    """Wait (polling the mirror) until every Machine of a batch is Ready; marks them as it goes."""
    deadline = time.monotonic() + settings.VITIWEB_PROMOTION_BATCH_TIMEOUT
    pending = [item for item in chosen if item["kind"] == "Machine"]
    while pending:
        for item in list(pending):
            if _is_ready(promotion.target_cluster_id, item["kind"], item["to"]):
                item["state"] = "ready"
                pending.remove(item)
        Promotion.objects.filter(pk=promotion.pk).update(items=promotion.items)
        if not pending:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(settings.VITIWEB_PROMOTION_POLL_SECONDS)
    return True
