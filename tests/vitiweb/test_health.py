"""Probes: /healthz needs nothing, /readyz checks the database, the migrations and the channel layer."""

import logging

import pytest
from django.db import connection
from django.test import override_settings

from vitiweb import health


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any database access in this request raises.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_with_the_database_migrated(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_readyz_is_unready_while_a_migration_is_missing(client, monkeypatch):
    monkeypatch.setattr(health, "_migrated", False)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'vitiweb' AND name LIKE '0006%%'")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": "failing", "channel_layer": "ok"},
    }


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_readyz_is_unready_when_the_channel_layer_cannot_be_reached(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"] == "failing"


@override_settings(ALLOWED_HOSTS=["vitiweb.example.com"], SECURE_SSL_REDIRECT=True)
@pytest.mark.django_db
def test_probes_answer_the_kubelet_over_plain_http_with_the_pods_ip_as_host(client):
    # Any other path from that host is refused (400) or redirected to HTTPS.
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400


@pytest.mark.django_db
def test_probes_are_not_logged_and_pages_are_one_line_each(client, caplog):
    with caplog.at_level(logging.INFO):
        client.get("/healthz")
        client.get("/readyz")
        client.get("/login/", HTTP_X_REQUEST_ID="ingress-42")
    lines = [r for r in caplog.records if r.name == "vitiweb.request"]
    assert [r.getMessage().split(" ")[:3] for r in lines] == [["GET", "/login/", "200"]]
    assert lines[0].request_id == "ingress-42"
