"""List and watch over real HTTP against the sandbox cluster, with its faults injected."""

from __future__ import annotations

import time

import pytest

from vitiweb.kube import errors, transport
from vitiweb.kube.backoff import BackoffPolicy
from vitiweb.kube.clients import Timeouts
from vitiweb.kube.discovery import discover
from vitiweb.kube.reflector import Reflector, ReflectorTiming, list_objects
from vitiweb.kube.resources import Resource

from .conftest import Recorder, machine_manifest

MACHINES = Resource("vitistack.io", "v1alpha1", "machines", True, "Machine")
API_VERSION = "vitistack.io/v1alpha1"

FAST = ReflectorTiming(
    list_timeouts=Timeouts(connect=2, read=10),
    connect_timeout=2,
    watch_timeout=30,
    watch_jitter=0.2,
    read_timeout_margin=5,
    backoff=BackoffPolicy(initial=0.05, factor=2, cap=0.5, jitter=0),
    error_backoff=BackoffPolicy(initial=0.2, factor=2, cap=0.5, jitter=0),
    min_watch_duration=0.1,
)


def names(items):
    return sorted(o["metadata"]["name"] for o in items)


def ensure_namespace(sb, name="production"):
    try:
        sb.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except Exception:
        pass


@pytest.fixture
def start_reflector():
    started = []

    def start(client, recorder, resource=MACHINES, timing=FAST, **kwargs):
        reflector = Reflector(
            client,
            resource,
            on_list=recorder.on_list,
            on_event=recorder.on_event,
            on_state=recorder.on_state,
            timing=timing,
            **kwargs,
        )
        reflector.start()
        started.append(reflector)
        return reflector

    yield start
    for reflector in started:
        assert reflector.stop(timeout=5), "reflector did not stop"


def settle(recorder, predicate, timeout=10.0):
    recorder.wait_for(predicate, timeout=timeout)


def test_a_list_of_more_than_500_objects_comes_in_pages_as_one_snapshot(sandbox, client_for):
    sandbox.populate(vitistacks=0, machine_providers=0, kubernetes_providers=0, machines=1234)
    client = client_for(sandbox)
    result = list_objects(client, MACHINES)
    assert len(result) == 1234 and len(set(names(result))) == 1234
    assert result.pages == 3
    assert result.resource_version == str(sandbox.store.resource_version)
    assert all(o["kind"] == "Machine" and o["apiVersion"] == API_VERSION for o in result)


def test_an_expired_continue_token_restarts_the_list_and_the_result_is_the_new_snapshot(
    sandbox, client_for, monkeypatch
):
    sandbox.populate(vitistacks=0, machine_providers=0, kubernetes_providers=0, machines=1100, namespaces=1)
    client = client_for(sandbox)
    real = transport.get_json
    pages = []

    def between_pages(api_client, path, query=None, **kwargs):
        pages.append((query or {}).get("continue"))
        response = real(api_client, path, query, **kwargs)
        if len(pages) == 1:
            # While the client holds page one: a change, and the history it would page through is gone.
            sandbox.store.delete(API_VERSION, "Machine", "m-00000", "fleet-0")
            sandbox.store.create(machine_manifest("late-arrival", namespace="fleet-0"))
            sandbox.faults.compact()
        return response

    monkeypatch.setattr(transport, "get_json", between_pages)
    result = list_objects(client, MACHINES)
    assert result.restarts == 1
    assert pages[0] is None and pages[1] is not None and pages[2] is None, (
        "after the 410 the list starts again without a token"
    )
    listed = set(names(result))
    assert "late-arrival" in listed and "m-00000" not in listed and len(listed) == 1100


def test_the_reflector_hands_over_the_snapshot_then_every_change(sandbox, client_for, start_reflector):
    ensure_namespace(sandbox)
    sandbox.store.create(machine_manifest("before"))
    recorder = Recorder()
    reflector = start_reflector(client_for(sandbox), recorder)
    settle(recorder, lambda: "watching" in recorder.state_names())
    assert names(recorder.lists[0][0]) == ["before"]
    sandbox.store.create(machine_manifest("after"))
    sandbox.store.apply(machine_manifest("after", instance_type="c5.2xlarge"), field_manager="ops", force=True)
    sandbox.store.delete(API_VERSION, "Machine", "before", "production")
    settle(recorder, lambda: len(recorder.events) == 3)
    assert [(k, o["metadata"]["name"]) for k, o in recorder.events] == [
        ("ADDED", "after"),
        ("MODIFIED", "after"),
        ("DELETED", "before"),
    ]
    assert recorder.events[1][1]["spec"]["instanceType"] == "c5.2xlarge"
    assert reflector.resource_version == recorder.events[-1][1]["metadata"]["resourceVersion"]


def test_bookmarks_advance_the_resource_version_without_events(sandbox_factory, client_for, start_reflector):
    sb = sandbox_factory(bookmark_interval=0.1)
    ensure_namespace(sb)
    recorder = Recorder()
    reflector = start_reflector(client_for(sb), recorder)
    settle(recorder, lambda: "watching" in recorder.state_names())
    listed_rv = int(recorder.lists[0][1])
    # A change to another kind moves the cluster's resourceVersion; only a bookmark can tell the machines watch.
    sb.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "elsewhere"}})
    target = sb.store.resource_version
    assert target > listed_rv
    deadline = time.monotonic() + 5
    while int(reflector.resource_version) < target and time.monotonic() < deadline:
        time.sleep(0.02)
    assert int(reflector.resource_version) >= target
    assert recorder.events == [] and reflector.status.counts.get("BOOKMARK", 0) >= 1


def test_a_watch_ended_by_the_server_resumes_from_the_last_resource_version_without_relisting(
    sandbox, client_for, start_reflector
):
    ensure_namespace(sandbox)
    recorder = Recorder()
    reflector = start_reflector(client_for(sandbox), recorder)
    settle(recorder, lambda: "watching" in recorder.state_names())
    sandbox.store.create(machine_manifest("one"))
    settle(recorder, lambda: len(recorder.events) == 1)
    # Keep the next watch requests failing so changes pile up while no watch is open.
    sandbox.faults.fail_next(2, status=500, path_contains="watch=true")
    assert sandbox.faults.drop_watches() == 1
    sandbox.store.create(machine_manifest("two"))
    sandbox.store.create(machine_manifest("three"))
    settle(recorder, lambda: len(recorder.events) == 3)
    assert [o["metadata"]["name"] for _, o in recorder.events] == ["one", "two", "three"]
    assert len(recorder.lists) == 1, "history was still there: resumed, not relisted"
    assert reflector.status.watches >= 2


def test_an_expired_resource_version_relists_and_converges_on_the_changes_made_meanwhile(
    sandbox, client_for, start_reflector
):
    ensure_namespace(sandbox)
    for name in ("keep", "doomed"):
        sandbox.store.create(machine_manifest(name))
    recorder = Recorder()
    start_reflector(client_for(sandbox), recorder)
    settle(recorder, lambda: "watching" in recorder.state_names())
    sandbox.faults.fail_next(1000, status=503, retry_after=0, path_contains="watch=true")
    sandbox.faults.drop_watches()
    settle(recorder, lambda: "backoff" in recorder.state_names())
    sandbox.store.delete(API_VERSION, "Machine", "doomed", "production")
    sandbox.store.create(machine_manifest("born"))
    sandbox.faults.compact()
    sandbox.faults.reset()
    settle(recorder, lambda: len(recorder.lists) == 2 and recorder.state_names()[-1] == "watching")
    assert names(recorder.lists[1][0]) == ["born", "keep"]
    assert recorder.lists[1][1] == str(sandbox.store.resource_version)
    assert recorder.events == [], "nothing was seen as an event: the relist carried it"


def test_a_dropped_connection_backs_off_and_resumes(sandbox, client_for, start_reflector):
    ensure_namespace(sandbox)
    recorder = Recorder()
    start_reflector(client_for(sandbox), recorder)
    settle(recorder, lambda: "watching" in recorder.state_names())
    sandbox.faults.drop_watches(abrupt=True)
    sandbox.store.create(machine_manifest("after-drop"))
    settle(recorder, lambda: len(recorder.events) == 1)
    assert len(recorder.lists) == 1
    dropped = [e for s, e in recorder.states if s == "backoff"]
    assert dropped and dropped[0].category == errors.DROPPED


def test_server_errors_are_retried_with_growing_delays(sandbox, client_for, start_reflector):
    ensure_namespace(sandbox)
    recorder = Recorder()
    start_reflector(client_for(sandbox), recorder)
    settle(recorder, lambda: "watching" in recorder.state_names())
    time.sleep(FAST.min_watch_duration * 2)  # so the end of this watch is an ordinary one
    sandbox.faults.fail_next(3, status=500, path_contains="watch=true")
    dropped_at = time.monotonic()
    sandbox.faults.drop_watches()
    settle(recorder, lambda: recorder.state_names().count("watching") == 2)
    elapsed = time.monotonic() - dropped_at
    assert elapsed >= 0.05 + 0.1 + 0.2
    assert [str(e) for s, e in recorder.states if s == "backoff"] == [
        "server error (500): Internal error occurred: injected fault"
    ] * 3


def test_throttling_is_retried_no_sooner_than_retry_after(sandbox, client_for, start_reflector):
    ensure_namespace(sandbox)
    recorder = Recorder()
    start_reflector(client_for(sandbox), recorder)
    settle(recorder, lambda: "watching" in recorder.state_names())
    time.sleep(FAST.min_watch_duration * 2)
    sandbox.faults.fail_next(1, status=429, retry_after=1, path_contains="watch=true")
    dropped_at = time.monotonic()
    sandbox.faults.drop_watches()
    settle(recorder, lambda: recorder.state_names().count("watching") == 2)
    assert time.monotonic() - dropped_at >= 1.0
    (throttled,) = [e for s, e in recorder.states if s == "backoff"]
    assert throttled.category == errors.THROTTLED and throttled.retry_after == 1.0


def test_a_throttled_list_is_retried_no_sooner_than_retry_after(sandbox, client_for, start_reflector):
    sandbox.faults.fail_next(1, status=429, retry_after=1, path_contains="/machines")
    recorder = Recorder()
    started = time.monotonic()
    start_reflector(client_for(sandbox), recorder)
    settle(recorder, lambda: "watching" in recorder.state_names())
    assert time.monotonic() - started >= 1.0
    assert recorder.state_names()[:3] == ["listing", "backoff", "listing"]


def test_a_stopped_and_restarted_server_is_reported_unreachable_then_caught_up_with(
    sandbox, client_for, start_reflector
):
    ensure_namespace(sandbox)
    recorder = Recorder()
    reflector = start_reflector(client_for(sandbox), recorder)
    settle(recorder, lambda: "watching" in recorder.state_names())
    url = sandbox.url
    sandbox.stop()
    settle(recorder, lambda: any(s == "backoff" and e.category == errors.UNREACHABLE for s, e in recorder.states))
    unreachable = next(e for s, e in recorder.states if s == "backoff" and e.category == errors.UNREACHABLE)
    assert str(unreachable) == f"unreachable: connection refused at {url}"
    assert reflector.status.health == "unreachable"
    sandbox.store.create(machine_manifest("made-while-down"))
    sandbox.start()
    assert sandbox.url == url
    settle(recorder, lambda: recorder.events)
    assert recorder.events[0][1]["metadata"]["name"] == "made-while-down"
    assert reflector.status.state == "watching" and reflector.status.health == "connected"


def test_a_missing_crd_is_an_error_state_until_the_crd_is_installed(sandbox_factory, client_for, start_reflector):
    import yaml

    from vitiweb.sandbox import DEFAULT_CRDS_DIR

    sb = sandbox_factory(crds_dir=None)
    client = client_for(sb)
    assert discover(client)["Machine"].problem == "CRD machines.vitistack.io not installed"
    recorder = Recorder()
    start_reflector(client, recorder)
    settle(recorder, lambda: "error" in recorder.state_names())
    error = next(e for s, e in recorder.states if s == "error")
    assert error.category == errors.NOT_FOUND
    crd = yaml.safe_load((DEFAULT_CRDS_DIR / "machines.vitistack.io.yaml").read_text())
    sb.store.create(crd)
    ensure_namespace(sb)
    sb.store.create(machine_manifest("first"))
    settle(recorder, lambda: recorder.state_names()[-1] == "watching")
    assert names(recorder.lists[-1][0]) == ["first"]
    assert discover(client)["Machine"].installed


def test_a_rejected_token_is_an_error_state_not_a_crash(sandbox_factory, client_for, start_reflector):
    sb = sandbox_factory(token="the-right-one")
    recorder = Recorder()
    reflector = start_reflector(client_for(sb, token="a-wrong-one"), recorder)
    settle(recorder, lambda: "error" in recorder.state_names())
    error = next(e for s, e in recorder.states if s == "error")
    assert str(error) == "unauthorized: the token was rejected"
    assert reflector.status.state == "error" and reflector.status.retry_at is not None
    assert (
        reflector.status.health == "degraded"
        and str(reflector.status.last_error) == "unauthorized: the token was rejected"
    )


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_stop_is_prompt_while_watching(sandbox_factory, client_for, tls):
    sb = sandbox_factory(tls=tls)
    recorder = Recorder()
    reflector = Reflector(
        client_for(sb),
        MACHINES,
        on_list=recorder.on_list,
        on_event=recorder.on_event,
        on_state=recorder.on_state,
        timing=FAST,
    )
    reflector.start()
    settle(recorder, lambda: "watching" in recorder.state_names())
    started = time.monotonic()
    assert reflector.stop(timeout=3)
    assert time.monotonic() - started < 1.0
    assert recorder.state_names()[-1] == "stopped"
