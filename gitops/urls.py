from django.urls import path

from gitops import views

urlpatterns = [
    path("git/", views.gitsource_list, name="gitsource_list"),
    path("git/add/", views.gitsource_add, name="gitsource_add"),
    path("git/<int:pk>/", views.gitsource_detail, name="gitsource_detail"),
    path("git/<int:pk>/fetch/", views.gitsource_fetch, name="gitsource_fetch"),
    path("drift/", views.drift_list, name="driftrecord_list"),
    path("drift/<int:pk>/", views.drift_detail, name="driftrecord_detail"),
    path("drift/<int:pk>/delete/", views.drift_delete, name="driftrecord_delete"),
    path("drift/sync/", views.drift_sync, name="driftrecord_sync"),
    path("drift/back-to-git/", views.drift_back_to_git, name="driftrecord_back_to_git"),
    path("promotions/", views.promotion_list, name="promotion_list"),
    path("promotions/new/", views.promotion_new, name="promotion_new"),
    path("promotions/<int:pk>/", views.promotion_detail, name="promotion_detail"),
]
