"""Kubeconfig files: one cluster, user and context per sandbox cluster."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class ClusterEntry:
    name: str
    server: str
    ca_pem: bytes | None = None
    token: str | None = None


def build(entries: list[ClusterEntry], current: str | None = None) -> dict[str, Any]:
    clusters, users, contexts = [], [], []
    for e in entries:
        cluster: dict[str, Any] = {"server": e.server}
        if e.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(e.ca_pem).decode()
        clusters.append({"name": e.name, "cluster": cluster})
        users.append({"name": e.name, "user": {"token": e.token} if e.token else {}})
        contexts.append({"name": e.name, "context": {"cluster": e.name, "user": e.name, "namespace": "default"}})
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": current or (entries[0].name if entries else ""),
    }


def write(path: str | os.PathLike, entries: list[ClusterEntry], current: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Tokens are credentials: the file is for its owner only, as kubectl writes it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(build(entries, current), f, sort_keys=False)
    return path
