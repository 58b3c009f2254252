"""Fault injection, from Python and over the sandbox's own HTTP endpoint."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from kubernetes import client

G, V = "vitistack.io", "v1alpha1"
MACHINES = f"/apis/{G}/{V}/namespaces/default/machines"


def machine(name):
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "Machine",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"machineProvider": {"name": "p"}},
    }


def get(sb, path, **kw):
    return requests.get(sb.url + path, timeout=10, **kw)


def test_fail_next_requests_with_429_and_500(sandbox, k8s):
    co = client.CustomObjectsApi(k8s)
    sandbox.faults.fail_next(1, status=429, retry_after=3)
    throttled = get(sandbox, MACHINES)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert throttled.json()["reason"] == "TooManyRequests"
    assert throttled.json()["details"] == {"retryAfterSeconds": 3}
    sandbox.faults.fail_next(2, status=500, path_contains="/machines")
    assert get(sandbox, "/api/v1/namespaces").status_code == 200  # not matched, not counted
    for _ in range(2):
        with pytest.raises(client.ApiException) as err:
            co.list_namespaced_custom_object(G, V, "default", "machines")
        assert err.value.status == 500 and json.loads(err.value.body)["reason"] == "InternalError"
    assert co.list_namespaced_custom_object(G, V, "default", "machines")["items"] == []


def test_http_fault_endpoint_and_state(sandbox):
    resp = requests.post(
        sandbox.url + "/_sandbox/faults",
        timeout=5,
        json={"fail": {"count": 1, "status": 429, "retryAfter": 2, "methods": ["POST"]}, "latency": 0.2},
    )
    assert resp.status_code == 200
    assert resp.json()["faults"]["pendingFailures"][0]["status"] == 429
    started = time.monotonic()
    assert get(sandbox, MACHINES).status_code == 200
    assert time.monotonic() - started >= 0.2
    assert requests.post(sandbox.url + MACHINES, json=machine("m"), timeout=5).status_code == 429
    assert requests.post(sandbox.url + MACHINES, json=machine("m"), timeout=5).status_code == 201
    requests.post(sandbox.url + "/_sandbox/faults", json={"reset": True}, timeout=5)
    state = get(sandbox, "/_sandbox/state").json()
    assert state["store"]["objects"]["vitistack.io/machines"] == 1
    assert state["faults"] == {"latency": 0.0, "pendingFailures": [], "failedSoFar": 1}
    bad = requests.post(sandbox.url + "/_sandbox/faults", json={"explode": True}, timeout=5)
    assert bad.status_code == 400 and bad.json()["kind"] == "Status"


def _watch_in_thread(sb, query="watch=1"):
    out: dict = {"lines": [], "error": None}

    def run():
        try:
            with requests.get(sb.url + f"{MACHINES}?{query}", stream=True, timeout=10) as resp:
                for line in resp.iter_lines():
                    if line:
                        out["lines"].append(json.loads(line))
        except requests.RequestException as exc:
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 5
    while not sb.server.streams and time.monotonic() < deadline:
        time.sleep(0.01)
    return thread, out


@pytest.mark.parametrize("abrupt", [False, True], ids=["clean", "abrupt"])
def test_drop_watches(sandbox, abrupt):
    thread, out = _watch_in_thread(sandbox)
    sandbox.store.create(machine("m"))
    deadline = time.monotonic() + 5
    while not out["lines"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox.faults.drop_watches(abrupt=abrupt) == 1
    thread.join(5)
    assert not thread.is_alive()
    assert [e["type"] for e in out["lines"]] == ["ADDED"]
    assert (out["error"] is not None) == abrupt
    assert sandbox.state()["openWatches"] == 0


def test_drop_watches_over_http(sandbox):
    thread, _ = _watch_in_thread(sandbox)
    resp = requests.post(sandbox.url + "/_sandbox/faults", json={"dropWatches": True}, timeout=5)
    assert resp.json()["applied"]["droppedWatches"] == 1
    thread.join(5)
    assert not thread.is_alive()


def test_compact_forces_410_on_watch_resume(sandbox):
    sandbox.store.create(machine("a"))
    rv = sandbox.store.resource_version
    sandbox.store.create(machine("b"))
    requests.post(sandbox.url + "/_sandbox/faults", json={"compact": True}, timeout=5)
    resp = get(sandbox, f"{MACHINES}?watch=1&resourceVersion={rv}", stream=True)
    events = [json.loads(line) for line in resp.iter_lines() if line]
    assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
    # Watching from now on works.
    now = sandbox.store.resource_version
    resp = get(sandbox, f"{MACHINES}?watch=1&resourceVersion={now}&timeoutSeconds=0", stream=True)
    assert resp.status_code == 200 and list(resp.iter_lines()) == []


def test_stop_and_start_keep_state_and_port(sandbox):
    sandbox.store.create(machine("m"))
    url, rv = sandbox.url, sandbox.store.resource_version
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        get(sandbox, "/version")
    assert sandbox.start() == url
    listed = get(sandbox, MACHINES).json()
    assert [o["metadata"]["name"] for o in listed["items"]] == ["m"]
    assert listed["metadata"]["resourceVersion"] == str(rv)


def test_restart_over_http_with_downtime(sandbox):
    requests.post(sandbox.url + "/_sandbox/faults", json={"restart": {"downtime": 1.0}}, timeout=5)
    states = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and states[-2:] != ["down", "up"]:
        try:
            get(sandbox, "/version")
            state = "up"
        except requests.ConnectionError:
            state = "down"
        if not states or states[-1] != state:
            states.append(state)
        time.sleep(0.02)
    assert states[-2:] == ["down", "up"], states
