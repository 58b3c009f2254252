"""Every page needs a login; each role reaches exactly what its permissions allow."""

import pytest
from django.urls import reverse

from tests.factories import admin, fleet, operator, user, viewer

pytestmark = pytest.mark.django_db


def page_urls(data):
    urls = [
        reverse("home"),
        reverse("search") + "?q=prod",
        reverse("cluster_list"),
        reverse("cluster_detail", args=[data.east.pk]),
    ]
    for obj in (data.stack, data.provider, data.kubernetes, data.running):
        model = obj._meta.model_name
        urls += [
            reverse(f"{model}_list"),
            obj.get_absolute_url(),
            reverse(f"{model}_yaml", args=[obj.pk]),
            reverse(f"{model}_history", args=[obj.pk]),
            reverse(f"{model}_manifest", args=[obj.pk]),
        ]
    return urls


def test_anonymous_visitors_are_sent_to_the_login_page_from_every_page(client):
    data = fleet()
    for url in page_urls(data) + [reverse("cluster_add")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_a_viewer_reads_every_page(client):
    data = fleet()
    client.force_login(viewer())
    for url in page_urls(data):
        assert client.get(url).status_code == 200, url


def test_a_viewer_cannot_add_a_cluster_and_is_not_offered_to(client):
    fleet()
    client.force_login(viewer())
    assert client.get(reverse("cluster_add")).status_code == 403
    assert client.post(reverse("cluster_add"), {"name": "x", "kubeconfig_text": "apiVersion: v1"}).status_code == 403
    assert reverse("cluster_add") not in client.get(reverse("cluster_list")).content.decode()


def test_an_operator_cannot_add_a_cluster_either(client):
    client.force_login(operator())
    assert client.get(reverse("cluster_add")).status_code == 403


def test_an_admin_is_offered_and_may_open_the_add_cluster_page(client):
    client.force_login(admin())
    assert reverse("cluster_add") in client.get(reverse("cluster_list")).content.decode()
    assert client.get(reverse("cluster_add")).status_code == 200


def test_a_logged_in_user_without_a_role_sees_no_objects(client):
    data = fleet()
    client.force_login(user(None, username="norole"))
    for url in (reverse("machine_list"), data.running.get_absolute_url(), reverse("cluster_list")):
        assert client.get(url).status_code == 403, url
    # The overview itself needs only a login, but lists nothing the user may not read in navigation.
    page = client.get(reverse("home")).content.decode()
    assert reverse("machine_list") + '"' not in page.split("<main")[0]


def test_logging_in_leads_to_the_overview(client):
    viewer(username="vera")
    response = client.post(reverse("login"), {"username": "vera", "password": "pw-for-tests-1"})
    assert response.status_code == 302 and response["Location"] == reverse("home")
