"""The live websocket: who may subscribe to what, coalescing, and convergence when messages are lost."""

import asyncio
import os

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core.exceptions import SynchronousOnlyOperation

from machines.models import Machine
from tests import factories
from vitiweb.asgi import application
from vitiweb.consumers import LiveConsumer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    """The consumer's logic under test, on an in-process layer: each async test runs its own event loop,
    which a Redis layer's connections must not outlive (Redis is covered across processes in tests/e2e)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def fleet(transactional_db):
    cluster = factories.make_cluster("prod")
    factories.mirror(
        cluster,
        factories.k8s_object(
            "Machine", "m1", spec={"machineProvider": {"name": "ec2"}}, status=factories.status("Provisioning")
        ),
    )
    return cluster


def connect(user, page, consumer=LiveConsumer):
    communicator = WebsocketCommunicator(consumer.as_asgi(), f"/ws/live/?page={page}")
    communicator.scope["user"] = user
    return communicator


async def set_phase(name, phase):
    await sync_to_async(Machine.objects.filter(name=name).update)(phase=phase, status={"phase": phase})


async def test_a_synchronous_database_call_in_the_event_loop_fails_as_in_production(fleet):
    """Django's async-safety check is on for the consumer's code: a blocking ORM call it made in the
    event loop would fail this suite. (A test module lifting the check at import would lift it for
    the whole run, since pytest imports every module before running any.)"""
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ
    with pytest.raises(SynchronousOnlyOperation):
        Machine.objects.count()


async def test_an_anonymous_visitor_is_refused(fleet):
    from django.contrib.auth.models import AnonymousUser

    connected, code = await connect(AnonymousUser(), "/machines/").connect()
    assert (connected, code) == (False, 4401)


async def test_a_foreign_origin_is_refused(fleet):
    communicator = WebsocketCommunicator(
        application,
        "/ws/live/?page=/machines/",
        headers=[(b"origin", b"https://evil.example"), (b"host", b"127.0.0.1")],
    )
    connected, _ = await communicator.connect(timeout=5)
    assert not connected


async def test_a_user_without_permission_to_see_the_page_cannot_follow_it(fleet):
    nobody = await sync_to_async(get_user_model().objects.create_user)("nobody", password="x-pw-12345")
    connected, code = await connect(nobody, "/machines/").connect()
    assert (connected, code) == (False, 4403)


async def test_a_page_that_follows_nothing_is_refused(fleet):
    viewer = await sync_to_async(factories.viewer)()
    connected, code = await connect(viewer, "/search/?q=x").connect()
    assert (connected, code) == (False, 4404)


async def test_on_connect_the_page_gets_its_regions_so_a_reconnect_catches_up(fleet):
    viewer = await sync_to_async(factories.viewer)()
    communicator = connect(viewer, "/machines/?phase=Provisioning")
    assert (await communicator.connect(timeout=5))[0]
    first = await communicator.receive_from(timeout=5)
    assert '<div id="results" hx-swap-oob="innerHTML">' in first and "m1" in first
    await communicator.disconnect()


async def test_a_burst_of_changes_sends_a_few_messages_not_one_per_change(fleet):
    viewer = await sync_to_async(factories.viewer)()
    communicator = connect(viewer, "/machines/")
    await communicator.connect(timeout=5)
    await communicator.receive_from(timeout=5)
    await set_phase("m1", "Running")
    layer = get_channel_layer()
    started = asyncio.get_running_loop().time()
    for _ in range(1000):
        await layer.group_send(
            "machine-list",
            {"type": "objects.changed", "kind": "Machine", "cluster": fleet.pk, "changes": {"updated": [1]}},
        )
    burst = asyncio.get_running_loop().time() - started
    messages = [await communicator.receive_from(timeout=5)]
    while not await communicator.receive_nothing(timeout=1.0):
        messages.append(await communicator.receive_from())
    assert "Running" in messages[0] and 'id="live-signal"' in messages[0]
    # One message per coalescing window at most, whatever the number of changes.
    assert len(messages) <= burst / LiveConsumer.window + 2
    assert sum("Running" in message for message in messages) == 1  # unchanged regions are not sent again
    await communicator.disconnect()


async def test_a_page_converges_even_when_every_message_is_lost(fleet):
    class QuickResync(LiveConsumer):
        resync = 0.5

    viewer = await sync_to_async(factories.viewer)()
    communicator = connect(viewer, "/machines/", consumer=QuickResync)
    await communicator.connect(timeout=5)
    await communicator.receive_from(timeout=5)
    await set_phase("m1", "Failed")  # changed, and nobody told the channel layer
    message = await communicator.receive_from(timeout=5)
    assert "Failed" in message
    await communicator.disconnect()


async def test_unchanged_regions_are_not_sent_again(fleet):
    class QuickResync(LiveConsumer):
        resync = 0.3

    viewer = await sync_to_async(factories.viewer)()
    communicator = connect(viewer, "/machines/", consumer=QuickResync)
    await communicator.connect(timeout=5)
    await communicator.receive_from(timeout=5)
    assert await communicator.receive_nothing(timeout=1.0)
    await communicator.disconnect()


async def test_a_detail_page_follows_its_object_and_is_closed_when_it_is_deleted(fleet):
    viewer = await sync_to_async(factories.viewer)()
    machine = await sync_to_async(Machine.objects.get)(name="m1")
    communicator = connect(viewer, f"/machines/{machine.pk}/")
    await communicator.connect(timeout=5)
    first = await communicator.receive_from(timeout=5)
    assert 'id="object-head"' in first and 'id="tab-panel"' in first
    await set_phase("m1", "Running")
    await get_channel_layer().group_send(
        f"machine-{machine.pk}",
        {"type": "object.changed", "kind": "Machine", "cluster": fleet.pk, "action": "updated", "pk": machine.pk},
    )
    assert "Running" in await communicator.receive_from(timeout=5)
    await sync_to_async(Machine.objects.filter(pk=machine.pk).delete)()
    await get_channel_layer().group_send(
        f"machine-{machine.pk}",
        {"type": "object.changed", "kind": "Machine", "cluster": fleet.pk, "action": "deleted", "pk": machine.pk},
    )
    output = await communicator.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": 4403}


async def test_the_overview_is_pushed_again_when_its_figures_are_derived_anew(fleet):
    """The overview shows stored figures: the page hears of the new ones from the deriving process."""
    from datetime import timedelta

    from django.utils import timezone

    from vitiweb.derive import derive

    viewer = await sync_to_async(factories.viewer)()
    communicator = connect(viewer, "/")
    assert (await communicator.connect(timeout=5))[0]
    first = await communicator.receive_from(timeout=5)
    assert "Provisioning" in first and "Failed" not in first
    later = timezone.now() + timedelta(seconds=1)
    # Written without a word to the channel layer; only the derivation tells the page.
    await sync_to_async(Machine.objects.filter(name="m1").update)(phase="Failed", synced_at=later)
    assert await sync_to_async(derive)() is True
    message = await communicator.receive_from(timeout=5)
    assert "Failed" in message and 'data-kinds="derived"' in message
    await communicator.disconnect()


async def test_a_crowd_following_one_page_costs_one_render_and_one_access_check_per_change(fleet, monkeypatch):
    from vitiweb import consumers

    calls = {"render": 0, "access": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(consumers, "render_regions", counted("render", consumers.render_regions))
    monkeypatch.setattr(consumers, "_read_access", counted("access", consumers._read_access))
    viewer = await sync_to_async(factories.viewer)()
    crowd = [connect(viewer, "/machines/") for _ in range(20)]
    for communicator in crowd:
        assert (await communicator.connect())[0]
        await communicator.receive_from(timeout=5)
    await set_phase("m1", "Running")
    calls.update(render=0, access=0)
    await get_channel_layer().group_send(
        "machine-list", {"type": "objects.changed", "kind": "Machine", "cluster": fleet.pk, "changes": {}}
    )
    for communicator in crowd:
        assert "Running" in await communicator.receive_from(timeout=10)
    assert calls == {"render": 1, "access": 1}
    for communicator in crowd:
        await communicator.disconnect()


async def test_a_shared_render_is_reused_within_its_window_but_never_for_a_connection_told_of_a_later_change():
    import time

    from vitiweb.consumers import _shared

    renders = iter(["before the change", "after the change"])
    cache, told_earlier = {}, time.monotonic()
    assert _shared(cache, ("vera", "/machines/"), told_earlier, lambda: next(renders)) == "before the change"
    assert _shared(cache, ("vera", "/machines/"), told_earlier, lambda: next(renders)) == "before the change"
    await asyncio.sleep(0.01)
    told_since = time.monotonic()
    assert _shared(cache, ("vera", "/machines/"), told_since, lambda: next(renders)) == "after the change"
