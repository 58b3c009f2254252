"""Controllers' workloads and logs: Deployments, their Pods, and `pods/log` (once or followed).

Needs, in the controllers' namespace: `list` on `deployments.apps` and
`pods`, and `get` on `pods/log`. Lines are text from the cluster: callers
escape them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import kubernetes.client
import urllib3

from .errors import KubeError
from .transport import call_json, convert, open_response, read_body

#: How many lines one request may ask for (the page's "last N lines" and downloads).
MAX_TAIL = 10_000
_LEVEL = re.compile(
    r"""(?:\b|"level"\s*:\s*"|level=)(?P<level>ERROR|ERR|FATAL|PANIC|CRITICAL|WARNING|WARN|INFO|DEBUG|TRACE)\b""",
    re.IGNORECASE,
)
_LEVELS = {
    "error": "error",
    "err": "error",
    "fatal": "error",
    "panic": "error",
    "critical": "error",
    "warning": "warn",
    "warn": "warn",
    "info": "info",
    "debug": "debug",
    "trace": "debug",
}


def level_of(line: str) -> str:
    """error, warn, info, debug or "" for a log line in the usual formats (console, JSON, logfmt, klog)."""
    found = _LEVEL.search(line[:300])
    if found:
        return _LEVELS[found.group("level").lower()]
    if len(line) > 1 and line[0] in "EWID" and line[1:5].isdigit():  # klog: E0102 15:04:05.000000 ...
        return {"E": "error", "W": "warn", "I": "info", "D": "debug"}[line[0]]
    return ""


def deployments(api_client: Any, namespace: str, timeout: Any = (5.0, 15.0)) -> list[dict]:
    api = kubernetes.client.AppsV1Api(api_client)
    body = call_json(api_client, api.list_namespaced_deployment, namespace, timeout=timeout) or {}
    return body.get("items") or []


def pods(api_client: Any, namespace: str, selector: dict | None = None, timeout: Any = (5.0, 15.0)) -> list[dict]:
    api = kubernetes.client.CoreV1Api(api_client)
    kwargs = {}
    if selector:
        kwargs["label_selector"] = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    body = call_json(api_client, api.list_namespaced_pod, namespace, timeout=timeout, **kwargs) or {}
    return body.get("items") or []


def containers(pod: dict) -> list[str]:
    return [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name")]


def selector_of(deployment: dict) -> dict:
    return ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}


def read_log(
    api_client: Any, namespace: str, pod: str, container: str, tail: int, timeout: Any = (5.0, 30.0)
) -> list[str]:
    """The last ``tail`` lines of a container's log."""
    api = kubernetes.client.CoreV1Api(api_client)
    response = open_response(
        api_client,
        api.read_namespaced_pod_log,
        pod,
        namespace,
        container=container,
        tail_lines=max(0, min(tail, MAX_TAIL)),
        timeout=timeout,
    )
    return read_body(api_client, response).decode("utf-8", "replace").splitlines()


def follow_log(
    api_client: Any, namespace: str, pod: str, container: str, tail: int, timeout: Any = (5.0, 86400.0)
) -> urllib3.HTTPResponse:
    """An open `follow=true` stream of a container's log (close it to stop), starting with the last lines."""
    api = kubernetes.client.CoreV1Api(api_client)
    return open_response(
        api_client,
        api.read_namespaced_pod_log,
        pod,
        namespace,
        container=container,
        follow=True,
        tail_lines=max(0, min(tail, MAX_TAIL)),
        timeout=timeout,
    )


def iter_lines(api_client: Any, response: urllib3.HTTPResponse) -> Iterator[str]:
    """Lines of a followed log as they arrive; ends when the stream does."""
    pending = b""
    try:
        if response.chunked and response.supports_chunked_reads():
            chunks = response.read_chunked(65536, decode_content=True)
        else:
            chunks = iter(lambda: response.read1(65536), b"")
        for chunk in chunks:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
    except KubeError:
        raise
    except Exception as exc:
        raise convert(api_client, exc) from exc
    if pending:
        yield pending.decode("utf-8", "replace")


def stop(response: urllib3.HTTPResponse) -> None:
    # shutdown() wakes the thread blocked reading the socket; close() alone may not.
    for end in (getattr(response, "shutdown", None), response.close):
        try:
            if end is not None:
                end()
        except Exception:
            pass
