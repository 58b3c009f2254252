"""A sandbox registered as a Cluster, users in each role, and helpers for posting forms."""

from pathlib import Path

import pytest
import yaml

from tests.factories import admin, operator, viewer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
API_VERSION = "vitistack.io/v1alpha1"


def example(path: str, index: int = 0) -> dict:
    return [d for d in yaml.safe_load_all((EXAMPLES / path).read_text()) if d][index]


def vitistack_examples():
    found = []
    for file in sorted(EXAMPLES.rglob("*.yaml")):
        for index, doc in enumerate(d for d in yaml.safe_load_all(file.read_text()) if d):
            if doc.get("apiVersion") == API_VERSION:
                found.append(pytest.param(doc, id=f"{file.parent.name}/{file.name}#{index}"))
    return found


@pytest.fixture
def cluster(sandbox, tmp_path, transactional_db):
    from vitiweb.sync.clusters import register_cluster

    path = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    return register_cluster("sandbox", kubeconfig_path=str(path))


@pytest.fixture
def api(cluster):
    from vitiweb.sync.clusters import api_client_for

    client = api_client_for(cluster)
    yield client
    client.close()


@pytest.fixture
def production(api):
    from vitiweb.kube.apply import create_namespace

    create_namespace(api, "production")
    return "production"


@pytest.fixture
def operator_client(client, db):
    client.force_login(operator(username="olga"))
    return client


@pytest.fixture
def admin_client(client, db):
    client.force_login(admin(username="ada"))
    return client


@pytest.fixture
def viewer_client(client, db):
    client.force_login(viewer(username="vera"))
    return client


def form_post_data(kind: str, obj: dict, cluster=None, **extra) -> dict:
    """What the browser posts for ``obj`` in its form (as if typed in from scratch)."""
    from vitiweb.editing.forms import form_class_for

    data = form_class_for(kind)(base=None).initial_data(obj)
    if cluster is not None:
        data["_cluster"] = str(cluster.pk)
    data.update(extra)
    return data
