"""The object store of one sandbox cluster: the semantics of kube-apiserver over memory.

One lock guards everything, so the HTTP handlers (on the server's event loop)
and Python callers (tests, the simulator, bulk population) can share a store.
Every change gets the next value of one resourceVersion counter and is kept in
a bounded history, which serves watches resumed from a resourceVersion and
consistent pages of a paginated list; what falls out of the history answers
410 Expired, as compacted etcd revisions do.

The public methods take plain dicts (`create(obj)`, `get(api_version, kind,
name, namespace)`, ...); the server passes the `ResourceType` it routed to.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import heapq
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import errors, strategy
from .errors import ApiError
from .fields import Conflict, Managers, manager_key, user_view
from .patches import json_patch, merge_patch, strategic_merge_patch
from .resources import Registry, ResourceType, builtin_types, crd_types
from .schema import Report, walk
from .selectors import parse_field_selector, parse_label_selector
from .strategy import now
from .watch import Entry, Event, Watcher

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
DEFAULT_HISTORY = 10_000
# The garbage collector's finalizers (metav1.FinalizerDeleteDependents, FinalizerOrphanDependents)
# and the one apiextensions-apiserver puts on a CRD being deleted.
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class WriteOptions:
    """How a write is made; `warnings` and `created` are filled in by the store."""

    manager: str = "sandbox"
    dry_run: bool = False
    validation: str = "Warn"  # Strict | Warn | Ignore
    force: bool = False
    warnings: list[str] = field(default_factory=list)
    created: bool = False


@dataclass
class ListResult:
    entries: list[Entry]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


class _Table:
    """The stored objects of one resource, keyed and ordered by (namespace, name)."""

    __slots__ = ("items", "keys")

    def __init__(self):
        self.items: dict[tuple[str, str], Entry] = {}
        self.keys: list[tuple[str, str]] = []

    def put(self, key: tuple[str, str], entry: Entry) -> None:
        if key not in self.items:
            bisect.insort(self.keys, key)
        self.items[key] = entry

    def pop(self, key: tuple[str, str]) -> None:
        del self.items[key]
        i = bisect.bisect_left(self.keys, key)
        del self.keys[i]

    def range(self, namespace: str | None, start: tuple[str, str] | None) -> Iterable[tuple[str, str]]:
        lo = 0
        hi = len(self.keys)
        if namespace is not None:
            lo = bisect.bisect_left(self.keys, (namespace, ""))
            hi = bisect.bisect_left(self.keys, (namespace + "\x00", ""))
        if start is not None:
            lo = max(lo, bisect.bisect_left(self.keys, start))
        return self.keys[lo:hi]


class Store:
    def __init__(self, history_size: int = DEFAULT_HISTORY):
        self.lock = threading.RLock()
        self.rv = 0
        self.history_size = history_size
        self.history: deque[Event] = deque()
        # Every change with a resourceVersion above the floor is still in the history.
        self.floor = 0
        self.tables: dict[tuple[str, str], _Table] = {}
        self.watchers: set[Watcher] = set()
        self.loop = None  # the serving event loop; watchers are fed there
        self._builtins = builtin_types()
        self.registry = Registry(self._builtins)
        self._random = random.Random()
        # The garbage collector's view: live objects by uid, dependents by owner uid,
        # and the owners whose dependents need another look.
        self._by_uid: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {}
        self._dependents: dict[str, set[tuple[tuple[str, str], tuple[str, str]]]] = {}
        # Owner uids, and (group, plural) of CRDs that may have finished terminating.
        self._pending: deque[str | tuple[str, str]] = deque()
        self._collecting = False
        for name in DEFAULT_NAMESPACES:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    # -- resolution -------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> ResourceType:
        rt = self.registry.for_api_version(api_version, kind)
        if rt is None:
            group = api_version.rpartition("/")[0]
            raise ApiError(
                404,
                "NotFound",
                f'no matches for kind "{kind}" in version "{api_version}"',
                {"group": group, "kind": kind},
            )
        return rt

    def _table(self, rt: ResourceType) -> _Table:
        table = self.tables.get(rt.table_key)
        if table is None:
            table = self.tables[rt.table_key] = _Table()
        return table

    @property
    def resource_version(self) -> int:
        return self.rv

    # -- reads ------------------------------------------------------------------

    def read(self, rt: ResourceType, namespace: str | None, name: str) -> Entry:
        with self.lock:
            entry = self._table(rt).items.get((namespace or "", name))
            if entry is None:
                raise errors.not_found(rt, name)
            return entry

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict:
        rt = self.resource(api_version, kind)
        return self.read(rt, namespace if rt.namespaced else None, name).copy()

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict]:
        rt = self.resource(api_version, kind)
        result = self.query(rt, namespace, label_selector=label_selector, field_selector=field_selector)
        return [e.copy() for e in result.entries]

    def query(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        continue_token: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
    ) -> ListResult:
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, rt.selectable)
        with self.lock:
            table = self._table(rt)
            start: tuple[str, str] | None = None
            at = self.rv
            if continue_token:
                at, start = _decode_continue(continue_token)
                if at < self.floor:
                    raise errors.expired(
                        "The provided continue parameter is too old to display a consistent list result. "
                        "You can start a new list without the continue parameter, or use the continue token "
                        "in this response to retrieve the remainder of the results. Continuing with the "
                        "provided token results in an inconsistent list - objects that were created, "
                        "modified, or deleted between the time the first chunk was returned and now may "
                        "show up in the list.",
                        metadata={"continue": _encode_continue(self.rv, start)},
                    )
            elif resource_version not in (None, "", "0"):
                requested = _parse_rv(resource_version)
                if requested > self.rv:
                    raise errors.too_large_resource_version(requested, self.rv)
                if resource_version_match == "Exact":
                    if requested < self.floor:
                        raise errors.gone_too_old(requested, self.floor + 1)
                    at = requested
            elif resource_version == "0":
                # Served from the watch cache: the whole list, whatever the limit.
                limit = 0
            keys = table.range(namespace, start)
            overlay = self._overlay(rt.table_key, at) if at != self.rv else {}
            if overlay:
                extra = sorted(
                    k for k in overlay if (namespace is None or k[0] == namespace) and (start is None or k >= start)
                )
                keys = _merge_unique(keys, extra)
            out: list[Entry] = []
            last = None
            more = False
            for key in keys:
                entry = overlay[key] if key in overlay else table.items.get(key)
                if entry is None:
                    continue
                if limit and len(out) >= limit:
                    more = True
                    break
                last = key
                obj = entry.obj
                if labels is not None and not labels(obj["metadata"].get("labels") or {}):
                    continue
                if fields is not None and not fields(obj):
                    continue
                out.append(entry)
            result = ListResult(out, at)
            if more and last is not None:
                nxt = (last[0], last[1] + "\x00")
                result.continue_token = _encode_continue(at, nxt)
                if labels is None and fields is None and not overlay:
                    result.remaining = len(table.range(namespace, nxt))
            return result

    def _overlay(self, table: tuple[str, str], at: int) -> dict[tuple[str, str], Entry | None]:
        """How the objects changed since `at` looked at `at` (None: did not exist)."""
        overlay: dict[tuple[str, str], Entry | None] = {}
        for event in reversed(self.history):
            if event.rv <= at:
                break
            if event.table != table:
                continue
            meta = event.entry.obj["metadata"]
            overlay[(meta.get("namespace", ""), meta["name"])] = event.old
        return overlay

    # -- writes -----------------------------------------------------------------

    def create(
        self,
        obj: dict,
        namespace: str | None = None,
        *,
        rt: ResourceType | None = None,
        options: WriteOptions | None = None,
    ) -> dict:
        with self.lock:
            rt = rt or self.resource(obj.get("apiVersion", ""), obj.get("kind", ""))
            if self._terminating(rt):
                raise errors.create_while_terminating(rt)
            out = self._insert(rt, obj, namespace, options or WriteOptions(), None)
            self._collect()
            return out

    def _insert(
        self, rt: ResourceType, obj: dict, namespace: str | None, opts: WriteOptions, applied: Managers | None
    ) -> dict:
        """Create; `applied` is the ownership an apply already computed (else this is an Update)."""
        if rt.virtual:
            raise errors.method_not_allowed()
        body = copy.deepcopy(obj)
        meta = _metadata(body)
        self._place(rt, meta, namespace)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(self._random.choice(_GENERATE_ALPHABET) for _ in range(5))
        body["apiVersion"], body["kind"] = rt.storage_api_version, rt.kind
        if rt.status_subresource and rt.from_crd:
            body.pop("status", None)
        strategy.prepare(rt, body, None)
        body = self._validate(rt, body, opts)
        key = (body["metadata"].get("namespace", ""), body["metadata"]["name"])
        if key in self._table(rt).items:
            raise errors.already_exists(rt, key[1])
        if body["metadata"].get("resourceVersion") and not opts.dry_run:
            # etcd's storage layer refuses this, and the API server reports it as an internal error.
            raise errors.internal_error("resourceVersion should not be set on objects to be created")
        managers = applied
        if managers is None:
            managers = self._managers(body, None)
            managers.update(
                rt.schema,
                {},
                user_view(body),
                manager_key(opts.manager, "Update", "", rt.api_version),
                rt.api_version,
                now(),
                self._ignored(rt, ""),
            )
        meta = body["metadata"]
        for system in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(system, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if strategy.tracks_generation(rt):
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        _set_managed(meta, managers)
        opts.created = True
        if opts.dry_run:
            return strategy.ordered(body)
        entry = self._commit("ADDED", rt, key, strategy.ordered(body), None)
        return entry.copy()

    def update(
        self,
        obj: dict,
        namespace: str | None = None,
        name: str | None = None,
        *,
        rt: ResourceType | None = None,
        subresource: str = "",
        options: WriteOptions | None = None,
    ) -> dict:
        opts = options or WriteOptions()
        with self.lock:
            rt = rt or self.resource(obj.get("apiVersion", ""), obj.get("kind", ""))
            body = copy.deepcopy(obj)
            meta = _metadata(body)
            name = name or meta.get("name") or ""
            namespace = self._scope(rt, namespace if namespace is not None else meta.get("namespace"))
            old = self._table(rt).items.get((namespace or "", name))
            if old is None:
                raise errors.not_found(rt, name)
            if meta.get("name") and meta["name"] != name:  # the handler checks this before the registry
                raise errors.bad_request(
                    f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
                )
            if not meta.get("resourceVersion") and not strategy.allows_unconditional_update(rt):
                raise errors.unconditional_update(rt, name)
            if meta.get("resourceVersion") and meta["resourceVersion"] != old.obj["metadata"]["resourceVersion"]:
                raise errors.conflict(rt, name)
            out = self._replace(rt, old, body, subresource, opts, managers=self._managers(body, old.obj))
            self._collect()
            return out

    def update_status(self, obj: dict, options: WriteOptions | None = None) -> dict:
        return self.update(obj, subresource="status", options=options)

    def patch(
        self,
        api_version: str | None,
        kind: str | None,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = "merge",
        rt: ResourceType | None = None,
        subresource: str = "",
        options: WriteOptions | None = None,
    ) -> dict:
        """Patch types: "merge", "json", "strategic" (core kinds only), "apply"."""
        opts = options or WriteOptions()
        with self.lock:
            rt = rt or self.resource(api_version or "", kind or "")
            namespace = self._scope(rt, namespace)
            old = self._table(rt).items.get((namespace or "", name))
            if patch_type == "apply":
                if old is None and self._terminating(rt):
                    raise errors.create_while_terminating(rt)
                out = self._apply(rt, namespace, name, old, patch, subresource, opts)
                self._collect()
                return out
            if old is None:
                raise errors.not_found(rt, name)
            current = old.copy()
            if patch_type == "json":
                body = json_patch(current, patch)
            elif patch_type in ("merge", "strategic"):
                if not isinstance(patch, dict):
                    raise errors.bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
                body = merge_patch(current, patch) if patch_type == "merge" else strategic_merge_patch(current, patch)
            else:
                raise ValueError(f"unknown patch type {patch_type!r}")
            if not isinstance(body, dict):
                raise errors.bad_request("patched object is not an object")
            meta = _metadata(body)
            if meta.get("resourceVersion") and meta["resourceVersion"] != old.obj["metadata"]["resourceVersion"]:
                raise errors.conflict(rt, name)
            # A patch may rewrite managedFields (kubectl does, moving client-side apply
            # ownership to its server-side apply manager); otherwise they stay.
            out = self._replace(rt, old, body, subresource, opts, managers=self._managers(body, old.obj))
            self._collect()
            return out

    def apply(
        self,
        obj: dict,
        field_manager: str,
        *,
        force: bool = False,
        namespace: str | None = None,
        subresource: str = "",
        dry_run: bool = False,
    ) -> dict:
        opts = WriteOptions(manager=field_manager, force=force, dry_run=dry_run)
        return self.patch(
            obj.get("apiVersion"),
            obj.get("kind"),
            obj.get("metadata", {}).get("name", ""),
            obj,
            namespace if namespace is not None else obj.get("metadata", {}).get("namespace"),
            patch_type="apply",
            subresource=subresource,
            options=opts,
        )

    def delete(
        self,
        api_version: str | None,
        kind: str | None,
        name: str,
        namespace: str | None = None,
        *,
        rt: ResourceType | None = None,
        options: WriteOptions | None = None,
        preconditions: dict | None = None,
        propagation: str | None = None,
    ) -> tuple[dict, bool]:
        """Delete; returns the object and whether it is gone (False: waiting on finalizers).

        propagation: "Background" (the default: dependents are collected after), "Foreground"
        (finalizer `foregroundDeletion` until blocking dependents are gone) or "Orphan"
        (finalizer `orphan` until dependents no longer name this owner).
        """
        opts = options or WriteOptions()
        with self.lock:
            rt = rt or self.resource(api_version or "", kind or "")
            namespace = self._scope(rt, namespace)
            key = (namespace or "", name)
            old = self._table(rt).items.get(key)
            if old is None:
                raise errors.not_found(rt, name)
            meta = old.obj["metadata"]
            for field_name, mine in (("uid", meta.get("uid")), ("resourceVersion", meta.get("resourceVersion"))):
                wanted = (preconditions or {}).get(field_name)
                if wanted and wanted != mine:
                    label = "UID" if field_name == "uid" else "ResourceVersion"
                    raise errors.conflict(
                        rt,
                        name,
                        f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {mine}",
                    )
            if rt.plural == "namespaces" and rt.group == "":
                if name in PROTECTED_NAMESPACES:
                    raise ApiError(
                        403,
                        "Forbidden",
                        f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                        {"name": name, "kind": "namespaces"},
                    )
                terminating = old.copy()
                terminating["metadata"]["deletionTimestamp"] = now()
                terminating["status"] = {"phase": "Terminating"}
                if opts.dry_run:
                    return terminating, False
                self._delete_namespace_contents(name)
                self._remove(rt, key, old)
                self._collect()
                # Answered as Terminating, as the namespace controller finishes at once here.
                return terminating, True
            if rt.group == "apiextensions.k8s.io" and rt.plural == "customresourcedefinitions":
                out = self._delete_crd(rt, key, old, opts)
                return out, False
            out, gone = self._delete_entry(rt, key, old, opts, propagation)
            self._collect()
            return out, gone

    def _delete_entry(
        self, rt: ResourceType, key: tuple[str, str], old: Entry, opts: WriteOptions, propagation: str | None
    ) -> tuple[dict, bool]:
        """Delete one object; no policy keeps the garbage collector's finalizers it already has."""
        meta = old.obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if propagation is not None:
            finalizers = [f for f in finalizers if f not in (FOREGROUND, ORPHAN)]
        if propagation == "Foreground":
            finalizers.append(FOREGROUND)
        elif propagation == "Orphan":
            finalizers.append(ORPHAN)
        if finalizers:
            pending = old.copy()
            pending["metadata"].setdefault("deletionTimestamp", now())
            pending["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            changed = "deletionTimestamp" not in meta or finalizers != (meta.get("finalizers") or [])
            pending["metadata"]["finalizers"] = finalizers
            if opts.dry_run or not changed:
                return pending, False
            if strategy.tracks_generation(rt) and "deletionTimestamp" not in meta:
                pending["metadata"]["generation"] = meta.get("generation", 1) + 1
            pending = strategy.ordered(pending)
            return self._commit("MODIFIED", rt, key, pending, old).copy(), False
        if opts.dry_run:
            return old.copy(), True
        return self._remove(rt, key, old).copy(), True

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        options: WriteOptions | None = None,
        propagation: str | None = None,
    ) -> list[dict]:
        with self.lock:
            result = self.query(rt, namespace, label_selector, field_selector)
            out = []
            for entry in result.entries:
                meta = entry.obj["metadata"]
                obj, _ = self.delete(
                    None, None, meta["name"], meta.get("namespace"), rt=rt, options=options, propagation=propagation
                )
                out.append(obj)
            return out

    # -- watch ------------------------------------------------------------------

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        send_initial_events: bool | None = None,
    ) -> tuple[Watcher, ApiError | None]:
        """Register a watcher. A resourceVersion older than the history gives it an error instead."""
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, rt.selectable)
        with self.lock:
            initial = resource_version in (None, "", "0") if send_initial_events is None else send_initial_events
            if initial or resource_version in (None, "", "0"):
                watcher = Watcher(rt, namespace, labels, fields, self.rv)
                if initial:
                    watcher.initial(self.query(rt, namespace, label_selector, field_selector).entries)
            else:
                since = _parse_rv(resource_version)
                watcher = Watcher(rt, namespace, labels, fields, since)
                if since < self.floor:
                    return watcher, errors.gone_too_old(since, self.floor + 1)
                # Replay what happened since the given version through the same filter.
                for event in self.history:
                    if event.rv > since:
                        watcher.offer(event)
                # Deliveries already queued for those changes must not repeat them; a
                # version from the future starts there.
                watcher.start_rv = max(self.rv, since)
            self.watchers.add(watcher)
            return watcher, None

    def unwatch(self, watcher: Watcher) -> None:
        with self.lock:
            self.watchers.discard(watcher)

    def progress(self, watcher: Watcher, initial_events_end: bool = False) -> None:
        """Queue a bookmark behind every change committed so far."""
        with self.lock:
            rv = self.rv
            self._to_loop(watcher.offer_bookmark, rv, initial_events_end)

    def close_watchers(self, table: tuple[str, str] | None = None) -> int:
        with self.lock:
            chosen = [w for w in self.watchers if table is None or w.table == table]
            for w in chosen:
                self.watchers.discard(w)
                self._to_loop(w.close)
            return len(chosen)

    def compact(self) -> int:
        """Forget the history: older resourceVersions and continue tokens now answer 410."""
        with self.lock:
            self.history.clear()
            self.floor = self.rv
            return self.rv

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "resourceVersion": self.rv,
                "history": {"size": len(self.history), "limit": self.history_size, "oldestResourceVersion": self.floor},
                "watchers": len(self.watchers),
                "objects": {
                    (f"{g}/{p}" if g else p): len(t.items) for (g, p), t in sorted(self.tables.items()) if t.items
                },
            }

    # -- internals --------------------------------------------------------------

    def _to_loop(self, fn: Callable, *args) -> None:
        loop = self.loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop has closed: nobody is watching any more
            pass

    @staticmethod
    def _deliver(event: Event, watchers: tuple[Watcher, ...]) -> None:
        for watcher in watchers:
            watcher.offer(event)

    def _commit(self, type_: str, rt: ResourceType, key: tuple[str, str], obj: dict, old: Entry | None) -> Entry:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        entry = Entry(obj)
        table = self._table(rt)
        if type_ == "DELETED":
            table.pop(key)
        else:
            table.put(key, entry)
        self._index(type_, rt.table_key, key, obj, old.obj if old is not None else None)
        event = Event(type_, self.rv, rt.table_key, entry, old)
        self.history.append(event)
        while len(self.history) > self.history_size:
            self.floor = self.history.popleft().rv
        if self.watchers:
            # The watchers of this moment: one closed right after (its CRD gone) still gets the event.
            self._to_loop(self._deliver, event, tuple(self.watchers))
        if rt.group == "apiextensions.k8s.io" and rt.plural == "customresourcedefinitions":
            self._crds_changed(type_, obj)
        return entry

    def _index(self, type_: str, table: tuple[str, str], key: tuple[str, str], obj: dict, old: dict | None) -> None:
        """Keep the garbage collector's indexes, and queue the owners a change concerns."""
        meta = obj["metadata"]
        uid = meta.get("uid", "")
        if type_ == "DELETED":
            self._by_uid.pop(uid, None)
            if uid in self._dependents:
                self._pending.append(uid)  # its dependents may now be dangling
            if table[0] and table[0] != "apiextensions.k8s.io" and self._crd_for_table(table) is not None:
                self._pending.append(table)  # the last instance of a terminating CRD releases it
        else:
            self._by_uid[uid] = (table, key)
            finalizers = meta.get("finalizers") or ()
            if meta.get("deletionTimestamp") and (FOREGROUND in finalizers or ORPHAN in finalizers):
                self._pending.append(uid)
        before = _owner_uids(old) if old is not None else set()
        after = _owner_uids(obj) if type_ != "DELETED" else set()
        if not before and not after:
            return
        for owner in before - after:
            held = self._dependents.get(owner)
            if held is not None:
                held.discard((table, key))
                if not held:
                    del self._dependents[owner]
        for owner in after - before:
            self._dependents.setdefault(owner, set()).add((table, key))
        # A new reference may point at nothing; a dependent that goes may release an owner
        # waiting in foreground deletion.
        self._pending.extend(before ^ after if type_ != "DELETED" else before)

    def _collect(self) -> None:
        """Run the garbage collector and the CRD finalizer over what the last write queued."""
        if self._collecting:
            return
        self._collecting = True
        try:
            while self._pending:
                item = self._pending.popleft()
                if isinstance(item, tuple):
                    self._finish_crd(item)
                else:
                    self._collect_owner(item)
        finally:
            self._collecting = False

    def _entry_at(self, where: tuple[tuple[str, str], tuple[str, str]]) -> tuple[ResourceType, Entry] | None:
        table_key, key = where
        table = self.tables.get(table_key)
        entry = table.items.get(key) if table is not None else None
        rt = self.registry.storage_type(table_key)
        if entry is None or rt is None:
            return None
        return rt, entry

    def _owner_state(self, ref: dict) -> str:
        """ "absent", "deleting" (waiting for its dependents) or "present"; "unknown" if its kind is not served."""
        if self.registry.for_api_version(ref.get("apiVersion", ""), ref.get("kind", "")) is None:
            return "unknown"
        where = self._by_uid.get(ref.get("uid", ""))
        found = self._entry_at(where) if where is not None else None
        if found is None:
            return "absent"
        meta = found[1].obj["metadata"]
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or ()):
            return "deleting"
        return "present"

    def _collect_owner(self, uid: str) -> None:
        """What kube-controller-manager's garbage collector does about one owner's dependents."""
        where = self._by_uid.get(uid)
        owner = self._entry_at(where) if where is not None else None
        owner_meta = owner[1].obj["metadata"] if owner is not None else {}
        finalizers = owner_meta.get("finalizers") or []
        orphaning = bool(owner_meta.get("deletionTimestamp")) and ORPHAN in finalizers
        blocked = False
        for dep_where in sorted(self._dependents.get(uid, ())):
            found = self._entry_at(dep_where)
            if found is None:
                continue
            dep_rt, dep = found
            refs = dep.obj["metadata"].get("ownerReferences") or []
            if orphaning:
                self._drop_owner_refs(dep_rt, dep_where[1], dep, {uid})
                continue
            states = {r.get("uid"): self._owner_state(r) for r in refs}
            if any(state == "present" or state == "unknown" for state in states.values()):
                # A solid owner remains: the references to owners gone or going are dropped.
                gone = {u for u, state in states.items() if state in ("absent", "deleting")}
                if gone:
                    self._drop_owner_refs(dep_rt, dep_where[1], dep, gone)
                continue
            if all(state == "absent" for state in states.values()):
                self._delete_entry(dep_rt, dep_where[1], dep, WriteOptions(manager="garbage-collector"), None)
                continue
            # Every remaining owner waits in foreground deletion: the dependent goes the same way.
            if not dep.obj["metadata"].get("deletionTimestamp") or FOREGROUND not in (
                dep.obj["metadata"].get("finalizers") or ()
            ):
                policy = "Foreground" if dep.obj["metadata"].get("uid") in self._dependents else "Background"
                self._delete_entry(dep_rt, dep_where[1], dep, WriteOptions(manager="garbage-collector"), policy)
            still = self._entry_at(dep_where)
            if still is not None and any(
                r.get("uid") == uid and r.get("blockOwnerDeletion")
                for r in still[1].obj["metadata"].get("ownerReferences") or []
            ):
                blocked = True
        if owner is None or not owner_meta.get("deletionTimestamp"):
            return
        if orphaning:
            self._drop_finalizer(owner[0], where[1], owner[1], ORPHAN)
        elif FOREGROUND in finalizers and not blocked:
            self._drop_finalizer(owner[0], where[1], owner[1], FOREGROUND)

    def _drop_owner_refs(self, rt: ResourceType, key: tuple[str, str], entry: Entry, uids: set[str]) -> None:
        obj = entry.copy()
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") not in uids]
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        else:
            obj["metadata"].pop("ownerReferences", None)
        self._commit("MODIFIED", rt, key, obj, entry)

    def _drop_finalizer(self, rt: ResourceType, key: tuple[str, str], entry: Entry, finalizer: str) -> None:
        obj = entry.copy()
        left = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        if left:
            obj["metadata"]["finalizers"] = left
            self._commit("MODIFIED", rt, key, obj, entry)
        elif obj["metadata"].get("deletionTimestamp"):
            self._commit("DELETED", rt, key, obj, entry)
        else:
            obj["metadata"].pop("finalizers", None)
            self._commit("MODIFIED", rt, key, obj, entry)

    # -- CustomResourceDefinition deletion ------------------------------------------------

    def _crd_for_table(self, table_key: tuple[str, str]) -> Entry | None:
        crds = self.tables.get(("apiextensions.k8s.io", "customresourcedefinitions"))
        if crds is None or not table_key[0]:
            return None
        return crds.items.get(("", f"{table_key[1]}.{table_key[0]}"))

    def _terminating(self, rt: ResourceType) -> bool:
        if not rt.from_crd:
            return False
        crd = self._crd_for_table(rt.table_key)
        return crd is not None and bool(crd.obj["metadata"].get("deletionTimestamp"))

    def _delete_crd(self, rt: ResourceType, key: tuple[str, str], old: Entry, opts: WriteOptions) -> dict:
        """A CRD is not removed by DELETE: it terminates until its custom resources are gone.

        The registry marks it (deletionTimestamp, finalizer, Terminating condition) and answers
        with it; the CRD finalizer controller then deletes every instance, and removes its
        finalizer once none is left (objects held by their own finalizers hold the CRD).
        """
        pending = old.copy()
        meta = pending["metadata"]
        meta.setdefault("deletionTimestamp", now())
        meta.setdefault("deletionGracePeriodSeconds", 0)
        if CRD_CLEANUP not in (meta.get("finalizers") or []):
            meta["finalizers"] = [*(meta.get("finalizers") or []), CRD_CLEANUP]
        _set_condition(
            pending,
            "Terminating",
            "True",
            "InstanceDeletionPending",
            "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
        )
        pending = strategy.ordered(pending)
        if opts.dry_run:
            return pending
        if pending == old.obj:
            return old.copy()
        answer = self._commit("MODIFIED", rt, key, pending, old).copy()
        spec = pending.get("spec", {})
        table_key = (spec.get("group", ""), spec.get("names", {}).get("plural", ""))
        instances = self.tables.get(table_key)
        instance_rt = self.registry.storage_type(table_key)
        if instances is not None and instance_rt is not None:
            for item_key in list(instances.keys):
                item = instances.items.get(item_key)
                if item is not None:
                    self._delete_entry(instance_rt, item_key, item, WriteOptions(manager="crd-finalizer"), None)
        self._pending.append(table_key)
        self._collect()
        return answer

    def _finish_crd(self, table_key: tuple[str, str]) -> None:
        """The CRD finalizer's last step: once no instance is left, the CRD goes."""
        crd = self._crd_for_table(table_key)
        if crd is None or not crd.obj["metadata"].get("deletionTimestamp"):
            return
        if CRD_CLEANUP not in (crd.obj["metadata"].get("finalizers") or []):
            return
        table = self.tables.get(table_key)
        if table is not None and table.items:
            return
        done = crd.copy()
        _set_condition(done, "Terminating", "False", "InstanceDeletionCompleted", "removed all instances")
        left = [f for f in done["metadata"]["finalizers"] if f != CRD_CLEANUP]
        done["metadata"]["finalizers"] = left
        crd_rt = self.registry.storage_type(("apiextensions.k8s.io", "customresourcedefinitions"))
        self._commit("MODIFIED" if left else "DELETED", crd_rt, ("", done["metadata"]["name"]), done, crd)

    def _remove(self, rt: ResourceType, key: tuple[str, str], old: Entry) -> Entry:
        return self._commit("DELETED", rt, key, old.copy(), old)

    def _delete_namespace_contents(self, namespace: str) -> None:
        for table_key, table in list(self.tables.items()):
            rt = self.registry.storage_type(table_key)
            if rt is None or not rt.namespaced:
                continue
            for key in list(table.range(namespace, None)):
                self._remove(rt, key, table.items[key])

    def _crds_changed(self, type_: str, crd: dict) -> None:
        types = list(self._builtins)
        crd_table = self.tables.get(("apiextensions.k8s.io", "customresourcedefinitions"))
        for entry in crd_table.items.values() if crd_table else []:
            types.extend(crd_types(entry.obj))
        self.registry = Registry(types)
        if type_ == "DELETED":
            spec = crd.get("spec", {})
            table_key = (spec.get("group", ""), spec.get("names", {}).get("plural", ""))
            table = self.tables.get(table_key)
            gone = next(iter(crd_types(crd)), None)
            if table is not None and gone is not None:
                for key in list(table.keys):
                    self._remove(gone, key, table.items[key])
                del self.tables[table_key]
            self.close_watchers(table_key)

    def _scope(self, rt: ResourceType, namespace: str | None) -> str | None:
        if not rt.namespaced:
            return None
        return namespace or "default"

    def _place(self, rt: ResourceType, meta: dict, namespace: str | None) -> None:
        """Settle the namespace of a new object, as the request and the body say."""
        if not rt.namespaced:
            meta.pop("namespace", None)
            return
        if namespace and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        ns = namespace or meta.get("namespace") or "default"
        meta["namespace"] = ns
        if ("", ns) not in self._table(self.registry.lookup("", "v1", "namespaces")).items:
            raise errors.namespace_not_found(ns)

    def _ignored(self, rt: ResourceType, subresource: str) -> set[tuple[str, ...]]:
        """Fields a write through this endpoint cannot set, hence cannot own."""
        if not rt.status_subresource:
            return set()
        return {("f:spec",)} if subresource == "status" else {("f:status",)}

    def _managers(self, body: dict, live: dict | None) -> Managers:
        """A request may carry managedFields: kept if given, `[{}]` clears them."""
        given = body.get("metadata", {}).get("managedFields")
        if given and given != [{}]:
            return Managers(given)
        if given == [{}]:
            return Managers(None)
        return Managers(live["metadata"].get("managedFields") if live else None)

    def _replace(
        self,
        rt: ResourceType,
        old: Entry,
        body: dict,
        subresource: str,
        opts: WriteOptions,
        managers: Managers,
        fields_owned: bool = False,
    ) -> dict:
        """Store `body` as the new version of `old`: the common tail of update, patch and apply."""
        old_obj = old.obj
        name = old_obj["metadata"]["name"]
        meta = _metadata(body)
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != old_obj["metadata"]["namespace"]:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        if subresource == "status":
            status = body.get("status")
            body = copy.deepcopy(old_obj)
            if status is None:
                body.pop("status", None)
            else:
                body["status"] = status
        elif rt.status_subresource:
            if "status" in old_obj:
                body["status"] = copy.deepcopy(old_obj["status"])
            else:
                body.pop("status", None)
        body["apiVersion"], body["kind"] = rt.storage_api_version, rt.kind
        meta = body["metadata"]
        for system in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if system in old_obj["metadata"]:
                meta[system] = old_obj["metadata"][system]
            else:
                meta.pop(system, None)
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = old_obj["metadata"]["namespace"]
        else:
            meta.pop("namespace", None)
        meta["resourceVersion"] = old_obj["metadata"]["resourceVersion"]
        if old_obj["metadata"].get("deletionTimestamp"):
            added = sorted(set(meta.get("finalizers") or ()) - set(old_obj["metadata"].get("finalizers") or ()))
            if added:
                listed = ", ".join(orjson.dumps(f).decode() for f in added)
                raise errors.invalid(
                    rt,
                    name,
                    [
                        {
                            "reason": "FieldValueForbidden",
                            "message": "Forbidden: no new finalizers can be added if the object is being deleted, "
                            f"found new finalizers []string{{{listed}}}",
                            "field": "metadata.finalizers",
                        }
                    ],
                )
        strategy.prepare(rt, body, old_obj)
        body = self._validate(rt, body, opts)
        if not fields_owned:
            managers.update(
                rt.schema,
                user_view(old_obj),
                user_view(body),
                manager_key(opts.manager, "Update", subresource, rt.api_version),
                rt.api_version,
                now(),
                self._ignored(rt, subresource),
            )
        managers.drop_empty()
        meta = body["metadata"]
        _set_managed(meta, managers)
        if strategy.tracks_generation(rt) and strategy.spec_changed(rt, old_obj, body):
            meta["generation"] = old_obj["metadata"].get("generation", 1) + 1
        body = strategy.ordered(body)
        if body == old_obj:
            # A write that changes nothing is not a change: no new resourceVersion, no event.
            return old.copy()
        key = (meta.get("namespace", ""), name)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            if opts.dry_run:
                return body
            return self._remove(rt, key, old).copy()
        if opts.dry_run:
            return body
        return self._commit("MODIFIED", rt, key, body, old).copy()

    def _apply(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        old: Entry | None,
        config: Any,
        subresource: str,
        opts: WriteOptions,
    ) -> dict:
        if not isinstance(config, dict):
            raise errors.bad_request("error decoding YAML: the applied configuration is not an object")
        for required in ("apiVersion", "kind"):
            if not config.get(required):
                raise errors.bad_request(f"invalid object type: {required} must be set")
        if (config.get("apiVersion"), config.get("kind")) != (rt.api_version, rt.kind):
            raise errors.bad_request(
                f"the API version in the data ({config.get('apiVersion')}) does not match the expected "
                f"API version ({rt.api_version})"
                if config.get("apiVersion") != rt.api_version
                else f"the kind in the data ({config.get('kind')}) does not match the expected kind ({rt.kind})"
            )
        config = copy.deepcopy(config)
        meta = _metadata(config)
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        for system in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"):
            if meta.pop(system, None) is not None and system == "managedFields":
                raise errors.bad_request("metadata.managedFields must be nil")
        if subresource == "status":
            config = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "metadata", "status")}
            config["metadata"] = {k: meta[k] for k in ("name", "namespace") if k in meta}
        elif rt.status_subresource:
            config.pop("status", None)
        # Unknown fields in the applied configuration are reported against it,
        # as structured-merge-diff does when it types the patch.
        report = Report(defaults=False)
        config = walk(rt.schema, config, "", report)
        self._unknown_fields(report, opts, applying=True, rt=rt, namespace=namespace, name=name)
        key = manager_key(opts.manager, "Apply", subresource, rt.api_version)
        ignored = self._ignored(rt, subresource)
        if old is None:
            if subresource:
                raise errors.not_found(rt, name)
            managers = Managers(None)
            merged = managers.apply(rt.schema, {}, user_view(config), key, rt.api_version, now(), ignored, True)
            return self._insert(rt, merged, namespace, opts, managers)
        live = old.obj
        managers = Managers(live["metadata"].get("managedFields"))
        try:
            merged = managers.apply(
                rt.schema, user_view(live), user_view(config), key, rt.api_version, now(), ignored, opts.force
            )
        except Conflict as c:
            raise errors.apply_conflict(c.conflicts) from None
        for system in ("uid", "resourceVersion", "creationTimestamp", "generation"):
            if system in live["metadata"]:
                merged["metadata"][system] = live["metadata"][system]
        return self._replace(rt, old, merged, subresource, opts, managers=managers, fields_owned=True)

    def _validate(self, rt: ResourceType, body: dict, opts: WriteOptions) -> dict:
        meta = body["metadata"]
        name = meta.get("name") or ""
        report = Report()
        pruned = walk(rt.schema, body, "", report)
        self._unknown_fields(report, opts, applying=False, rt=rt, namespace=meta.get("namespace"), name=name)
        causes = strategy.metadata_problems(rt, meta) + report.causes
        if causes:
            raise errors.invalid(rt, name, causes)
        return pruned

    def _unknown_fields(
        self, report: Report, opts: WriteOptions, applying: bool, rt: ResourceType, namespace: str | None, name: str
    ) -> None:
        if not report.unknown or opts.validation == "Ignore":
            return
        if opts.validation == "Strict":
            if applying:
                where = f"{namespace}/{name}" if namespace else name
                detail = "\n".join(f".{p}: field not declared in schema" for p in report.unknown)
                raise errors.bad_request(
                    f"failed to create typed patch object ({where}; {rt.api_version}, Kind={rt.kind}): {detail}"
                )
            listed = ", ".join(f'unknown field "{p}"' for p in report.unknown)
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: {listed}'
            )
        opts.warnings.extend(f'unknown field "{p}"' for p in report.unknown)


def _metadata(body: dict) -> dict:
    meta = body.get("metadata")
    if meta is None:
        meta = body["metadata"] = {}
    if not isinstance(meta, dict):
        raise errors.bad_request("metadata must be an object")
    return meta


def _owner_uids(obj: dict) -> set[str]:
    return {r["uid"] for r in obj["metadata"].get("ownerReferences") or () if isinstance(r, dict) and r.get("uid")}


def _set_condition(crd: dict, type_: str, status: str, reason: str, message: str) -> None:
    conditions = crd.setdefault("status", {}).setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == type_:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = now()
            condition.update(status=status, reason=reason, message=message)
            return
    conditions.append(
        {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": now()}
    )


def _set_managed(meta: dict, managers: Managers) -> None:
    entries = managers.entries()
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def _parse_rv(text: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise errors.bad_request(f'invalid resource version: "{text}"') from None
    if value < 0:
        raise errors.bad_request(f'invalid resource version: "{text}"')
    return value


def _encode_continue(rv: int, start: tuple[str, str]) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": rv, "start": f"{start[0]}/{start[1]}"}
    return base64.urlsafe_b64encode(orjson.dumps(token)).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        namespace, _, name = data["start"].partition("/")
        return int(data["rv"]), (namespace, name)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.bad_request("continue key is not valid: invalid continue token") from None


def _merge_unique(a: Iterable, b: Iterable) -> Iterable:
    last = None
    for key in heapq.merge(a, b):
        if key != last:
            yield key
            last = key
