from django.contrib import admin

from vitiweb.editing.models import ApplyRun


@admin.register(ApplyRun)
class ApplyRunAdmin(admin.ModelAdmin):
    """Bulk apply runs; their documents stay encrypted and are never shown here."""

    list_display = ("created_at", "user", "cluster", "dry_run", "state", "finished_at")
    list_filter = ("state", "dry_run", "cluster")
    exclude = ("payload_encrypted",)
    list_select_related = ("user", "cluster")
