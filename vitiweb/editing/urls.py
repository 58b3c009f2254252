"""URLs of the write path. Per kind: ``<model>_create``, ``<model>_edit``, ``<model>_export``."""

from django.urls import path

from vitiweb import registry
from vitiweb.editing import views

urlpatterns = [
    path("apply/", views.manifest_bulk_apply, name="manifest_bulk_apply"),
    path("apply/runs/<int:pk>/", views.applyrun_detail, name="applyrun_detail"),
    path("editing/<str:plural>/preview/", views.manifest_preview, name="manifest_preview"),
    path("editing/<str:plural>/dry-run/", views.manifest_dry_run, name="manifest_dry_run"),
    path("editing/<str:plural>/apply/", views.manifest_apply, name="manifest_apply"),
    path("editing/locate/", views.manifest_locate, name="manifest_locate"),
    path("secrets/new/", views.secret_create, name="secret_create"),
    path("audit/", views.auditentry_list, name="auditentry_list"),
    path("audit/<int:pk>/", views.auditentry_detail, name="auditentry_detail"),
    path("export/fleet.zip", views.export_zip, name="export_zip"),
]
for declaration in registry.declarations():
    plural = declaration.plural
    urlpatterns += [
        path(f"{plural}/new/", views.manifest_editor, {"plural": plural}, name=declaration.url_name("create")),
        path(f"{plural}/<int:pk>/edit/", views.manifest_editor, {"plural": plural}, name=declaration.url_name("edit")),
        path(
            f"{plural}/<int:pk>/export.yaml",
            views.object_export,
            {"plural": plural},
            name=declaration.url_name("export"),
        ),
    ]
