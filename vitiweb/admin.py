from django.contrib import admin

from vitiweb.models import (
    AuditEntry,
    Cluster,
    DiscoveredObject,
    FindingsRun,
    JournalEntry,
    KnownSecret,
    Lease,
    OverviewRun,
    Reference,
    ServedSchema,
    SyncWorker,
)


class MirroredObjectAdmin(admin.ModelAdmin):
    """Mirrored objects are read-only here: the cluster is the source of truth."""

    list_display = ("name", "namespace", "cluster", "phase", "ready", "resource_version", "synced_at")
    list_filter = ("cluster", "phase", "ready", "namespace")
    search_fields = ("name", "namespace", "uid")
    list_select_related = ("cluster",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "server", "state", "server_version", "last_sync_at", "last_error")
    list_filter = ("source", "state")
    search_fields = ("name", "server")
    exclude = ("credentials_encrypted",)
    # Where the stored credentials are sent changes only with the credentials themselves: a new
    # registration (Add cluster, add_cluster) checks the address and tests the connection; an
    # edited server here would hand the encrypted token to whatever answers there.
    # Running a credential plugin on our hosts is granted from a shell (add_cluster --allow-exec) only.
    readonly_fields = (
        "source",
        "server",
        "context",
        "kubeconfig_public",
        "manifest_path",
        "allow_exec",
        "state",
        "server_version",
        "discovered_kinds",
        "permissions",
        "last_sync_at",
        "last_event_at",
        "last_error",
        "last_error_at",
        "lease_holder",
        "lease_expires_at",
    )

    def has_add_permission(self, request):
        return False  # clusters are registered with their credentials: Add cluster, or manage.py add_cluster


@admin.register(Reference)
class ReferenceAdmin(admin.ModelAdmin):
    list_display = (
        "source_kind",
        "source_id",
        "relation",
        "target_kind",
        "target_namespace",
        "target_name",
        "target_entry",
        "state",
        "detail",
    )
    list_filter = ("state", "relation", "source_kind", "target_kind")
    search_fields = ("target_name", "target_namespace", "detail")


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    list_display = ("recorded_at", "action", "kind", "namespace", "name", "cluster", "resource_version", "changed_by")
    list_filter = ("action", "kind", "cluster")
    search_fields = ("name", "namespace", "uid", "changed_by")
    list_select_related = ("cluster",)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "action", "kind", "namespace", "name", "cluster", "result")
    list_filter = ("action", "result", "kind", "cluster")
    search_fields = ("name", "namespace", "message")
    list_select_related = ("cluster", "user")


@admin.register(KnownSecret)
class KnownSecretAdmin(admin.ModelAdmin):
    list_display = ("name", "namespace", "cluster")
    list_filter = ("cluster",)
    search_fields = ("name", "namespace")


@admin.register(SyncWorker)
class SyncWorkerAdmin(admin.ModelAdmin):
    list_display = ("name", "heartbeat_at", "started_at")
    readonly_fields = ("name", "heartbeat_at", "started_at")


@admin.register(Lease)
class LeaseAdmin(admin.ModelAdmin):
    list_display = ("name", "holder", "expires_at")
    readonly_fields = ("name", "holder", "expires_at")


@admin.register(FindingsRun)
class FindingsRunAdmin(admin.ModelAdmin):
    list_display = ("computed_at", "duration_ms", "counts", "fingerprint")
    readonly_fields = ("fingerprint", "computed_at", "duration_ms", "counts")
    exclude = ("packed",)


@admin.register(OverviewRun)
class OverviewRunAdmin(admin.ModelAdmin):
    list_display = ("computed_at", "duration_ms", "fingerprint")
    readonly_fields = ("fingerprint", "computed_at", "duration_ms", "digest")
    exclude = ("data",)


@admin.register(ServedSchema)
class ServedSchemaAdmin(admin.ModelAdmin):
    """The CRDs each cluster serves, as the editor last read them; the cluster is their source."""

    list_display = ("crd_name", "cluster", "resource_version", "scope", "installed", "checked_at", "error")
    list_filter = ("cluster", "installed")
    readonly_fields = ("cluster", "crd_name", "resource_version", "installed", "scope", "checked_at", "error")
    exclude = ("schemas",)


@admin.register(DiscoveredObject)
class DiscoveredObjectAdmin(MirroredObjectAdmin):
    list_display = ("kind", *MirroredObjectAdmin.list_display)
    list_filter = ("kind", *MirroredObjectAdmin.list_filter)
