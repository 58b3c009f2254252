"""The pages of every declared kind: list, detail, YAML, history, manifest download (see vitiweb.registry)."""

from vitiweb import registry
from vitiweb.ui import object_urls

urlpatterns = [
    pattern
    for declaration in registry.declarations()
    for pattern in object_urls(declaration.get_model(), declaration.list_view_class, declaration.detail_view_class)
]
