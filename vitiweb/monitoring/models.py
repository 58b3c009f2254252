"""What troubleshooting keeps: mirrored Events, observed provisioning failures, alert states,
the controllers' RBAC checks, per-cluster settings, and per-process gauges for /metrics.

Everything here is shared through the database, so several web and sync
processes show and export the same values.
"""

from __future__ import annotations

from django.db import models

from vitiweb.models import Cluster

DEFAULT_CONTROLLER_NAMESPACE = "vitistack-system"
#: The guide's `kubectl auth can-i ... --as=system:serviceaccount:NAMESPACE:CONTROLLER`, for its controller.
DEFAULT_SERVICE_ACCOUNT = "vitistack-system:vitistack-controller"


class ClusterMonitoring(models.Model):
    """Per-cluster troubleshooting settings (defaults apply to a cluster without a row)."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="monitoring")
    controller_namespace = models.CharField(
        max_length=253,
        default=DEFAULT_CONTROLLER_NAMESPACE,
        help_text="Namespace of the VitiStack controllers (their Deployments, Pods and logs).",
    )
    controller_service_account = models.CharField(
        max_length=507,
        default=DEFAULT_SERVICE_ACCOUNT,
        help_text="NAMESPACE:NAME of the service account the controllers run as (for the RBAC checks).",
    )

    class Meta:
        verbose_name = "cluster monitoring settings"
        verbose_name_plural = "cluster monitoring settings"
        permissions = [("view_controller_logs", "Can read the controllers' logs of a cluster")]

    def __str__(self) -> str:
        return f"{self.cluster}: {self.controller_namespace}, {self.controller_service_account}"

    @classmethod
    def for_cluster(cls, cluster: Cluster) -> ClusterMonitoring:
        found = cls.objects.filter(cluster=cluster).first()
        return found or cls(cluster=cluster)


class Event(models.Model):
    """One Kubernetes Event about a VitiStack object or in a controllers' namespace, as last seen."""

    class Type(models.TextChoices):
        NORMAL = "Normal", "Normal"
        WARNING = "Warning", "Warning"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="events")
    namespace = models.CharField(max_length=253)
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=64, blank=True)
    api_version = models.CharField(max_length=50, help_text="The API it was read from: events.k8s.io/v1 or v1.")
    type = models.CharField(max_length=20, db_index=True)
    reason = models.CharField(max_length=200, db_index=True)
    message = models.TextField(blank=True)
    count = models.IntegerField(default=1)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(db_index=True)
    reporting_controller = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=200, blank=True)
    regarding_api_version = models.CharField(max_length=200, blank=True)
    regarding_kind = models.CharField(max_length=100, blank=True, db_index=True)
    regarding_namespace = models.CharField(max_length=253, blank=True)
    regarding_name = models.CharField(max_length=253, blank=True)
    regarding_uid = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "namespace", "name"], name="event_unique_in_cluster"),
        ]
        indexes = [
            models.Index(
                fields=["cluster", "regarding_kind", "regarding_namespace", "regarding_name", "-last_seen"],
                name="event_regarding",
            ),
            models.Index(fields=["type", "-last_seen"], name="event_type_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.reason} {self.regarding_kind}/{self.regarding_name}"


class ProvisioningFailure(models.Model):
    """A Machine observed moving into phase Failed: what the failures counter and its alert count."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="provisioning_failures")
    machine_id = models.BigIntegerField(null=True, blank=True)
    namespace = models.CharField(max_length=253)
    name = models.CharField(max_length=253)
    message = models.TextField(blank=True)
    observed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-observed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.name} failed at {self.observed_at:%Y-%m-%d %H:%M:%S}"


class AlertInstance(models.Model):
    """One series of one of the guide's alert rules whose expression holds: pending, then firing."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        FIRING = "firing", "Firing"

    rule = models.CharField(max_length=100, db_index=True)
    severity = models.CharField(max_length=20)
    state = models.CharField(max_length=20, choices=State.choices, db_index=True)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="alerts")
    # The series' identity within the rule (its labels, as text) and the labels themselves.
    series = models.CharField(max_length=800)
    labels = models.JSONField(default=dict)
    value = models.FloatField(default=0)
    summary = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    # The objects the alert is about: [{"kind", "id", "namespace", "name"}].
    targets = models.JSONField(default=list)
    active_since = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    evaluated_at = models.DateTimeField()

    class Meta:
        ordering = ["state", "active_since"]
        constraints = [models.UniqueConstraint(fields=["rule", "cluster", "series"], name="alert_unique_series")]

    def __str__(self) -> str:
        return f"{self.rule} {self.series} ({self.state})"


class RbacCheck(models.Model):
    """The cluster's answer to: may the controllers' service account get the target of this reference?"""

    # Not a foreign key: the sync rebuilds references with bulk deletes, which an answer must never
    # block; an answer whose reference is gone is ignored, and replaced at the next check.
    reference_pk = models.BigIntegerField(unique=True)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="rbac_checks")
    service_account = models.CharField(max_length=507)
    allowed = models.BooleanField()
    reason = models.TextField(blank=True)
    command = models.TextField()
    checked_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.command}: {'yes' if self.allowed else 'no'}"


class ProcessGauge(models.Model):
    """A value one process knows (its open websockets), kept where every process's /metrics can add them up."""

    process = models.CharField(max_length=200)
    name = models.CharField(max_length=100)
    value = models.FloatField(default=0)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["process", "name"], name="processgauge_unique")]

    def __str__(self) -> str:
        return f"{self.process} {self.name}={self.value}"
