"""A cluster's first list of a kind is inserted (nothing to update), and its rows are
then what references, the journal and later updates address by id."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import k8s_object
from vitiweb import bulk
from vitiweb.bulk import insert_all
from vitiweb.kinds import model_for
from vitiweb.models import JournalEntry, Reference
from vitiweb.sync.mirror import apply_events, apply_snapshot

pytestmark = pytest.mark.django_db

Machine = model_for("Machine")


def machine(name, rv="1", provider="ec2"):
    return k8s_object("Machine", name, spec={"machineProvider": {"name": provider}}, rv=rv)


def test_inserted_rows_can_be_given_their_primary_keys(make_cluster):
    cluster = make_cluster()
    instances = [Machine(cluster=cluster, kind="Machine", namespace="production", name=f"m{i}") for i in range(3)]
    insert_all(Machine, instances, set_pks=True)
    assert {instance.pk: instance.name for instance in instances} == dict(Machine.objects.values_list("id", "name"))


def test_a_first_snapshots_references_and_journal_name_the_rows_inserted(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "Machine", [machine("a"), machine("b")])

    ids = dict(Machine.objects.values_list("name", "id"))
    assert set(ids) == {"a", "b"}
    assert dict(Reference.objects.filter(relation="machine-provider").values_list("source_id", "state")) == {
        ids["a"]: "dangling",
        ids["b"]: "dangling",
    }
    assert sorted(JournalEntry.objects.values_list("name", "action")) == [("a", "created"), ("b", "created")]


def test_after_the_first_snapshot_changes_update_the_same_rows(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "Machine", [machine("a"), machine("b")])
    ids = dict(Machine.objects.values_list("name", "id"))

    apply_events(cluster, "Machine", [("MODIFIED", machine("a", rv="2", provider="gcp"))])
    apply_snapshot(cluster, "Machine", [machine("a", rv="2", provider="gcp"), machine("b", rv="3")])

    assert dict(Machine.objects.values_list("name", "id")) == ids
    assert Reference.objects.get(relation="machine-provider", source_id=ids["a"]).target_name == "gcp"


def test_a_kind_emptied_and_listed_again_is_inserted_afresh(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "Machine", [machine("a"), machine("b")])
    before = set(Machine.objects.values_list("id", flat=True))
    apply_snapshot(cluster, "Machine", [])
    assert not Machine.objects.exists()

    apply_snapshot(cluster, "Machine", [machine("a"), machine("b"), machine("c")])

    after = dict(Machine.objects.values_list("name", "id"))
    assert set(after) == {"a", "b", "c"} and not before & set(after.values())
    assert set(Reference.objects.values_list("source_id", flat=True)) == set(after.values())


def test_a_first_snapshot_leaves_other_clusters_rows_alone(make_cluster):
    home, other = make_cluster("home"), make_cluster("other")
    apply_snapshot(other, "Machine", [machine("a")])
    apply_snapshot(home, "Machine", [machine("a")])

    assert sorted(Machine.objects.values_list("cluster__name", "name")) == [("home", "a"), ("other", "a")]


def test_a_first_snapshot_deletes_no_references_its_new_rows_cannot_have(make_cluster):
    cluster = make_cluster()
    with CaptureQueriesContext(connection) as queries:
        apply_snapshot(cluster, "Machine", [machine("a"), machine("b")])
    reference_table = Reference._meta.db_table
    assert not [q["sql"] for q in queries if q["sql"].startswith("DELETE") and reference_table in q["sql"]]
    assert Reference.objects.filter(relation="machine-provider").count() == 2


@pytest.mark.parametrize("copy_threshold", [0, 200], ids=["through COPY", "one statement"])
def test_an_upsert_updates_existing_rows_inserts_new_ones_and_names_both(make_cluster, monkeypatch, copy_threshold):
    monkeypatch.setattr(bulk, "COPY_THRESHOLD", copy_threshold)
    cluster = make_cluster()
    apply_snapshot(cluster, "Machine", [machine("a")])
    before = Machine.objects.get(name="a").pk

    summary = apply_events(
        cluster, "Machine", [("MODIFIED", machine("a", rv="2", provider="gce")), ("ADDED", machine("b"))]
    )

    ids = dict(Machine.objects.values_list("name", "id"))
    assert ids["a"] == before and summary.updated == [before] and summary.created == [ids["b"]]
    assert Machine.objects.get(name="a").spec == {"machineProvider": {"name": "gce"}}


def test_a_watch_event_batch_is_written_without_a_temporary_table(make_cluster):
    """Creating and dropping one per batch cost five statements and catalog writes: at a hundred clusters'
    events, most of the database's work."""
    cluster = make_cluster()
    apply_snapshot(cluster, "Machine", [machine("a")])

    with CaptureQueriesContext(connection) as queries:
        apply_events(cluster, "Machine", [("MODIFIED", machine("a", rv="2", provider="gce"))])

    assert Machine.objects.get(name="a").spec == {"machineProvider": {"name": "gce"}}
    assert not [query["sql"] for query in queries if "TEMPORARY" in query["sql"].upper()]
