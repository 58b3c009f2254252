"""RBAC as kube-apiserver's authorizer evaluates it, over the Roles and bindings stored in the sandbox.

Answers SubjectAccessReview (may user U in groups G do V on R?) and
SelfSubjectAccessReview sent with `Impersonate-User`/`Impersonate-Group`
headers (what `kubectl auth can-i ... --as=...` sends). Rules are the stored
`rbac.authorization.k8s.io/v1` objects, so a test sets them up the way an
operator would: with kubectl or the client creating a Role and a binding.
Only allow rules exist, as in RBAC; what nothing allows is denied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import errors
from .store import Store

RBAC = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Attributes:
    user: str
    groups: tuple[str, ...]
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str

    @classmethod
    def from_review(cls, spec: dict[str, Any], user: str, groups: list[str]) -> Attributes:
        attrs = spec.get("resourceAttributes") or {}
        return cls(
            user=user,
            groups=tuple(groups),
            verb=str(attrs.get("verb") or ""),
            group=str(attrs.get("group") or ""),
            resource=str(attrs.get("resource") or ""),
            subresource=str(attrs.get("subresource") or ""),
            namespace=str(attrs.get("namespace") or ""),
            name=str(attrs.get("name") or ""),
        )


def _subject_matches(subject: dict, user: str, groups: tuple[str, ...]) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        return user == f"system:serviceaccount:{subject.get('namespace', '')}:{subject.get('name', '')}"
    if kind == "User":
        return user == subject.get("name")
    if kind == "Group":
        return subject.get("name") in groups
    return False


def _hit(values, wanted: str) -> bool:
    return "*" in (values or []) or wanted in (values or [])


def rule_allows(rule: dict, a: Attributes) -> bool:
    if not _hit(rule.get("verbs"), a.verb) or not _hit(rule.get("apiGroups"), a.group):
        return False
    resources = rule.get("resources") or []
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    if not (
        "*" in resources
        or combined in resources
        or (a.subresource and f"*/{a.subresource}" in resources)
        or (not a.subresource and a.resource in resources)
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or a.name in names


def _items(store: Store, plural: str, namespace: str | None = None) -> list[dict]:
    rt = store.registry.lookup(RBAC, "v1", plural)
    if rt is None:
        return []
    return [e.obj for e in store.query(rt, namespace).entries]


def _role_rules(store: Store, ref: dict, namespace: str) -> list[dict]:
    kind, name = ref.get("kind"), ref.get("name", "")
    plural, ns = ("clusterroles", None) if kind == "ClusterRole" else ("roles", namespace)
    rt = store.registry.lookup(RBAC, "v1", plural)
    try:
        return list(store.read(rt, ns, name).obj.get("rules") or [])
    except errors.ApiError:
        return []  # a binding to a missing role grants nothing


def authorize(store: Store, a: Attributes) -> tuple[bool, str]:
    """(allowed, reason) the way the RBAC authorizer words it."""
    if "system:masters" in a.groups:
        return True, "allowed by group system:masters"
    with store.lock:
        for binding in _items(store, "clusterrolebindings"):
            if any(_subject_matches(s, a.user, a.groups) for s in binding.get("subjects") or []):
                for rule in _role_rules(store, binding.get("roleRef") or {}, ""):
                    if rule_allows(rule, a):
                        role = (binding.get("roleRef") or {}).get("name")
                        return True, (
                            f'RBAC: allowed by ClusterRoleBinding "{binding["metadata"]["name"]}" '
                            f'of ClusterRole "{role}" to {a.user}'
                        )
        if a.namespace:
            for binding in _items(store, "rolebindings", a.namespace):
                if any(_subject_matches(s, a.user, a.groups) for s in binding.get("subjects") or []):
                    ref = binding.get("roleRef") or {}
                    for rule in _role_rules(store, ref, a.namespace):
                        if rule_allows(rule, a):
                            return True, (
                                f'RBAC: allowed by RoleBinding "{binding["metadata"]["name"]}/{a.namespace}" '
                                f'of {ref.get("kind")} "{ref.get("name")}" to {a.user}'
                            )
    return False, ""


def service_account_groups(user: str) -> list[str]:
    """The groups the authenticator gives a service account token (and impersonation of one)."""
    parts = user.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return ["system:serviceaccounts", f"system:serviceaccounts:{parts[2]}", "system:authenticated"]
    return ["system:authenticated"]


def review(store: Store, body: dict, impersonate: tuple[str, list[str]] | None = None) -> dict:
    """The answered review: SubjectAccessReview from its spec, or a self review of an impersonated user."""
    spec = body.get("spec") or {}
    if body.get("kind") == "SubjectAccessReview":
        user, groups = str(spec.get("user") or ""), [str(g) for g in spec.get("groups") or []]
        if not user and not groups:
            raise errors.ApiError(
                422,
                "Invalid",
                'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
                "at least one of user or group must be specified",
                {"group": "authorization.k8s.io", "kind": "SubjectAccessReview"},
            )
    else:
        user, groups = impersonate
    if spec.get("nonResourceAttributes") is not None and spec.get("resourceAttributes") is None:
        allowed, reason = False, ""
    else:
        allowed, reason = authorize(store, Attributes.from_review(spec, user, groups))
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return {
        "kind": body.get("kind"),
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }
