from django.contrib import admin

from vitiweb.monitoring.models import (
    AlertInstance,
    ClusterMonitoring,
    Event,
    ProcessGauge,
    ProvisioningFailure,
    RbacCheck,
)


@admin.register(ClusterMonitoring)
class ClusterMonitoringAdmin(admin.ModelAdmin):
    """Where a cluster's controllers run and as whom (for their logs and the RBAC checks)."""

    list_display = ("cluster", "controller_namespace", "controller_service_account")
    list_select_related = ("cluster",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the monitor writes from what the clusters say: read here, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("last_seen", "cluster", "type", "reason", "regarding_kind", "regarding_name", "count")
    list_filter = ("type", "cluster", "regarding_kind")
    search_fields = ("reason", "regarding_name", "message")
    list_select_related = ("cluster",)


@admin.register(ProvisioningFailure)
class ProvisioningFailureAdmin(ReadOnlyAdmin):
    list_display = ("observed_at", "cluster", "namespace", "name")
    list_filter = ("cluster",)


@admin.register(AlertInstance)
class AlertInstanceAdmin(ReadOnlyAdmin):
    list_display = ("rule", "state", "severity", "cluster", "active_since", "fired_at")
    list_filter = ("rule", "state", "cluster")


@admin.register(RbacCheck)
class RbacCheckAdmin(ReadOnlyAdmin):
    list_display = ("cluster", "allowed", "service_account", "command", "checked_at")
    list_filter = ("allowed", "cluster")
    list_select_related = ("cluster",)


@admin.register(ProcessGauge)
class ProcessGaugeAdmin(ReadOnlyAdmin):
    list_display = ("process", "name", "value", "updated_at")
