"""The pages of every declared kind: list, detail, YAML, history, manifest download (see vitiweb.registry)."""

from vitiweb import registry
from vitiweb.models import DiscoveredObject
from vitiweb.ui import object_urls
from vitiweb.views.discovered import DiscoveredObjectDetailView, DiscoveredObjectListView

urlpatterns = [
    pattern
    for declaration in registry.declarations()
    for pattern in object_urls(declaration.get_model(), declaration.list_view_class, declaration.detail_view_class)
]
# Any other vitistack.io kind a cluster serves, shown generically.
urlpatterns += object_urls(DiscoveredObject, DiscoveredObjectListView, DiscoveredObjectDetailView)
