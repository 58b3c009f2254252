"""Bulk apply, the editor's preview and the Secret form against hostile input (issue 16, findings 1, 2, 9, 10).

A refused stream answers 422 with the reason, and leaves no run and no audit
row behind: nothing is queued that cannot finish, nothing half-applied.
"""

import pytest

from tests.editing.conftest import form_post_data
from tests.factories import make_cluster, operator, viewer
from vitiweb.editing.models import ApplyRun
from vitiweb.editing.operations import AUDIT_TEXT_LIMIT, record
from vitiweb.models import AuditEntry

pytestmark = pytest.mark.django_db


def laughs(levels: int) -> str:
    lines = ["  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        lines.append(f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def namespace_carrying(extra: str) -> str:
    """A Namespace document (checked for identity only) with ``extra`` under ``metadata.x``."""
    return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bombed\n  x:\n" + extra


@pytest.fixture
def target():
    return make_cluster("prod")


@pytest.fixture
def olga(client):
    client.force_login(operator(username="olga"))
    return client


def bulk(client, cluster, text, action="dry-run"):
    return client.post("/apply/", {"cluster": cluster.pk, "manifests": text, "_action": action})


@pytest.mark.parametrize(
    "text, says",
    [
        # 10**6 nodes once expanded: today's reader builds it, serialises it for the run and again for the audit.
        pytest.param(namespace_carrying(laughs(6)), "once aliases are expanded", id="alias-bomb"),
        pytest.param(namespace_carrying("    a: &a [*a]\n"), "(a cycle)", id="cyclic-alias"),
        pytest.param("[" * 2000, "not valid YAML", id="2000-brackets"),
        pytest.param(
            namespace_carrying("".join("    " + "  " * d + f"k{d}:\n" for d in range(300))),
            "nested deeper than 64 levels",
            id="300-deep-maps",
        ),
        pytest.param("a: 1\na: 2\n", "duplicate key &#x27;a&#x27;", id="duplicate-key"),
        # orjson cannot store it: today the run row is created, then the request fails and it stays queued.
        pytest.param(namespace_carrying("    n: 123456789012345678901234567890\n"), "64-bit range", id="huge-integer"),
    ],
)
def test_a_hostile_stream_is_refused_whole_with_its_reason_and_nothing_is_queued(olga, target, text, says):
    response = bulk(olga, target, text)
    assert response.status_code == 422
    assert says in response.content.decode()
    assert "pasted text, document 0" in response.content.decode()
    assert not ApplyRun.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    "secret, says",
    [
        (
            "type: kubernetes.io/service-account-token\nmetadata: {name: t, namespace: team}\n",
            "only Opaque Secrets are created from here, not kubernetes.io/service-account-token",
        ),
        ("metadata: {name: t, namespace: kube-system}\n", "Secrets are not created in namespace kube-system"),
    ],
)
def test_bulk_apply_creates_only_opaque_secrets_and_only_where_allowed(olga, target, secret, says):
    response = bulk(olga, target, "apiVersion: v1\nkind: Secret\nstringData: {token: x}\n" + secret)
    assert response.status_code == 422 and says in response.content.decode()
    assert not ApplyRun.objects.exists()


def test_which_namespaces_may_receive_secrets_is_a_setting(olga, target, settings):
    secret = "apiVersion: v1\nkind: Secret\nstringData: {token: x}\nmetadata: {name: t, namespace: team}\n"
    settings.VITIWEB_SECRET_NAMESPACES = ["vault-*"]
    assert "Secrets are not created in namespace team" in bulk(olga, target, secret).content.decode()
    settings.VITIWEB_SECRET_NAMESPACES = ["team"]
    response = bulk(olga, target, secret)
    assert response.status_code == 302 and ApplyRun.objects.count() == 1


def test_the_secret_form_follows_the_same_setting(olga, target):
    response = olga.post(
        "/secrets/new/",
        {"cluster": target.pk, "namespace": "kube-system", "name": "aws", "key_0": "k", "value_0": "v"},
    )
    assert "Secrets are not created in namespace kube-system" in response.content.decode()
    assert not AuditEntry.objects.exists()


def test_a_free_form_field_bomb_in_the_preview_is_a_field_error(client, target):
    client.force_login(viewer(username="vera"))
    obj = {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "KubernetesProvider",
        "metadata": {"name": "k", "namespace": "default"},
        "spec": {},
    }
    data = form_post_data("KubernetesProvider", obj, target)
    data["spec.monitoring.alertmanager.config"] = "root:\n" + laughs(6)
    response = client.post(
        "/editing/kubernetesproviders/preview/", data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="preview"
    )
    assert response.status_code == 200
    assert "once aliases are expanded" in response.content.decode()


def test_free_form_fields_of_one_form_share_one_budget(client, target):
    client.force_login(viewer(username="vera"))
    obj = {"apiVersion": "vitistack.io/v1alpha1", "kind": "KubernetesProvider", "metadata": {"name": "k"}, "spec": {}}
    data = form_post_data("KubernetesProvider", obj, target)
    data["spec.addons.0.__item"] = "new"
    # 3 levels (12,345 nodes) pass alone, not twice: two fields cannot spend more than one form's budget.
    data["spec.addons.0.config"] = "root:\n" + laughs(3)

    def refusals():
        html = client.post("/editing/kubernetesproviders/preview/", data).content.decode()
        return html.count("once aliases are expanded")

    assert refusals() == 0
    data["spec.monitoring.alertmanager.config"] = "root:\n" + laughs(3)
    assert refusals() > 0


def test_an_audit_row_keeps_a_bounded_manifest():
    cluster = make_cluster("prod")
    huge = {"kind": "Namespace", "metadata": {"name": "n", "annotations": {"a": "x" * (AUDIT_TEXT_LIMIT * 2)}}}
    entry = record(None, cluster, AuditEntry.Action.DRY_RUN, huge, True, diff="+" * (AUDIT_TEXT_LIMIT * 3))
    entry.refresh_from_db()
    assert len(entry.manifest) < AUDIT_TEXT_LIMIT + 100 and "more characters not kept" in entry.manifest
    assert len(entry.diff) < AUDIT_TEXT_LIMIT + 100
