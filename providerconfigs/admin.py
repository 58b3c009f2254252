"""Admin pages of this app's kinds: read-only, as every mirrored object's."""

from django.contrib import admin

from providerconfigs.models import KubevirtConfig, ProxmoxConfig
from vitiweb.admin import MirroredObjectAdmin

admin.site.register((KubevirtConfig, ProxmoxConfig), MirroredObjectAdmin)
