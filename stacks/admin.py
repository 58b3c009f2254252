from django.contrib import admin

from stacks.models import Vitistack
from vitiweb.admin import MirroredObjectAdmin


@admin.register(Vitistack)
class VitistackAdmin(MirroredObjectAdmin):
    list_display = ("name", "namespace", "cluster", "region", "role", "max_machines", "phase", "ready", "synced_at")
    list_filter = ("cluster", "role", "region", "phase", "ready")
