"""The monitoring models in the admin: cluster settings editable, what the monitor writes read-only."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model

from tests import factories
from vitiweb.monitoring.models import ClusterMonitoring


@pytest.mark.django_db
def test_every_monitoring_model_has_an_admin_page_and_only_settings_are_editable(client):
    models = list(apps.get_app_config("monitoring").get_models())
    assert all(admin.site.is_registered(model) for model in models)
    client.force_login(get_user_model().objects.create_superuser("root", password="x-pw-12345"))
    for model in models:
        assert client.get(f"/admin/monitoring/{model._meta.model_name}/").status_code == 200
        add = client.get(f"/admin/monitoring/{model._meta.model_name}/add/").status_code
        assert add == (200 if model is ClusterMonitoring else 403)


@pytest.mark.django_db
def test_defaults_apply_to_a_cluster_without_settings():
    cluster = factories.make_cluster("east")
    settings = ClusterMonitoring.for_cluster(cluster)
    assert (settings.controller_namespace, settings.controller_service_account) == (
        "vitistack-system",
        "vitistack-system:vitistack-controller",
    )
