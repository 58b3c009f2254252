"""Adding a kind is one declaration.

A throwaway kind, registered here and nowhere else, gets its list, detail,
YAML, history and manifest pages, its REST endpoint, search results,
navigation and live pages, and its objects sync through the mirror. Its
model is a proxy of the generic table undeclared kinds are kept in (a test
cannot migrate a table of its own); nothing else is written for it.
"""

import importlib

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import clear_url_caches, reverse

from tests import factories
from tests.vitiweb.test_kind_contract import navigation, read_urls
from vitiweb import registry
from vitiweb.consumers import LiveConsumer
from vitiweb.live_regions import live_page, render_regions
from vitiweb.models import DiscoveredObject
from vitiweb.roles import VIEWER


def reload_urls():
    """URL configuration is read once, after every app declared its kinds; a kind declared later needs it re-read."""
    import vitiweb.api_urls
    import vitiweb.editing.urls
    import vitiweb.kind_urls
    import vitiweb.urls

    for module in (vitiweb.kind_urls, vitiweb.editing.urls, vitiweb.api_urls, vitiweb.urls):
        importlib.reload(module)
    clear_url_caches()


class _GadgetManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(kind="Gadget")


@pytest.fixture
def gadget(transactional_db):
    model = type(
        "Gadget",
        (DiscoveredObject,),
        {
            "__module__": __name__,
            "KIND": "Gadget",
            "PLURAL": "gadgets",
            "objects": _GadgetManager(),
            "Meta": type("Meta", (), {"proxy": True, "app_label": "vitiweb"}),
        },
    )
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    Permission.objects.create(codename="view_gadget", name="Can view gadget", content_type=content_type)
    declaration = registry.register(
        registry.KindDeclaration(
            kind="Gadget",
            model="vitiweb.Gadget",
            plural="gadgets",
            scopes={registry.PUBLISHED: registry.NAMESPACED},
            topology_symbol="cross",
        )
    )
    reload_urls()
    yield declaration
    registry.unregister("Gadget")
    del apps.all_models["vitiweb"]["gadget"]
    apps.clear_cache()
    reload_urls()


def gadget_viewer():
    """A Viewer who may also read gadgets (the roles list the kinds a migration knows; this one is a test's)."""
    user = factories.viewer()
    Group.objects.get(name=VIEWER).permissions.add(Permission.objects.get(codename="view_gadget"))
    return user


@pytest.fixture
def gadget_object(gadget):
    cluster = factories.make_cluster("throwaway")
    factories.mirror(
        cluster,
        factories.k8s_object("Gadget", "contract-object", namespace="lab", status=factories.status("Running", True)),
    )
    return gadget.get_model().objects.get(name="contract-object")


def test_a_declared_kind_gets_its_pages_api_search_and_navigation(gadget, gadget_object, client):
    client.force_login(gadget_viewer())
    for url in read_urls(gadget, gadget_object):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "contract-object" in response.content.decode(), url
    assert client.get("/api/v1/gadgets/").json()["results"][0]["kind"] == "Gadget"
    assert gadget_object.get_absolute_url() in client.get(reverse("search"), {"q": "contract"}).content.decode()
    assert 'href="/gadgets/"' in navigation(client)
    # A topology node type too: drawn with its symbol, its side panel answers, the topology needs its permission.
    from vitiweb.topology.figure import symbol_of
    from vitiweb.topology.views import topology_permissions

    assert symbol_of("Gadget") == "cross"
    assert "vitiweb.view_gadget" in topology_permissions()
    panel = client.get(reverse("topology:panel", args=["Gadget", gadget_object.pk]))
    assert panel.status_code == 200 and "contract-object" in panel.content.decode()
    assert client.get("/topology/hierarchy/").status_code == 200


def test_a_declared_kind_is_closed_to_a_user_without_a_role(gadget, gadget_object, client):
    client.force_login(factories.user(None))
    for url in read_urls(gadget, gadget_object):
        assert client.get(url).status_code == 403, url


def test_a_declared_kind_lives_beside_other_kinds_without_mixing_with_them(gadget, gadget_object):
    DiscoveredObject.objects.create(
        cluster=gadget_object.cluster, kind="Widget", namespace="lab", name="contract-object", uid="widget-1"
    )
    assert list(gadget.get_model().objects.values_list("kind", flat=True)) == ["Gadget"]
    assert DiscoveredObject.objects.filter(name="contract-object").count() == 2


@pytest.mark.asyncio
async def test_a_declared_kinds_pages_are_live(gadget, gadget_object):
    viewer = await sync_to_async(gadget_viewer)()
    for url in ("/gadgets/", gadget_object.get_absolute_url()):
        page = live_page(url)
        assert page is not None, url
        regions = await sync_to_async(render_regions)(viewer, url, page.regions)
        assert any("contract-object" in html for html in regions.values()), url
        communicator = WebsocketCommunicator(LiveConsumer.as_asgi(), f"/ws/live/?page={url}")
        communicator.scope["user"] = viewer
        connected, _ = await communicator.connect(timeout=5)
        assert connected, url
        assert "contract-object" in await communicator.receive_from(timeout=5)
        await communicator.disconnect()
