"""Kubeconfig text in memory: parse, list contexts, split what is secret from what is not.

The caller stores the secret part encrypted and shows the public part; this
module never writes either to disk. What counts as public is a short list
(server URL, names, TLS server name, namespace); every other field of a
cluster or user entry, known or not, counts as secret, so a field added to
kubeconfig later is protected by default.
"""

from __future__ import annotations

import base64
import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from vitiweb import safeyaml

from .errors import KubeconfigError

#: Cluster fields safe to show.
PUBLIC_CLUSTER_FIELDS = frozenset(
    {"server", "tls-server-name", "insecure-skip-tls-verify", "disable-compression", "certificate-authority"}
)
#: User fields safe to show (paths and identities, never the credential itself).
PUBLIC_USER_FIELDS = frozenset(
    {"username", "as", "as-uid", "as-groups", "client-certificate", "client-key", "tokenFile"}
)
#: Fields that point at files on the machine reading the kubeconfig.
FILE_FIELDS = {
    "cluster": {"certificate-authority": "certificate-authority-data"},
    "user": {"client-certificate": "client-certificate-data", "client-key": "client-key-data", "tokenFile": "token"},
}


@dataclass(frozen=True)
class ContextInfo:
    name: str
    cluster: str | None
    user: str | None
    namespace: str | None
    server: str | None
    current: bool


@dataclass(frozen=True)
class SplitKubeconfig:
    """``public``: a kubeconfig with every credential removed; ``secret``: those credentials by entry name."""

    public: dict
    secret: dict

    def merged(self) -> dict:
        return merge_kubeconfig(self.public, self.secret)


def parse_kubeconfig(source: str | bytes | Mapping[str, Any]) -> dict:
    """A kubeconfig as a dict (a deep copy if given one), checked for shape."""
    if isinstance(source, Mapping):
        config = copy.deepcopy(dict(source))
    else:
        if isinstance(source, bytes):
            source = source.decode("utf-8", "replace")
        try:
            config = safeyaml.load(source, "kubeconfig")
        except safeyaml.YamlError as exc:
            raise KubeconfigError(str(exc)) from None
    if not isinstance(config, dict):
        raise KubeconfigError("kubeconfig must be a YAML mapping with clusters, users and contexts")
    for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
        entries = config.get(section)
        if entries is None:
            config[section] = []
            continue
        if not isinstance(entries, list):
            raise KubeconfigError(f"kubeconfig: {section} must be a list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
                raise KubeconfigError(f"kubeconfig: {section}[{index}] has no name")
            if entry.get(inner) is None:
                entry[inner] = {}
            if not isinstance(entry[inner], dict):
                raise KubeconfigError(f"kubeconfig: {section}[{index}].{inner} must be a mapping")
    return config


def _by_name(config: Mapping[str, Any], section: str, inner: str) -> dict[str, dict]:
    return {entry["name"]: entry[inner] for entry in config.get(section) or []}


def list_contexts(source: str | bytes | Mapping[str, Any]) -> list[ContextInfo]:
    """Every context of a kubeconfig, with its cluster's server URL, in file order."""
    config = parse_kubeconfig(source)
    clusters = _by_name(config, "clusters", "cluster")
    current = config.get("current-context")
    result = []
    for entry in config["contexts"]:
        context = entry["context"]
        cluster_name = context.get("cluster")
        result.append(
            ContextInfo(
                name=entry["name"],
                cluster=cluster_name,
                user=context.get("user"),
                namespace=context.get("namespace"),
                server=(clusters.get(cluster_name) or {}).get("server"),
                current=entry["name"] == current,
            )
        )
    return result


@dataclass(frozen=True)
class ResolvedContext:
    name: str
    namespace: str | None
    cluster_name: str
    cluster: dict
    user_name: str | None
    user: dict


def resolve_context(source: str | bytes | Mapping[str, Any], context: str | None = None) -> ResolvedContext:
    """The context named (or the current one) with its cluster and user entries."""
    config = parse_kubeconfig(source)
    contexts = _by_name(config, "contexts", "context")
    name = context or config.get("current-context")
    if not name:
        if len(contexts) == 1:
            name = next(iter(contexts))
        else:
            raise KubeconfigError("kubeconfig has no current-context; name the context to use")
    if name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise KubeconfigError(f"context {name!r} not found in kubeconfig (contexts: {known})")
    ctx = contexts[name]
    cluster_name = ctx.get("cluster")
    clusters = _by_name(config, "clusters", "cluster")
    if not cluster_name or cluster_name not in clusters:
        raise KubeconfigError(
            f"context {name!r} refers to cluster {cluster_name!r}, which the kubeconfig does not define"
        )
    cluster = clusters[cluster_name]
    if not cluster.get("server"):
        raise KubeconfigError(f"cluster {cluster_name!r} has no server URL")
    user_name = ctx.get("user")
    users = _by_name(config, "users", "user")
    if user_name and user_name not in users:
        raise KubeconfigError(f"context {name!r} refers to user {user_name!r}, which the kubeconfig does not define")
    return ResolvedContext(
        name=name,
        namespace=ctx.get("namespace"),
        cluster_name=cluster_name,
        cluster=cluster,
        user_name=user_name,
        user=users.get(user_name, {}) if user_name else {},
    )


def minimal_kubeconfig(source: str | bytes | Mapping[str, Any], context: str | None = None) -> dict:
    """A kubeconfig holding only one context, its cluster and its user (and current-context set to it)."""
    resolved = resolve_context(source, context)
    config = parse_kubeconfig(source)
    ctx_entry = next(e for e in config["contexts"] if e["name"] == resolved.name)
    minimal = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": resolved.name,
        "clusters": [{"name": resolved.cluster_name, "cluster": resolved.cluster}],
        "users": [{"name": resolved.user_name, "user": resolved.user}] if resolved.user_name else [],
        "contexts": [ctx_entry],
    }
    return copy.deepcopy(minimal)


def _is_public(section: str, key: str, value: Any) -> bool:
    if section == "cluster":
        if key == "proxy-url":
            return isinstance(value, str) and "@" not in value
        return key in PUBLIC_CLUSTER_FIELDS
    return key in PUBLIC_USER_FIELDS


def split_kubeconfig(source: str | bytes | Mapping[str, Any]) -> SplitKubeconfig:
    """Separate credentials (tokens, keys, certificates, CA data, passwords, exec and
    auth-provider configs, anything unrecognised) from what may be shown."""
    config = parse_kubeconfig(source)
    secret: dict[str, dict[str, dict]] = {}
    for section, inner in (("clusters", "cluster"), ("users", "user")):
        for entry in config[section]:
            body = entry[inner]
            hidden = {k: body.pop(k) for k in list(body) if not _is_public(inner, k, body[k])}
            if hidden:
                secret.setdefault(section, {})[entry["name"]] = hidden
    for entry in config["contexts"]:
        extensions = entry["context"].pop("extensions", None)
        if extensions is not None:
            secret.setdefault("contexts", {})[entry["name"]] = {"extensions": extensions}
    if "extensions" in config:
        secret["extensions"] = config.pop("extensions")
    return SplitKubeconfig(public=config, secret=secret)


def merge_kubeconfig(public: Mapping[str, Any], secret: Mapping[str, Any]) -> dict:
    """The kubeconfig again, from the two halves of ``split_kubeconfig``."""
    config = parse_kubeconfig(public)
    secret = copy.deepcopy(dict(secret or {}))
    for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
        hidden = secret.get(section) or {}
        present = {entry["name"]: entry for entry in config[section]}
        for name, fields in hidden.items():
            if name not in present:
                raise KubeconfigError(
                    f"secret part names {section[:-1]} {name!r}, which the public part does not define"
                )
            present[name][inner].update(fields)
    if "extensions" in secret:
        config["extensions"] = secret["extensions"]
    return config


def credential_kinds(source: str | bytes | Mapping[str, Any]) -> dict[str, list[str]]:
    """Per user, which kinds of credential it carries (never the values), for display."""
    config = parse_kubeconfig(source)
    result = {}
    for entry in config["users"]:
        user = entry["user"]
        kinds = []
        if user.get("token") or user.get("tokenFile"):
            kinds.append("token")
        if user.get("client-certificate-data") or user.get("client-certificate"):
            kinds.append("client certificate")
        if user.get("password"):
            kinds.append("password")
        if isinstance(user.get("exec"), dict):
            kinds.append(f"exec: {os.path.basename(str(user['exec'].get('command', '?')))}")
        if isinstance(user.get("auth-provider"), dict):
            kinds.append(f"auth-provider: {user['auth-provider'].get('name', '?')}")
        result[entry["name"]] = kinds
    return result


def file_references(source: str | bytes | Mapping[str, Any]) -> list[str]:
    """Fields that name files on this machine (``clusters[x].cluster.certificate-authority``...)."""
    config = parse_kubeconfig(source)
    found = []
    for section, inner in (("clusters", "cluster"), ("users", "user")):
        for entry in config[section]:
            for key in FILE_FIELDS[inner]:
                if entry[inner].get(key):
                    found.append(f"{section}[{entry['name']}].{inner}.{key}")
    return found


def inline_file_references(source: str | bytes | Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> dict:
    """Replace file paths by their content (``*-data``, ``token``), relative paths read from
    ``base_dir``: for ``add_cluster --kubeconfig FILE``, so what is stored stands alone."""
    config = parse_kubeconfig(source)
    base = os.fspath(base_dir) if base_dir is not None else os.getcwd()
    for section, inner in (("clusters", "cluster"), ("users", "user")):
        for entry in config[section]:
            body = entry[inner]
            for file_key, data_key in FILE_FIELDS[inner].items():
                path = body.get(file_key)
                if not path:
                    continue
                full = os.path.join(base, os.path.expanduser(path))
                try:
                    with open(full, "rb") as handle:
                        content = handle.read()
                except OSError as exc:
                    raise KubeconfigError(
                        f"{section}[{entry['name']}].{inner}.{file_key}: cannot read {path}: {exc.strerror}"
                    ) from None
                body.pop(file_key)
                if body.get(data_key):
                    continue  # kubectl prefers data over file too
                body[data_key] = content.decode().strip() if data_key == "token" else base64.b64encode(content).decode()
    return config


def dump_kubeconfig(config: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False)
