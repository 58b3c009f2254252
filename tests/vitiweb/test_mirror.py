"""The mirror writes exactly what the cluster holds, and only what changed."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from machines.models import Machine
from stacks.models import Vitistack
from tests.conftest import k8s_object
from vitiweb.models import JournalEntry
from vitiweb.sync.mirror import apply_events, apply_snapshot, derive_status, forget_cluster, json_diff

pytestmark = pytest.mark.django_db


def stack(name="s1", rv="1", **kw):
    return k8s_object(
        "Vitistack", name, spec={"region": "us-west-2", "resourceQuotas": {"maxMachines": 10}}, rv=rv, **kw
    )


def test_a_snapshot_creates_updates_and_deletes(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "Vitistack", [stack("a"), stack("b")])
    summary = apply_snapshot(cluster, "Vitistack", [stack("a", rv="2", labels={"team": "platform"}), stack("c")])
    assert (len(summary.created), len(summary.updated), len(summary.deleted)) == (1, 1, 1)
    assert sorted(Vitistack.objects.values_list("name", flat=True)) == ["a", "c"]
    assert Vitistack.objects.get(name="a").labels == {"team": "platform"}


def test_an_unchanged_resource_version_writes_nothing(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "Vitistack", [stack()])
    synced = Vitistack.objects.get().synced_at
    summary = apply_snapshot(cluster, "Vitistack", [stack()])
    assert summary.changed == 0 and summary.unchanged == 1
    assert Vitistack.objects.get().synced_at == synced
    assert JournalEntry.objects.count() == 1


def test_derived_columns_and_status_are_read_from_the_object(make_cluster):
    cluster = make_cluster()
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False", "message": "disk pressure"}]}
    apply_snapshot(
        cluster, "Vitistack", [k8s_object("Vitistack", "s", spec={"region": "eu", "role": "edge"}, status=status)]
    )
    obj = Vitistack.objects.get()
    assert (obj.region, obj.role, obj.phase, obj.ready, obj.message) == (
        "eu",
        "edge",
        "Running",
        False,
        "disk pressure",
    )


def test_the_journal_records_who_changed_what(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "Vitistack", [stack()])
    changed = stack(
        rv="2",
        managedFields=[
            {"manager": "kubectl", "operation": "Update", "time": "2026-01-01T00:00:00Z"},
            {"manager": "vitistack-operator", "operation": "Update", "time": "2026-01-02T00:00:00Z"},
        ],
    )
    changed["spec"]["resourceQuotas"]["maxMachines"] = 20
    changed["status"] = {"phase": "Ready"}
    apply_events(cluster, "Vitistack", [("MODIFIED", changed)])
    entry = JournalEntry.objects.filter(action="updated").get()
    assert entry.changed_by == "vitistack-operator"
    assert entry.changes == [
        {"path": "spec.resourceQuotas.maxMachines", "old": 10, "new": 20},
        {"path": "status.phase", "old": None, "new": "Ready"},
    ]


def test_only_the_last_event_of_a_batch_counts(make_cluster):
    cluster = make_cluster()
    apply_events(
        cluster, "Vitistack", [("ADDED", stack(rv="1")), ("MODIFIED", stack(rv="2")), ("DELETED", stack(rv="3"))]
    )
    assert not Vitistack.objects.exists()


def test_a_late_delete_of_an_older_incarnation_keeps_the_new_object(make_cluster):
    cluster = make_cluster()
    apply_events(cluster, "Vitistack", [("ADDED", stack(uid="new", rv="5"))])
    apply_events(cluster, "Vitistack", [("DELETED", stack(uid="old", rv="4"))])
    assert Vitistack.objects.get().uid == "new"


def test_a_recreated_object_is_journaled_as_created(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "Vitistack", [stack(uid="first")])
    apply_snapshot(cluster, "Vitistack", [stack(uid="second", rv="9")])
    assert list(JournalEntry.objects.order_by("id").values_list("action", "uid")) == [
        ("created", "first"),
        ("created", "second"),
    ]


def test_cluster_scoped_objects_are_stored_with_an_empty_namespace(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "Vitistack", [k8s_object("Vitistack", "global", namespace=None)])
    assert Vitistack.objects.get().namespace == ""
    assert "namespace" not in Vitistack.objects.get().as_manifest()["metadata"]


def test_the_manifest_round_trips_what_the_cluster_sent(make_cluster):
    cluster = make_cluster()
    raw = stack(
        finalizers=["x"],
        ownerReferences=[{"kind": "Thing", "name": "o"}],
        labels={"a": "b"},
        annotations={"vitistack.io/description": "d"},
        generation=3,
        creationTimestamp="2026-01-01T00:00:00Z",
    )
    raw["status"] = {"phase": "Ready"}
    raw["futureTopLevel"] = {"x": 1}
    apply_snapshot(cluster, "Vitistack", [raw])
    assert Vitistack.objects.get().as_manifest() == raw


def test_changes_are_published_only_after_commit(make_cluster, django_capture_on_commit_callbacks):
    cluster = make_cluster()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("vitistack-list", channel)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        apply_snapshot(cluster, "Vitistack", [stack()])
    assert len(callbacks) == 1
    callbacks[0]()
    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "objects.changed" and message["kind"] == "Vitistack"
    assert message["changes"] == {"created": [Vitistack.objects.get().pk]}


def test_forgetting_a_cluster_takes_its_objects_and_leaves_references_into_it_dangling(make_cluster):
    home, other = make_cluster("home"), make_cluster("other")
    apply_snapshot(other, "MachineProvider", [k8s_object("MachineProvider", "ec2", spec={"type": "aws"})])
    apply_snapshot(home, "Machine", [k8s_object("Machine", "m", spec={"machineProvider": {"name": "ec2"}})])
    forget_cluster(other)
    machine = Machine.objects.get()
    from vitiweb.models import Reference

    assert Reference.objects.get(source_id=machine.pk, relation="machine-provider").state == "dangling"


def test_status_derivation_tolerates_anything():
    assert derive_status({"phase": 3, "conditions": "x"}) == ("", None, "")
    assert derive_status({"conditions": [{"type": "Ready", "status": "True"}]}) == ("", True, "")


def test_json_diff_lists_leaf_changes():
    assert json_diff({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 4}) == [
        {"path": "a.c", "old": 2, "new": 3},
        {"path": "d", "old": None, "new": 4},
    ]
