"""Events: mirrored from either API, only those about VitiStack objects and their controllers, kept within
bounds, and shown on each object's Events tab, on the fleet Events page and in the overview."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from machines.models import Machine
from tests import factories
from tests.monitoring.conftest import NS, machine, step_until
from tests.sync.conftest import wait_for
from vitiweb.monitoring import events
from vitiweb.monitoring.models import Event
from vitiweb.sandbox import workloads

pytestmark = pytest.mark.monitor


def test_a_failed_machine_is_a_warning_event_on_its_page_and_in_the_overview(monitored, client):
    sandbox, cluster, _ = monitored
    sandbox.store.create(machine("web-1"))
    step_until(
        sandbox,
        lambda: sandbox.store.get("vitistack.io/v1alpha1", "Machine", "web-1", NS)["status"]["phase"] == "Failed",
    )
    wait_for(lambda: Event.objects.filter(reason="ProvisioningFailed").exists(), message="the failure event")
    event = Event.objects.get(reason="ProvisioningFailed")
    assert (event.type, event.regarding_kind, event.regarding_name, event.regarding_namespace) == (
        "Warning",
        "Machine",
        "web-1",
        NS,
    )
    assert event.reporting_controller == "machine-controller" and event.api_version == "events.k8s.io/v1"
    assert 'MachineProvider "missing-provider" not found' in event.message

    wait_for(lambda: Machine.objects.filter(name="web-1", phase="Failed").exists(), message="the Failed phase")
    web1 = Machine.objects.get(name="web-1")
    client.force_login(factories.viewer())
    tab = client.get(reverse("machine_events", args=[web1.pk]))
    assert tab.status_code == 200
    rows = tab.content.decode()
    assert "ProvisioningFailed" in rows and "Provisioning" in rows and "machine-controller" in rows
    # Every tab's head shows the recent warnings, and the overview lists them under "Needs attention".
    assert "ProvisioningFailed" in client.get(reverse("machine_detail", args=[web1.pk])).content.decode()
    overview = client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="attention").content.decode()
    assert 'data-event-reason="ProvisioningFailed"' in overview


def test_only_events_about_vitistack_objects_and_the_controllers_are_kept(monitored):
    sandbox, cluster, _ = monitored
    other = {"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "default", "uid": "p1"}
    controller_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": workloads.pod_name("machine-controller"),
        "namespace": workloads.CONTROLLER_NAMESPACE,
        "uid": "p2",
    }
    workloads.record_event(sandbox.store, other, "Warning", "BackOff", "unrelated", "kubelet")
    workloads.record_event(sandbox.store, controller_pod, "Warning", "BackOff", "controller restarting", "kubelet")
    wait_for(lambda: Event.objects.filter(message="controller restarting").exists(), message="the controller's event")
    assert not Event.objects.filter(message="unrelated").exists()


def test_core_events_are_read_where_events_k8s_io_is_not_served(simulated, tmp_path, transactional_db):
    from kubernetes import config

    store = simulated.store
    with store.lock:
        store._builtins = [t for t in store._builtins if t.group != "events.k8s.io"]
        store._crds_changed("MODIFIED", {})
    api_client = config.new_client_from_config(str(simulated.write_kubeconfig(tmp_path / "kc")))
    assert events.event_resource(api_client) == events.CORE_EVENTS
    cluster = factories.make_cluster("old")
    regarding = {"apiVersion": "vitistack.io/v1alpha1", "kind": "Machine", "name": "m", "namespace": NS, "uid": "u"}
    workloads.record_event(store, regarding, "Warning", "ProvisioningFailed", "no capacity", "machine-controller")
    mirror = events.EventMirror(cluster.pk, api_client, {workloads.CONTROLLER_NAMESPACE})
    mirror.start()
    try:
        wait_for(lambda: Event.objects.filter(cluster=cluster).exists(), message="the core event")
    finally:
        mirror.stop()
    event = Event.objects.get(cluster=cluster)
    assert (event.api_version, event.reason, event.message, event.regarding_name) == (
        "v1",
        "ProvisioningFailed",
        "no capacity",
        "m",
    )


def test_both_shapes_normalize_to_the_same_row():
    core = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "m.1", "namespace": NS, "uid": "e1"},
        "involvedObject": {"apiVersion": "vitistack.io/v1alpha1", "kind": "Machine", "name": "m", "namespace": NS},
        "type": "Warning",
        "reason": "ProvisioningFailed",
        "message": "boom",
        "count": 3,
        "firstTimestamp": "2026-01-01T10:00:00Z",
        "lastTimestamp": "2026-01-01T10:05:00Z",
        "source": {"component": "machine-controller"},
    }
    new = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "m.1", "namespace": NS, "uid": "e1"},
        "regarding": core["involvedObject"],
        "type": "Warning",
        "reason": "ProvisioningFailed",
        "note": "boom",
        "eventTime": "2026-01-01T10:00:00.000000Z",
        "series": {"count": 3, "lastObservedTime": "2026-01-01T10:05:00.000000Z"},
        "reportingController": "machine-controller",
    }
    a, b = events.normalize(core), events.normalize(new)
    for row in (a, b):
        row.pop("api_version")
    assert a == b
    assert a["count"] == 3 and a["last_seen"] - a["first_seen"] == timedelta(minutes=5)
    assert events.normalize({"metadata": {}}) is None


def _event(cluster, name, seen, kind="Machine", obj="m", type_="Normal"):
    return Event(
        cluster=cluster,
        namespace=NS,
        name=name,
        api_version="v1",
        type=type_,
        reason="R",
        last_seen=seen,
        first_seen=seen,
        regarding_kind=kind,
        regarding_namespace=NS,
        regarding_name=obj,
    )


def test_retention_keeps_n_per_object_drops_old_ones_and_caps_the_cluster(db):
    cluster = factories.make_cluster("noisy")
    other = factories.make_cluster("quiet")
    now = timezone.now()
    Event.objects.bulk_create(
        [_event(cluster, f"a{i}", now - timedelta(seconds=i), obj="a") for i in range(30)]
        + [_event(cluster, f"b{i}", now - timedelta(seconds=i), obj="b") for i in range(5)]
        + [_event(cluster, "old", now - timedelta(hours=30), obj="c")]
        + [_event(other, f"q{i}", now - timedelta(seconds=i), obj="a") for i in range(30)]
    )
    events.prune(cluster.pk, per_object=10, max_age_hours=24, per_cluster=1000)
    kept = Event.objects.filter(cluster=cluster)
    assert kept.filter(regarding_name="a").count() == 10
    # The newest ten of "a" are kept.
    assert set(kept.filter(regarding_name="a").values_list("name", flat=True)) == {f"a{i}" for i in range(10)}
    assert kept.filter(regarding_name="b").count() == 5
    assert not kept.filter(name="old").exists()
    assert Event.objects.filter(cluster=other).count() == 30  # another cluster's retention is its own

    events.prune(cluster.pk, per_object=10, max_age_hours=24, per_cluster=12)
    assert set(kept.values_list("name", flat=True)) == {f"a{i}" for i in range(7)} | {f"b{i}" for i in range(5)}


def test_fleet_events_page_filters_newest_first(db, client):
    cluster = factories.make_cluster("east")
    now = timezone.now()
    Event.objects.bulk_create(
        [
            _event(cluster, "w-old", now - timedelta(hours=2), type_="Warning"),
            _event(cluster, "w-new", now - timedelta(minutes=1), type_="Warning"),
            _event(cluster, "n", now, type_="Normal", kind="MachineProvider", obj="p"),
        ]
    )
    Event.objects.filter(name="w-new").update(reason="ProvisioningFailed", message="newest warning")
    Event.objects.filter(name="w-old").update(message="older warning")
    client.force_login(factories.viewer())
    page = client.get(reverse("event_list"), {"cluster": "east", "type": "Warning"}).content.decode()
    assert page.index("newest warning") < page.index("older warning")
    assert "2 events" in page
    recent = client.get(reverse("event_list"), {"type": "Warning", "since": "1h"}).content.decode()
    assert "newest warning" in recent and "older warning" not in recent
    assert "1 event," in client.get(reverse("event_list"), {"kind": "MachineProvider"}).content.decode()
    assert "1 event," in client.get(reverse("event_list"), {"reason": "ProvisioningFailed"}).content.decode()


@pytest.mark.parametrize("query", [{"type": "Bogus"}, {"since": "forever"}, {"page": "x"}])
def test_bad_filters_are_explained_not_500(db, client, query):
    client.force_login(factories.viewer())
    response = client.get(reverse("event_list"), query)
    assert response.status_code == 200
    if "page" not in query:
        assert "must be" in response.content.decode()


def test_events_need_a_login(db, client):
    assert client.get(reverse("event_list")).status_code == 302


def test_event_text_from_the_cluster_is_escaped(db, client):
    cluster = factories.make_cluster("east")
    factories.mirror(cluster, factories.k8s_object("Machine", "web-1"))
    machine_pk = Machine.objects.get(name="web-1").pk
    event = _event(cluster, "x", timezone.now(), obj="web-1", type_="Warning")
    event.message = factories.XSS
    event.reason = factories.XSS[:200]
    event.save()
    client.force_login(factories.viewer())
    for url in (reverse("event_list"), reverse("machine_events", args=[machine_pk]), "/"):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html and "&lt;script&gt;" in html, url


def test_the_events_page_and_tab_are_live(db):
    from vitiweb.live_regions import live_page, render_regions

    cluster = factories.make_cluster("east")
    factories.mirror(cluster, factories.k8s_object("Machine", "web-1"))
    machine_pk = Machine.objects.get(name="web-1").pk
    _event(cluster, "e", timezone.now(), obj="web-1").save()
    viewer = factories.viewer()
    fleet = live_page("/events/?type=Normal")
    assert fleet.groups == ("event-list",) and fleet.regions == ("event-results",)
    assert "1 event," in render_regions(viewer, fleet.path, fleet.regions)["event-results"]
    tab = live_page(f"/machines/{machine_pk}/events/")
    assert tab.groups == (f"machine-{machine_pk}",)
    assert 'data-event-reason="R"' in render_regions(viewer, tab.path, tab.regions)["tab-panel"]
