"""The contract every declared kind keeps, checked over the registry (after NetBox's ViewTestCases).

For each kind: its pages (list, detail, YAML, history, manifest, new, edit,
export), its API and its topology and findings panels answer as each role
may see them (anonymous, no role, Viewer, Operator); search finds its objects; its list and detail pages are
live (the consumer's regions render for a Viewer). A kind added to the
registry is covered here with no test written for it.
"""

import pytest
from django.urls import reverse

from tests import factories
from vitiweb import registry
from vitiweb.live_regions import live_page, render_regions

pytestmark = pytest.mark.django_db


def declared_kinds():
    # The registry is filled when apps are ready (pytest-django sets Django up before collection).
    return [declaration.kind for declaration in registry.declarations()]


def one_object(declaration):
    """An object of the kind, mirrored as the sync would; cluster-scoped where the published shape says so."""
    cluster = factories.make_cluster("contract")
    scope = declaration.scope(registry.PUBLISHED) or declaration.scope(registry.GUIDE)
    namespace = "production" if scope == registry.NAMESPACED else ""
    factories.mirror(cluster, factories.k8s_object(declaration.kind, "contract-object", namespace=namespace))
    return declaration.get_model().objects.get(name="contract-object")


def read_urls(declaration, obj) -> list[str]:
    return [
        reverse(declaration.url_name("list")),
        reverse(declaration.url_name("detail"), args=[obj.pk]),
        reverse(declaration.url_name("yaml"), args=[obj.pk]),
        reverse(declaration.url_name("history"), args=[obj.pk]),
        reverse(declaration.url_name("manifest"), args=[obj.pk]),
        reverse(declaration.url_name("export"), args=[obj.pk]),
        f"/api/v1/{declaration.plural}/",
        f"/api/v1/{declaration.plural}/{obj.pk}/",
    ]


def panel_urls(declaration, obj) -> list[str]:
    """Its topology side panel and its findings panel (a page that may not see it answers 404)."""
    return [
        reverse("topology:panel", args=[declaration.kind, obj.pk]),
        reverse("topology:object_findings", args=[declaration.kind, obj.pk]),
    ]


def write_urls(declaration, obj) -> list[str]:
    return [reverse(declaration.url_name("create")), reverse(declaration.url_name("edit"), args=[obj.pk])]


def navigation(client) -> str:
    """The sidebar of a page (the overview's own content links to kinds as well)."""
    page = client.get(reverse("search")).content.decode()
    start = page.index('id="sidebar"')
    return page[start : page.index("</nav>", start)]


@pytest.fixture(params=declared_kinds())
def kind_object(request):
    declaration = registry.get(request.param)
    return declaration, one_object(declaration)


def test_anonymous_visitors_are_sent_to_log_in(client, kind_object):
    declaration, obj = kind_object
    for url in read_urls(declaration, obj) + write_urls(declaration, obj):
        response = client.get(url)
        if url.startswith("/api/"):
            assert response.status_code in (401, 403), url
        else:
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("login")), url


def test_a_user_without_a_role_reads_nothing(client, kind_object):
    declaration, obj = kind_object
    client.force_login(factories.user(None))
    for url in read_urls(declaration, obj) + write_urls(declaration, obj):
        assert client.get(url).status_code == 403, url
    for url in panel_urls(declaration, obj):
        assert client.get(url).status_code == 404, url


def test_a_viewer_reads_every_page_and_the_api(client, kind_object):
    declaration, obj = kind_object
    client.force_login(factories.viewer())
    for url in read_urls(declaration, obj) + panel_urls(declaration, obj)[:1]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "contract-object" in response.content.decode(), url
    assert client.get(panel_urls(declaration, obj)[1]).status_code == 200
    api = client.get(f"/api/v1/{declaration.plural}/{obj.pk}/").json()
    assert (api["kind"], api["name"], api["namespace"]) == (declaration.kind, "contract-object", obj.namespace)
    assert f'href="{reverse(declaration.url_name("list"))}"' in navigation(client)


def test_a_viewer_finds_the_object_by_search(client, kind_object):
    declaration, obj = kind_object
    client.force_login(factories.viewer())
    page = client.get(reverse("search"), {"q": "contract-obj"}).content.decode()
    assert obj.get_absolute_url() in page


def test_an_operator_opens_the_editor_new_and_filled_in(client, kind_object):
    declaration, obj = kind_object
    client.force_login(factories.operator())
    for url in write_urls(declaration, obj):
        assert client.get(url).status_code == 200, url
    assert "contract-object" in client.get(reverse(declaration.url_name("edit"), args=[obj.pk])).content.decode()


def test_list_and_detail_pages_are_live_for_a_viewer_and_closed_to_no_role(kind_object):
    declaration, obj = kind_object
    viewer, nobody = factories.viewer(), factories.user(None)
    for url in (reverse(declaration.url_name("list")), obj.get_absolute_url()):
        page = live_page(url)
        assert page is not None and page.groups and page.regions, url
        regions = render_regions(viewer, url, page.regions)
        assert set(regions) == set(page.regions), url
        assert any("contract-object" in html for html in regions.values()), url
        with pytest.raises(Exception, match="permission denied"):
            render_regions(nobody, url, page.regions)


def test_every_kind_is_declared_once_with_a_crd_in_each_shape_it_has():
    from pathlib import Path

    import yaml
    from django.conf import settings

    crds = {}
    for path in Path(settings.VITIWEB_CRDS_DIR).rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        shape = registry.PUBLISHED if "published" in path.parts else registry.GUIDE
        crds[(shape, doc["spec"]["names"]["kind"])] = doc
    for declaration in registry.declarations():
        for shape, scope in declaration.scopes.items():
            crd = crds.get((shape, declaration.kind))
            assert crd is not None, f"{declaration.kind} has no {shape} CRD"
            assert crd["spec"]["scope"] == scope, (declaration.kind, shape)
            assert crd["spec"]["names"]["plural"] == declaration.plural, (declaration.kind, shape)
