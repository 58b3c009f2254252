"""The live socket after connect (issue 16, findings 4, 7 and 12).

Sockets here go through the whole ASGI application with a real session
cookie, as a browser's do: origin check, session middleware, consumer.
"""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.test import Client

from machines.models import Machine
from tests import factories
from vitiweb.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def fleet(transactional_db):
    cluster = factories.make_cluster("prod")
    factories.mirror(cluster, factories.k8s_object("Machine", "m1", status=factories.status("Provisioning")))
    return cluster


def session_cookie(account) -> str:
    client = Client()
    client.force_login(account)
    return client.cookies["sessionid"].value


def socket(page, cookie="", origin="http://127.0.0.1:8000", host="127.0.0.1:8000"):
    headers = [(b"origin", origin.encode()), (b"host", host.encode())]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, f"/ws/live/?page={page}", headers=headers)


async def announce_change():
    await sync_to_async(Machine.objects.filter(name="m1").update)(phase="Running", status={"phase": "Running"})
    await get_channel_layer().group_send(
        "machine-list", {"type": "objects.changed", "kind": "Machine", "cluster": 1, "changes": {"updated": [1]}}
    )


def deactivate(account):
    account.is_active = False
    account.save()


def end_sessions(account):
    Session.objects.all().delete()


def change_password(account):
    account.set_password("a-new-password-2")
    account.save()


def take_role(account):
    account.groups.remove(Group.objects.get(name="Viewer"))


@pytest.mark.parametrize(
    "revoke, code",
    [(deactivate, 4401), (end_sessions, 4401), (change_password, 4401), (take_role, 4403)],
)
async def test_a_socket_closes_at_the_next_change_once_access_is_gone(fleet, revoke, code):
    account = await sync_to_async(factories.viewer)(username="vera")
    communicator = socket("/machines/", await sync_to_async(session_cookie)(account))
    assert (await communicator.connect(timeout=5))[0]
    assert "m1" in await communicator.receive_from(timeout=5)
    await sync_to_async(revoke)(account)
    await announce_change()
    closing = await communicator.receive_output(timeout=5)
    assert closing == {"type": "websocket.close", "code": code}  # and not the new phase
    await communicator.wait()


async def test_while_access_lasts_the_socket_keeps_delivering(fleet):
    account = await sync_to_async(factories.viewer)(username="vera")
    communicator = socket("/machines/", await sync_to_async(session_cookie)(account))
    assert (await communicator.connect(timeout=5))[0]
    await communicator.receive_from(timeout=5)
    await announce_change()
    assert "Running" in await communicator.receive_from(timeout=5)
    await communicator.disconnect()


async def test_the_overview_socket_needs_the_viewer_role(fleet):
    nobody = await sync_to_async(factories.user)(None, username="nobody")
    connected, code = await socket("/", await sync_to_async(session_cookie)(nobody)).connect(timeout=5)
    assert (connected, code) == (False, 4403)
    vera = await sync_to_async(factories.viewer)(username="vera")
    communicator = socket("/", await sync_to_async(session_cookie)(vera))
    assert (await communicator.connect(timeout=5))[0]
    await communicator.disconnect()


@pytest.mark.parametrize(
    "origin, host, accepted",
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", False),  # another port of the same host: another site
        ("https://127.0.0.1:8000", "127.0.0.1:8000", False),
        ("http://localhost:8000", "127.0.0.1:8000", False),
        ("http://evil.example:8000", "evil.example:8000", False),  # not an allowed host, whatever Host says
        ("null", "127.0.0.1:8000", False),
    ],
)
async def test_the_origin_must_be_the_page_s_own_scheme_host_and_port(fleet, origin, host, accepted):
    vera = await sync_to_async(factories.viewer)(username="vera")
    communicator = socket("/machines/", await sync_to_async(session_cookie)(vera), origin=origin, host=host)
    connected, _ = await communicator.connect(timeout=5)
    assert connected is accepted
    if connected:
        await communicator.disconnect()


async def test_a_trusted_origin_may_differ_from_the_host(fleet, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://vitiweb.example.com"]
    settings.ALLOWED_HOSTS = ["vitiweb.example.com", "127.0.0.1"]
    vera = await sync_to_async(factories.viewer)(username="vera")
    communicator = socket(
        "/machines/", await sync_to_async(session_cookie)(vera), origin="https://vitiweb.example.com", host="10.0.0.5"
    )
    assert (await communicator.connect(timeout=5))[0]
    await communicator.disconnect()
