"""Decoding the protobuf request bodies kubectl sends for a few core kinds.

kubectl's typed clients (`kubectl create namespace`, `kubectl create secret`,
`kubectl auth can-i [--list]`, `kubectl auth whoami`) send
`application/vnd.kubernetes.protobuf`: a `k8s\\0` magic, then a runtime.Unknown
envelope around the object's message. Only those kinds are decoded, into the
JSON form the rest of the sandbox uses; responses are always JSON, which
clients accept as well.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes):
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, value


# A message schema: field number -> (json name, kind[, sub-schema]).
# Kinds: str, bytes (base64 in JSON), int, bool, msg, time, map (string keys),
# bytesmap (map<string, bytes>); a trailing "*" means repeated.
Schema = dict[int, tuple]

_TIME = "time"
_KEY_VALUE: Schema = {1: ("key", "str"), 2: ("value", "str")}
OBJECT_META: Schema = {
    1: ("name", "str"),
    2: ("generateName", "str"),
    3: ("namespace", "str"),
    5: ("uid", "str"),
    6: ("resourceVersion", "str"),
    7: ("generation", "int"),
    8: ("creationTimestamp", _TIME),
    11: ("labels", "map"),
    12: ("annotations", "map"),
    14: ("finalizers", "str*"),
}
_RESOURCE_ATTRIBUTES: Schema = {
    1: ("namespace", "str"),
    2: ("verb", "str"),
    3: ("group", "str"),
    4: ("version", "str"),
    5: ("resource", "str"),
    6: ("subresource", "str"),
    7: ("name", "str"),
}
_NON_RESOURCE_ATTRIBUTES: Schema = {1: ("path", "str"), 2: ("verb", "str")}
KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Namespace"): {1: ("metadata", "msg", OBJECT_META), 2: ("spec", "msg", {1: ("finalizers", "str*")})},
    ("v1", "Secret"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("data", "bytesmap"),
        3: ("type", "str"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", "msg", OBJECT_META),
        2: (
            "spec",
            "msg",
            {
                1: ("resourceAttributes", "msg", _RESOURCE_ATTRIBUTES),
                2: ("nonResourceAttributes", "msg", _NON_RESOURCE_ATTRIBUTES),
            },
        ),
    },
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("spec", "msg", {1: ("namespace", "str")}),
    },
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: ("metadata", "msg", OBJECT_META)},
}


def _decode(data: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        spec = schema.get(number)
        if spec is None:
            continue
        name, kind = spec[0], spec[1]
        repeated = kind.endswith("*")
        kind = kind.rstrip("*")
        if kind == "str":
            decoded: Any = value.decode()
            if not decoded and not repeated:
                continue  # Go omits empty strings from JSON (omitempty)
        elif kind == "int":
            decoded = value
        elif kind == "bool":
            decoded = bool(value)
        elif kind == "msg":
            decoded = _decode(value, spec[2])
        elif kind == _TIME:
            seconds = _decode(value, {1: ("s", "int")}).get("s", 0)
            decoded = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind in ("map", "bytesmap"):
            entry = {k: v for k, v in _fields(value)}
            key = entry.get(1, b"").decode()
            raw = entry.get(2, b"")
            out.setdefault(name, {})[key] = base64.b64encode(raw).decode() if kind == "bytesmap" else raw.decode()
            continue
        else:
            raise ProtobufError(f"unknown field kind {kind}")
        if repeated:
            out.setdefault(name, []).append(decoded)
        else:
            out[name] = decoded
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded object as JSON; ProtobufError for kinds the sandbox cannot read."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = dict(_fields(body[len(MAGIC) :]))
    type_meta = {k: v.decode() for k, v in _fields(envelope.get(1, b""))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"protobuf is not supported for {kind} {api_version}")
    obj = _decode(envelope.get(2, b""), schema)
    return {"apiVersion": api_version, "kind": kind, **obj}
