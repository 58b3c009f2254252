"""The periodic Celery tasks: idempotent full resync and connection tests."""

from datetime import timedelta

import pytest
from django.utils import timezone

from machines.models import Machine
from tests.sync.conftest import machine
from vitiweb import tasks
from vitiweb.models import Cluster

pytestmark = pytest.mark.django_db(transaction=True)


def test_resync_reconciles_clusters_no_worker_holds_and_is_idempotent(registered):
    sandbox, cluster = registered
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    sandbox.store.create(machine("m1"))
    assert tasks.resync_clusters.delay().get() == {"requested": 0, "reconciled": 1, "failed": 0}
    assert list(Machine.objects.values_list("name", flat=True)) == ["m1"]
    tasks.resync_clusters.delay()
    assert Machine.objects.count() == 1


def test_resync_asks_the_worker_holding_a_cluster_instead_of_racing_it(registered):
    _, cluster = registered
    Cluster.objects.filter(pk=cluster.pk).update(
        lease_holder="w1", lease_expires_at=timezone.now() + timedelta(seconds=20)
    )
    assert tasks.resync_clusters.delay().get() == {"requested": 1, "reconciled": 0, "failed": 0}
    assert Cluster.objects.get(pk=cluster.pk).resync_requested_at is not None


def test_an_unreachable_cluster_fails_the_resync_without_stopping_the_others(registered, make_cluster):
    sandbox, _ = registered
    sandbox.stop()
    assert tasks.resync_clusters.delay().get()["failed"] == 1
    assert Cluster.objects.get(name="sandbox").state == Cluster.State.UNREACHABLE


def test_connection_tests_are_recorded_on_each_cluster(registered):
    _, cluster = registered
    assert tasks.test_connections.delay().get() == {"sandbox": True}
    cluster.refresh_from_db()
    assert cluster.permissions["ok"] is True and cluster.discovered_kinds["Machine"]["installed"] is True
