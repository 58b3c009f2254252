"""Shared fixtures. Test data goes through the same code paths the sync uses."""

import pytest

pytest_plugins = ["vitiweb.sandbox.pytest_plugin"]


@pytest.fixture(autouse=True, scope="session")
def _celery_runs_tasks_in_process():
    """Tasks run where they are sent, as in the embedded default.

    CI sets REDIS_URL (PostgreSQL and Redis for everything else) but runs no
    Celery worker; a task sent to the broker would never run.
    """
    from vitiweb.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


_DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences"}


@pytest.fixture(autouse=True)
def _roles(request):
    """The Viewer/Operator/Admin groups a migration creates, restored after a transactional test flushed them."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if not marker and not _DATABASE_FIXTURES & names:
        return
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & names
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.apps import apps
    from django.contrib.auth.models import Group

    from vitiweb.roles import ROLE_PERMISSIONS, sync_roles

    if Group.objects.filter(name__in=ROLE_PERMISSIONS).count() < len(ROLE_PERMISSIONS):
        sync_roles(apps)


@pytest.fixture(autouse=True)
def _processes_end_with_their_test(_roles):
    """A process a test started (``tests.processes.manage``) and left running is stopped, and the test fails.

    Set up after the database fixtures (through ``_roles``), so this runs before the flush: a sync
    worker orphaned by a fixture that failed half-way would otherwise write into the next tests'
    database, and a flush waiting for its locks would hang the run.
    """
    from tests import processes

    yield
    leftovers = [process for process in processes.running if process.poll() is None]
    for process in leftovers:
        processes.stop(process)
    processes.running.clear()
    if leftovers:
        pytest.fail(f"processes outlived their test: {[' '.join(process.args[2:4]) for process in leftovers]}")


@pytest.fixture
def pinned_findings(db):
    """Store the fleet's integrity findings and overview now (call the fixture's value again after changing the
    fleet).

    Pages read what a deriving process stored (``vitiweb.derive``); tests play that process.
    """
    from vitiweb.derive import derive

    derive()
    return derive


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


@pytest.fixture(autouse=True)
def _monitor_only_when_asked(request, settings):
    """Every ClusterSync also runs its cluster's monitor (Events, alerts, RBAC checks): tests of the sync
    leave it out, so what they measure is the sync; tests of the monitor ask with the `monitor` marker."""
    settings.VITIWEB_MONITOR = bool(request.node.get_closest_marker("monitor"))
