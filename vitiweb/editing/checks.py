"""Checks layered on the CRD schema: what an operator gets wrong and the schema cannot say.

CIDR blocks must be networks, a subnet must lie inside its VPC and not
overlap its siblings, a backup schedule must be a cron expression, sizes
must be ordered (min <= desired <= max). Each problem is a ``FieldError``
with the Kubernetes path of the field, like the schema's own.
"""

from __future__ import annotations

import ipaddress
import re

from vitiweb.schema import FieldError, field_path

QUANTITY_HINT = "a quantity such as 100, 500m, 200Gi or 1Ti"
DURATION_HINT = "a duration such as 30s, 10m, 1h or 90d"

CIDR_KEYS = {"cidr", "serviceCIDR", "podCIDR"}
CIDR_LIST_KEYS = {"publicCIDRs"}
MAYBE_CIDR_KEYS = {"source", "destination"}  # a CIDR when it has a slash; a name or tag otherwise
CRON_KEYS = {"schedule"}


def friendly(error: FieldError) -> FieldError:
    """The schema's regular-expression messages, said in words."""
    message = error.message
    if "does not match" in message:
        if "ms|s|m|h|d|w" in message:
            return FieldError(error.path, f"must be {DURATION_HINT}")
        if "KMGTPE" in message:
            return FieldError(error.path, f"must be {QUANTITY_HINT}")
    if message.startswith("None is not of type"):
        return FieldError(error.path, "must not be empty")
    return error


def parse_network(text):
    if not isinstance(text, str) or "/" not in text:
        raise ValueError("write a CIDR block such as 10.0.0.0/16")
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            network = ipaddress.ip_network(text, strict=False)
            raise ValueError(f"has host bits set: the network is {network}") from None
        raise ValueError("is not a valid CIDR block (such as 10.0.0.0/16)") from None


def semantic_errors(obj: dict) -> list[FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    errors: list[FieldError] = []
    _walk(spec, ("spec",), errors)
    _vpcs(spec, errors)
    _kubernetes_networks(spec, errors)
    return errors


def _walk(value, path, errors):
    if isinstance(value, dict):
        for key, child in value.items():
            where = (*path, key)
            if key in CIDR_KEYS and isinstance(child, str) and child:
                _check_cidr(child, where, errors)
            elif key in MAYBE_CIDR_KEYS and isinstance(child, str) and "/" in child:
                _check_cidr(child, where, errors)
            elif key in CIDR_LIST_KEYS and isinstance(child, list):
                for index, item in enumerate(child):
                    _check_cidr(item, (*where, index), errors)
            elif key in CRON_KEYS and isinstance(child, str):
                problem = cron_problem(child)
                if problem:
                    errors.append(FieldError(field_path(where), problem))
            else:
                _walk(child, where, errors)
        _ordered_sizes(value, path, errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, (*path, index), errors)


def _check_cidr(text, where, errors):
    try:
        parse_network(text)
    except ValueError as exc:
        errors.append(FieldError(field_path(where), str(exc)))


def _ordered_sizes(value: dict, path, errors):
    sizes = {k: value.get(k) for k in ("minSize", "desiredSize", "maxSize") if isinstance(value.get(k), int)}
    low, desired, high = sizes.get("minSize"), sizes.get("desiredSize"), sizes.get("maxSize")
    if low is not None and high is not None and low > high:
        errors.append(FieldError(field_path((*path, "maxSize")), f"must be at least the minimum size ({low})"))
    if desired is not None and low is not None and desired < low:
        errors.append(FieldError(field_path((*path, "desiredSize")), f"must be at least the minimum size ({low})"))
    if desired is not None and high is not None and desired > high:
        errors.append(FieldError(field_path((*path, "desiredSize")), f"must be at most the maximum size ({high})"))


def _vpcs(spec, errors):
    networking = spec.get("networking")
    vpcs = networking.get("vpcs") if isinstance(networking, dict) else None
    if not isinstance(vpcs, list):
        return
    for v, vpc in enumerate(vpcs):
        if not isinstance(vpc, dict):
            continue
        try:
            vpc_net = parse_network(vpc.get("cidr"))
        except ValueError:
            vpc_net = None
        seen = []
        for s, subnet in enumerate(vpc.get("subnets") or []):
            if not isinstance(subnet, dict):
                continue
            try:
                net = parse_network(subnet.get("cidr"))
            except ValueError:
                continue
            where = field_path(("spec", "networking", "vpcs", v, "subnets", s, "cidr"))
            if vpc_net is not None and (net.version != vpc_net.version or not net.subnet_of(vpc_net)):
                errors.append(FieldError(where, f"{net} is not inside the VPC's {vpc_net}"))
            for other_index, other in seen:
                if net.version == other.version and net.overlaps(other):
                    name = (vpc["subnets"][other_index] or {}).get("name") or f"subnet {other_index + 1}"
                    errors.append(FieldError(where, f"{net} overlaps {name} ({other})"))
                    break
            seen.append((s, net))


def _kubernetes_networks(spec, errors):
    networking = spec.get("networking")
    if not isinstance(networking, dict):
        return
    try:
        service = parse_network(networking.get("serviceCIDR"))
        pods = parse_network(networking.get("podCIDR"))
    except ValueError:
        return
    if service.version == pods.version and service.overlaps(pods):
        errors.append(FieldError("spec.networking.podCIDR", f"{pods} overlaps the service CIDR {service}"))


# -- cron ---------------------------------------------------------------------------------------

_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_NAMES = {
    3: {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)},
    4: {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}
_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a five-field cron schedule, or None (``0 2 * * *``, ``*/15 * * * 1-5``)."""
    text = expression.strip()
    if text in _MACROS:
        return None
    fields = text.split()
    if len(fields) != 5:
        return f"a cron schedule has 5 fields (minute hour day month weekday), this has {len(fields)}, e.g. 0 2 * * *"
    for position, (part, (label, low, high)) in enumerate(zip(fields, _CRON_FIELDS, strict=True)):
        names = _NAMES.get(position, {})
        for item in part.split(","):
            base, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return f"{label}: step {step!r} must be a positive number"
            if base == "*":
                continue
            bounds = base.split("-")
            if len(bounds) > 2 or not all(bounds):
                return f"{label}: {item!r} is not a number, range or list"
            values = []
            for bound in bounds:
                value = names.get(bound.lower()) if not bound.isdigit() else int(bound)
                if value is None or not re.fullmatch(r"[0-9]+|[A-Za-z]{3}", bound):
                    return f"{label}: {bound!r} is not a number"
                if not low <= value <= high:
                    return f"{label}: {value} is outside {low}-{high}"
                values.append(value)
            if len(values) == 2 and values[0] > values[1]:
                return f"{label}: range {item!r} runs backwards"
    return None
