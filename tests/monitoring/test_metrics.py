"""/metrics: the guide's metric names from the database, so its PrometheusRule works for the fleet; access
by bearer token or network; the same numbers from every process."""

import re
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests import factories
from tests.factories import k8s_object, mirror, status
from tests.processes import free_port, manage, stop, wait_for_port
from vitiweb.monitoring import gauges
from vitiweb.monitoring.models import ProvisioningFailure

RULES = Path(__file__).resolve().parents[2] / "examples" / "07-monitoring" / "prometheus-rule.yaml"


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


def parse(text: str) -> dict:
    """{(sample name, frozenset(labels)): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def guide_rules() -> dict[str, str]:
    doc = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule["expr"] for group in doc["spec"]["groups"] for rule in group["rules"]}


def evaluate(expr: str, now: dict, five_minutes_ago: dict) -> list[frozenset]:
    """The label sets for which one of the guide's expressions holds (the two forms it uses)."""
    equal = re.fullmatch(r'(\w+)\{(\w+)="(\w+)"\} == 0', expr)
    if equal:
        name, label, value = equal.groups()
        return [labels for (n, labels), v in now.items() if n == name and (label, value) in labels and v == 0]
    increase = re.fullmatch(r"increase\((\w+)\[5m\]\) > 0", expr)
    assert increase, f"an expression this test does not know: {expr}"
    name = increase.group(1)
    return [labels for (n, labels), v in now.items() if n == name and v - five_minutes_ago.get((n, labels), 0) > 0]


def fleet(cluster, healthy: bool):
    mirror(
        cluster,
        k8s_object(
            "MachineProvider",
            "aws-ec2",
            spec={"type": "aws"},
            status=status("Ready" if healthy else "Degraded", healthy),
        ),
        k8s_object("Vitistack", "prod", spec={"machineProviders": [{"name": "aws-ec2"}]}),
        k8s_object("KubernetesProvider", "eks-prod", spec={"type": "eks"}, status=status("Ready", ready=healthy)),
        k8s_object("Machine", "web-1", spec={"machineProvider": {"name": "aws-ec2"}}, status=status("Provisioning")),
    )


def test_the_guides_three_alerts_fire_on_a_fleet_where_each_should(db, client):
    cluster = factories.make_cluster("east")
    fleet(cluster, healthy=True)
    rules = guide_rules()
    assert set(rules) == {"VitistackProviderDown", "MachineProvisioningFailed", "KubernetesClusterUnhealthy"}
    before = scrape(client)
    assert all(evaluate(expr, before, before) == [] for expr in rules.values())

    fleet(cluster, healthy=False)
    # The machine fails as the controller reports it: a transition the mirror observes.
    machine = k8s_object(
        "Machine", "web-1", spec={"machineProvider": {"name": "aws-ec2"}}, status=status("Failed"), rv="2"
    )
    machine["metadata"]["uid"] = cluster.machines.get().uid
    mirror(cluster, machine)
    after = scrape(client)
    fired = {alert: evaluate(expr, after, before) for alert, expr in rules.items()}
    assert fired["VitistackProviderDown"] == [
        frozenset(
            {
                "management_cluster": "east",
                "namespace": "production",
                "vitistack": "prod",
                "provider": "aws-ec2",
                "provider_kind": "MachineProvider",
                "status": "ready",
            }.items()
        )
    ]
    assert fired["KubernetesClusterUnhealthy"] == [
        frozenset(
            {"management_cluster": "east", "namespace": "production", "cluster": "eks-prod", "status": "ready"}.items()
        )
    ]
    assert fired["MachineProvisioningFailed"] == [frozenset({"management_cluster": "east"}.items())]
    assert (
        after[("vitistack_machine_provisioning_failures_total", frozenset({"management_cluster": "east"}.items()))] == 1
    )


def test_a_machine_first_seen_failed_is_not_counted_as_a_failure(db, client):
    cluster = factories.make_cluster("east")
    mirror(cluster, k8s_object("Machine", "old", status=status("Failed")))
    assert not ProvisioningFailure.objects.exists()


def test_vitiwebs_own_metrics(db, client, monkeypatch):
    cluster = factories.make_cluster("east", state="connected", lag_ms=120.0)
    fleet(cluster, healthy=True)
    for process, sockets in (("web-a", 2), ("web-b", 3)):  # what two web processes each write
        monkeypatch.setattr(gauges, "PROCESS", process)
        monkeypatch.setattr(gauges, "_values", {})
        gauges.adjust("websockets_live", sockets)
    values = scrape(client)

    def value(name, **labels):
        return values[(name, frozenset(labels.items()))]

    assert value("vitiweb_objects", cluster="east", kind="Machine") == 1
    assert value("vitiweb_objects", cluster="east", kind="Vitistack") == 1
    assert value("vitiweb_cluster_sync_state", cluster="east", state="connected") == 1
    assert value("vitiweb_cluster_sync_state", cluster="east", state="unreachable") == 0
    assert value("vitiweb_cluster_sync_lag_seconds", cluster="east") == pytest.approx(0.12)
    assert value("vitiweb_websocket_connections", consumer="live") == 5  # both processes' sockets
    assert ("vitiweb_findings", frozenset({"severity": "error"}.items())) in values


def test_metrics_need_the_token_when_one_is_set(db, client, settings):
    settings.VITIWEB_METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_without_a_token_only_the_allowed_networks_may_scrape(db, client, settings):
    settings.VITIWEB_METRICS_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="not-an-address").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_every_web_process_exports_the_same_guide_metrics(client):
    cluster = factories.make_cluster("east")
    fleet(cluster, healthy=False)
    ProvisioningFailure.objects.create(cluster=cluster, namespace="production", name="web-1")
    port = free_port()
    web = manage("runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks", DEBUG="1")
    try:
        wait_for_port(port)
        deadline = time.monotonic() + 20
        while True:
            try:
                other = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        stop(web)
    here = scrape(client)
    guide = lambda values: {k: v for k, v in values.items() if k[0].startswith("vitistack_")}  # noqa: E731
    assert guide(parse(other)) == guide(here)
    assert (
        guide(here)[
            ("vitistack_machine_provisioning_failures_total", frozenset({"management_cluster": "east"}.items()))
        ]
        == 1
    )
