"""The store, schema, selectors, patches and field ownership, without HTTP."""

from __future__ import annotations

import pytest

from vitiweb.sandbox import ApiError, Store, WriteOptions
from vitiweb.sandbox.fields import decode, encode, path_string, to_field_set
from vitiweb.sandbox.loader import load, load_crds
from vitiweb.sandbox.patches import json_patch, merge_patch
from vitiweb.sandbox.populate import populate
from vitiweb.sandbox.sandbox import DEFAULT_CRDS_DIR
from vitiweb.sandbox.schema import Report, compile_root, walk
from vitiweb.sandbox.selectors import parse_label_selector
from vitiweb.sandbox.tables import human_duration, json_path

GV = "vitistack.io/v1alpha1"


@pytest.fixture
def store():
    s = Store()
    load_crds(s, DEFAULT_CRDS_DIR)
    return s


def provider(name="p", namespace="default", **spec):
    return {
        "apiVersion": GV,
        "kind": "MachineProvider",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "aws", **spec},
    }


def test_resource_version_is_one_counter_and_noop_writes_do_not_bump_it(store):
    a = store.create(provider("a"))
    b = store.create(provider("b"))
    assert int(b["metadata"]["resourceVersion"]) == int(a["metadata"]["resourceVersion"]) + 1
    rv = store.resource_version
    same = store.update(store.get(GV, "MachineProvider", "a", "default"))
    assert same["metadata"]["resourceVersion"] == a["metadata"]["resourceVersion"]
    assert store.resource_version == rv


def test_generation_counts_spec_changes_only(store):
    store.create(provider())
    store.patch(GV, "MachineProvider", "p", {"metadata": {"labels": {"a": "b"}}}, "default")
    store.patch(GV, "MachineProvider", "p", {"status": {"phase": "Ready"}}, "default", subresource="status")
    assert store.get(GV, "MachineProvider", "p", "default")["metadata"]["generation"] == 1
    store.patch(GV, "MachineProvider", "p", {"spec": {"region": "x"}}, "default")
    assert store.get(GV, "MachineProvider", "p", "default")["metadata"]["generation"] == 2


def test_managed_fields_of_an_update_use_dot_entries(store):
    obj = store.create(provider(region="r"), options=WriteOptions(manager="kubectl-create"))
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl-create" and entry["operation"] == "Update"
    assert entry["fieldsV1"] == {"f:spec": {".": {}, "f:region": {}, "f:type": {}}}


def test_fields_v1_round_trip_and_paths():
    paths = {
        ("f:spec",),
        ("f:spec", "f:a"),
        ("f:spec", "f:list", 'k:{"name":"x"}'),
        ("f:spec", "f:list", 'k:{"name":"x"}', "f:name"),
    }
    encoded = encode(paths)
    assert encoded == {"f:spec": {".": {}, "f:a": {}, "f:list": {'k:{"name":"x"}': {".": {}, "f:name": {}}}}}
    assert decode(encoded) == paths
    assert path_string(("f:spec", "f:list", 'k:{"name":"x"}', "f:name")) == '.spec.list[name="x"].name'
    assert path_string(("f:metadata", "f:finalizers", 'v:"a"')) == '.metadata.finalizers[="a"]'


def test_applied_field_set_follows_list_types(store):
    rt = store.resource(GV, "Machine")
    applied = to_field_set(
        rt.schema,
        {
            "apiVersion": GV,
            "kind": "Machine",
            "metadata": {"name": "m", "labels": {"a": "b"}},
            "spec": {"sshKeys": [{"name": "k", "publicKey": "x"}], "networking": {"securityGroups": ["a", "b"]}},
        },
    )
    assert ("f:metadata", "f:labels", "f:a") in applied
    assert ("f:spec", "f:sshKeys", 'k:{"name":"k"}', "f:publicKey") in applied
    assert ("f:spec", "f:networking", "f:securityGroups") in applied  # an atomic list is one field
    assert ("f:metadata", "f:name") not in applied


def test_apply_merges_map_lists_by_key(store):
    base = {
        "apiVersion": GV,
        "kind": "Machine",
        "metadata": {"name": "m", "namespace": "default"},
        "spec": {"machineProvider": {"name": "p"}, "sshKeys": [{"name": "a", "publicKey": "1"}]},
    }
    store.apply(base, "alice")
    other = {
        "apiVersion": GV,
        "kind": "Machine",
        "metadata": {"name": "m", "namespace": "default"},
        "spec": {"sshKeys": [{"name": "b", "publicKey": "2"}]},
    }
    merged = store.apply(other, "bob")
    assert [k["name"] for k in merged["spec"]["sshKeys"]] == ["a", "b"]


def test_apply_prunes_only_what_nobody_else_owns(store):
    def labels(manager, values):
        return store.apply(
            {
                "apiVersion": GV,
                "kind": "MachineProvider",
                "metadata": {"name": "p", "namespace": "default", "labels": values},
                "spec": {"type": "aws"},
            },
            manager,
        )

    labels("alice", {"a": "1", "shared": "x"})
    labels("bob", {"b": "2", "shared": "x"})
    after = labels("alice", {})
    assert after["metadata"]["labels"] == {"b": "2", "shared": "x"}
    assert labels("bob", {})["metadata"].get("labels") is None  # empty metadata maps are omitted


def test_create_refusals(store):
    with pytest.raises(ApiError) as err:
        store.create({**provider(), "metadata": {"name": "p", "namespace": "default", "resourceVersion": "5"}})
    assert err.value.code == 500 and "resourceVersion should not be set" in err.value.message
    with pytest.raises(ApiError) as err:
        store.delete("v1", "Namespace", "default")
    assert err.value.code == 403


def test_optimistic_concurrency(store):
    created = store.create(provider())
    store.patch(GV, "MachineProvider", "p", {"spec": {"region": "x"}}, "default")
    with pytest.raises(ApiError) as err:
        store.update(created)
    assert err.value.code == 409 and err.value.reason == "Conflict"


def test_schema_messages_and_pruning():
    node = compile_root(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "integer", "maximum": 5},
                        "mode": {"type": "string", "enum": ["a", "b"]},
                        "port": {"x-kubernetes-int-or-string": True},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "name": {"type": "string", "pattern": "^[a-z]+$", "default": "def"},
                    },
                }
            },
        }
    )
    report = Report()
    out = walk(node, {"spec": {"size": 9, "mode": "c", "port": "http", "extra": {"any": 1}, "junk": 1}}, "", report)
    assert out["spec"] == {"size": 9, "mode": "c", "port": "http", "extra": {"any": 1}, "name": "def"}
    assert report.unknown == ["spec.junk"]
    assert [(c["field"], c["message"]) for c in report.causes] == [
        ("spec.size", "Invalid value: 9: spec.size in body should be less than or equal to 5"),
        ("spec.mode", 'Unsupported value: "c": supported values: "a", "b"'),
    ]
    report = Report()
    walk(node, {"spec": {"port": 1.5, "name": "UP"}}, "", report)
    assert {c["reason"] for c in report.causes} == {"FieldValueTypeInvalid", "FieldValueInvalid", "FieldValueRequired"}


def test_label_selector_errors_are_bad_requests():
    with pytest.raises(ApiError) as err:
        parse_label_selector("a in (b")
    assert err.value.code == 400
    assert parse_label_selector("a, b notin (c), !d")({"a": "1", "b": "x"})


def test_patches():
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": None}, "e": [1]}) == {
        "a": {"c": 2},
        "d": 1,
        "e": [1],
    }
    doc = {"a": [1, 2], "b": {"c": 1}}
    assert json_patch(
        doc,
        [
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "move", "from": "/b/c", "path": "/d"},
            {"op": "copy", "from": "/d", "path": "/e"},
            {"op": "remove", "path": "/a/0"},
        ],
    ) == {"a": [2, 3], "b": {}, "d": 1, "e": 1}
    assert doc == {"a": [1, 2], "b": {"c": 1}}


def test_crd_validation_and_cluster_scope(store):
    with pytest.raises(ApiError) as err:
        store.create(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "wrong"},
                "spec": {
                    "group": "x.io",
                    "scope": "Everywhere",
                    "names": {"plural": "things", "kind": "Thing"},
                    "versions": [
                        {
                            "name": "v1",
                            "served": True,
                            "storage": True,
                            "schema": {"openAPIV3Schema": {"type": "object"}},
                        }
                    ],
                },
            }
        )
    assert {c["field"] for c in err.value.details["causes"]} == {"spec.scope", "metadata.name"}


def test_watch_from_before_the_history_window_is_expired():
    small = Store(history_size=2)
    load_crds(small, DEFAULT_CRDS_DIR)
    for i in range(4):
        small.create(provider(f"p{i}"))
    rt = small.resource(GV, "MachineProvider")
    watcher, expired = small.watch(rt, None, resource_version="1")
    assert expired is not None and expired.code == 410


def test_table_helpers():
    assert [human_duration(s) for s in (5, 150, 700, 3 * 3600 + 60, 50 * 3600, 9 * 86400)] == [
        "5s",
        "2m30s",
        "11m",
        "3h1m",
        "2d2h",
        "9d",
    ]
    obj = {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Healthy", "status": "True"}]}}
    assert json_path(obj, '.status.conditions[?(@.type=="Healthy")].status') == ["True"]
    assert json_path(obj, ".status.conditions[*].type") == ["Ready", "Healthy"]


def test_loader_creates_namespaces_and_skips_unknown_kinds(store, tmp_path):
    (tmp_path / "a.yaml").write_text(
        "apiVersion: vitistack.io/v1alpha1\nkind: MachineProvider\nmetadata: {name: p, namespace: far}\nspec: {type: aws}\n"
        "---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: s}\n"
        "---\napiVersion: vitistack.io/v1alpha1\nkind: Machine\nmetadata: {name: m}\nspec: {}\n"
    )
    warnings = []
    report = load(store, tmp_path, warn=warnings.append)
    assert report.loaded == ["MachineProvider/p"] and len(report.skipped) == 1 and len(report.failed) == 1
    assert "ServiceMonitor" in warnings[0] and "spec.machineProvider" in warnings[1]
    assert store.get("v1", "Namespace", "far")["status"]["phase"] == "Active"


def test_populate_is_quick_and_consistent(store):
    result = populate(store, vitistacks=10, machine_providers=20, kubernetes_providers=5, machines=500)
    assert result["created"] == {"MachineProvider": 20, "KubernetesProvider": 5, "Vitistack": 10, "Machine": 500}
    assert result["seconds"] < 5
    assert len(store.list(GV, "Machine", label_selector="vitistack.io/generated=true")) == 500
