"""Controller logs: Operators pick a Deployment, Pod and container, read the last lines, download them, and
follow the log live over a websocket that streams `pods/log?follow=true` until the page closes."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from tests import factories
from vitiweb.kube.logs import level_of
from vitiweb.monitoring.consumers import LogConsumer
from vitiweb.sandbox import workloads
from vitiweb.sync.clusters import register_cluster

NAMESPACE = workloads.CONTROLLER_NAMESPACE
MACHINE_POD = workloads.pod_name("machine-controller")


@pytest.fixture
def cluster(sandbox_factory, tmp_path, transactional_db):
    sandbox = sandbox_factory(simulate=True, simulate_interval=3600)
    for i in range(30):
        level = "ERROR" if i % 10 == 9 else "INFO"
        line = workloads.log_line(level, "machine-controller", f"step {i}", {"i": i})
        sandbox.server.logbook.write(NAMESPACE, MACHINE_POD, workloads.CONTAINER, line)
    path = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    registered = register_cluster("sandbox", kubeconfig_path=str(path))
    registered.sandbox = sandbox
    return registered


def test_operators_read_the_last_lines_of_a_controller(cluster, client):
    client.force_login(factories.operator())
    page = client.get(reverse("cluster_logs", args=[cluster.pk]), {"deployment": "machine-controller", "tail": 5})
    assert page.status_code == 200
    html = page.content.decode()
    assert f"<option selected>{MACHINE_POD}</option>" in html
    assert "step 29" in html and "step 25" in html and "step 24" not in html
    assert 'class="log-line level-error"' in html and 'class="log-line level-info"' in html
    assert "/ws/logs/?cluster=" in html


def test_the_namespace_is_configurable(cluster, client):
    from vitiweb.monitoring.models import ClusterMonitoring

    ClusterMonitoring.objects.create(cluster=cluster, controller_namespace="elsewhere")
    client.force_login(factories.operator())
    html = client.get(reverse("cluster_logs", args=[cluster.pk])).content.decode()
    assert "No controller pods in namespace elsewhere" in html
    assert (
        MACHINE_POD in client.get(reverse("cluster_logs", args=[cluster.pk]), {"namespace": NAMESPACE}).content.decode()
    )


def test_download_is_the_plain_log(cluster, client):
    client.force_login(factories.operator())
    response = client.get(
        reverse("cluster_logs_download", args=[cluster.pk]),
        {"namespace": NAMESPACE, "pod": MACHINE_POD, "container": "manager", "tail": 3},
    )
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert [line.split("\t")[3] for line in response.content.decode().splitlines()] == ["step 27", "step 28", "step 29"]


def test_viewers_may_not_read_logs(cluster, client):
    client.force_login(factories.viewer())
    assert client.get(reverse("cluster_logs", args=[cluster.pk])).status_code == 403
    assert client.get(reverse("cluster_logs_download", args=[cluster.pk])).status_code == 403


@pytest.mark.parametrize("query", [{"namespace": "Bad Name!"}, {"tail": "lots"}])
def test_odd_input_is_not_a_500(cluster, client, query):
    client.force_login(factories.operator())
    assert client.get(reverse("cluster_logs", args=[cluster.pk]), query).status_code in (200, 404)


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("2026-01-01T00:00:00Z\tERROR\tctrl\tReconciler error", "error"),
        ('{"level":"warn","msg":"slow"}', "warn"),
        ("time=now level=debug msg=x", "debug"),
        ("E0102 15:04:05.000000  1 controller.go:1] failed", "error"),
        ("I0102 15:04:05.000000  1 controller.go:1] ok", "info"),
        ("plain text", ""),
    ],
)
def test_levels_are_recognised_in_the_usual_formats(line, level):
    assert level_of(line) == level


@pytest.mark.asyncio
async def test_follow_streams_new_lines_until_the_page_closes(cluster):
    operator = await sync_to_async(factories.operator)()
    query = f"cluster={cluster.pk}&namespace={NAMESPACE}&pod={MACHINE_POD}&container=manager&tail=2"
    communicator = WebsocketCommunicator(LogConsumer.as_asgi(), f"/ws/logs/?{query}")
    communicator.scope["user"] = operator
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    first = json.loads(await communicator.receive_from(timeout=5))
    assert [line["text"].split("\t")[3] for line in first["lines"]] == ["step 28", "step 29"]
    assert first["lines"][1]["level"] == "error"

    book = cluster.sandbox.server.logbook
    book.write(NAMESPACE, MACHINE_POD, "manager", workloads.log_line("INFO", "machine-controller", "later", {}))
    later = json.loads(await communicator.receive_from(timeout=5))
    assert [line["text"].split("\t")[3] for line in later["lines"]] == ["later"]

    await communicator.disconnect()
    # The cluster's stream ends with the socket: the sandbox has no follower left.
    for _ in range(50):
        if not any(book._followers.get((NAMESPACE, MACHINE_POD, "manager"), ())):
            break
        await asyncio.sleep(0.1)
    assert not book._followers.get((NAMESPACE, MACHINE_POD, "manager"))


@pytest.mark.asyncio
async def test_follow_is_refused_to_viewers_and_for_bad_targets(cluster):
    viewer = await sync_to_async(factories.viewer)()
    operator = await sync_to_async(factories.operator)()
    for user, query, code in (
        (viewer, f"cluster={cluster.pk}&namespace={NAMESPACE}&pod={MACHINE_POD}&container=manager", 4403),
        (operator, f"cluster=999&namespace={NAMESPACE}&pod={MACHINE_POD}&container=manager", 4404),
        (operator, f"cluster={cluster.pk}&namespace={NAMESPACE}&pod=../x&container=manager", 4404),
    ):
        communicator = WebsocketCommunicator(LogConsumer.as_asgi(), f"/ws/logs/?{query}")
        communicator.scope["user"] = user
        assert await communicator.connect(timeout=5) == (False, code)
        await communicator.disconnect()


@pytest.mark.django_db
def test_a_cluster_without_usable_credentials_says_so_instead_of_a_500(client):
    # Found by the accessibility crawl: the logs link of a cluster registered without a kubeconfig.
    cluster = factories.make_cluster("no-credentials")
    client.force_login(factories.operator())
    page = client.get(reverse("cluster_logs", args=[cluster.pk]))
    assert page.status_code == 200 and "current-context" in page.content.decode()
    download = client.get(reverse("cluster_logs_download", args=[cluster.pk]), {"pod": "p", "container": "c"})
    assert download.status_code == 502 and b"current-context" in download.content
