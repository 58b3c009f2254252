"""Sync workers share the fleet through database leases: each cluster held by exactly one."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from vitiweb.models import Cluster, SyncWorker
from vitiweb.sync.worker import Worker

pytestmark = pytest.mark.django_db


class FakeSync:
    """Stands in for ClusterSync: leasing is under test here, not syncing."""

    def __init__(self, pk):
        self.pk, self.alive, self.relists = pk, False, 0

    def start(self):
        self.alive = True

    def stop(self):
        self.alive = False

    def request_relist(self):
        self.relists += 1


def worker(name, **kw):
    return Worker(name, sync_factory=FakeSync, **kw)


@pytest.fixture
def fleet(make_cluster):
    clusters = [make_cluster(f"c{i}") for i in range(5)]
    Cluster.objects.create(name="files", source=Cluster.Source.MANIFESTS)
    return clusters


def holders():
    return dict(Cluster.objects.exclude(source=Cluster.Source.MANIFESTS).values_list("name", "lease_holder"))


def test_a_lone_worker_takes_every_live_cluster_but_no_manifest_source(fleet):
    alone = worker("a")
    alone.tick()
    assert set(holders().values()) == {"a"}
    assert sorted(alone.syncs) == sorted(c.pk for c in fleet)
    assert Cluster.objects.get(name="files").lease_holder == ""


def test_two_workers_split_the_fleet_and_never_share_a_cluster(fleet):
    a, b = worker("a"), worker("b")
    a.tick()
    b.tick()  # b joins: a now sees two live workers and gives back what is over its share
    a.tick()
    b.tick()
    owners = holders()
    assert sorted(owners.values()).count("a") in (2, 3) and set(owners.values()) == {"a", "b"}
    assert not set(a.syncs) & set(b.syncs)
    assert all(sync.alive for sync in [*a.syncs.values(), *b.syncs.values()])


def test_a_dead_workers_clusters_are_taken_over_once_its_lease_expires(fleet):
    a, b = worker("a", lease_seconds=20), worker("b", lease_seconds=20)
    a.tick()
    b.tick()
    a.tick()
    b.tick()
    # a dies: no more renewals. Pretend 21 seconds pass.
    past = timezone.now() - timedelta(seconds=21)
    Cluster.objects.filter(lease_holder="a").update(lease_expires_at=past)
    SyncWorker.objects.filter(name="a").update(heartbeat_at=past)
    b.tick()
    assert set(holders().values()) == {"b"}
    assert len(b.syncs) == 5


def test_a_stopping_worker_hands_its_clusters_back_at_once(fleet):
    a = worker("a")
    a.tick()
    a.shutdown()
    assert set(holders().values()) == {""}
    assert not SyncWorker.objects.exists()


def test_a_cluster_removed_from_the_registry_stops_being_synced(fleet):
    a = worker("a")
    a.tick()
    removed = fleet[0]
    sync = a.syncs[removed.pk]
    removed.delete()
    a.tick()
    assert removed.pk not in a.syncs and not sync.alive


def test_a_requested_resync_relists_the_cluster_once(fleet):
    a = worker("a")
    a.tick()
    Cluster.objects.filter(pk=fleet[1].pk).update(resync_requested_at=timezone.now())
    a.tick()
    a.tick()
    assert a.syncs[fleet[1].pk].relists == 1
    assert a.syncs[fleet[0].pk].relists == 0


def test_a_cluster_registered_again_with_new_credentials_is_reconnected(fleet):
    a = worker("a")
    a.tick()
    before = a.syncs[fleet[0].pk]
    a.tick()
    assert a.syncs[fleet[0].pk] is before  # nothing changed: the same sync goes on
    cluster = Cluster.objects.get(pk=fleet[0].pk)
    cluster.set_credentials('{"users": {"u": {"token": "rotated"}}}')
    cluster.save()
    a.tick()
    assert a.syncs[fleet[0].pk] is not before and not before.alive and a.syncs[fleet[0].pk].alive
    assert a.syncs[fleet[1].pk].alive


def test_shutdown_stops_the_syncs_side_by_side_then_gives_every_lease_back(fleet):
    # Each stop waits until all have begun: stopped one after another, the first would wait alone.
    everyone_stopping = threading.Barrier(len(fleet), timeout=10)

    class SlowToStop(FakeSync):
        def stop(self):
            everyone_stopping.wait()
            super().stop()

    alone = Worker("a", sync_factory=SlowToStop)
    alone.tick()
    syncs = list(alone.syncs.values())
    alone.shutdown()
    assert not any(sync.alive for sync in syncs)
    assert set(holders().values()) == {""}
