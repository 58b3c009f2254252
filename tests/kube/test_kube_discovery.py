"""Discovery reads versions, plurals and scopes from the server's answers, never from assumptions."""

from __future__ import annotations

import orjson
import pytest

from vitiweb.kube.clients import api_client_from_kubeconfig
from vitiweb.kube.discovery import connection_test, discover, resolve_resource

from .conftest import json_reply


def group_list(*versions, preferred=None):
    entries = [{"groupVersion": f"vitistack.io/{v}", "version": v} for v in versions]
    groups = [
        {
            "name": "apps",
            "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
        }
    ]
    if versions:
        pref = preferred or versions[0]
        groups.append(
            {
                "name": "vitistack.io",
                "versions": entries,
                "preferredVersion": {"groupVersion": f"vitistack.io/{pref}", "version": pref},
            }
        )
    return json_reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})


def resource_list(version, *resources):
    return json_reply(
        200,
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"vitistack.io/{version}",
            "resources": list(resources),
        },
    )


def res(kind, plural, namespaced=True, verbs=("get", "list", "watch", "patch")):
    return {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": list(verbs)}


@pytest.fixture
def client(scripted, kubeconfig_for):
    return api_client_from_kubeconfig(kubeconfig_for(scripted.url, token="t"))


def test_each_kind_gets_its_version_plural_and_scope_from_the_server(scripted, client):
    scripted.script("GET /apis", group_list("v1alpha1"))
    scripted.script(
        "GET /apis/vitistack.io/v1alpha1",
        resource_list(
            "v1alpha1",
            res("Vitistack", "vitistacks"),
            res("Vitistack", "vitistacks/status"),
            res("MachineProvider", "machineproviders"),
            res("KubernetesProvider", "kubernetesproviders"),
            res("Machine", "machines"),
        ),
    )
    found = discover(client)
    vitistack = found["Vitistack"]
    assert (vitistack.installed, vitistack.version, vitistack.plural, vitistack.scope, vitistack.problem) == (
        True,
        "v1alpha1",
        "vitistacks",
        "Namespaced",
        None,
    )
    assert vitistack.has_status and not found["Machine"].has_status
    assert vitistack.resource().api_version == "vitistack.io/v1alpha1"
    assert found.problems == []


def test_a_missing_crd_is_reported_by_name(scripted, client):
    scripted.script("GET /apis", group_list("v1alpha1"))
    scripted.script("GET /apis/vitistack.io/v1alpha1", resource_list("v1alpha1", res("Vitistack", "vitistacks")))
    found = discover(client)
    assert not found["Machine"].installed
    assert found["Machine"].problem == "CRD machines.vitistack.io not installed"
    assert [k.kind for k in found.installed()] == ["Vitistack"]
    with pytest.raises(LookupError, match="CRD machines.vitistack.io not installed"):
        found["Machine"].resource()


def test_a_cluster_without_the_group_has_none_of_the_kinds(scripted, client):
    scripted.script("GET /apis", group_list())
    found = discover(client)
    assert found.problems == [
        "CRD vitistacks.vitistack.io not installed",
        "CRD machineproviders.vitistack.io not installed",
        "CRD kubernetesproviders.vitistack.io not installed",
        "CRD machines.vitistack.io not installed",
    ]


def test_a_cluster_scoped_vitistack_crd_is_reported_as_such(scripted, client):
    scripted.script("GET /apis", group_list("v1alpha1"))
    scripted.script(
        "GET /apis/vitistack.io/v1alpha1", resource_list("v1alpha1", res("Vitistack", "vitistacks", namespaced=False))
    )
    vitistack = discover(client)["Vitistack"]
    assert vitistack.installed and vitistack.scope == "Cluster" and not vitistack.scope_as_expected
    assert (
        vitistack.problem
        == "CRD vitistacks.vitistack.io is cluster-scoped in this cluster; Vitiweb expects it namespaced"
    )
    assert vitistack.resource().namespaced is False


def test_the_preferred_version_wins_and_other_served_versions_are_listed(scripted, client):
    scripted.script("GET /apis", group_list("v1alpha1", "v1beta1", preferred="v1beta1"))
    scripted.script("GET /apis/vitistack.io/v1beta1", resource_list("v1beta1", res("Machine", "machines")))
    scripted.script(
        "GET /apis/vitistack.io/v1alpha1",
        resource_list("v1alpha1", res("Machine", "machines"), res("Vitistack", "vitistacks")),
    )
    found = discover(client)
    assert found.preferred_version == "v1beta1" and found.served_versions == ("v1beta1", "v1alpha1")
    assert found["Machine"].version == "v1beta1" and found["Machine"].served_versions == ("v1beta1", "v1alpha1")
    assert found["Vitistack"].version == "v1alpha1", "a kind missing from the preferred version is found in another"


def test_the_plural_is_whatever_the_server_says(scripted, client):
    scripted.script("GET /apis", group_list("v1alpha1"))
    scripted.script("GET /apis/vitistack.io/v1alpha1", resource_list("v1alpha1", res("Machine", "machinez")))
    assert discover(client)["Machine"].plural == "machinez"
    assert resolve_resource(client, "vitistack.io/v1alpha1", "Machine").plural == "machinez"


def test_the_discovery_result_serialises_for_storage(scripted, client):
    scripted.script("GET /apis", group_list("v1alpha1"))
    scripted.script("GET /apis/vitistack.io/v1alpha1", resource_list("v1alpha1", res("Machine", "machines")))
    data = orjson.loads(orjson.dumps(discover(client).to_dict()))
    assert data["kinds"]["Machine"]["scope"] == "Namespaced"
    assert data["kinds"]["Vitistack"]["problem"] == "CRD vitistacks.vitistack.io not installed"


def test_connection_test_reports_version_kinds_and_each_denied_verb(scripted, client):
    scripted.script("GET /version", json_reply(200, {"gitVersion": "v1.31.2"}))
    scripted.script("GET /apis", group_list("v1alpha1"))
    scripted.script(
        "GET /apis/vitistack.io/v1alpha1", resource_list("v1alpha1", res("MachineProvider", "machineproviders"))
    )

    def review(handler, query):
        spec = orjson.loads(handler.body)["spec"]["resourceAttributes"]
        denied = spec["verb"] == "watch" and spec["resource"] == "machineproviders"
        body = dict(
            orjson.loads(handler.body),
            status={"allowed": not denied, **({"reason": "RBAC: no rule"} if denied else {})},
        )
        json_reply(201, body)(handler, query)

    scripted.script("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    report = connection_test(client, timeout=2, namespace="production")
    assert report.reachable and report.error is None and report.server_version == "v1.31.2"
    providers = next(k for k in report.kinds if k.kind == "MachineProvider")
    assert providers.access["list"].allowed is True
    assert providers.access["watch"].reason == "forbidden: cannot watch machineproviders in namespace production"
    assert providers.access["watch"].server_reason == "RBAC: no rule"
    assert report.secrets.allowed
    assert "CRD machines.vitistack.io not installed" in report.problems
    assert not report.ok
    assert report.to_dict()["problems"] == report.problems
