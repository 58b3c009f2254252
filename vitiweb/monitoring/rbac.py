"""RBAC of the controllers across namespaces: the guide's `kubectl auth can-i ... --as=system:serviceaccount:...`.

For each reference from an object to a target in another namespace of the
same cluster, the cluster is asked (SubjectAccessReview) whether the
controllers' service account may `get` that target. The answers are stored
(`RbacCheck`) and a denial becomes an integrity finding that names the
reference and gives the exact command that reproduces it. Vitiweb needs
`create` on `subjectaccessreviews.authorization.k8s.io` for this; without it
no answer is stored and nothing is claimed.
"""

from __future__ import annotations

import logging
import shlex
from collections import defaultdict

import kubernetes.client
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery

from vitiweb.kinds import KINDS, model_for
from vitiweb.kube.errors import KubeError
from vitiweb.kube.transport import call_json
from vitiweb.models import Cluster, Reference
from vitiweb.monitoring.models import ClusterMonitoring, RbacCheck

logger = logging.getLogger(__name__)


def service_account_user(service_account: str) -> tuple[str, list[str]]:
    """("system:serviceaccount:NS:NAME", its groups) from "NS:NAME" (or an already full user name)."""
    text = service_account.strip()
    if text.startswith("system:serviceaccount:"):
        text = text[len("system:serviceaccount:") :]
    namespace, _, name = text.partition(":")
    if not namespace or not name:
        raise ValueError(f"service account {service_account!r} is not NAMESPACE:NAME")
    user = f"system:serviceaccount:{namespace}:{name}"
    return user, ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]


def target_resource(kind: str) -> tuple[str, str]:
    """(API group, plural) of a reference's target kind."""
    if kind == "Secret":
        return "", "secrets"
    return "vitistack.io", model_for(kind).PLURAL


def can_i_command(cluster: Cluster, user: str, kind: str, namespace: str, name: str) -> str:
    group, plural = target_resource(kind)
    resource = f"{plural}.{group}" if group else plural
    parts = ["kubectl"]
    if cluster.context:
        parts += ["--context", cluster.context]
    parts += ["auth", "can-i", "get", f"{resource}/{name}", "-n", namespace, f"--as={user}"]
    return " ".join(shlex.quote(p) for p in parts)


def cross_namespace_references(cluster_id: int) -> list[tuple[Reference, str]]:
    """(reference, its source's namespace) for references into another namespace of the same cluster.

    Compared in the database, kind by kind: a cluster's references are mostly within a namespace (each
    Machine's to its provider), and reading all of them to keep a few cost a worker holding a hundred
    clusters, each asked every minute, most of its interpreter time.
    """
    out = []
    for kind in KINDS:
        source_namespace = Subquery(model_for(kind).objects.filter(pk=OuterRef("source_id")).values("namespace")[:1])
        refs = (
            Reference.objects.filter(source_cluster_id=cluster_id, source_kind=kind, target_entry="")
            .filter(Q(target_cluster_id__isnull=True) | Q(target_cluster_id=cluster_id))
            .exclude(target_namespace="")
            .annotate(source_namespace=source_namespace)
            .exclude(source_namespace="")
            .exclude(source_namespace=F("target_namespace"))
            .filter(source_namespace__isnull=False)
            .order_by("id")
        )
        out.extend((ref, ref.source_namespace) for ref in refs)
    return out


def review(api_client, user: str, groups: list[str], kind: str, namespace: str, name: str) -> tuple[bool, str]:
    group, plural = target_resource(kind)
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": groups,
            "resourceAttributes": {
                "verb": "get",
                "group": group,
                "resource": plural,
                "namespace": namespace,
                "name": name,
            },
        },
    }
    api = kubernetes.client.AuthorizationV1Api(api_client)
    answer = call_json(api_client, api.create_subject_access_review, body, timeout=(5.0, 15.0)) or {}
    status = answer.get("status") or {}
    return bool(status.get("allowed")), str(status.get("reason") or status.get("evaluationError") or "")


def check_cluster(cluster: Cluster, api_client) -> list[RbacCheck]:
    """Ask about every cross-namespace reference of the cluster and store the answers (replacing the last)."""
    settings_row = ClusterMonitoring.for_cluster(cluster)
    user, groups = service_account_user(settings_row.controller_service_account)
    answers: dict[tuple[str, str, str], tuple[bool, str]] = {}
    checks = []
    for ref, _source_namespace in cross_namespace_references(cluster.pk):
        key = (ref.target_kind, ref.target_namespace, ref.target_name)
        if key not in answers:
            try:
                answers[key] = review(api_client, user, groups, *key)
            except KubeError as exc:
                logger.info("cluster %s: cannot ask a SubjectAccessReview: %s", cluster.name, exc)
                return []
        allowed, reason = answers[key]
        checks.append(
            RbacCheck(
                reference_pk=ref.pk,
                cluster=cluster,
                service_account=user,
                allowed=allowed,
                reason=reason[:2000],
                command=can_i_command(cluster, user, *key),
            )
        )
    with transaction.atomic():
        RbacCheck.objects.filter(cluster=cluster).exclude(reference_pk__in=[c.reference_pk for c in checks]).delete()
        RbacCheck.objects.bulk_create(
            checks,
            update_conflicts=True,
            unique_fields=["reference_pk"],
            update_fields=["service_account", "allowed", "reason", "command", "checked_at"],
        )
    return checks


def findings(fleet=None) -> list:
    """An integrity finding per stored denial: the reference, who was denied, and the command that shows it."""
    from vitiweb.integrity import ERROR, Finding, ObjectRef

    denied = list(RbacCheck.objects.filter(allowed=False).select_related("cluster").order_by("cluster__name", "id"))
    references = Reference.objects.in_bulk([check.reference_pk for check in denied])
    denied = [check for check in denied if check.reference_pk in references]  # answers about a gone reference
    by_kind: dict[str, set[int]] = defaultdict(set)
    for check in denied:
        by_kind[references[check.reference_pk].source_kind].add(references[check.reference_pk].source_id)
    sources = {}
    for kind, ids in by_kind.items():
        if kind in KINDS:
            for pk, namespace, name in (
                model_for(kind).objects.filter(pk__in=ids).values_list("pk", "namespace", "name")
            ):
                sources[(kind, pk)] = (namespace, name)
    out = []
    for check in denied:
        ref = references[check.reference_pk]
        found = sources.get((ref.source_kind, ref.source_id))
        if found is None:
            continue
        source = ObjectRef(ref.source_kind, ref.source_id, check.cluster.name, *found)
        target = ObjectRef(
            ref.target_kind,
            ref.target_id if ref.target_cluster_id == check.cluster_id else None,
            check.cluster.name,
            ref.target_namespace,
            ref.target_name,
        )
        out.append(
            Finding(
                "controller-rbac",
                ERROR,
                f"{source} names {ref.target_kind} {ref.target_namespace}/{ref.target_name} ({ref.path}) in another "
                f"namespace, and the controllers' service account {check.service_account} may not get it.",
                f"Grant {check.service_account} get on {target_resource(ref.target_kind)[1]} in namespace "
                f"{ref.target_namespace} (a Role and RoleBinding there, or a ClusterRole), or move the objects into "
                f"one namespace. Reproduce: {check.command}",
                (source, target),
                ref.path,
                detail={"command": check.command, "service_account": check.service_account},
            )
        )
    return out
