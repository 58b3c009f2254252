"""Stored entries, change events and watchers.

An `Entry` is one stored version of an object; it never changes once stored, so
its JSON is encoded at most once and shared by every list, get and watch that
sends it. A `Watcher` receives every event of its resource on the server's event
loop, filters it, and buffers newline-delimited JSON lines for the HTTP stream.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import orjson

from .resources import ResourceType


class Entry:
    __slots__ = ("obj", "_raw")

    def __init__(self, obj: dict):
        self.obj = obj
        self._raw: bytes | None = None

    def raw(self) -> bytes:
        raw = self._raw
        if raw is None:
            raw = self._raw = orjson.dumps(self.obj)
        return raw

    def copy(self) -> dict:
        return orjson.loads(self.raw())

    @property
    def namespace(self) -> str:
        return self.obj["metadata"].get("namespace", "")


def entry_bytes(entry: Entry, rt: ResourceType) -> bytes:
    """The object as served at `rt`'s version (all versions share storage: conversion None)."""
    if rt.version == rt.storage_version:
        return entry.raw()
    return orjson.dumps({**entry.obj, "apiVersion": rt.api_version})


class Event:
    __slots__ = ("type", "rv", "table", "entry", "old", "_line")

    def __init__(self, type_: str, rv: int, table: tuple[str, str], entry: Entry, old: Entry | None):
        self.type = type_
        self.rv = rv
        self.table = table
        self.entry = entry  # the object after the change (for DELETED: as deleted)
        self.old = old  # the object before the change (None for ADDED)
        self._line: bytes | None = None

    def line(self) -> bytes:
        line = self._line
        if line is None:
            line = self._line = _line(self.type, self.entry.raw())
        return line


def _line(type_: str, raw: bytes) -> bytes:
    return b'{"type":"' + type_.encode() + b'","object":' + raw + b"}\n"


Matcher = Callable[[dict], bool]


class Watcher:
    """One watch stream's filter and buffer; fed on the event loop, drained by the handler."""

    def __init__(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: Matcher | None,
        fields: Matcher | None,
        start_rv: int,
    ):
        self.rt = rt
        self.table = rt.table_key
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.start_rv = start_rv
        self.buffer: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.closed = False
        self._same_version = rt.version == rt.storage_version

    def _matches(self, obj: dict) -> bool:
        if self.labels is not None and not self.labels(obj["metadata"].get("labels") or {}):
            return False
        if self.fields is not None and not self.fields(obj):
            return False
        return True

    def _encode(self, type_: str, entry: Entry, event: Event | None = None) -> bytes:
        if self._same_version:
            if event is not None and event.type == type_:
                return event.line()
            return _line(type_, entry.raw())
        return _line(type_, entry_bytes(entry, self.rt))

    def initial(self, entries: list[Entry]) -> None:
        for entry in entries:
            self.buffer.append(self._encode("ADDED", entry))

    def offer(self, event: Event) -> None:
        if self.closed or event.table != self.table or event.rv <= self.start_rv:
            return
        if self.namespace is not None and event.entry.namespace != self.namespace:
            return
        if self.labels is None and self.fields is None:
            self.buffer.append(self._encode(event.type, event.entry, event))
        else:
            now = self._matches(event.entry.obj)
            if event.type == "MODIFIED":
                before = event.old is not None and self._matches(event.old.obj)
                # A change that moves an object into or out of the selection is
                # seen as ADDED or DELETED, as the watch cache reports it.
                type_ = "MODIFIED" if now and before else "ADDED" if now else "DELETED" if before else None
            else:
                type_ = event.type if now else None
            if type_ is None:
                return
            self.buffer.append(self._encode(type_, event.entry, event))
        self.wake.set()

    def offer_bookmark(self, rv: int, initial_events_end: bool = False) -> None:
        if self.closed:
            return
        meta: dict = {"resourceVersion": str(rv)}
        if initial_events_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": meta}
        self.buffer.append(_line("BOOKMARK", orjson.dumps(obj)))
        self.wake.set()

    def offer_error(self, status: dict) -> None:
        self.buffer.append(_line("ERROR", orjson.dumps(status)))
        self.closed = True
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    def drain(self) -> bytes:
        lines = self.buffer
        self.buffer = deque()
        return b"".join(lines)
