"""Integrity findings and the overview are computed once, by the holder of the derivation lease, and stored;
pages only read them."""

import os
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from machines.models import Machine
from tests import factories
from tests.topology.conftest import aws, load, machine, machine_provider
from vitiweb import attribution, integrity, overview
from vitiweb.derive import LEASE, Deriver, serve, start_process, stop_process
from vitiweb.kinds import all_models
from vitiweb.live_regions import live_page, render_regions
from vitiweb.models import FindingsRun, Lease, OverviewRun
from vitiweb.topology.builders import VIEWS


@pytest.fixture
def broken_fleet(cluster):
    """One provider that declares m5.large, and a machine asking it for t3.micro (an error finding)."""
    load(cluster, machine_provider("ec2", aws=aws()), machine("m1", instanceType="t3.micro"))
    return cluster


def fixed_machine():
    """m1 asking for an instance type its provider declares, as a newer resourceVersion."""
    fixed = machine("m1", instanceType="m5.large")
    fixed["metadata"]["resourceVersion"] = "2"
    return fixed


#: Everything that derives fleet-wide results: the checks and the fingerprint, and each part of the overview's
#: derivation (patched one by one, so that a page calling any of them directly fails too).
DERIVING = [
    (integrity, "run_checks"),
    (integrity, "fingerprint"),
    (overview, "derive_overview"),
    (overview, "kind_summaries"),
    (overview, "attention_objects"),
    (overview, "broken_references"),
    (overview, "usage_rows"),
    (overview, "providers_by_type_figure"),
    (overview, "quota_figure"),
    (overview, "cost_figure"),
    (attribution.Fleet, "buckets"),
]


def test_pages_read_the_stored_derivations_and_never_compute_them(client, examples, monkeypatch):
    """Every page that shows findings or the overview, with each derivation made to fail if a request runs it."""
    stored = integrity.current_findings()
    assert stored.counts()["error"] > 0
    assert OverviewRun.objects.exists()

    def computed_in_a_request(*args, **kwargs):
        raise AssertionError("a web request computed a fleet-wide derivation")

    for owner, name in DERIVING:
        monkeypatch.setattr(owner, name, computed_in_a_request)
    user = factories.admin()
    client.force_login(user)

    urls = [reverse("home"), reverse("home") + "?stacks=all", reverse("topology:findings"), reverse("topology:summary")]
    urls += [reverse("topology:view", args=[view]) for view in VIEWS]
    urls += [reverse("topology:figure", args=[view]) for view in VIEWS]
    for model in all_models():
        urls.append(reverse(f"{model.KIND.lower()}_list"))
        obj = model.objects.first()
        if obj is None:  # the guide's examples hold the four guide kinds, not the published API's others
            continue
        urls.append(reverse(f"{model.KIND.lower()}_detail", args=[obj.pk]))
        urls.append(reverse("topology:object_findings", args=[model.KIND, obj.pk]))
        urls.append(reverse("topology:panel", args=[model.KIND, obj.pk]))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
    # The overview's fragments, as htmx and the live updates fetch them.
    home = live_page(reverse("home"))
    for region in home.regions:
        response = client.get(reverse("home"), headers={"HX-Request": "true", "HX-Target": region})
        assert response.status_code == 200, region
    assert set(render_regions(user, home.path, home.regions)) == set(home.regions)

    # The stored results are what the pages show.
    page = client.get(reverse("topology:findings")).content.decode()
    assert f"{stored.counts()['error']}" in page
    first = stored.findings[0]
    assert first.subject.name in page
    machines = next(s for s in client.get(reverse("home")).context["summaries"] if s.kind == "Machine")
    assert machines.total == Machine.objects.count() > 0


def test_a_fleet_change_stores_a_new_run_and_an_unchanged_fleet_does_not(broken_fleet):
    first = FindingsRun.objects.get()
    assert first.counts["error"] == 1
    assert integrity.store_findings() == first  # same fingerprint: nothing recomputed
    assert FindingsRun.objects.count() == 1

    load(broken_fleet, machine_provider("ec2", aws=aws()), fixed_machine())
    latest = FindingsRun.objects.first()
    assert latest.id != first.id and latest.counts["error"] == 0, latest.findings
    assert integrity.current_findings().counts()["error"] == 0


def test_a_change_that_alters_no_finding_keeps_the_run_readers_already_decoded(broken_fleet):
    run = FindingsRun.objects.get()
    before = integrity.current_findings()
    Machine.objects.filter(name="m1").update(phase="Running", synced_at=timezone.now() + timedelta(seconds=1))
    assert integrity.store_findings().id == run.id
    run.refresh_from_db()
    assert run.fingerprint == integrity.fingerprint()
    assert integrity.current_findings() is before


def test_no_stored_run_reads_as_no_findings(cluster):
    assert integrity.current_findings().findings == []


def test_only_the_holder_of_the_lease_derives_and_a_dead_holders_lease_is_taken_over(broken_fleet):
    FindingsRun.objects.all().delete()
    first = Deriver("worker-1", lease_seconds=30, min_interval=0)
    second = Deriver("worker-2", lease_seconds=30, min_interval=0)
    assert first.tick() is True
    assert second.tick() is False
    assert FindingsRun.objects.count() == 1
    assert Lease.objects.get(name=LEASE).holder == "worker-1"

    # worker-1 dies without giving the lease back; once it expires, worker-2 takes the work.
    Lease.objects.filter(name=LEASE).update(expires_at=timezone.now() - timedelta(seconds=1))
    load(broken_fleet, machine_provider("ec2", aws=aws()), fixed_machine())
    FindingsRun.objects.all().delete()
    assert second.tick() is True
    assert first.tick() is False
    assert FindingsRun.objects.get().counts["error"] == 0


def test_a_deriver_waits_between_runs_so_a_stream_of_changes_costs_one_run_per_interval(broken_fleet):
    FindingsRun.objects.all().delete()
    deriver = Deriver("worker-1", min_interval=3600)
    assert deriver.tick() is True
    derived = (FindingsRun.objects.get().fingerprint, OverviewRun.objects.get().fingerprint)
    Machine.objects.filter(name="m1").update(phase="Failed", synced_at=timezone.now() + timedelta(seconds=1))
    assert deriver.tick() is False  # within the interval: the change waits for the next run
    assert (FindingsRun.objects.get().fingerprint, OverviewRun.objects.get().fingerprint) == derived
    assert integrity.fingerprint() != derived[0]


def test_an_unchanged_fleet_is_not_derived_again(broken_fleet):
    assert Deriver("worker-1", min_interval=0).tick() is False  # load() derived this state already
    overview_runs = list(OverviewRun.objects.values_list("id", flat=True))
    Machine.objects.filter(name="m1").update(phase="Failed", synced_at=timezone.now() + timedelta(seconds=1))
    assert Deriver("worker-1", min_interval=0).tick() is True
    assert OverviewRun.objects.first().fingerprint == FindingsRun.objects.first().fingerprint == integrity.fingerprint()
    assert OverviewRun.objects.first().id not in overview_runs  # the overview counts the new phase: a new run


@pytest.mark.django_db(transaction=True)
def test_a_stopped_deriver_gives_its_lease_back():
    deriver = Deriver("worker-1", poll_seconds=0.05)
    deriver.start()
    deriver.stop()
    assert Lease.objects.get(name=LEASE).holder == ""


def wait_until(condition, timeout=60.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_the_sync_workers_deriving_child_derives_and_gives_the_lease_back_when_stopped(cluster):
    """``manage.py sync`` derives in a forked child process: the derivation never holds the sync's GIL."""
    load(cluster, machine_provider("ec2", aws=aws()), machine("m1", instanceType="t3.micro"))
    FindingsRun.objects.all().delete()
    OverviewRun.objects.all().delete()
    child = start_process("worker-1", lease_seconds=30)
    try:
        assert child.pid != os.getpid()
        assert wait_until(lambda: FindingsRun.objects.exists() and OverviewRun.objects.exists())
        assert Lease.objects.get(name=LEASE).holder == "worker-1"
        assert FindingsRun.objects.get().counts["error"] == 1
    finally:
        stop_process(child)
    assert child.exitcode == 0 and Lease.objects.get(name=LEASE).holder == ""


@pytest.mark.django_db(transaction=True)
def test_a_deriving_child_whose_sync_worker_died_stops_by_itself():
    import multiprocessing

    # Told that its parent is a process it is not the child of: as after its sync worker was killed (-9).
    orphan = multiprocessing.get_context("fork").Process(
        target=serve, args=("worker-1", 30), kwargs={"parent_pid": os.getpid() + 999_999}, daemon=True
    )
    orphan.start()
    orphan.join(30)
    assert orphan.exitcode == 0
    assert Lease.objects.get(name=LEASE).holder == ""  # it held the lease, and gave it back
