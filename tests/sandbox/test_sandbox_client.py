"""The sandbox as the official Python client sees it, over real HTTP."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from kubernetes import client, watch

from vitiweb.sandbox import Rule, Token

from .conftest import api_client

G, V = "vitistack.io", "v1alpha1"
APPLY = "application/apply-patch+yaml"


def machine(name, namespace="production", **spec):
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "Machine",
        "metadata": {"name": name, "namespace": namespace, "labels": {"tier": "web"}},
        "spec": {"machineProvider": {"name": "aws-ec2-provider"}, **spec},
    }


@pytest.fixture
def prod(sandbox):
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    return sandbox


@pytest.fixture
def co(k8s):
    return client.CustomObjectsApi(k8s)


def raw(sandbox, method, path, **kw):
    return requests.request(method, sandbox.url + path, timeout=10, **kw)


def test_paginated_list_is_a_consistent_snapshot(prod, co):
    for i in range(25):
        prod.store.create(machine(f"m-{i:02d}"))
    first = co.list_namespaced_custom_object(G, V, "production", "machines", limit=10)
    assert len(first["items"]) == 10
    assert first["metadata"]["remainingItemCount"] == 15
    # Changes after the first page must not show up in its continuation.
    prod.store.create(machine("m-99"))
    prod.store.delete(f"{G}/{V}", "Machine", "m-20", "production")
    names = [o["metadata"]["name"] for o in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        page = co.list_namespaced_custom_object(G, V, "production", "machines", limit=10, _continue=token)
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
    assert names == [f"m-{i:02d}" for i in range(25)]


def test_watch_resumes_from_a_resource_version(prod, co):
    prod.store.create(machine("a"))
    prod.store.create(machine("b"))
    rv = co.list_namespaced_custom_object(G, V, "production", "machines")["metadata"]["resourceVersion"]
    co.patch_namespaced_custom_object(
        G,
        V,
        "production",
        "machines",
        "a",
        {"spec": {"instanceType": "m5.large"}},
        _content_type="application/merge-patch+json",
    )
    prod.store.create(machine("c"))
    prod.store.delete(f"{G}/{V}", "Machine", "b", "production")
    seen = []
    for event in watch.Watch().stream(
        co.list_namespaced_custom_object, G, V, "production", "machines", resource_version=rv, timeout_seconds=1
    ):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
    assert seen == [("MODIFIED", "a"), ("ADDED", "c"), ("DELETED", "b")]


def test_watch_without_resource_version_starts_with_synthetic_added(prod, co):
    prod.store.create(machine("a"))
    prod.store.create(machine("b", namespace="default"))
    seen = [
        (e["type"], e["object"]["metadata"]["name"])
        for e in watch.Watch().stream(co.list_cluster_custom_object, G, V, "machines", timeout_seconds=1)
    ]
    assert seen == [("ADDED", "b"), ("ADDED", "a")]  # all namespaces, in key order


def test_watch_older_than_history_gets_expired_error_in_stream(sandbox_factory, tmp_path):
    sb = sandbox_factory(history_size=3)
    sb.store.create(machine("a", namespace="default"))
    old = sb.store.resource_version
    for i in range(5):
        sb.store.patch(f"{G}/{V}", "Machine", "a", {"metadata": {"labels": {"n": str(i)}}}, "default")
    resp = raw(sb, "GET", f"/apis/{G}/{V}/namespaces/default/machines?watch=1&resourceVersion={old}", stream=True)
    assert resp.status_code == 200
    events = [json.loads(line) for line in resp.iter_lines() if line]
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Expired", 410)
    assert status["message"].startswith(f"too old resource version: {old} (")

    api = client.CustomObjectsApi(api_client(sb.write_kubeconfig(tmp_path / "kubeconfig")))
    with pytest.raises(client.ApiException) as err:
        for _ in watch.Watch().stream(
            api.list_namespaced_custom_object, G, V, "default", "machines", resource_version=str(old), timeout_seconds=1
        ):
            pass
    assert err.value.status == 410


def test_continue_token_expires_when_history_is_compacted(prod, co):
    for i in range(5):
        prod.store.create(machine(f"m-{i}"))
    first = co.list_namespaced_custom_object(G, V, "production", "machines", limit=2)
    prod.store.create(machine("m-late"))
    prod.faults.compact()
    with pytest.raises(client.ApiException) as err:
        co.list_namespaced_custom_object(
            G, V, "production", "machines", limit=2, _continue=first["metadata"]["continue"]
        )
    body = json.loads(err.value.body)
    assert err.value.status == 410 and body["reason"] == "Expired"
    assert body["metadata"]["continue"]  # the inconsistent-continuation token, as kube-apiserver offers


def test_server_side_apply_conflict_and_force(prod, co):
    body = machine("web-1", instanceType="m5.large")
    prod.store.apply(body, "alice")
    body["spec"]["instanceType"] = "m5.xlarge"
    with pytest.raises(client.ApiException) as err:
        co.patch_namespaced_custom_object(
            G, V, "production", "machines", "web-1", body, field_manager="bob", _content_type=APPLY
        )
    status = json.loads(err.value.body)
    assert err.value.status == 409 and status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "alice": .spec.instanceType'
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".spec.instanceType"}
    ]
    # The same value is no conflict: both own it.
    body["spec"]["instanceType"] = "m5.large"
    shared = co.patch_namespaced_custom_object(
        G, V, "production", "machines", "web-1", body, field_manager="bob", _content_type=APPLY
    )
    owners = {m["manager"]: m for m in shared["metadata"]["managedFields"]}
    assert "f:instanceType" in owners["alice"]["fieldsV1"]["f:spec"]
    assert "f:instanceType" in owners["bob"]["fieldsV1"]["f:spec"]
    body["spec"]["instanceType"] = "m5.xlarge"
    forced = co.patch_namespaced_custom_object(
        G, V, "production", "machines", "web-1", body, field_manager="bob", force=True, _content_type=APPLY
    )
    assert forced["spec"]["instanceType"] == "m5.xlarge"
    owners = {m["manager"]: m for m in forced["metadata"]["managedFields"]}
    assert "f:instanceType" not in owners["alice"]["fieldsV1"]["f:spec"]
    assert owners["bob"]["operation"] == "Apply" and owners["bob"]["fieldsType"] == "FieldsV1"


def test_apply_creates_when_absent_and_conflicts_with_updaters(prod, co):
    created = raw(
        prod,
        "PATCH",
        f"/apis/{G}/{V}/namespaces/production/machines/new-1?fieldManager=tool",
        data=json.dumps(machine("new-1", instanceType="a")),
        headers={"Content-Type": APPLY},
    )
    assert created.status_code == 201
    co.patch_namespaced_custom_object(
        G,
        V,
        "production",
        "machines",
        "new-1",
        {"spec": {"instanceType": "b"}},
        field_manager="editor",
        _content_type="application/merge-patch+json",
    )
    conflict = raw(
        prod,
        "PATCH",
        f"/apis/{G}/{V}/namespaces/production/machines/new-1?fieldManager=tool",
        data=json.dumps(machine("new-1", instanceType="c")),
        headers={"Content-Type": APPLY},
    )
    assert conflict.status_code == 409
    cause = conflict.json()["details"]["causes"][0]
    assert cause["field"] == ".spec.instanceType"
    assert cause["message"] == f'conflict with "editor" using {G}/{V}'
    missing_manager = raw(
        prod,
        "PATCH",
        f"/apis/{G}/{V}/namespaces/production/machines/new-1",
        data=json.dumps(machine("new-1")),
        headers={"Content-Type": APPLY},
    )
    assert missing_manager.status_code == 422
    assert missing_manager.json()["details"]["causes"][0]["field"] == "fieldManager"


def test_apply_removes_fields_the_applier_dropped(prod):
    prod.store.apply(machine("m", instanceType="a", machineImage="img"), "alice")
    after = prod.store.apply(machine("m", instanceType="a"), "alice")
    assert "machineImage" not in after["spec"]


def test_tls_and_token_auth(sandbox_factory, tmp_path):
    sb = sandbox_factory(tls=True, token="s3cret")
    assert sb.url.startswith("https://")
    path = sb.write_kubeconfig(tmp_path / "kubeconfig")
    api = api_client(path)
    names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
    assert "default" in names
    ca = tmp_path / "ca.pem"
    ca.write_bytes(sb.tls.ca_pem)
    # No credentials: anonymous (kube-apiserver's default --anonymous-auth), authenticated but not authorized.
    anonymous = requests.get(sb.url + "/api/v1/namespaces", verify=str(ca), timeout=5)
    assert anonymous.status_code == 403 and anonymous.json()["message"] == (
        'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" '
        "at the cluster scope"
    )
    wrong = requests.get(
        sb.url + "/api/v1/namespaces", verify=str(ca), timeout=5, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    good = requests.get(
        sb.url + "/api/v1/namespaces", verify=str(ca), timeout=5, headers={"Authorization": "Bearer s3cret"}
    )
    assert good.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sb.url + "/version", timeout=5)  # not signed by a CA the system trusts


def test_token_rules_forbid_watching_providers_in_production(sandbox_factory, tmp_path):
    limited = Token(
        "viewer-token",
        user="viewer",
        deny=[Rule(verbs=("watch",), resources=("machineproviders",), namespaces=("production",))],
    )
    sb = sandbox_factory(token="admin-token", tokens=[limited])
    sb.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    headers = {"Authorization": "Bearer viewer-token"}
    base = f"/apis/{G}/{V}/namespaces/production/machineproviders"
    assert raw(sb, "GET", base, headers=headers).status_code == 200
    denied = raw(sb, "GET", base + "?watch=1", headers=headers)
    assert denied.status_code == 403
    assert denied.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'machineproviders.vitistack.io is forbidden: User "viewer" cannot watch resource '
        '"machineproviders" in API group "vitistack.io" in the namespace "production"',
        "reason": "Forbidden",
        "details": {"group": "vitistack.io", "kind": "machineproviders"},
        "code": 403,
    }
    assert (
        raw(
            sb, "GET", f"/apis/{G}/{V}/namespaces/staging/machineproviders?watch=1&timeoutSeconds=0", headers=headers
        ).status_code
        == 200
    )

    def review(token, verb, namespace):
        api = client.AuthorizationV1Api(api_client(_kubeconfig_with_token(sb, tmp_path, token)))
        body = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    group=G, resource="machineproviders", verb=verb, namespace=namespace
                )
            )
        )
        return api.create_self_subject_access_review(body).status.allowed

    assert review("viewer-token", "watch", "production") is False
    assert review("viewer-token", "list", "production") is True
    assert review("admin-token", "watch", "production") is True


def _kubeconfig_with_token(sb, tmp_path, token):
    entry = sb.kubeconfig_entry()
    entry.token = token
    from vitiweb.sandbox import kubeconfig

    return kubeconfig.write(tmp_path / f"{token}.kubeconfig", [entry])


def test_stale_resource_version_update_is_a_conflict(prod, co):
    created = prod.store.create(machine("m"))
    co.patch_namespaced_custom_object(
        G,
        V,
        "production",
        "machines",
        "m",
        {"spec": {"instanceType": "x"}},
        _content_type="application/merge-patch+json",
    )
    with pytest.raises(client.ApiException) as err:
        co.replace_namespaced_custom_object(G, V, "production", "machines", "m", created)
    body = json.loads(err.value.body)
    assert err.value.status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on machines.vitistack.io "m": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )


def test_status_subresource_and_generation(prod, co):
    body = machine("m")
    body["status"] = {"phase": "Running"}
    created = co.create_namespaced_custom_object(G, V, "production", "machines", body)
    assert "status" not in created and created["metadata"]["generation"] == 1
    created["status"] = {"phase": "Running"}
    created["spec"]["instanceType"] = "big"
    updated = co.replace_namespaced_custom_object(G, V, "production", "machines", "m", created)
    assert "status" not in updated and updated["metadata"]["generation"] == 2
    updated["status"] = {"phase": "Running"}
    updated["spec"]["instanceType"] = "ignored-on-status"
    status = co.replace_namespaced_custom_object_status(G, V, "production", "machines", "m", updated)
    assert status["status"] == {"phase": "Running"}
    assert status["spec"]["instanceType"] == "big" and status["metadata"]["generation"] == 2
    labelled = co.patch_namespaced_custom_object(
        G,
        V,
        "production",
        "machines",
        "m",
        {"metadata": {"labels": {"x": "y"}}},
        _content_type="application/merge-patch+json",
    )
    assert labelled["metadata"]["generation"] == 2
    assert int(labelled["metadata"]["resourceVersion"]) > int(status["metadata"]["resourceVersion"])
    managers = {(m["manager"], m["operation"], m.get("subresource", "")) for m in labelled["metadata"]["managedFields"]}
    assert ("OpenAPI-Generator", "Update", "status") in managers


def test_dry_run_stores_nothing_and_sends_no_event(prod, co):
    prod.store.create(machine("kept"))
    rv = prod.store.resource_version
    events = []
    stream = watch.Watch()
    thread = threading.Thread(
        target=lambda: events.extend(
            e["type"]
            for e in stream.stream(
                co.list_namespaced_custom_object,
                G,
                V,
                "production",
                "machines",
                resource_version=str(rv),
                timeout_seconds=1,
            )
        )
    )
    thread.start()
    would = co.create_namespaced_custom_object(G, V, "production", "machines", machine("ghost"), dry_run="All")
    assert would["metadata"]["name"] == "ghost" and would["metadata"]["uid"]
    co.patch_namespaced_custom_object(
        G,
        V,
        "production",
        "machines",
        "kept",
        {"spec": {"instanceType": "z"}},
        dry_run="All",
        _content_type="application/merge-patch+json",
    )
    co.delete_namespaced_custom_object(G, V, "production", "machines", "kept", dry_run="All")
    thread.join()
    assert prod.store.resource_version == rv and events == []
    assert prod.store.get(f"{G}/{V}", "Machine", "kept", "production")["spec"].get("instanceType") is None
    with pytest.raises(client.ApiException):
        co.get_namespaced_custom_object(G, V, "production", "machines", "ghost")


def test_unknown_fields_warn_strict_ignore(prod):
    body = machine("m")
    body["spec"]["foo"] = 1
    body["spec"]["networking"] = {"bar": True}
    url = f"/apis/{G}/{V}/namespaces/production/machines"
    warned = raw(prod, "POST", url, json=body)
    assert warned.status_code == 201
    assert (
        warned.headers["Warning"]
        == '299 - "unknown field \\"spec.foo\\"", 299 - "unknown field \\"spec.networking.bar\\""'
    )
    assert "foo" not in warned.json()["spec"]
    body["metadata"]["name"] = "m2"
    strict = raw(prod, "POST", url + "?fieldValidation=Strict", json=body)
    assert strict.status_code == 400 and strict.json()["reason"] == "BadRequest"
    assert 'unknown field "spec.foo"' in strict.json()["message"]
    ignored = raw(prod, "POST", url + "?fieldValidation=Ignore", json=body)
    assert ignored.status_code == 201 and "Warning" not in ignored.headers


def test_invalid_object_lists_every_failing_field(prod):
    body = {
        "apiVersion": f"{G}/{V}",
        "kind": "Vitistack",
        "metadata": {"name": "Bad_Name"},
        "spec": {"role": "boss", "resourceQuotas": {"maxMachines": "many", "maxClusters": -1}},
    }
    resp = raw(prod, "POST", f"/apis/{G}/{V}/namespaces/production/vitistacks", json=body)
    assert resp.status_code == 422
    status = resp.json()
    assert status["reason"] == "Invalid" and status["details"]["kind"] == "Vitistack"
    fields = [c["field"] for c in status["details"]["causes"]]
    assert fields == [
        "metadata.name",
        "spec.role",
        "spec.resourceQuotas.maxMachines",
        "spec.resourceQuotas.maxClusters",
    ]
    assert status["details"]["causes"][3] == {
        "reason": "FieldValueInvalid",
        "field": "spec.resourceQuotas.maxClusters",
        "message": "Invalid value: -1: spec.resourceQuotas.maxClusters in body should be greater than or equal to 0",
    }
    assert status["message"].startswith('Vitistack.vitistack.io "Bad_Name" is invalid: [metadata.name: Invalid value')


def test_patch_types(prod, co):
    prod.store.create(machine("m", instanceType="a"))
    url = f"/apis/{G}/{V}/namespaces/production/machines/m"
    smp = raw(prod, "PATCH", url, data="{}", headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert smp.status_code == 415 and smp.json()["reason"] == "UnsupportedMediaType"
    jp = raw(
        prod,
        "PATCH",
        url,
        data=json.dumps(
            [
                {"op": "replace", "path": "/spec/instanceType", "value": "b"},
                {"op": "add", "path": "/metadata/labels/new", "value": "1"},
            ]
        ),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert jp.status_code == 200 and jp.json()["spec"]["instanceType"] == "b"
    failed = raw(
        prod,
        "PATCH",
        url,
        data=json.dumps([{"op": "test", "path": "/spec/instanceType", "value": "x"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert failed.status_code == 422
    core = client.CoreV1Api(co.api_client)
    patched = core.patch_namespace("production", {"metadata": {"labels": {"team": "a"}}})
    assert patched.metadata.labels == {"team": "a"}


def test_namespaces_must_exist_and_deleting_one_deletes_its_objects(prod, co):
    with pytest.raises(client.ApiException) as err:
        co.create_namespaced_custom_object(G, V, "nowhere", "machines", machine("m", namespace="nowhere"))
    assert err.value.status == 404
    assert json.loads(err.value.body)["message"] == 'namespaces "nowhere" not found'
    prod.store.create(machine("m1"))
    prod.store.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "production"},
            "stringData": {"k": "v"},
        }
    )
    core = client.CoreV1Api(co.api_client)
    assert core.read_namespaced_secret("s", "production").data == {"k": "dg=="}
    core.delete_namespace("production")
    assert co.list_cluster_custom_object(G, V, "machines")["items"] == []
    assert core.list_secret_for_all_namespaces().items == []


def test_label_and_field_selectors(prod, co):
    for name, labels in [("a", {"env": "prod", "tier": "web"}), ("b", {"env": "dev"}), ("c", {"tier": "db"})]:
        body = machine(name)
        body["metadata"]["labels"] = labels
        prod.store.create(body)

    def names(**kw):
        return [o["metadata"]["name"] for o in co.list_cluster_custom_object(G, V, "machines", **kw)["items"]]

    assert names(label_selector="env=prod") == ["a"]
    assert names(label_selector="env==dev") == ["b"]
    assert names(label_selector="env!=prod") == ["b", "c"]
    assert names(label_selector="env in (prod,dev)") == ["a", "b"]
    assert names(label_selector="env notin (prod)") == ["b", "c"]
    assert names(label_selector="tier") == ["a", "c"]
    assert names(label_selector="!tier") == ["b"]
    assert names(label_selector="env=prod,tier=web") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.namespace!=production") == []
    with pytest.raises(client.ApiException) as err:
        names(field_selector="spec.instanceType=x")
    assert err.value.status == 400


def test_bookmarks_and_timeout(sandbox_factory):
    sb = sandbox_factory(bookmark_interval=0.2)
    started = time.monotonic()
    resp = raw(sb, "GET", f"/apis/{G}/{V}/machines?watch=1&allowWatchBookmarks=true&timeoutSeconds=3", stream=True)
    events = [json.loads(line) for line in resp.iter_lines() if line]
    assert 2.9 < time.monotonic() - started < 7
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert len(bookmarks) >= 2
    assert bookmarks[0]["object"] == {
        "kind": "Machine",
        "apiVersion": f"{G}/{V}",
        "metadata": {"resourceVersion": str(sb.store.resource_version)},
    }


def test_send_initial_events_ends_with_annotated_bookmark(prod):
    prod.store.create(machine("a"))
    query = "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"
    resp = raw(prod, "GET", f"/apis/{G}/{V}/machines?{query}", stream=True)
    events = [json.loads(line) for line in resp.iter_lines() if line]
    assert [e["type"] for e in events[:2]] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    bad = raw(prod, "GET", f"/apis/{G}/{V}/machines?watch=1&sendInitialEvents=true")
    assert bad.status_code == 422


def test_watch_with_label_selector_sees_objects_enter_and_leave(prod):
    prod.store.create(machine("m"))
    rv = prod.store.resource_version
    prod.store.patch(f"{G}/{V}", "Machine", "m", {"metadata": {"labels": {"tier": "db"}}}, "production")
    prod.store.patch(f"{G}/{V}", "Machine", "m", {"metadata": {"labels": {"tier": "web"}}}, "production")
    resp = raw(
        prod,
        "GET",
        f"/apis/{G}/{V}/machines?watch=1&labelSelector=tier%3Dweb&resourceVersion={rv}&timeoutSeconds=1",
        stream=True,
    )
    assert [json.loads(line)["type"] for line in resp.iter_lines() if line] == ["DELETED", "ADDED"]


def test_crd_installed_through_the_api_is_served_at_once(sandbox, k8s):
    ext = client.ApiextensionsV1Api(k8s)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"size": {"type": "integer", "default": 1}}}
                            },
                        }
                    },
                }
            ],
        },
    }
    created = ext.create_custom_resource_definition(crd)
    assert {c.type: c.status for c in created.status.conditions}["Established"] == "True"
    co = client.CustomObjectsApi(k8s)
    gadget = co.create_cluster_custom_object(
        "example.com",
        "v1",
        "gadgets",
        {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {}},
    )
    assert gadget["spec"] == {"size": 1}  # schema defaults applied
    assert raw(sandbox, "GET", "/apis/example.com/v1").json()["resources"][0]["name"] == "gadgets"
    ext.delete_custom_resource_definition("gadgets.example.com")
    assert raw(sandbox, "GET", "/apis/example.com/v1/gadgets").status_code == 404


def test_discovery_documents(sandbox, k8s):
    aggregated = raw(
        sandbox,
        "GET",
        "/apis",
        headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"},
    )
    assert aggregated.headers["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    groups = {g["metadata"]["name"]: g for g in aggregated.json()["items"]}
    machines = next(r for r in groups[G]["versions"][0]["resources"] if r["resource"] == "machines")
    assert machines["scope"] == "Namespaced" and machines["subresources"][0]["subresource"] == "status"
    legacy = raw(sandbox, "GET", "/apis").json()
    assert legacy["kind"] == "APIGroupList"
    resources = raw(sandbox, "GET", f"/apis/{G}/{V}").json()["resources"]
    assert {"machines", "machines/status", "vitistacks"} <= {r["name"] for r in resources}
    index = raw(sandbox, "GET", "/openapi/v3").json()["paths"]
    doc = raw(sandbox, "GET", index[f"apis/{G}/{V}"]["serverRelativeURL"]).json()
    assert "io.vitistack.v1alpha1.Machine" in doc["components"]["schemas"]
    assert raw(sandbox, "GET", "/version").json()["gitVersion"].startswith("v1.32")
    assert client.VersionApi(k8s).get_code().git_version == "v1.32.0-vitiweb-sandbox"
    assert raw(sandbox, "GET", "/apis/nope.io/v1/things").status_code == 404


def test_delete_preconditions_and_finalizers(prod, co):
    body = machine("m")
    body["metadata"]["finalizers"] = ["vitistack.io/cleanup"]
    created = prod.store.create(body)
    resp = raw(
        prod, "DELETE", f"/apis/{G}/{V}/namespaces/production/machines/m", json={"preconditions": {"uid": "not-it"}}
    )
    assert resp.status_code == 409
    pending = raw(
        prod,
        "DELETE",
        f"/apis/{G}/{V}/namespaces/production/machines/m",
        json={"preconditions": {"uid": created["metadata"]["uid"]}},
    )
    # Held by a finalizer: 200 with the object (202 is kept for the deprecated orphanDependents=false only).
    assert pending.status_code == 200 and pending.json()["metadata"]["deletionTimestamp"]
    co.patch_namespaced_custom_object(
        G,
        V,
        "production",
        "machines",
        "m",
        {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )
    with pytest.raises(client.ApiException) as err:
        co.get_namespaced_custom_object(G, V, "production", "machines", "m")
    assert err.value.status == 404


def test_http_edges(prod):
    base = f"/apis/{G}/{V}/namespaces/production/machines"
    assert raw(prod, "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").status_code == 405
    as_yaml = "apiVersion: vitistack.io/v1alpha1\nkind: Machine\nmetadata: {generateName: gen-}\nspec: {machineProvider: {name: p}}\n"
    created = raw(prod, "POST", base, data=as_yaml, headers={"Content-Type": "application/yaml"})
    assert created.status_code == 201 and created.json()["metadata"]["name"].startswith("gen-")
    name = created.json()["metadata"]["name"]
    mismatch = raw(prod, "PUT", f"{base}/{name}", json={**machine("other"), "metadata": {"name": "other"}})
    assert mismatch.status_code == 400 and "does not match the name on the URL" in mismatch.json()["message"]
    wrong_kind = raw(prod, "POST", base, json={**machine("x"), "kind": "Vitistack"})
    assert wrong_kind.status_code == 400
    legacy = raw(prod, "GET", f"/apis/{G}/{V}/watch/namespaces/production/machines?timeoutSeconds=1", stream=True)
    assert [json.loads(line)["type"] for line in legacy.iter_lines() if line] == ["ADDED"]
    prod.store.create(machine("keep"))
    prod.store.create(
        {**machine("drop"), "metadata": {"name": "drop", "namespace": "production", "labels": {"x": "1"}}}
    )
    dropped = raw(prod, "DELETE", base + "?labelSelector=x%3D1")
    assert [o["metadata"]["name"] for o in dropped.json()["items"]] == ["drop"]
    assert raw(prod, "GET", base + "/drop").status_code == 404
    assert raw(prod, "GET", base + "/keep").status_code == 200


def test_every_served_version_shares_the_stored_objects(sandbox, co):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": v == "v1",
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
                for v in ("v1", "v2")
            ],
        },
    }
    sandbox.store.create(crd)
    co.create_namespaced_custom_object(
        "example.com",
        "v2",
        "default",
        "things",
        {"apiVersion": "example.com/v2", "kind": "Thing", "metadata": {"name": "t"}, "a": 1},
    )
    assert (
        co.get_namespaced_custom_object("example.com", "v1", "default", "things", "t")["apiVersion"] == "example.com/v1"
    )
    assert co.get_namespaced_custom_object("example.com", "v2", "default", "things", "t")["a"] == 1
