"""Admin pages of this app's kinds: read-only, as every mirrored object's."""

from django.contrib import admin

from clusters.models import ControlPlaneVirtualSharedIP, EtcdBackup, KubernetesCluster
from vitiweb.admin import MirroredObjectAdmin

admin.site.register((KubernetesCluster, EtcdBackup, ControlPlaneVirtualSharedIP), MirroredObjectAdmin)
