"""Admin pages of this app's kinds: read-only, as every mirrored object's."""

from django.contrib import admin

from networks.models import NetworkConfiguration, NetworkNamespace
from vitiweb.admin import MirroredObjectAdmin

admin.site.register((NetworkNamespace, NetworkConfiguration), MirroredObjectAdmin)
