"""The guide's three alert rules evaluated from the mirror: pending for their `for:` duration, then firing,
ended when their expression stops holding; shown with links to the object's events and controller's logs."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.factories import k8s_object, mirror, status
from vitiweb.monitoring import alerts
from vitiweb.monitoring.models import AlertInstance, ProvisioningFailure

NS = "production"


def stack_with_provider(cluster, provider_ready: bool):
    mirror(
        cluster,
        k8s_object(
            "MachineProvider",
            "aws-ec2",
            spec={"type": "aws", "region": "us-east-1"},
            status=status("Ready" if provider_ready else "Degraded", ready=provider_ready),
        ),
        k8s_object(
            "Vitistack",
            "prod",
            spec={"displayName": "Prod", "region": "us-east-1", "machineProviders": [{"name": "aws-ec2"}]},
        ),
    )


def kubernetes_cluster(cluster, ready: bool):
    mirror(
        cluster,
        k8s_object("KubernetesProvider", "eks-prod", spec={"type": "eks"}, status=status("Ready", ready=ready)),
    )


@pytest.fixture
def cluster(db):
    return factories.make_cluster("east")


def states(cluster):
    return {a.rule: a.state for a in AlertInstance.objects.filter(cluster=cluster)}


def test_provider_down_is_pending_for_five_minutes_then_fires(cluster):
    stack_with_provider(cluster, provider_ready=False)
    start = timezone.now()
    alerts.evaluate(cluster.pk, now=start)
    alert = AlertInstance.objects.get(rule="VitistackProviderDown")
    assert alert.state == "pending" and alert.severity == "critical" and alert.active_since == start
    assert alert.labels["vitistack"] == "prod" and alert.labels["provider"] == "aws-ec2"
    assert alert.description == "Provider aws-ec2 in vitistack prod has been down for more than 5 minutes"
    alerts.evaluate(cluster.pk, now=start + timedelta(minutes=4, seconds=59))
    assert states(cluster) == {"VitistackProviderDown": "pending"}
    alerts.evaluate(cluster.pk, now=start + timedelta(minutes=5))
    alert.refresh_from_db()
    assert alert.state == "firing" and alert.fired_at == start + timedelta(minutes=5) and alert.active_since == start

    stack_with_provider(cluster, provider_ready=True)
    alerts.evaluate(cluster.pk, now=start + timedelta(minutes=6))
    assert states(cluster) == {}


def test_a_provider_that_recovers_before_its_for_duration_never_fires(cluster):
    stack_with_provider(cluster, provider_ready=False)
    start = timezone.now()
    alerts.evaluate(cluster.pk, now=start)
    stack_with_provider(cluster, provider_ready=True)
    alerts.evaluate(cluster.pk, now=start + timedelta(minutes=2))
    stack_with_provider(cluster, provider_ready=False)
    alerts.evaluate(cluster.pk, now=start + timedelta(minutes=3))
    alerts.evaluate(cluster.pk, now=start + timedelta(minutes=7))
    # Pending started again at minute 3: four minutes later it still waits.
    assert states(cluster) == {"VitistackProviderDown": "pending"}


def test_kubernetes_cluster_unhealthy_waits_ten_minutes(cluster):
    kubernetes_cluster(cluster, ready=False)
    start = timezone.now()
    alerts.evaluate(cluster.pk, now=start)
    alerts.evaluate(cluster.pk, now=start + timedelta(minutes=9))
    assert states(cluster) == {"KubernetesClusterUnhealthy": "pending"}
    alerts.evaluate(cluster.pk, now=start + timedelta(minutes=10))
    alert = AlertInstance.objects.get(rule="KubernetesClusterUnhealthy")
    assert alert.state == "firing" and alert.labels["cluster"] == "eks-prod"
    assert alert.description == "Cluster eks-prod has been unhealthy for more than 10 minutes"


def test_machine_provisioning_failed_fires_at_once_and_ends_five_minutes_after_the_last_failure(cluster):
    mirror(cluster, k8s_object("Machine", "web-1", spec={"machineProvider": {"name": "x"}}, status=status("Failed")))
    machine = cluster.machines.get()
    ProvisioningFailure.objects.create(cluster=cluster, machine_id=machine.pk, namespace=NS, name="web-1")
    now = timezone.now()
    alerts.evaluate(cluster.pk, now=now)
    alert = AlertInstance.objects.get(rule="MachineProvisioningFailed")
    assert alert.state == "firing" and alert.severity == "warning" and alert.value == 1
    assert alert.description == "1 machine provisioning failures in the last 5 minutes"
    assert alert.targets == [{"kind": "Machine", "id": machine.pk, "namespace": NS, "name": "web-1"}]
    links = alerts.alert_links(alert)
    assert links["events"] == reverse("machine_events", args=[machine.pk])
    assert links["logs"] == reverse("cluster_logs", args=[cluster.pk]) + "?deployment=machine-controller"
    alerts.evaluate(cluster.pk, now=now + timedelta(minutes=5, seconds=1))
    assert states(cluster) == {}


def test_alerts_show_on_the_overview_and_the_affected_pages(cluster, client):
    stack_with_provider(cluster, provider_ready=False)
    alerts.evaluate(cluster.pk, now=timezone.now() - timedelta(minutes=6))
    alerts.evaluate(cluster.pk)
    client.force_login(factories.operator())
    provider = cluster.machineproviders.get()
    overview = client.get("/").content.decode()
    assert 'data-alert="VitistackProviderDown" data-alert-state="firing"' in overview
    assert reverse("machineprovider_events", args=[provider.pk]) in overview
    assert reverse("cluster_logs", args=[cluster.pk]) + "?deployment=vitistack-controller" in overview
    page = client.get(reverse("machineprovider_detail", args=[provider.pk])).content.decode()
    assert 'data-alert="VitistackProviderDown"' in page
    stack = cluster.vitistacks.get()
    assert (
        'data-alert="VitistackProviderDown"'
        in client.get(reverse("vitistack_detail", args=[stack.pk])).content.decode()
    )


def test_viewers_do_not_get_a_logs_link(cluster, client):
    stack_with_provider(cluster, provider_ready=False)
    alerts.evaluate(cluster.pk)
    client.force_login(factories.viewer())
    overview = client.get("/").content.decode()
    assert 'data-alert="VitistackProviderDown" data-alert-state="pending"' in overview
    assert reverse("cluster_logs", args=[cluster.pk]) not in overview


def test_next_change_is_when_a_failure_leaves_the_window_or_a_pending_alert_would_fire(cluster):
    start = timezone.now()
    assert alerts.next_change(cluster.pk, start) is None  # nothing pending: only a change can change anything

    failure = ProvisioningFailure.objects.create(cluster=cluster, namespace=NS, name="web-1")
    assert alerts.next_change(cluster.pk, failure.observed_at) == failure.observed_at + timedelta(minutes=5)

    stack_with_provider(cluster, provider_ready=False)
    alerts.evaluate(cluster.pk, now=start - timedelta(minutes=1))  # pending for a minute: fires in four
    assert alerts.next_change(cluster.pk, start) == start + timedelta(minutes=4)
