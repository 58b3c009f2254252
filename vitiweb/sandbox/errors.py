"""Kubernetes API errors as `kind: Status` bodies.

Clients branch on `code`, `reason` and `details` (client-go's `errors.IsConflict`,
the Python client's `ApiException.status`, kubectl's messages), so every error the
sandbox answers is built here with the exact shapes the real API server uses.
"""

from __future__ import annotations

from typing import Any

from .fields import path_string


class ApiError(Exception):
    """An error answered as a `Status` object with an HTTP status code."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.metadata = metadata or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": self.metadata,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(rt, name: str | None, kind: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if rt is not None and rt.group:
        details["group"] = rt.group
    details["kind"] = kind or (rt.plural if rt is not None else "")
    return details


def not_found(rt, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def namespace_not_found(name: str) -> ApiError:
    return ApiError(404, "NotFound", f'namespaces "{name}" not found', {"name": name, "kind": "namespaces"})


def resource_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(rt, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))


def conflict(
    rt,
    name: str,
    why: str = "the object has been modified; please apply your changes to the latest version and try again",
) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}',
        _details(rt, name),
    )


def invalid(rt, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 with one cause per failing field, in the `field: message` text kubectl prints."""
    texts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    kind_group = rt.kind + (f".{rt.group}" if rt.group else "")
    details = _details(rt, name, kind=rt.kind)
    details["causes"] = causes
    return ApiError(422, "Invalid", f'{kind_group} "{name}" is invalid: {summary}', details)


def unconditional_update(rt, name: str) -> ApiError:
    """The generic registry's answer to a PUT without resourceVersion where the strategy forbids it.

    It names the resource (plural), not the kind, and prints the parsed version 0 as Go's %#v does.
    """
    cause = {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: 0x0: must be specified for an update",
        "field": "metadata.resourceVersion",
    }
    details = _details(rt, name)
    details["causes"] = [cause]
    return ApiError(
        422,
        "Invalid",
        f'{rt.qualified} "{name}" is invalid: metadata.resourceVersion: {cause["message"]}',
        details,
    )


def meta_invalid(kind: str, causes: list[dict[str, str]]) -> ApiError:
    """422 for invalid request options (`ListOptions`, `DeleteOptions`): group meta.k8s.io, no name."""
    texts = [f"{c['field']}: {c['message']}" for c in causes]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{kind}.meta.k8s.io "" is invalid: {summary}',
        {"group": "meta.k8s.io", "kind": kind, "causes": causes},
    )


def not_acceptable(accepted: list[str]) -> ApiError:
    return ApiError(406, "NotAcceptable", "only the following media types are accepted: " + ", ".join(accepted))


def not_acceptable_conversion(message: str) -> ApiError:
    """A conversion (`as=`) the requested object cannot take, e.g. a list as PartialObjectMetadata."""
    return ApiError(406, "NotAcceptable", message)


def forbidden_path(user: str, verb: str, path: str) -> ApiError:
    """What the authorizer answers for a non-resource URL (`/api`, `/_sandbox/tokens`)."""
    return ApiError(403, "Forbidden", f'forbidden: User "{user}" cannot {verb} path "{path}"', {})


def create_while_terminating(rt) -> ApiError:
    """apiextensions-apiserver refuses new custom resources while their CRD terminates."""
    return ApiError(
        405,
        "MethodNotAllowed",
        "create not allowed while custom resource definition is terminating",
        {"group": rt.group, "kind": rt.plural},
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


def unsupported_media_type(accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted),
    )


def expired(message: str, metadata: dict[str, Any] | None = None) -> ApiError:
    return ApiError(410, "Expired", message, metadata=metadata)


def gone_too_old(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(user: str, verb: str, rt, namespace: str | None, name: str | None = None) -> ApiError:
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    resource = rt.plural
    target = f'{rt.qualified} "{name}"' if name else rt.qualified
    return ApiError(
        403,
        "Forbidden",
        f'{target} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group "{rt.group}" {where}',
        _details(rt, name),
    )


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.",
        {"retryAfterSeconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def internal_error(cause: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {cause}", {"causes": [{"message": cause}]})


def too_large_resource_version(requested: int, current: int) -> ApiError:
    return ApiError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {requested}, current: {current}",
        {
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        },
        headers={"Retry-After": "1"},
    )


def apply_conflict(conflicts: list[tuple[tuple[str, str, str, str], tuple[str, ...]]]) -> ApiError:
    """409 naming each conflicting field and its manager, in structured-merge-diff's words."""

    def who(key) -> str:
        manager, operation, subresource, api_version = key
        text = f'"{manager}"'
        if subresource:
            text += f' with subresource "{subresource}"'
        if operation == "Update":
            text += f" using {api_version}"
        return text

    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {who(k)}", "field": path_string(p)}
        for k, p in conflicts
    ]
    if len(conflicts) == 1:
        k, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {who(k)}: {path_string(p)}"
    else:
        lines = []
        by_manager: dict = {}
        for k, p in conflicts:
            by_manager.setdefault(k, []).append(p)
        for k in sorted(by_manager, key=lambda k: k[0]):
            lines.append(f"conflicts with {who(k)}:")
            lines.extend(f"- {path_string(p)}" for p in by_manager[k])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})
