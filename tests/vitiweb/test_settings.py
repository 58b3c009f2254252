"""Production settings pass Django's deployment checks; credentials are encrypted at rest."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from vitiweb import crypto

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, **env):
    # Only what a deployment would have (the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for themselves).
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_check_deploy_reports_no_warnings_with_production_values():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=Fernet.generate_key().decode() * 2,
        ALLOWED_HOSTS="vitiweb.example.com",
        VITIWEB_CREDENTIALS_KEYS=Fernet.generate_key().decode(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", DEBUG="0", VITIWEB_CREDENTIALS_KEYS=Fernet.generate_key().decode())
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.django_db
def test_cluster_credentials_are_stored_encrypted(make_cluster):
    cluster = make_cluster()
    cluster.set_credentials("token: s3cr3t-token")
    cluster.save()
    cluster.refresh_from_db()
    assert b"s3cr3t-token" not in bytes(cluster.credentials_encrypted)
    assert cluster.get_credentials() == "token: s3cr3t-token"


def test_keys_rotate_without_losing_credentials():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(VITIWEB_CREDENTIALS_KEYS=[old]):
        token = crypto.encrypt("ca-data")
    with override_settings(VITIWEB_CREDENTIALS_KEYS=[new, old]):
        assert crypto.decrypt(token) == "ca-data"
        rotated = crypto.rotate(token)
    with override_settings(VITIWEB_CREDENTIALS_KEYS=[new]):
        assert crypto.decrypt(rotated) == "ca-data"
        with pytest.raises(crypto.CredentialsError, match="cannot be decrypted"):
            crypto.decrypt(token)


@pytest.mark.django_db
def test_rotate_credentials_reencrypts_every_cluster_with_the_newest_key(make_cluster):
    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(VITIWEB_CREDENTIALS_KEYS=[old]):
        cluster = make_cluster()
        cluster.set_credentials("client-key-data")
        cluster.save()
    with override_settings(VITIWEB_CREDENTIALS_KEYS=[new, old]):
        call_command("rotate_credentials")
    with override_settings(VITIWEB_CREDENTIALS_KEYS=[new]):
        cluster.refresh_from_db()
        assert cluster.get_credentials() == "client-key-data"


@pytest.mark.django_db
def test_every_model_has_an_admin_page(client):
    from django.apps import apps
    from django.contrib import admin as django_admin
    from django.contrib.auth import get_user_model

    ours = [
        m for m in apps.get_models() if m._meta.app_label in {"vitiweb", "stacks", "providers", "machines", "editing"}
    ]
    inline_only = {"NodeGroup"}  # shown inline on its Kubernetes provider
    missing = [m.__name__ for m in ours if m.__name__ not in inline_only and not django_admin.site.is_registered(m)]
    assert missing == []
    client.force_login(get_user_model().objects.create_superuser("root", password="x-pw-12345"))
    for model in ours:
        if model.__name__ not in inline_only:
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
            assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_after_migrating_every_role_holds_every_permission_it_lists():
    """Apps migrate in any order; each roles migration completes what the earlier ones could not grant."""
    from django.contrib.auth.models import Group

    from vitiweb.roles import ROLE_PERMISSIONS

    for role, wanted in ROLE_PERMISSIONS.items():
        held = set(Group.objects.get(name=role).permissions.values_list("content_type__app_label", "codename"))
        assert set(wanted) - held == set(), role
