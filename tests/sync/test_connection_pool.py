"""A sync worker's database connections are bounded by its pool, not by the number of clusters it holds.

Each held cluster runs four threads that touch the database. With a connection kept per thread, a
worker holding about 30 clusters took PostgreSQL's 100 connections and the clusters after that never
synced; from the pool, the whole process (and the deriving child it forks) stays within the pool's size.
"""

import time

import pytest
from django.conf import settings
from django.db import connection

from machines.models import Machine
from tests.processes import manage, output, stop
from tests.sync.conftest import machine
from vitiweb.sync.clusters import register_cluster

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="the pool bounds PostgreSQL server connections; SQLite has none",
    ),
]

POOL_SIZE = 3
CLUSTERS = 8
APPLICATION = "vitiweb-pool-test"


def connections_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [APPLICATION],
        )
        return cursor.fetchone()[0]


def test_a_worker_holding_many_clusters_stays_within_its_pool(sandbox, tmp_path):
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}})
    sandbox.store.create(machine("everywhere"))
    kubeconfig = str(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
    for index in range(CLUSTERS):
        register_cluster(f"registration-{index}", kubeconfig_path=kubeconfig)

    worker = manage(
        "sync",
        "--name",
        "pooled",
        "--tick-seconds",
        "0.5",
        DATABASE_POOL_MAX_SIZE=str(POOL_SIZE),
        DATABASE_APPLICATION_NAME=APPLICATION,
    )
    most = 0
    try:
        deadline = time.monotonic() + 60
        while Machine.objects.count() < CLUSTERS:
            most = max(most, connections_held())
            assert time.monotonic() < deadline, f"{Machine.objects.count()} of {CLUSTERS} synced\n{output(worker)}"
            time.sleep(0.05)
        # A few more rounds with every cluster's threads running.
        for _ in range(40):
            most = max(most, connections_held())
            time.sleep(0.05)
    finally:
        stop(worker)
    # The worker's pool and its deriving child's pool; without pools it was 3 to 4 per cluster.
    assert 0 < most <= 2 * POOL_SIZE, f"{most} connections for {CLUSTERS} clusters"
