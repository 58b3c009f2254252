from django.urls import path

from vitiweb.monitoring import views

urlpatterns = [
    path("events/", views.event_list, name="event_list"),
    path("clusters/<int:pk>/logs/", views.cluster_logs, name="cluster_logs"),
    path("clusters/<int:pk>/logs/download/", views.cluster_logs_download, name="cluster_logs_download"),
    path("metrics", views.metrics, name="metrics"),
]
