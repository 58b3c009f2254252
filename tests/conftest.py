"""Shared fixtures. Test data goes through the same code paths the sync uses."""
import pytest

pytest_plugins = ["vitiweb.sandbox.pytest_plugin"]


@pytest.fixture
def make_cluster(db):
    from vitiweb.models import Cluster

    def make(name="prod-east", **fields):
        return Cluster.objects.create(name=name, **{"source": Cluster.Source.KUBECONFIG, **fields})

    return make


def k8s_object(kind, name, namespace="production", spec=None, status=None, rv="1", uid=None, **metadata):
    """A raw object as the API server returns it."""
    return {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"uid-{kind}-{namespace}-{name}",
            "resourceVersion": rv,
            **metadata,
        },
        "spec": spec or {},
        **({"status": status} if status is not None else {}),
    }
