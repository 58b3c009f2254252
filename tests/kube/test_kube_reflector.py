"""The reflector's contract, against a scripted HTTP server that answers exactly as told.

These pin down each branch of the loop (what relists, what backs off, what
waits how long); tests/kube/test_kube_sandbox_*.py check the same behaviour
against the sandbox cluster.
"""

from __future__ import annotations

import threading
import time

import pytest

from vitiweb.kube import errors
from vitiweb.kube.backoff import BackoffPolicy
from vitiweb.kube.clients import Timeouts, api_client_from_kubeconfig
from vitiweb.kube.reflector import Reflector, ReflectorTiming, list_objects
from vitiweb.kube.resources import Resource

from .conftest import Recorder, json_reply, status_reply, stream_reply

MACHINES = Resource("vitistack.io", "v1alpha1", "machines", True, "Machine")
LIST = "GET /apis/vitistack.io/v1alpha1/machines"
WATCH = LIST + "?watch"

FAST = ReflectorTiming(
    page_size=2,
    list_timeouts=Timeouts(connect=1, read=2),
    connect_timeout=1,
    watch_timeout=5,
    watch_jitter=0,
    read_timeout_margin=1,
    backoff=BackoffPolicy(initial=0.05, factor=2, cap=0.4, jitter=0),
    error_backoff=BackoffPolicy(initial=0.15, factor=2, cap=0.5, jitter=0),
    min_watch_duration=0.2,
)


def machine(name, rv, namespace="production"):
    return {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "Machine",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(rv), "uid": f"uid-{name}"},
    }


def page(items, rv, cont=None):
    meta = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
    return json_reply(
        200, {"apiVersion": "vitistack.io/v1alpha1", "kind": "MachineList", "metadata": meta, "items": items}
    )


def event(kind, obj):
    return {"type": kind, "object": obj}


def bookmark(rv):
    return event(
        "BOOKMARK", {"apiVersion": "vitistack.io/v1alpha1", "kind": "Machine", "metadata": {"resourceVersion": str(rv)}}
    )


def expired_event(message="too old resource version: 10 (55)"):
    return event(
        "ERROR",
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "Expired",
            "code": 410,
        },
    )


@pytest.fixture
def client(scripted, kubeconfig_for):
    return api_client_from_kubeconfig(kubeconfig_for(scripted.url, token="t"))


@pytest.fixture
def run_reflector(client):
    started = []

    def run(recorder, timing=FAST, **kwargs):
        reflector = Reflector(
            client,
            MACHINES,
            on_list=recorder.on_list,
            on_event=recorder.on_event,
            on_state=recorder.on_state,
            timing=timing,
            **kwargs,
        )
        reflector.start()
        started.append(reflector)
        return reflector

    yield run
    for reflector in started:
        assert reflector.stop(timeout=3), "reflector did not stop"


def test_the_snapshot_holds_every_page_and_events_follow_from_its_resource_version(scripted, run_reflector):
    scripted.script(LIST, page([machine("m1", 3), machine("m2", 5)], 10, cont="c1"), page([machine("m3", 7)], 10))
    scripted.script(
        WATCH,
        stream_reply(
            [
                event("ADDED", machine("m4", 11)),
                event("MODIFIED", machine("m1", 12)),
                event("DELETED", machine("m2", 13)),
                bookmark(20),
            ],
            hold=10,
            server=scripted,
        ),
    )
    recorder = Recorder()
    reflector = run_reflector(recorder)
    recorder.wait_for(lambda: len(recorder.events) == 3)
    assert recorder.lists[0][1] == "10" and recorder.names(0) == ["m1", "m2", "m3"]
    assert [(k, o["metadata"]["name"]) for k, o in recorder.events] == [
        ("ADDED", "m4"),
        ("MODIFIED", "m1"),
        ("DELETED", "m2"),
    ]
    deadline = time.monotonic() + 2
    while reflector.resource_version != "20" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reflector.resource_version == "20", "a bookmark advances the resourceVersion"
    lists = scripted.calls(LIST)
    assert [q.get("limit") for _, q in lists] == ["2", "2"] and lists[1][1]["continue"] == "c1"
    _, watch = scripted.calls(WATCH)[0]
    assert (
        watch["resourceVersion"] == "10" and watch["allowWatchBookmarks"] == "true" and watch["timeoutSeconds"] == "5"
    )
    assert recorder.state_names()[:2] == ["listing", "watching"]
    status = reflector.status
    assert status.state == "watching" and status.events == 4 and status.counts["BOOKMARK"] == 1 and status.last_event_at


def test_an_expired_continue_token_restarts_the_list_from_scratch(scripted, client):
    scripted.script(
        LIST,
        page([machine("a", 1), machine("b", 2)], 10, cont="old"),
        status_reply(410, "Expired", "The provided continue parameter is too old"),
        page([machine("a", 1), machine("c", 12)], 12, cont="new"),
        page([machine("d", 13)], 12),
    )
    result = list_objects(client, MACHINES, page_size=2)
    assert sorted(o["metadata"]["name"] for o in result) == ["a", "c", "d"]
    assert result.resource_version == "12" and result.restarts == 1
    assert [q.get("continue") for _, q in scripted.calls(LIST)] == [None, "old", None, "new"]


def test_list_items_get_api_version_and_kind_when_the_server_leaves_them_out(scripted, client):
    scripted.script(
        LIST,
        json_reply(
            200,
            {
                "kind": "MachineList",
                "apiVersion": "vitistack.io/v1alpha1",
                "metadata": {"resourceVersion": "4"},
                "items": [{"metadata": {"name": "bare"}}],
            },
        ),
    )
    (item,) = list_objects(client, MACHINES)
    assert item["apiVersion"] == "vitistack.io/v1alpha1" and item["kind"] == "Machine"


def test_an_expired_error_event_relists_at_once_and_the_new_snapshot_replaces_the_old(scripted, run_reflector):
    scripted.script(LIST, page([machine("m1", 3)], 10), page([machine("m2", 60)], 60))
    scripted.script(
        WATCH, stream_reply([expired_event()], hold=10, server=scripted), stream_reply([], hold=10, server=scripted)
    )
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: len(recorder.lists) == 2 and recorder.state_names().count("watching") == 2)
    assert recorder.names(1) == ["m2"] and recorder.lists[1][1] == "60"
    assert "backoff" not in recorder.state_names()
    assert scripted.calls(WATCH)[1][1]["resourceVersion"] == "60"


def test_http_410_on_the_watch_request_relists(scripted, run_reflector):
    scripted.script(LIST, page([], 10), page([], 70))
    scripted.script(
        WATCH, status_reply(410, "Expired", "too old resource version"), stream_reply([], hold=10, server=scripted)
    )
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: len(recorder.lists) == 2 and recorder.state_names()[-1] == "watching")
    assert scripted.calls(WATCH)[-1][1]["resourceVersion"] == "70"


def test_a_normal_end_of_the_stream_watches_again_from_the_last_resource_version(scripted, run_reflector):
    scripted.script(LIST, page([], 10))
    scripted.script(
        WATCH,
        stream_reply([event("ADDED", machine("m1", 11))]),
        stream_reply([bookmark(15)]),
        stream_reply([], hold=10, server=scripted),
    )
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: len(scripted.calls(WATCH)) == 3)
    assert [q["resourceVersion"] for _, q in scripted.calls(WATCH)] == ["10", "11", "15"]
    assert len(recorder.lists) == 1
    assert "backoff" not in recorder.state_names()


def test_a_stream_closed_at_once_with_no_event_backs_off_instead_of_spinning(scripted, run_reflector):
    scripted.script(LIST, page([], 10))
    scripted.script(
        WATCH, stream_reply([]), stream_reply([]), stream_reply([]), stream_reply([], hold=10, server=scripted)
    )
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: len(scripted.calls(WATCH)) == 4)
    times = [at for at, _ in scripted.calls(WATCH)]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2
    assert recorder.state_names().count("backoff") == 3


def test_throttling_waits_at_least_as_long_as_retry_after(scripted, run_reflector):
    scripted.script(LIST, page([], 10))
    scripted.script(
        WATCH,
        status_reply(429, "TooManyRequests", "slow down", headers={"Retry-After": "1"}),
        stream_reply([], hold=10, server=scripted),
    )
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: len(scripted.calls(WATCH)) == 2, timeout=5)
    (first, _), (second, query) = scripted.calls(WATCH)
    assert second - first >= 1.0
    assert query["resourceVersion"] == "10"
    state, error = next((s, e) for s, e in recorder.states if s == "backoff")
    assert error.category == errors.THROTTLED and error.retry_after == 1.0


def test_server_errors_back_off_exponentially_then_resume_the_watch(scripted, run_reflector):
    scripted.script(LIST, page([], 10))
    scripted.script(
        WATCH,
        status_reply(500, "InternalError"),
        status_reply(503, "ServiceUnavailable"),
        status_reply(500, "InternalError"),
        stream_reply([], hold=10, server=scripted),
    )
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: recorder.state_names()[-1:] == ["watching"] and len(scripted.calls(WATCH)) == 4)
    times = [at for at, _ in scripted.calls(WATCH)]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2
    assert len(recorder.lists) == 1, "a server error resumes the watch; it does not relist"
    assert [str(e) for s, e in recorder.states if s == "backoff"] == [
        "server error (500): InternalError",
        "server error (503): ServiceUnavailable",
        "server error (500): InternalError",
    ]


def test_a_dropped_connection_resumes_the_watch_without_relisting(scripted, run_reflector):
    scripted.script(LIST, page([], 10))
    scripted.script(
        WATCH,
        stream_reply([event("ADDED", machine("m1", 11))], hold=0.1, end="drop"),
        stream_reply([], hold=10, server=scripted),
    )
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: len(scripted.calls(WATCH)) == 2)
    assert scripted.calls(WATCH)[1][1]["resourceVersion"] == "11"
    assert len(recorder.lists) == 1
    backoffs = [e for s, e in recorder.states if s == "backoff"]
    assert backoffs and backoffs[0].category == errors.DROPPED


def test_a_silent_stream_is_abandoned_after_the_server_timeout_plus_a_margin(scripted, run_reflector):
    timing = ReflectorTiming(**{**FAST.__dict__, "watch_timeout": 1, "read_timeout_margin": 0.3})
    scripted.script(LIST, page([], 10))
    scripted.script(WATCH, stream_reply([], hold=10, server=scripted), stream_reply([], hold=10, server=scripted))
    recorder = Recorder()
    run_reflector(recorder, timing=timing)
    recorder.wait_for(lambda: len(scripted.calls(WATCH)) == 2)
    (first, query), (second, _) = scripted.calls(WATCH)
    assert query["timeoutSeconds"] == "1"
    assert 1.3 <= second - first < 3
    assert any(s == "backoff" and e.category == errors.TIMEOUT for s, e in recorder.states)


def test_the_server_timeout_is_jittered_between_once_and_twice_the_base(client):
    timing = ReflectorTiming(watch_timeout=300, watch_jitter=1.0)
    import random

    values = {timing.server_timeout(random.Random(seed).random) for seed in range(50)}
    assert min(values) >= 300 and max(values) < 600 and len(values) > 10


def test_forbidden_is_an_error_state_retried_slowly_with_a_fresh_list(scripted, run_reflector):
    scripted.script(
        LIST,
        status_reply(
            403, "Forbidden", 'machines.vitistack.io is forbidden: User "bob" cannot list resource "machines"'
        ),
        status_reply(403, "Forbidden", "no"),
        page([machine("m1", 3)], 10),
    )
    scripted.script(WATCH, stream_reply([], hold=10, server=scripted))
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: recorder.state_names()[-1:] == ["watching"], timeout=5)
    assert recorder.state_names() == ["listing", "error", "listing", "error", "listing", "watching"]
    error = recorder.states[1][1]
    assert error.category == errors.FORBIDDEN and str(error).startswith("forbidden: machines.vitistack.io is forbidden")
    times = [at for at, _ in scripted.calls(LIST)]
    assert times[1] - times[0] >= 0.15 and times[2] - times[1] >= 0.3


def test_a_kind_that_disappears_is_reported_and_relisted_when_it_returns(scripted, run_reflector):
    scripted.script(
        LIST,
        page([machine("m1", 3)], 10),
        status_reply(404, "NotFound", "the server could not find the requested resource"),
        page([], 50),
    )
    scripted.script(
        WATCH,
        stream_reply([event("ADDED", machine("m2", 11))]),
        status_reply(404, "NotFound", "the server could not find the requested resource"),
        stream_reply([], hold=10, server=scripted),
    )
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: len(recorder.lists) == 2 and recorder.state_names()[-1] == "watching")
    assert recorder.state_names() == ["listing", "watching", "error", "listing", "error", "listing", "watching"]
    assert all(e.category == errors.NOT_FOUND for s, e in recorder.states if s == "error")
    assert recorder.lists[1] == ([], "50")


def test_a_failing_handler_is_reported_and_followed_by_a_fresh_list(scripted, run_reflector):
    scripted.script(LIST, page([], 10), page([machine("m1", 11)], 11))
    scripted.script(
        WATCH,
        stream_reply([event("ADDED", machine("m1", 11))], hold=10, server=scripted),
        stream_reply([], hold=10, server=scripted),
    )
    recorder = Recorder()
    recorder.fail_events = 1
    run_reflector(recorder)
    recorder.wait_for(lambda: len(recorder.lists) == 2 and recorder.state_names()[-1] == "watching")
    state, error = recorder.states[2]
    assert state == "error" and "database is locked" in str(error)
    assert recorder.names(1) == ["m1"], "the object whose event was lost arrives in the fresh snapshot"


def test_stop_ends_a_hanging_watch_promptly(scripted, client):
    scripted.script(LIST, page([], 10))
    scripted.script(WATCH, stream_reply([], hold=30, server=scripted))
    recorder = Recorder()
    reflector = Reflector(
        client, MACHINES, on_list=recorder.on_list, on_event=recorder.on_event, on_state=recorder.on_state, timing=FAST
    )
    reflector.start()
    recorder.wait_for(lambda: "watching" in recorder.state_names())
    started = time.monotonic()
    assert reflector.stop(timeout=2)
    assert time.monotonic() - started < 1.0
    assert recorder.state_names()[-1] == "stopped"


def test_stop_during_a_slow_retry_is_prompt(scripted, client):
    timing = ReflectorTiming(**{**FAST.__dict__, "error_backoff": BackoffPolicy(initial=60, cap=60, jitter=0)})
    scripted.script(LIST, status_reply(401, "Unauthorized", "Unauthorized"))
    recorder = Recorder()
    stop = threading.Event()
    reflector = Reflector(
        client,
        MACHINES,
        on_list=recorder.on_list,
        on_event=recorder.on_event,
        on_state=recorder.on_state,
        timing=timing,
        stop_event=stop,
    )
    reflector.start()
    recorder.wait_for(lambda: "error" in recorder.state_names())
    assert str(recorder.states[-1][1]) == "unauthorized: the token was rejected"
    assert reflector.status.retry_at is not None
    started = time.monotonic()
    stop.set()  # the caller's own event stops it too
    reflector._thread.join(2)
    assert time.monotonic() - started < 0.5
    assert recorder.state_names()[-1] == "stopped"


def test_a_watch_line_split_across_chunks_is_decoded_whole(scripted, run_reflector):
    import orjson

    line = orjson.dumps(event("ADDED", machine("split", 11))) + b"\n"

    def split_stream(handler, query):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for part in (line[:17], line[17:40], line[40:]):
            handler.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            handler.wfile.flush()
            time.sleep(0.05)
        time.sleep(5)

    scripted.script(LIST, page([], 10))
    scripted.script(WATCH, split_stream)
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: recorder.events)
    assert recorder.events[0][1]["metadata"]["name"] == "split"


def test_an_unexpected_failure_is_reported_and_retried_instead_of_ending_the_loop(scripted, run_reflector, monkeypatch):
    import vitiweb.kube.reflector as reflector_module

    real = reflector_module.list_objects
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise TypeError("a bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(reflector_module, "list_objects", flaky)
    scripted.script(LIST, page([], 10))
    scripted.script(WATCH, stream_reply([], hold=10, server=scripted))
    recorder = Recorder()
    run_reflector(recorder)
    recorder.wait_for(lambda: recorder.state_names()[-1:] == ["watching"])
    assert recorder.state_names() == ["listing", "error", "listing", "watching"]
    assert "TypeError('a bug')" in str(recorder.states[1][1])
