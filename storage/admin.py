"""Admin pages of this app's kinds: read-only, as every mirrored object's."""

from django.contrib import admin

from storage.models import ClusterStorage, ClusterStorageClass
from vitiweb.admin import MirroredObjectAdmin

admin.site.register((ClusterStorageClass, ClusterStorage), MirroredObjectAdmin)
