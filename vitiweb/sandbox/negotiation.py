"""Content negotiation as kube-apiserver does it: the body a request may send, the form an answer takes.

Request bodies are JSON, YAML or protobuf (custom resources included: their
serializer lists protobuf, for metadata-only answers); anything else is 415. The answer's form comes from the Accept header: its first acceptable
clause wins, by quality. A clause may ask for a conversion with
`as=...;g=meta.k8s.io;v=v1`: a `Table`, or metadata alone (`PartialObjectMetadata`
for one object, `PartialObjectMetadataList` for a list). When no clause is
acceptable the answer is 406 NotAcceptable.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import yaml

from . import errors

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
CONVERSIONS = ("Table", "PartialObjectMetadata", "PartialObjectMetadataList")
META_VERSIONS = ("v1", "v1beta1")


@dataclass(frozen=True)
class Output:
    media: str = JSON
    convert: str | None = None  # one of CONVERSIONS
    version: str = "v1"  # of meta.k8s.io, for a conversion


def _clauses(accept: str) -> list[tuple[str, dict[str, str]]]:
    parsed = []
    for index, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        params = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip()] = value.strip()
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 1.0
        if quality > 0:
            parsed.append((-quality, index, media, params))
    return [(media, params) for _, _, media, params in sorted(parsed)]


ACCEPTED = [JSON, YAML, PROTOBUF]
# The media types with a streaming (watch) framing.
STREAMED = [JSON, PROTOBUF]


def negotiate(accept: str | None, *, stream: bool = False) -> Output:
    """The answer's form for this Accept header (406 if none is acceptable).

    The sandbox writes no protobuf: a client that also accepts JSON gets JSON. A
    watch (`stream`) cannot be YAML, which has no streaming framing.
    """
    if not accept or not accept.strip():
        return Output()
    for media, params in _clauses(accept):
        if media in ("*/*", "application/*"):
            media = JSON
        if media not in (JSON, YAML) or (stream and media == YAML):
            continue
        convert = params.get("as")
        if convert is None:
            return Output(media)
        if convert in CONVERSIONS and params.get("g") == "meta.k8s.io" and params.get("v") in META_VERSIONS:
            return Output(media, convert, params["v"])
    raise errors.not_acceptable(STREAMED if stream else ACCEPTED)


def request_media(content_type: str | None) -> str:
    """The media type of a request body; a missing Content-Type is read as JSON, an unknown one is 415."""
    media = (content_type or "").split(";")[0].strip().lower()
    if not media:
        return JSON
    if media in ACCEPTED:
        return media
    raise errors.unsupported_media_type(ACCEPTED)


def partial(obj: dict, version: str = "v1") -> dict:
    """An object as `PartialObjectMetadata`: its metadata, nothing of its spec, status or data."""
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": obj.get("metadata", {}),
    }


def as_yaml(body: bytes) -> bytes:
    return yaml.safe_dump(orjson.loads(body), sort_keys=False, allow_unicode=True).encode()
