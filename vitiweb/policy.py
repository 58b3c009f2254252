"""What the settings allow: where Secrets may be created, which addresses a cluster may be reached at.

Both are settings because both depend on the site: a fleet whose provider
credentials live in ``kube-system`` widens the first, a lab whose clusters
listen on 127.0.0.1 widens the second.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

#: Host names that are metadata services whatever they resolve to.
METADATA_HOSTS = {
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
}


def secret_namespace_problem(namespace: str) -> str:
    """Why a Secret may not be created in ``namespace`` from the dashboard, or ''.

    ``VITIWEB_SECRET_NAMESPACES`` is a list of patterns; the first that matches
    decides, a ``!`` in front refuses (default: ``!kube-*``, then ``*``).
    """
    for pattern in settings.VITIWEB_SECRET_NAMESPACES:
        refuse = pattern.startswith("!")
        if fnmatch.fnmatchcase(namespace, pattern.removeprefix("!")):
            if refuse:
                break
            return ""
    return (
        f"Secrets are not created in namespace {namespace[:63]} from here "
        f"(VITIWEB_SECRET_NAMESPACES: {', '.join(settings.VITIWEB_SECRET_NAMESPACES) or 'none'})"
    )


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """What kind of internal address this is, or '' for an ordinary one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if address == ipaddress.ip_address("fd00:ec2::254"):
        return "the EC2 metadata address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "not a host address"
    return ""


def address_problem(url: str, what: str = "server") -> str:
    """Why the dashboard must not connect to ``url`` (loopback, link-local, metadata), or ''.

    The host is resolved, so a name pointing at 169.254.169.254 is refused as
    the address itself. ``VITIWEB_ALLOW_INTERNAL_ADDRESSES`` lists hosts or
    networks allowed anyway (the sandbox and the tests run on 127.0.0.1).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return f"{what}: {url[:200]!r} is not a URL"
    if not host:
        return f"{what}: {url[:200]!r} has no host"
    allowed = settings.VITIWEB_ALLOW_INTERNAL_ADDRESSES
    if host.lower() in allowed:
        return ""
    if host.lower().rstrip(".") in METADATA_HOSTS:
        return f"{what}: {host} is a cloud metadata service"
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return ""  # not resolvable here: the connection test says so in its own words
        addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
    for address in sorted(addresses, key=str):
        kind = _internal(address)
        if kind and not _allowed(address, allowed):
            return (
                f"{what}: {host} is {kind} ({address}); not connected to "
                "(set VITIWEB_ALLOW_INTERNAL_ADDRESSES to allow it)"
            )
    return ""


def _allowed(address, allowed: list[str]) -> bool:
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def cluster_address_problems(cluster: dict) -> list[str]:
    """Why a kubeconfig's cluster entry must not be connected to: its ``server`` and ``proxy-url`` checked."""
    return [
        problem
        for key in ("server", "proxy-url")
        if isinstance(cluster.get(key), str) and cluster[key]
        for problem in [address_problem(cluster[key], key)]
        if problem
    ]
