"""Admin pages of this app's kinds: read-only, as every mirrored object's."""

from django.contrib import admin

from machineclasses.models import MachineClass
from vitiweb.admin import MirroredObjectAdmin

admin.site.register((MachineClass,), MirroredObjectAdmin)
