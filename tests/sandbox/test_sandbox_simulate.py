"""Simulated controllers, fleets, the command line and bulk population."""

from __future__ import annotations

import json
import subprocess
import time

import requests
import yaml

from vitiweb.sandbox import Sandbox, SandboxFleet, Simulator, Store
from vitiweb.sandbox.cli import serve
from vitiweb.sandbox.loader import load, load_crds
from vitiweb.sandbox.populate import populate
from vitiweb.sandbox.sandbox import DEFAULT_CRDS_DIR

from .conftest import EXAMPLES, KUBECTL

GV = "vitistack.io/v1alpha1"


def _loaded_store():
    store = Store()
    load_crds(store, DEFAULT_CRDS_DIR)
    load(store, EXAMPLES, warn=lambda _: None)
    return store


def _history(seed, steps=12):
    store = _loaded_store()
    populate(store, vitistacks=4, machine_providers=6, kubernetes_providers=2, machines=40, seed=1)
    sim = Simulator(store, seed=seed, failure_rate=0.2, flap_rate=0.1)
    for _ in range(steps):
        sim.step()
    out = {}
    for kind in ("Machine", "MachineProvider", "KubernetesProvider", "Vitistack"):
        for obj in store.list(GV, kind):
            status = obj.get("status", {})
            conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
            out[(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])] = (
                status.get("phase"),
                conditions,
                status.get("message"),
            )
    return out


def test_simulation_is_deterministic_for_a_seed():
    first, again, other = _history(7), _history(7), _history(8)
    assert first == again
    assert first != other


def test_simulated_machines_progress_and_fail_with_messages():
    history = _history(3, steps=20)
    machines = {k: v for k, v in history.items() if k[0] == "Machine"}
    phases = {v[0] for v in machines.values()}
    assert phases <= {"Pending", "Provisioning", "Running", "Failed"} and {"Running", "Failed"} <= phases
    bastion = machines[("Machine", "production", "bastion-host")]
    # The guide's bastion asks for an instance type its provider does not offer.
    assert bastion[0] == "Failed" and "t3.micro" in bastion[2]
    providers = [v for k, v in history.items() if k[0] == "MachineProvider"]
    assert all(set(v[1]) == {"Ready", "ProviderHealthy"} for v in providers)
    stacks = {k[2]: v for k, v in history.items() if k[0] == "Vitistack"}
    assert stacks["primary-vitistack"][0] == "Degraded"  # its providers are never defined
    assert "aws-west-provider" in stacks["primary-vitistack"][2]


def test_simulator_writes_through_the_store_so_watches_see_it(sandbox_factory):
    sb = sandbox_factory(load=EXAMPLES, simulate=True, simulate_interval=0.05, seed=1)
    resp = requests.get(
        sb.url + "/apis/vitistack.io/v1alpha1/namespaces/production/machines?watch=1&timeoutSeconds=20",
        stream=True,
        timeout=25,
    )
    phases = []
    for line in resp.iter_lines():
        if line:
            phases.append(json.loads(line)["object"].get("status", {}).get("phase"))
            if phases[-1] == "Failed":
                break
    resp.close()
    assert phases[-1] == "Failed" and "Pending" in phases
    assert sb.state()["simulator"]["statusWrites"] > 0
    status = sb.store.get(GV, "Machine", "bastion-host", "production")
    managers = {(m["manager"], m.get("subresource")) for m in status["metadata"]["managedFields"]}
    assert ("vitistack-controller", "status") in managers
    events = sb.store.list("v1", "Event", namespace="production")
    assert any(e["reason"] == "ProvisioningFailed" for e in events)


def test_fleet_serves_clusters_with_one_kubeconfig(tmp_path):
    with SandboxFleet(3, tls=True, token="fleet-token", warn=lambda _: None) as fleet:
        ports = {sb.port for sb in fleet}
        assert len(ports) == 3
        path = fleet.write_kubeconfig(tmp_path / "fleet.kubeconfig")
        config = yaml.safe_load(path.read_text())
        assert [c["name"] for c in config["contexts"]] == ["sandbox-1", "sandbox-2", "sandbox-3"]
        assert config["clusters"][0]["cluster"]["certificate-authority-data"]
        fleet[1].store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "only-in-two"}})
        got = subprocess.run(
            [
                KUBECTL,
                f"--kubeconfig={path}",
                f"--cache-dir={tmp_path}/c",
                "--context=sandbox-2",
                "get",
                "ns",
                "only-in-two",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert got.stdout.strip() == "namespace/only-in-two", got.stderr
        other = subprocess.run(
            [
                KUBECTL,
                f"--kubeconfig={path}",
                f"--cache-dir={tmp_path}/c",
                "--context=sandbox-3",
                "get",
                "ns",
                "only-in-two",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert other.returncode != 0


def test_command_line_serves_loads_and_populates(tmp_path):
    lines = []
    fleet = serve(
        {
            "port": 0,
            "clusters": 2,
            "load": [EXAMPLES],
            "kubeconfig_out": tmp_path / "k",
            "populate": "machines=30,vitistacks=2,machine_providers=3,kubernetes_providers=1",
        },
        out=lines.append,
    )
    try:
        assert any("skipping" in line and "ServiceMonitor" in line for line in lines)
        assert any(line.startswith("sandbox-2: serving http://127.0.0.1:") for line in lines)
        machines = requests.get(fleet[1].url + "/apis/vitistack.io/v1alpha1/machines", timeout=5).json()["items"]
        assert len(machines) == 31  # 30 generated and the guide's bastion host
        assert (tmp_path / "k").exists()
    finally:
        fleet.stop()


def test_populate_over_http(sandbox):
    resp = requests.post(
        sandbox.url + "/_sandbox/populate",
        json={"machines": 20, "vitistacks": 1, "machine_providers": 2, "kubernetes_providers": 1},
        timeout=10,
    )
    assert resp.json()["created"] == {"MachineProvider": 2, "KubernetesProvider": 1, "Vitistack": 1, "Machine": 20}
    bad = requests.post(sandbox.url + "/_sandbox/populate", json={"widgets": 3}, timeout=10)
    assert bad.status_code == 400


def test_sandbox_as_a_context_manager():
    started = time.monotonic()
    with Sandbox(warn=lambda _: None) as sb:
        assert requests.get(sb.url + "/readyz", timeout=5).text == "ok"
    assert time.monotonic() - started < 3


def test_published_operators_move_clusters_to_running_and_report_their_nodes_and_associations():
    from pathlib import Path

    from vitiweb.sandbox.sandbox import PUBLISHED_CRDS_DIR

    store = Store()
    load_crds(store, PUBLISHED_CRDS_DIR)
    load(store, Path(__file__).resolve().parents[2] / "examples-published" / "oslo", warn=lambda _: None)
    sim = Simulator(store, seed=1, failure_rate=0.0, flap_rate=0.0, progress_rate=1.0)
    for _ in range(8):
        sim.step()
    cluster = store.get(GV, "KubernetesCluster", "osl1-prod-a", "team-a")["status"]
    assert cluster["phase"] == "Running"
    reported = cluster["state"]["cluster"]
    assert reported["controlplane"]["nodes"] == ["osl1-prod-a-cp-0", "osl1-prod-a-cp-1"]
    assert [(pool["name"], pool["nodes"]) for pool in reported["nodepools"]] == [("general", ["osl1-prod-a-worker-0"])]
    stack = store.get(GV, "Vitistack", "viti-oslo")["status"]
    assert {c["name"] for c in stack["clusters"]} >= {"osl1-prod-a"}
    assert {p["name"] for p in stack["machineProviders"]} == {"kubevirt-osl1", "proxmox-osl1"}
