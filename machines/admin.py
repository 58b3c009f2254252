from django.contrib import admin

from machines.models import Machine
from vitiweb.admin import MirroredObjectAdmin


@admin.register(Machine)
class MachineAdmin(MirroredObjectAdmin):
    list_display = ("name", "namespace", "cluster", "provider_name", "instance_type", "machine_image", "phase", "ready")
    list_filter = ("cluster", "phase", "ready", "instance_type")
    search_fields = ("name", "namespace", "uid", "provider_name")
