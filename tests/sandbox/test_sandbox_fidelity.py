"""Where a client can tell the sandbox from kube-apiserver 1.32, it answers as kube-apiserver does.

Each test names the real server's behaviour and the code that makes it
(k8s.io/apiserver handlers and generic registry, apiextensions-apiserver, the
garbage collector and CRD finalizer of kube-controller-manager/apiextensions),
and checks it with the official client or raw HTTP.
"""

from __future__ import annotations

import json
import time

import pytest
import requests
import yaml
from kubernetes import client, watch

from vitiweb.sandbox import Rule, Token

from .conftest import api_client

G, V = "vitistack.io", "v1alpha1"
CRD_API = "apiextensions.k8s.io/v1"
MACHINES = f"/apis/{G}/{V}/namespaces/production/machines"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
METADATA = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"


def machine(name, namespace="production", **meta):
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "Machine",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": {"machineProvider": {"name": "aws-ec2-provider"}, "instanceType": "m5.large"},
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


def exists(sandbox, name, namespace="production", kind="Machine"):
    try:
        sandbox.store.get(f"{G}/{V}", kind, name, namespace)
    except Exception:
        return False
    return True


# -- updates ---------------------------------------------------------------------------------


def test_put_of_a_custom_object_without_resource_version_is_422(prod, co):
    """customResourceStrategy.AllowUnconditionalUpdate is false: the generic store answers 422,
    naming the resource (plural) and the parsed version as Go prints uint64 0 with %#v."""
    prod.store.create(machine("m"))
    body = machine("m")
    body["spec"]["instanceType"] = "m5.xlarge"
    with pytest.raises(client.ApiException) as err:
        co.replace_namespaced_custom_object(G, V, "production", "machines", "m", body)
    assert err.value.status == 422
    status = json.loads(err.value.body)
    assert status["message"] == (
        'machines.vitistack.io "m" is invalid: metadata.resourceVersion: Invalid value: 0x0: '
        "must be specified for an update"
    )
    assert status["details"] == {
        "name": "m",
        "group": G,
        "kind": "machines",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: 0x0: must be specified for an update",
                "field": "metadata.resourceVersion",
            }
        ],
    }
    # The status subresource is the same strategy; the object is unchanged.
    with pytest.raises(client.ApiException) as err:
        co.replace_namespaced_custom_object_status(G, V, "production", "machines", "m", body)
    assert err.value.status == 422
    assert prod.store.get(f"{G}/{V}", "Machine", "m", "production")["spec"]["instanceType"] == "m5.large"


def test_put_of_a_secret_without_resource_version_is_an_unconditional_update(prod, k8s):
    """Core kinds such as Secret allow unconditional update: the same PUT succeeds."""
    core = client.CoreV1Api(k8s)
    core.create_namespaced_secret("production", {"metadata": {"name": "s"}, "stringData": {"a": "1"}})
    replaced = core.replace_namespaced_secret("s", "production", {"metadata": {"name": "s"}, "stringData": {"a": "2"}})
    assert replaced.data == {"a": "Mg=="}


# -- metadata-only lists and 406 ---------------------------------------------------------------


def test_partial_object_metadata_list_holds_metadata_only(prod, k8s):
    """Accept as=PartialObjectMetadataList (client-go's metadata client): items are
    meta.k8s.io/v1 PartialObjectMetadata, without spec, status or a Secret's data."""
    prod.store.create(machine("m", labels={"tier": "web"}))
    client.CoreV1Api(k8s).create_namespaced_secret(
        "production", {"metadata": {"name": "creds"}, "stringData": {"password": "hunter2"}}
    )
    listed = raw(prod, "GET", MACHINES, headers={"Accept": METADATA_LIST})
    assert listed.status_code == 200
    body = listed.json()
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert body["metadata"]["resourceVersion"]
    [item] = body["items"]
    assert set(item) == {"kind", "apiVersion", "metadata"}
    assert (item["kind"], item["metadata"]["labels"]) == ("PartialObjectMetadata", {"tier": "web"})
    secrets = raw(prod, "GET", "/api/v1/namespaces/production/secrets", headers={"Accept": METADATA_LIST}).json()
    assert [set(i) for i in secrets["items"]] == [{"kind", "apiVersion", "metadata"}]
    assert "hunter2" not in json.dumps(secrets) and "aHVudGVyMg" not in json.dumps(secrets)


def test_partial_object_metadata_for_one_object_and_for_a_watch(prod):
    """as=PartialObjectMetadata converts a single GET and each watch event."""
    prod.store.create(machine("m"))
    one = raw(prod, "GET", f"{MACHINES}/m", headers={"Accept": METADATA}).json()
    assert set(one) == {"kind", "apiVersion", "metadata"} and one["kind"] == "PartialObjectMetadata"
    stream = raw(prod, "GET", f"{MACHINES}?watch=1&timeoutSeconds=1", headers={"Accept": METADATA}, stream=True)
    events = [json.loads(line) for line in stream.iter_lines() if line]
    assert [(e["type"], e["object"]["kind"], set(e["object"])) for e in events] == [
        ("ADDED", "PartialObjectMetadata", {"kind", "apiVersion", "metadata"})
    ]


def test_unknown_or_mismatched_conversion_is_406(prod):
    """negotiation: no acceptable clause -> 406 NotAcceptable; a list asked as one
    PartialObjectMetadata (or one object as a list) -> 406 from transformObject.
    A later acceptable clause is used instead."""
    prod.store.create(machine("m"))
    unknown = raw(prod, "GET", MACHINES, headers={"Accept": "application/json;as=Bogus;v=v1;g=meta.k8s.io"})
    assert unknown.status_code == 406
    assert unknown.json()["reason"] == "NotAcceptable"
    assert unknown.json()["message"] == (
        "only the following media types are accepted: application/json, application/yaml, "
        "application/vnd.kubernetes.protobuf"
    )
    not_a_list = raw(prod, "GET", f"{MACHINES}/m", headers={"Accept": METADATA_LIST})
    assert not_a_list.status_code == 406
    assert "but the requested object is not a list" in not_a_list.json()["message"]
    a_list = raw(prod, "GET", MACHINES, headers={"Accept": METADATA})
    assert a_list.status_code == 406
    assert "but the requested object is a list" in a_list.json()["message"]
    fallback = raw(prod, "GET", MACHINES, headers={"Accept": "application/json;as=Bogus;v=v1;g=meta.k8s.io, */*"})
    assert fallback.status_code == 200 and fallback.json()["kind"] == "MachineList"
    assert raw(prod, "GET", MACHINES, headers={"Accept": "text/html"}).status_code == 406


# -- content types ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_unsupported_request_content_type_is_415(prod, method):
    """NegotiateInputSerializer: a body that is neither JSON, YAML nor protobuf (the custom
    resource serializer lists it too) is 415 UnsupportedMediaType; no Content-Type means JSON."""
    created = prod.store.create(machine("m"))
    path = MACHINES if method == "POST" else f"{MACHINES}/m"
    body = machine("m") if method == "PUT" else machine("n")
    body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    if method == "POST":
        body["metadata"].pop("resourceVersion")
    resp = raw(prod, method, path, data=json.dumps(body), headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    assert resp.json()["reason"] == "UnsupportedMediaType"
    assert resp.json()["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )
    untyped = requests.Request(method, prod.url + path, data=json.dumps(body)).prepare()
    untyped.headers.pop("Content-Type", None)
    assert requests.Session().send(untyped, timeout=10).status_code in (200, 201)


def test_patch_with_unsupported_content_type_is_415(prod):
    prod.store.create(machine("m"))
    resp = raw(prod, "PATCH", f"{MACHINES}/m", data="{}", headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415 and resp.json()["reason"] == "UnsupportedMediaType"


def test_accept_yaml_gets_yaml_errors_included(prod):
    """Accept: application/yaml: objects, lists and Status errors come as YAML."""
    prod.store.create(machine("m"))
    one = raw(prod, "GET", f"{MACHINES}/m", headers={"Accept": "application/yaml"})
    assert one.headers["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(one.text)["metadata"]["name"] == "m"
    listed = raw(prod, "GET", MACHINES, headers={"Accept": "application/yaml"})
    assert yaml.safe_load(listed.text)["kind"] == "MachineList"
    missing = raw(prod, "GET", f"{MACHINES}/nope", headers={"Accept": "application/yaml"})
    assert missing.status_code == 404 and yaml.safe_load(missing.text)["reason"] == "NotFound"


# -- finalizers and deletion ------------------------------------------------------------------


def test_a_finalizer_cannot_be_added_to_an_object_being_deleted(prod, co):
    """ValidateObjectMetaUpdate -> ValidateNoNewFinalizers: 422 metadata.finalizers Forbidden,
    listing the new ones as Go's %#v prints a []string."""
    prod.store.create(machine("m", finalizers=["vitistack.io/a"]))
    co.delete_namespaced_custom_object(G, V, "production", "machines", "m")
    with pytest.raises(client.ApiException) as err:
        co.patch_namespaced_custom_object(
            G, V, "production", "machines", "m", {"metadata": {"finalizers": ["vitistack.io/a", "vitistack.io/b"]}}
        )
    assert err.value.status == 422
    assert json.loads(err.value.body)["message"] == (
        'Machine.vitistack.io "m" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added '
        'if the object is being deleted, found new finalizers []string{"vitistack.io/b"}'
    )
    # Removing one is what a controller does, and is allowed: the object then goes.
    co.patch_namespaced_custom_object(G, V, "production", "machines", "m", {"metadata": {"finalizers": None}})
    assert not exists(prod, "m")


def test_a_delete_held_by_a_finalizer_answers_200_with_the_object(prod, co):
    """handlers/delete.go answers 202 only for the deprecated orphanDependents=false; otherwise 200."""
    prod.store.create(machine("m", finalizers=["vitistack.io/a"]))
    resp = raw(prod, "DELETE", f"{MACHINES}/m")
    assert resp.status_code == 200
    assert resp.json()["kind"] == "Machine" and resp.json()["metadata"]["deletionTimestamp"]


def _owned(name, owner, block=False):
    ref = {"apiVersion": f"{G}/{V}", "kind": "Machine", "name": owner["metadata"]["name"]}
    ref["uid"] = owner["metadata"]["uid"]
    if block:
        ref["blockOwnerDeletion"] = True
    return machine(name, ownerReferences=[ref])


def test_background_deletion_collects_dependents(prod, co):
    """The default for custom resources: the owner goes at once, the garbage collector then
    deletes every dependent whose owners are all gone, and keeps one with a living owner."""
    owner = prod.store.create(machine("owner"))
    other = prod.store.create(machine("other"))
    prod.store.create(_owned("child", owner))
    shared = _owned("shared", owner)
    shared["metadata"]["ownerReferences"].append(
        {"apiVersion": f"{G}/{V}", "kind": "Machine", "name": "other", "uid": other["metadata"]["uid"]}
    )
    prod.store.create(shared)
    resp = raw(prod, "DELETE", f"{MACHINES}/owner", json={"propagationPolicy": "Background"})
    assert resp.status_code == 200
    assert not exists(prod, "owner") and not exists(prod, "child")
    left = prod.store.get(f"{G}/{V}", "Machine", "shared", "production")
    assert [r["name"] for r in left["metadata"]["ownerReferences"]] == ["other"]


def test_a_dependent_whose_owner_never_existed_is_collected(prod):
    """The garbage collector finds the owner absent (by uid) and deletes the dependent."""
    prod.store.create(
        machine("stray", ownerReferences=[{"apiVersion": f"{G}/{V}", "kind": "Machine", "name": "x", "uid": "nope"}])
    )
    assert not exists(prod, "stray")


def test_foreground_deletion_waits_for_blocking_dependents(prod, co):
    """Foreground: the owner gets finalizer foregroundDeletion and stays (200, with the object)
    while a dependent with blockOwnerDeletion exists; when the dependents are gone, so is it."""
    owner = prod.store.create(machine("owner"))
    prod.store.create({**_owned("held", owner, block=True)})
    held = prod.store.get(f"{G}/{V}", "Machine", "held", "production")
    prod.store.patch(f"{G}/{V}", "Machine", "held", {"metadata": {"finalizers": ["vitistack.io/a"]}}, "production")
    resp = raw(prod, "DELETE", f"{MACHINES}/owner", params={"propagationPolicy": "Foreground"})
    assert resp.status_code == 200
    assert resp.json()["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert resp.json()["metadata"]["deletionTimestamp"]
    # The collector deleted the dependent, which its own finalizer holds: the owner waits.
    held = prod.store.get(f"{G}/{V}", "Machine", "held", "production")
    assert held["metadata"]["deletionTimestamp"]
    assert exists(prod, "owner")
    co.patch_namespaced_custom_object(G, V, "production", "machines", "held", {"metadata": {"finalizers": None}})
    assert not exists(prod, "held") and not exists(prod, "owner")


def test_orphan_deletion_releases_dependents(prod):
    """Orphan: finalizer orphan until the collector removed this owner from its dependents'
    ownerReferences; the dependents stay."""
    owner = prod.store.create(machine("owner"))
    prod.store.create(_owned("child", owner))
    resp = raw(prod, "DELETE", f"{MACHINES}/owner", json={"propagationPolicy": "Orphan"})
    assert resp.status_code == 200 and resp.json()["metadata"]["finalizers"] == ["orphan"]
    assert not exists(prod, "owner")
    assert "ownerReferences" not in prod.store.get(f"{G}/{V}", "Machine", "child", "production")["metadata"]


def test_a_bogus_propagation_policy_is_422(prod):
    """ValidateDeleteOptions: field.NotSupported, reported as DeleteOptions.meta.k8s.io."""
    prod.store.create(machine("m"))
    resp = raw(prod, "DELETE", f"{MACHINES}/m", json={"propagationPolicy": "Sometimes"})
    assert resp.status_code == 422
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sometimes": '
        'supported values: "Foreground", "Background", "Orphan", "nil"',
        "reason": "Invalid",
        "details": {
            "group": "meta.k8s.io",
            "kind": "DeleteOptions",
            "causes": [
                {
                    "reason": "FieldValueNotSupported",
                    "message": 'Unsupported value: "Sometimes": supported values: "Foreground", "Background", '
                    '"Orphan", "nil"',
                    "field": "propagationPolicy",
                }
            ],
        },
        "code": 422,
    }
    assert raw(prod, "DELETE", f"{MACHINES}/m", params={"propagationPolicy": "Sometimes"}).status_code == 422
    assert exists(prod, "m")


# -- CRD deletion -----------------------------------------------------------------------------


def test_deleting_a_crd_terminates_through_its_finalizer(prod, k8s, co):
    """apiextensions-apiserver: DELETE marks the CRD (deletionTimestamp, finalizer
    customresourcecleanup.apiextensions.k8s.io, condition Terminating) and answers 200 with it;
    the CRD finalizer deletes every instance (watchers see DELETED for each), creates are 405
    meanwhile, an instance held by its finalizer holds the CRD, and then the CRD goes."""
    prod.store.create(machine("free"))
    prod.store.create(machine("held", finalizers=["vitistack.io/a"]))
    ext = client.ApiextensionsV1Api(k8s)
    events = []
    w = watch.Watch()

    import threading

    def follow():
        for event in w.stream(co.list_namespaced_custom_object, G, V, "production", "machines", timeout_seconds=10):
            events.append((event["type"], event["object"]["metadata"]["name"]))

    follower = threading.Thread(target=follow)
    follower.start()
    deadline = time.monotonic() + 5
    while len(events) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    resp = raw(prod, "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/machines.vitistack.io")
    assert resp.status_code == 200
    meta = resp.json()["metadata"]
    assert meta["deletionTimestamp"] and meta["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    crd = ext.read_custom_resource_definition("machines.vitistack.io")
    terminating = {c.type: c for c in crd.status.conditions}["Terminating"]
    assert terminating.status == "True"
    assert not exists(prod, "free") and exists(prod, "held")
    with pytest.raises(client.ApiException) as err:
        co.create_namespaced_custom_object(G, V, "production", "machines", machine("late"))
    assert err.value.status == 405
    assert json.loads(err.value.body)["message"] == (
        "create not allowed while custom resource definition is terminating"
    )
    co.patch_namespaced_custom_object(G, V, "production", "machines", "held", {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as err:
        ext.read_custom_resource_definition("machines.vitistack.io")
    assert err.value.status == 404
    follower.join(15)
    assert ("DELETED", "free") in events and ("DELETED", "held") in events
    assert ("MODIFIED", "held") in events  # marked for deletion first, held by its finalizer


# -- watch ------------------------------------------------------------------------------------


def test_a_bookmark_comes_two_seconds_before_the_watch_timeout(sandbox):
    """The watch cache sends a BOOKMARK ~2 s before the watch's deadline when bookmarks are
    allowed (and the regular ones a minute apart); none without allowWatchBookmarks."""
    path = f"/apis/{G}/{V}/machines?watch=1&timeoutSeconds=4"
    started = time.monotonic()
    seen = []
    for line in raw(sandbox, "GET", path + "&allowWatchBookmarks=true", stream=True).iter_lines():
        if line:
            seen.append((json.loads(line)["type"], time.monotonic() - started))
    assert [t for t, _ in seen] == ["BOOKMARK"]
    assert 1.5 < seen[0][1] < 3.0
    plain = [line for line in raw(sandbox, "GET", path.replace("4", "1"), stream=True).iter_lines() if line]
    assert plain == []


# -- list options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        (
            "resourceVersionMatch=NotOlderThan",
            422,
            'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is '
            "forbidden unless resourceVersion is provided",
        ),
        (
            "resourceVersion=1&resourceVersionMatch=Newest",
            422,
            'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Newest": '
            'supported values: "Exact", "NotOlderThan", ""',
        ),
        (
            "resourceVersion=0&resourceVersionMatch=Exact",
            422,
            'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" '
            'is forbidden for resourceVersion "0"',
        ),
        ("resourceVersion=5&continue={token}", 400, "specifying resource version is not allowed when using continue"),
    ],
)
def test_invalid_list_options_are_refused(prod, query, code, message):
    """ValidateListOptions (422, ListOptions.meta.k8s.io) in the list handler, then the storage
    layer's 400 for a continue token with a resourceVersion."""
    for i in range(3):
        prod.store.create(machine(f"m{i}"))
    token = raw(prod, "GET", f"{MACHINES}?limit=1").json()["metadata"]["continue"]
    resp = raw(prod, "GET", f"{MACHINES}?{query.format(token=token)}")
    assert resp.status_code == code
    assert resp.json()["message"] == message


def test_resource_version_match_with_continue_is_refused(prod):
    for i in range(3):
        prod.store.create(machine(f"m{i}"))
    token = raw(prod, "GET", f"{MACHINES}?limit=1").json()["metadata"]["continue"]
    resp = raw(prod, "GET", f"{MACHINES}?limit=1&continue={token}&resourceVersionMatch=NotOlderThan")
    assert resp.status_code == 422
    assert "resourceVersionMatch is forbidden when continue is provided" in resp.json()["message"]


# -- authentication and authorization ---------------------------------------------------------


def test_anonymous_requests_reach_the_public_info_paths_only(sandbox_factory):
    """--anonymous-auth (the default) with system:public-info-viewer: GET /version, /healthz,
    /livez, /readyz answer 200 without credentials; anything else is 403 (not 401), and an
    unknown token is 401."""
    sb = sandbox_factory(token="admin-token")
    for path in ("/version", "/healthz", "/livez", "/readyz"):
        assert raw(sb, "GET", path).status_code == 200, path
    assert raw(sb, "GET", "/version").json()["gitVersion"].startswith("v1.32")
    api = raw(sb, "GET", "/api")
    assert api.status_code == 403
    assert api.json()["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
    assert raw(sb, "GET", "/healthz", headers={"Authorization": "Bearer wrong"}).status_code == 401
    # A scheme no authenticator handles (Basic) leaves the request anonymous.
    assert raw(sb, "GET", "/api", headers={"Authorization": "Basic b3BzOnB3"}).status_code == 403
    assert raw(sb, "GET", "/version", headers={"Authorization": "Basic b3BzOnB3"}).status_code == 200


def test_self_subject_rules_review_lists_what_the_token_may_do(sandbox_factory, tmp_path):
    """SelfSubjectRulesReview is served (kubectl auth can-i --list)."""
    viewer = Token("viewer-token", user="viewer", deny=[Rule(verbs=("create", "update", "patch", "delete"))])
    sb = sandbox_factory(token="admin-token", tokens=[viewer])

    def rules(token):
        entry = sb.kubeconfig_entry()
        entry.token = token
        from vitiweb.sandbox import kubeconfig

        path = kubeconfig.write(tmp_path / f"{token}.kubeconfig", [entry])
        api = client.AuthorizationV1Api(api_client(path))
        body = client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace="default"))
        return api.create_self_subject_rules_review(body).status

    admin = rules("admin-token")
    assert [(r.verbs, r.api_groups, r.resources) for r in admin.resource_rules] == [(["*"], ["*"], ["*"])]
    limited = rules("viewer-token")
    verbs = {verb for rule in limited.resource_rules if "machines" in rule.resources for verb in rule.verbs}
    assert verbs == {"get", "list", "watch", "deletecollection"}
    assert limited.incomplete is False
    no_namespace = raw(
        sb,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        json={"spec": {}},
        headers={"Authorization": "Bearer viewer-token"},
    )
    assert (no_namespace.status_code, no_namespace.json()["message"]) == (400, "no namespace on request")


def test_an_empty_self_subject_access_review_is_422(sandbox, k8s):
    """ValidateSelfSubjectAccessReviewSpec: exactly one of resourceAttributes or
    nonResourceAttributes; the nil one is printed as "null"."""
    resp = raw(
        sandbox,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        json={"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {}},
    )
    assert resp.status_code == 422
    assert resp.json()["message"] == (
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: '
        '"null": exactly one of nonResourceAttributes or resourceAttributes must be specified'
    )
    api = client.AuthorizationV1Api(k8s)
    review = api.create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                non_resource_attributes=client.V1NonResourceAttributes(path="/healthz", verb="get")
            )
        )
    )
    assert review.status.allowed is True


def test_only_the_unrestricted_token_reaches_the_admin_endpoint(sandbox_factory):
    """The sandbox's own /_sandbox/ controls (tests only) answer the unrestricted test token; a
    token restricted to viewing, or no token, cannot mint an unrestricted token."""
    viewer = Token("viewer-token", user="viewer", deny=[Rule(verbs=("create", "update", "patch", "delete"))])
    sb = sandbox_factory(token="admin-token", tokens=[viewer])
    mint = {"token": "minted", "user": "root"}
    for headers in ({"Authorization": "Bearer viewer-token"}, {}):
        refused = raw(sb, "POST", "/_sandbox/tokens", json=mint, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["reason"] == "Forbidden"
        assert raw(sb, "GET", "/_sandbox/state", headers=headers).status_code == 403
    assert raw(sb, "GET", "/api", headers={"Authorization": "Bearer minted"}).status_code == 401
    admin = {"Authorization": "Bearer admin-token"}
    assert raw(sb, "POST", "/_sandbox/tokens", json=mint, headers=admin).status_code == 200
    assert raw(sb, "GET", "/api", headers={"Authorization": "Bearer minted"}).status_code == 200


# -- kubectl against the same behaviours ------------------------------------------------


def test_kubectl_replace_fills_in_the_resource_version_the_server_requires(prod, kubectl, tmp_path):
    """kubectl replace reads the live resourceVersion before its PUT, so it works where a bare PUT is 422."""
    prod.store.create(machine("m"))
    changed = machine("m")
    changed["spec"]["instanceType"] = "m5.xlarge"
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(changed))
    kubectl("replace", "-f", str(path), check=True)
    assert prod.store.get(f"{G}/{V}", "Machine", "m", "production")["spec"]["instanceType"] == "m5.xlarge"


def test_kubectl_foreground_cascade_and_auth_can_i_list(prod, kubectl):
    """kubectl delete --cascade=foreground waits until the garbage collector removed the
    dependents and then the owner; kubectl auth can-i --list reads a SelfSubjectRulesReview."""
    owner = prod.store.create(machine("owner"))
    prod.store.create(_owned("child", owner, block=True))
    kubectl("delete", "machine", "owner", "-n", "production", "--cascade=foreground", check=True)
    assert not exists(prod, "owner") and not exists(prod, "child")
    listed = kubectl("auth", "can-i", "--list", "-n", "production", check=True).stdout
    assert "*.*" in listed


def test_kubectl_delete_crd_leaves_it_terminating_while_an_object_holds_it(prod, kubectl):
    prod.store.create(machine("held", finalizers=["vitistack.io/a"]))
    kubectl("delete", "crd", "machines.vitistack.io", "--wait=false", check=True)
    got = kubectl(
        "get", "crd", "machines.vitistack.io", "-o", "jsonpath={.status.conditions[?(@.type=='Terminating')].status}"
    )
    assert got.stdout == "True"
    kubectl("patch", "machine", "held", "-n", "production", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert kubectl("get", "crd", "machines.vitistack.io").returncode != 0


def test_resource_version_match_on_a_watch_needs_send_initial_events(prod):
    """validateWatchOptions: resourceVersionMatch and sendInitialEvents go together on a watch."""
    resp = raw(prod, "GET", f"{MACHINES}?watch=1&resourceVersion=1&resourceVersionMatch=NotOlderThan")
    assert resp.status_code == 422
    assert resp.json()["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden '
        "for watch unless sendInitialEvents is provided"
    )
    initial = raw(prod, "GET", f"{MACHINES}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true")
    assert initial.status_code == 422
    assert initial.json()["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires '
        "setting resourceVersionMatch to NotOlderThan"
    )


# -- strategic merge patch (core kinds) ---------------------------------------------------------


def test_strategic_merge_patch_follows_the_fields_patch_strategy(prod):
    """metadata.finalizers merges as a set (a merge patch would replace it), $deleteFromPrimitiveList
    removes from it, $patch: replace replaces a map, and custom resources refuse the type (415)."""
    SMP = {"Content-Type": "application/strategic-merge-patch+json"}
    path = "/api/v1/namespaces/production/secrets/s"
    prod.store.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "production", "finalizers": ["a.io/one"]},
            "data": {"x": "eA==", "y": "eQ=="},
        }
    )
    merged = raw(prod, "PATCH", path, json={"metadata": {"finalizers": ["a.io/two"]}}, headers=SMP).json()
    assert merged["metadata"]["finalizers"] == ["a.io/one", "a.io/two"]
    removed = raw(
        prod, "PATCH", path, json={"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/one"]}}, headers=SMP
    ).json()
    assert removed["metadata"]["finalizers"] == ["a.io/two"]
    replaced = raw(prod, "PATCH", path, json={"data": {"$patch": "replace", "z": "eg=="}}, headers=SMP).json()
    assert replaced["data"] == {"z": "eg=="}
    prod.store.create(machine("m"))
    refused = raw(prod, "PATCH", f"{MACHINES}/m", json={"spec": {}}, headers=SMP)
    assert refused.status_code == 415


def test_foreground_deletion_cascades_through_generations(prod):
    """A dependent that has dependents of its own is deleted in the foreground too: a held
    grandchild holds its parent and the first owner, all marked foregroundDeletion."""
    owner = prod.store.create(machine("a"))
    child = prod.store.create(_owned("b", owner, block=True))
    grandchild = _owned("c", child, block=True)
    grandchild["metadata"]["finalizers"] = ["vitistack.io/a"]
    prod.store.create(grandchild)
    prod.store.delete(f"{G}/{V}", "Machine", "a", "production", propagation="Foreground")
    held = {o["metadata"]["name"]: o["metadata"]["finalizers"] for o in prod.store.list(f"{G}/{V}", "Machine")}
    assert held == {"a": ["foregroundDeletion"], "b": ["foregroundDeletion"], "c": ["vitistack.io/a"]}
    prod.store.patch(f"{G}/{V}", "Machine", "c", {"metadata": {"finalizers": None}}, "production")
    assert prod.store.list(f"{G}/{V}", "Machine") == []
