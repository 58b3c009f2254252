"""Field ownership (`metadata.managedFields`) and server-side apply.

This follows sigs.k8s.io/structured-merge-diff, the library kube-apiserver uses:

* a field set is a set of paths; a path is a tuple of elements written as in
  `fieldsV1` (`f:name`, `k:{"name":"x"}` for an item of a map-typed list,
  `v:"x"` for a set member);
* `to_field_set` is what an applied configuration owns; `compare` yields the
  added/modified/removed paths between two objects (a map or list item that
  appears is itself "added", which is where the `.` entries of Update
  managers come from);
* an Update (create, PUT, merge/JSON patch) takes ownership of whatever it
  changed and takes it away from the others; an Apply owns exactly its
  configuration, conflicts with other owners of fields it would change, and
  removes fields it applied before, no longer applies, and nobody else owns.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from .schema import Node

Path = tuple[str, ...]
MISSING = object()

# Paths never tracked: the system keeps them (structured-merge-diff's strip set).
_STRIPPED: set[Path] = {
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata",),
    ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"),
    ("f:metadata", "f:creationTimestamp"),
    ("f:metadata", "f:selfLink"),
    ("f:metadata", "f:uid"),
    ("f:metadata", "f:generation"),
    ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:resourceVersion"),
}
_SYSTEM_META = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def user_view(obj: dict) -> dict:
    """The object without the system-owned metadata that no manager can own."""
    out = dict(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {k: v for k, v in meta.items() if k not in _SYSTEM_META}
    return out


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _item_element(node: Node, item: Any, index: int) -> str:
    if node.list_type == "map" and isinstance(item, dict) and node.map_keys:
        return "k:" + _json({k: item[k] for k in node.map_keys if k in item})
    if node.list_type == "set":
        return "v:" + _json(item)
    return f"i:{index}"


def _granular(node: Node, value: Any) -> bool:
    if isinstance(value, dict):
        return not node.map_atomic
    if isinstance(value, list):
        return node.list_type in ("map", "set")
    return False


def to_field_set(node: Node, obj: dict) -> set[Path]:
    out: set[Path] = set()
    _fs_map(node, obj, (), out)
    return out - _STRIPPED


def _fs_value(node: Node, value: Any, path: Path, out: set[Path]) -> None:
    if isinstance(value, dict):
        if node.map_atomic:
            out.add(path)
        else:
            _fs_map(node, value, path, out)
    elif isinstance(value, list):
        if node.list_type in ("map", "set"):
            element = node.element()
            for i, item in enumerate(value):
                item_path = path + (_item_element(node, item, i),)
                _fs_value(element, item, item_path, out)
                out.add(item_path)
        else:
            out.add(path)
    else:
        out.add(path)


def _fs_map(node: Node, value: dict, path: Path, out: set[Path]) -> None:
    for key, child in value.items():
        child_path = path + ("f:" + key,)
        _fs_value(node.child(key), child, child_path, out)
        if child is None or (isinstance(child, dict) and not child) or not node.declares(key):
            out.add(child_path)


class Comparison:
    __slots__ = ("added", "modified", "removed")

    def __init__(self):
        self.added: set[Path] = set()
        self.modified: set[Path] = set()
        self.removed: set[Path] = set()

    def changed(self) -> set[Path]:
        return self.added | self.modified


def compare(node: Node, old: dict, new: dict) -> Comparison:
    c = Comparison()
    _cmp_children(node, old, new, (), c)
    for s in (c.added, c.modified, c.removed):
        s -= _STRIPPED
    return c


def _cmp_children(node: Node, lhs: Any, rhs: Any, path: Path, c: Comparison) -> None:
    sample = rhs if rhs is not MISSING else lhs
    if isinstance(sample, dict):
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        for key in list(lmap) + [k for k in rmap if k not in lmap]:
            _cmp(node.child(key), lmap.get(key, MISSING), rmap.get(key, MISSING), path + ("f:" + key,), c)
    else:
        element = node.element()
        litems = _items(node, lhs) if isinstance(lhs, list) else {}
        ritems = _items(node, rhs) if isinstance(rhs, list) else {}
        for pe in list(litems) + [p for p in ritems if p not in litems]:
            _cmp(element, litems.get(pe, MISSING), ritems.get(pe, MISSING), path + (pe,), c)


def _items(node: Node, value: list) -> dict[str, Any]:
    return {_item_element(node, item, i): item for i, item in enumerate(value)}


def _cmp(node: Node, lhs: Any, rhs: Any, path: Path, c: Comparison) -> None:
    both_maps = isinstance(lhs, dict) and isinstance(rhs, dict)
    both_lists = isinstance(lhs, list) and isinstance(rhs, list)
    if (both_maps or both_lists) and _granular(node, rhs):
        _cmp_children(node, lhs, rhs, path, c)
        return
    if lhs is MISSING:
        if _granular(node, rhs):
            _cmp_children(node, MISSING, rhs, path, c)
        c.added.add(path)
    elif rhs is MISSING:
        if _granular(node, lhs):
            _cmp_children(node, lhs, MISSING, path, c)
        c.removed.add(path)
    elif lhs != rhs or type(lhs) is not type(rhs):
        c.modified.add(path)


def merge(node: Node, live: Any, config: Any) -> Any:
    """The apply merge: the configuration's fields win; the rest of the live object stays."""
    if config is MISSING:
        return live
    if live is MISSING:
        return copy.deepcopy(config)
    if isinstance(live, dict) and isinstance(config, dict) and not node.map_atomic:
        out = dict(live)
        for key, value in config.items():
            out[key] = merge(node.child(key), live.get(key, MISSING), value)
        return out
    if isinstance(live, list) and isinstance(config, list) and node.list_type in ("map", "set"):
        element = node.element()
        wanted = _items(node, config)
        out = []
        seen = set()
        for i, item in enumerate(live):
            pe = _item_element(node, item, i)
            seen.add(pe)
            out.append(merge(element, item, wanted[pe]) if pe in wanted else item)
        out.extend(copy.deepcopy(item) for pe, item in wanted.items() if pe not in seen)
        return out
    return copy.deepcopy(config)


def remove_paths(node: Node, obj: dict, paths: Iterable[Path]) -> dict:
    """Remove each path (and what is under it) from a copy of `obj`."""
    out = copy.deepcopy(obj)
    for path in sorted(paths, key=len, reverse=True):
        _remove(node, out, path)
    return out


def _remove(node: Node, container: Any, path: Path) -> None:
    for depth, element in enumerate(path):
        last = depth == len(path) - 1
        if element.startswith("f:") and isinstance(container, dict):
            key = element[2:]
            if key not in container:
                return
            if last:
                del container[key]
                return
            node, container = node.child(key), container[key]
        elif isinstance(container, list):
            hit = next((i for i, item in enumerate(container) if _item_element(node, item, i) == element), None)
            if hit is None:
                return
            if last:
                del container[hit]
                return
            node, container = node.element(), container[hit]
        else:
            return


# -- fieldsV1 encoding ---------------------------------------------------------


def encode(paths: set[Path]) -> dict:
    tree: dict = {}
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        node["."] = {}
    return _finish(tree)


def _finish(tree: dict) -> dict:
    # A member with children is written with a "." entry; a leaf member is just {}.
    out = {}
    for key, sub in sorted(tree.items()):
        if key == ".":
            continue
        children = _finish(sub)
        if "." in sub and children:
            out[key] = {".": {}, **children}
        else:
            out[key] = children
    return out


def decode(fields: dict, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in (fields or {}).items():
        if key == ".":
            out.add(prefix)
            continue
        path = prefix + (key,)
        if not sub:
            out.add(path)
        else:
            out |= decode(sub, path)
    return out


def path_string(path: Path) -> str:
    """A path as conflict messages print it: `.spec.vpcs[name="a"].cidr`."""
    parts = []
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            parts.append("." + rest)
        elif kind == "k":
            keys = json.loads(rest)
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
        elif kind == "v":
            parts.append("[=" + rest + "]")
        else:
            parts.append(f"[{rest}]")
    return "".join(parts)


def within(path: Path, roots: set[Path]) -> bool:
    return any(path[: len(r)] == r for r in roots)


# -- managers ------------------------------------------------------------------

ManagerKey = tuple[str, str, str, str]  # manager, operation, subresource, apiVersion (Update only)


class Conflict(Exception):
    def __init__(self, conflicts: list[tuple[ManagerKey, Path]]):
        super().__init__("apply conflict")
        self.conflicts = conflicts


def manager_key(manager: str, operation: str, subresource: str, api_version: str) -> ManagerKey:
    # Appliers keep one entry across versions; updaters get one per version.
    return (manager, operation, subresource, api_version if operation == "Update" else "")


class Managers:
    """The decoded `managedFields` of one object: manager -> (apiVersion, time, field set)."""

    def __init__(self, entries: list[dict] | None):
        self.sets: dict[ManagerKey, set[Path]] = {}
        self.meta: dict[ManagerKey, dict[str, str]] = {}
        for entry in entries or []:
            if not isinstance(entry, dict) or not (entry.get("manager") or entry.get("operation")):
                continue
            key = manager_key(
                entry.get("manager", ""),
                entry.get("operation", "Update"),
                entry.get("subresource", ""),
                entry.get("apiVersion", ""),
            )
            self.sets[key] = decode(entry.get("fieldsV1") or {})
            self.meta[key] = {"apiVersion": entry.get("apiVersion", ""), "time": entry.get("time", "")}

    def entries(self) -> list[dict]:
        out = []
        for key, paths in self.sets.items():
            if not paths:
                continue
            manager, operation, subresource, _ = key
            entry = {
                "manager": manager,
                "operation": operation,
                "apiVersion": self.meta[key]["apiVersion"],
                "time": self.meta[key]["time"],
                "fieldsType": "FieldsV1",
                "fieldsV1": encode(paths),
            }
            if subresource:
                entry["subresource"] = subresource
            out.append(entry)
        # kube-apiserver's order: operation, then time, then manager name.
        out.sort(key=lambda e: (e["operation"], e["time"], e["manager"], e["apiVersion"], e.get("subresource", "")))
        return out

    def _set_owner(self, key: ManagerKey, paths: set[Path], api_version: str, now: str) -> None:
        if self.sets.get(key) != paths:
            self.meta[key] = {"apiVersion": api_version, "time": now}
        else:
            self.meta.setdefault(key, {"apiVersion": api_version, "time": now})
            self.meta[key]["apiVersion"] = api_version
        self.sets[key] = paths

    def _take_away(self, key: ManagerKey, comparison: Comparison, force: bool) -> list[tuple[ManagerKey, Path]]:
        changed = comparison.changed()
        conflicts = []
        for other, paths in self.sets.items():
            if other == key:
                continue
            for path in sorted(paths & changed):
                conflicts.append((other, path))
        if conflicts and not force:
            raise Conflict(conflicts)
        for other in list(self.sets):
            if other == key:
                continue
            self.sets[other] = self.sets[other] - changed - comparison.removed
        return conflicts

    def update(
        self, node: Node, old: dict, new: dict, key: ManagerKey, api_version: str, now: str, ignored: set[Path]
    ) -> None:
        comparison = compare(node, old, new)
        _drop_ignored(comparison, ignored)
        self._take_away(key, comparison, force=True)
        mine = (self.sets.get(key, set()) | comparison.changed()) - comparison.removed
        self._set_owner(key, {p for p in mine if not within(p, ignored)}, api_version, now)

    def apply(
        self,
        node: Node,
        live: dict,
        config: dict,
        key: ManagerKey,
        api_version: str,
        now: str,
        ignored: set[Path],
        force: bool,
    ) -> dict:
        """Merge `config` into `live`, prune what this applier dropped, and re-own; returns the object."""
        applied = {p for p in to_field_set(node, config) if not within(p, ignored)}
        previous = self.sets.get(key, set())
        merged = merge(node, live, config)
        others: set[Path] = set()
        for other, paths in self.sets.items():
            if other != key:
                others |= paths
        dropped = {p for p in previous - applied if not _owned_at_or_below(p, others | applied)}
        if dropped:
            merged = remove_paths(node, merged, dropped)
        comparison = compare(node, live, merged)
        _drop_ignored(comparison, ignored)
        self._take_away(key, comparison, force)
        self._set_owner(key, applied, api_version, now)
        return merged

    def drop_empty(self) -> None:
        for key in [k for k, v in self.sets.items() if not v]:
            del self.sets[key]


def _owned_at_or_below(path: Path, owned: set[Path]) -> bool:
    n = len(path)
    return any(p[:n] == path for p in owned)


def _drop_ignored(comparison: Comparison, ignored: set[Path]) -> None:
    if not ignored:
        return
    for s in (comparison.added, comparison.modified, comparison.removed):
        for p in [p for p in s if within(p, ignored)]:
            s.discard(p)
