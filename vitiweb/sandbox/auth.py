"""Bearer tokens and per-token permission rules.

Real clusters authenticate every request and authorize it with RBAC; the
sandbox keeps the outcomes clients must handle (401 for an unknown token, 403 for
a forbidden verb, and anonymous requests allowed only the public info paths) with rules simple enough to set up in a test:
every request is allowed unless one of the token's `deny` rules matches it.
A token with `allow` rules is restricted as RBAC restricts a service account:
a request needs a matching `allow` rule (the rules of a ClusterRole, as
written in its YAML), and no `deny` rule may match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _hit(patterns: tuple[str, ...], value: str) -> bool:
    return "*" in patterns or value in patterns


@dataclass(frozen=True)
class Rule:
    """Matches requests like an RBAC rule: each field is a list of values or "*"."""

    verbs: tuple[str, ...] = ("*",)
    api_groups: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)
    namespaces: tuple[str, ...] = ("*",)
    resource_names: tuple[str, ...] = ("*",)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        def tup(key: str) -> tuple[str, ...]:
            value = data.get(key, ["*"])
            return (value,) if isinstance(value, str) else tuple(value)

        return cls(tup("verbs"), tup("apiGroups"), tup("resources"), tup("namespaces"), tup("resourceNames"))

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "verbs": list(self.verbs),
            "apiGroups": list(self.api_groups),
            "resources": list(self.resources),
            "namespaces": list(self.namespaces),
            "resourceNames": list(self.resource_names),
        }

    def matches(self, verb: str, group: str, resource: str, namespace: str, name: str) -> bool:
        # A cluster-wide request (all namespaces) reaches every namespace, so a
        # rule about any namespace applies to it.
        return (
            _hit(self.verbs, verb)
            and _hit(self.api_groups, group)
            and _hit(self.resources, resource)
            and (not namespace or _hit(self.namespaces, namespace))
            and (not name or _hit(self.resource_names, name))
        )


@dataclass
class Token:
    token: str
    user: str = "sandbox-admin"
    groups: list[str] = field(default_factory=lambda: ["system:authenticated"])
    deny: list[Rule] = field(default_factory=list)
    anonymous: bool = False
    #: None: everything not denied; a list: only what one of these rules grants.
    allow: list[Rule] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Token:
        return cls(
            token=data["token"],
            user=data.get("user", "sandbox-admin"),
            groups=list(data.get("groups", ["system:authenticated"])),
            deny=[Rule.from_dict(r) for r in data.get("deny", [])],
            allow=[Rule.from_dict(r) for r in data["allow"]] if data.get("allow") is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        described = {"user": self.user, "groups": self.groups, "deny": [r.to_dict() for r in self.deny]}
        if self.allow is not None:
            described["allow"] = [r.to_dict() for r in self.allow]
        return described


#: What every authenticated identity may do on a real cluster whatever its own roles
#: (the ``system:basic-user`` ClusterRole): ask what it may do, and who it is.
BASIC_USER = (
    Rule(
        verbs=("create",),
        api_groups=("authorization.k8s.io",),
        resources=("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
    ),
    Rule(verbs=("create",), api_groups=("authentication.k8s.io",), resources=("selfsubjectreviews",)),
)

# With no tokens configured the sandbox is open: every request is this unrestricted user.
OPEN = Token(token="", user="system:anonymous", groups=["system:unauthenticated"])
# With tokens, a request without credentials is anonymous, as kube-apiserver's default
# --anonymous-auth=true makes it: allowed the public info paths only (system:public-info-viewer).
ANONYMOUS = Token(token="", user="system:anonymous", groups=["system:unauthenticated"], deny=[Rule()], anonymous=True)


class Auth:
    """The tokens a cluster accepts; with none configured every request is allowed."""

    def __init__(self, tokens: list[Token] | None = None):
        self.tokens: dict[str, Token] = {t.token: t for t in tokens or []}

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)

    def add(self, token: Token) -> None:
        self.tokens[token.token] = token

    def authenticate(self, header: str | None) -> Token | None:
        """The caller's token; None (a credential nobody issued) means 401."""
        if not self.enabled:
            return OPEN
        scheme, _, credential = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            # Not a bearer token (no header, Basic, ...): no authenticator takes it, so it is anonymous.
            return ANONYMOUS
        return self.tokens.get(credential.strip())

    @staticmethod
    def allowed(token: Token, verb: str, group: str, resource: str, namespace: str, name: str) -> bool:
        if any(rule.matches(verb, group, resource, namespace, name) for rule in token.deny):
            return False
        if token.allow is None:
            return True
        return any(rule.matches(verb, group, resource, namespace, name) for rule in (*token.allow, *BASIC_USER))
