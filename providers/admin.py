from django.contrib import admin

from providers.models import KubernetesProvider, MachineProvider, NodeGroup
from vitiweb.admin import MirroredObjectAdmin


@admin.register(MachineProvider)
class MachineProviderAdmin(MirroredObjectAdmin):
    list_display = ("name", "namespace", "cluster", "provider_type", "region", "phase", "ready", "synced_at")
    list_filter = ("cluster", "provider_type", "region", "phase", "ready")


class NodeGroupInline(admin.TabularInline):
    model = NodeGroup
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(KubernetesProvider)
class KubernetesProviderAdmin(MirroredObjectAdmin):
    list_display = ("name", "namespace", "cluster", "provider_type", "version", "region", "phase", "ready")
    list_filter = ("cluster", "provider_type", "version", "region", "phase", "ready")
    inlines = [NodeGroupInline]
