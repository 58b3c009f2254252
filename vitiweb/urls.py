from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from vitiweb.views import assets, clusters, cost, overview, search

urlpatterns = [
    path("", overview.home, name="home"),
    path("search/", search.search, name="search"),
    path("cost/", cost.cost_list, name="cost_list"),
    path("clusters/", clusters.cluster_list, name="cluster_list"),
    path("clusters/add/", clusters.cluster_add, name="cluster_add"),
    path("clusters/<int:pk>/", clusters.cluster_detail, name="cluster_detail"),
    path("assets/plotly-<str:version>.min.js", assets.plotly_js, name="plotly_js"),
    path("", include("vitiweb.kind_urls")),
    path("", include("vitiweb.editing.urls")),
    path("", include("gitops.urls")),
    path("topology/", include("vitiweb.topology.urls")),
    path("", include("vitiweb.monitoring.urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("vitiweb.api_urls")),
    path("admin/", admin.site.urls),
    # Browsers and the API's browsable pages ask for /favicon.ico whatever the page links.
    # Resolved at the first request: the hashed name exists once collectstatic has run (manifest storage).
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("vitiweb/favicon.svg"), permanent=True)),
]
