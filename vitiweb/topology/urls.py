from django.urls import path

from vitiweb.topology import views

app_name = "topology"

urlpatterns = [
    path("", views.index, name="index"),
    path("findings/", views.findings_page, name="findings"),
    path("findings/summary/", views.summary, name="summary"),
    path("findings/<str:kind>/<int:pk>/", views.object_findings, name="object_findings"),
    path("panel/missing/", views.panel_missing, name="panel_missing"),
    path("panel/<str:kind>/<int:pk>/", views.panel, name="panel"),
    path("<slug:view>/", views.view_page, name="view"),
    path("<slug:view>/figure.json", views.figure_json, name="figure"),
]
