"""What apply, get, delete and the form helpers send, and how refusals come back."""

from __future__ import annotations

import ast
import logging
import pathlib

import orjson
import pytest

import vitiweb.kube
from vitiweb.kube import errors
from vitiweb.kube.apply import (
    ManifestError,
    apply,
    create_namespace,
    create_secret,
    delete_object,
    get_object,
    load_manifest,
)
from vitiweb.kube.clients import api_client_from_kubeconfig
from vitiweb.kube.errors import ApiStatusError, ApplyConflict
from vitiweb.kube.resources import Resource

from .conftest import json_reply, status_reply

MACHINES = Resource("vitistack.io", "v1alpha1", "machines", True, "Machine")
VITISTACKS_CLUSTER = Resource("vitistack.io", "v1alpha1", "vitistacks", False, "Vitistack")

MANIFEST = """
apiVersion: vitistack.io/v1alpha1
kind: Machine
metadata:
  name: web-1
  namespace: production
spec:
  instanceType: m5.large
"""


@pytest.fixture
def client(scripted, kubeconfig_for):
    return api_client_from_kubeconfig(kubeconfig_for(scripted.url, token="t"))


def capture(seen, status=200, body=None):
    def reply(handler, query):
        seen.append(
            {
                "query": query,
                "headers": {k.lower(): v for k, v in handler.headers.items()},
                "body": handler.body,
                "path": handler.path,
            }
        )
        json_reply(status, body if body is not None else orjson.loads(handler.body or b"{}"))(handler, query)

    return reply


def test_apply_is_a_server_side_apply_patch_as_vitiweb(scripted, client):
    seen = []
    scripted.script("PATCH /apis/vitistack.io/v1alpha1/namespaces/production/machines/web-1", capture(seen))
    result = apply(client, MANIFEST, resource=MACHINES)
    assert result["spec"] == {"instanceType": "m5.large"}
    (request,) = seen
    assert request["headers"]["content-type"] == "application/apply-patch+yaml"
    assert request["query"] == {"fieldManager": "vitiweb"}
    assert orjson.loads(request["body"])["metadata"] == {"name": "web-1", "namespace": "production"}


def test_dry_run_and_force_are_passed_on(scripted, client):
    seen = []
    scripted.script("PATCH /apis/vitistack.io/v1alpha1/namespaces/production/machines/web-1", capture(seen))
    apply(client, MANIFEST, resource=MACHINES, dry_run=True, force=True, field_manager="vitiweb-test")
    assert seen[0]["query"] == {"fieldManager": "vitiweb-test", "force": "true", "dryRun": "All"}


def test_the_plural_and_scope_come_from_discovery(scripted, client):
    seen = []
    scripted.script(
        "GET /apis/vitistack.io/v1alpha1",
        json_reply(
            200,
            {
                "kind": "APIResourceList",
                "groupVersion": "vitistack.io/v1alpha1",
                "resources": [{"name": "vitistacks", "kind": "Vitistack", "namespaced": False, "verbs": ["patch"]}],
            },
        ),
    )
    scripted.script("PATCH /apis/vitistack.io/v1alpha1/vitistacks/global", capture(seen))
    apply(
        client, {"apiVersion": "vitistack.io/v1alpha1", "kind": "Vitistack", "metadata": {"name": "global"}, "spec": {}}
    )
    assert seen[0]["path"].startswith("/apis/vitistack.io/v1alpha1/vitistacks/global?")


def test_a_namespace_on_a_cluster_scoped_kind_is_refused_naming_the_field(client):
    with pytest.raises(ManifestError, match=r"^metadata.namespace: Vitistack is cluster-scoped in this cluster"):
        apply(
            client,
            {"apiVersion": "vitistack.io/v1alpha1", "kind": "Vitistack", "metadata": {"name": "g", "namespace": "x"}},
            resource=VITISTACKS_CLUSTER,
        )


def test_a_namespaced_object_without_a_namespace_goes_to_the_default_namespace(scripted, client):
    seen = []
    scripted.script("PATCH /apis/vitistack.io/v1alpha1/namespaces/edge/machines/m", capture(seen))
    apply(
        client,
        {"apiVersion": "vitistack.io/v1alpha1", "kind": "Machine", "metadata": {"name": "m"}},
        resource=MACHINES,
        default_namespace="edge",
    )
    assert orjson.loads(seen[0]["body"])["metadata"]["namespace"] == "edge"


@pytest.mark.parametrize(
    "manifest, message",
    [
        ("a: [", "not valid YAML at line 2"),  # libyaml finds the problem at the end
        ("kind: Machine\nmetadata: {name: x}\n", "apiVersion: is required"),
        ("apiVersion: v1\nkind: X\nmetadata: {}\n", "metadata.name: is required"),
        (
            "apiVersion: v1\nkind: X\nmetadata: {name: a}\n---\napiVersion: v1\nkind: X\nmetadata: {name: b}\n",
            "expected one document, found 2",
        ),
    ],
)
def test_a_bad_manifest_is_refused_before_anything_is_sent(manifest, message):
    with pytest.raises(ManifestError, match=message):
        load_manifest(manifest)


def test_an_apply_conflict_names_the_fields_and_their_managers(scripted, client):
    scripted.script(
        "PATCH /apis/vitistack.io/v1alpha1/namespaces/production/machines/web-1",
        json_reply(
            409,
            {
                "kind": "Status",
                "status": "Failure",
                "reason": "Conflict",
                "code": 409,
                "message": 'Apply failed with 1 conflict: conflict with "ops" using vitistack.io/v1alpha1: .spec.instanceType',
                "details": {
                    "causes": [
                        {
                            "reason": "FieldManagerConflict",
                            "message": 'conflict with "ops" using vitistack.io/v1alpha1',
                            "field": ".spec.instanceType",
                        }
                    ]
                },
            },
        ),
    )
    with pytest.raises(ApplyConflict) as caught:
        apply(client, MANIFEST, resource=MACHINES)
    assert [(c.field, c.manager) for c in caught.value.conflicts] == [(".spec.instanceType", "ops")]
    assert caught.value.code == 409


def test_an_invalid_object_carries_the_field_causes(scripted, client):
    scripted.script(
        "PATCH /apis/vitistack.io/v1alpha1/namespaces/production/machines/web-1",
        json_reply(
            422,
            {
                "kind": "Status",
                "status": "Failure",
                "reason": "Invalid",
                "code": 422,
                "message": 'Machine.vitistack.io "web-1" is invalid: spec.cpu: Invalid value',
                "details": {
                    "causes": [{"reason": "FieldValueInvalid", "message": "Invalid value", "field": "spec.cpu"}]
                },
            },
        ),
    )
    with pytest.raises(ApiStatusError) as caught:
        apply(client, MANIFEST, resource=MACHINES)
    assert caught.value.category == errors.INVALID and caught.value.causes[0].field == "spec.cpu"


def test_get_returns_the_live_object_or_none(scripted, client):
    scripted.script(
        "GET /apis/vitistack.io/v1alpha1/namespaces/production/machines/web-1",
        json_reply(200, {"kind": "Machine", "metadata": {"name": "web-1"}}),
    )
    scripted.script(
        "GET /apis/vitistack.io/v1alpha1/namespaces/production/machines/gone", status_reply(404, "NotFound")
    )
    assert (
        get_object(client, "vitistack.io/v1alpha1", "Machine", "web-1", "production", resource=MACHINES)["metadata"][
            "name"
        ]
        == "web-1"
    )
    assert get_object(client, "vitistack.io/v1alpha1", "Machine", "gone", "production", resource=MACHINES) is None


def test_delete_passes_dry_run_and_propagation_and_tolerates_a_missing_object(scripted, client):
    seen = []
    scripted.script(
        "DELETE /apis/vitistack.io/v1alpha1/namespaces/production/machines/web-1",
        capture(seen, body={"kind": "Status", "status": "Success"}),
    )
    scripted.script(
        "DELETE /apis/vitistack.io/v1alpha1/namespaces/production/machines/gone", status_reply(404, "NotFound")
    )
    delete_object(client, "vitistack.io/v1alpha1", "Machine", "web-1", "production", resource=MACHINES, dry_run=True)
    assert seen[0]["query"] == {"propagationPolicy": "Background", "dryRun": "All"}
    assert delete_object(client, "vitistack.io/v1alpha1", "Machine", "gone", "production", resource=MACHINES) is None
    with pytest.raises(ApiStatusError):
        delete_object(
            client, "vitistack.io/v1alpha1", "Machine", "gone", "production", resource=MACHINES, missing_ok=False
        )


def test_create_namespace_returns_an_existing_namespace_as_it_is(scripted, client):
    scripted.script(
        "POST /api/v1/namespaces", status_reply(409, "AlreadyExists", 'namespaces "production" already exists')
    )
    scripted.script(
        "GET /api/v1/namespaces/production", json_reply(200, {"kind": "Namespace", "metadata": {"name": "production"}})
    )
    assert create_namespace(client, "production")["metadata"]["name"] == "production"
    with pytest.raises(ApiStatusError, match="already exists"):
        create_namespace(client, "production", exist_ok=False)


def test_create_secret_sends_string_data_and_never_returns_or_logs_it(scripted, client, caplog):
    seen = []
    scripted.script(
        "POST /api/v1/namespaces/production/secrets",
        capture(seen, status=201, body={"kind": "Secret", "metadata": {"name": "aws"}, "data": {"key": "c2VjcmV0"}}),
    )
    with caplog.at_level(logging.DEBUG):
        created = create_secret(client, "production", "aws", {"key": "s3cr3t-value"}, labels={"app": "vitiweb"})
    sent = orjson.loads(seen[0]["body"])
    assert (
        sent["stringData"] == {"key": "s3cr3t-value"}
        and sent["type"] == "Opaque"
        and sent["metadata"]["labels"] == {"app": "vitiweb"}
    )
    assert seen[0]["query"] == {"fieldManager": "vitiweb"}
    assert "data" not in created and "stringData" not in created
    assert "s3cr3t-value" not in caplog.text and "c2VjcmV0" not in caplog.text


def test_the_access_layer_imports_nothing_of_django():
    package = pathlib.Path(vitiweb.kube.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(
                    ("django", "vitiweb.models", "vitiweb.kinds", "stacks", "providers", "machines")
                ), f"{path.name} imports {name}"
