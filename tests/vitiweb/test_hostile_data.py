"""Strings from a cluster stay inert: escaped everywhere, links only for http(s), strict headers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import XSS, fleet, hostile_machine, viewer

pytestmark = pytest.mark.django_db

RAW_MARKUP = ("<script>alert", "<img src=x", 'onmouseover="alert', "javascript:alert")


@pytest.fixture
def evil(client):
    data = fleet()
    client.force_login(viewer())
    return hostile_machine(data.east)


def assert_inert(html: str):
    for raw in RAW_MARKUP:
        if raw == "javascript:alert":
            assert 'href="javascript:' not in html
        else:
            assert raw not in html, raw


@pytest.mark.parametrize("page", ["detail", "yaml", "history", "list", "overview", "search"])
def test_a_hostile_object_is_escaped_on_every_page(client, evil, page):
    url = {
        "detail": evil.get_absolute_url(),
        "yaml": reverse("machine_yaml", args=[evil.pk]),
        "history": reverse("machine_history", args=[evil.pk]),
        "list": reverse("machine_list") + "?ready=false",
        "overview": reverse("home"),
        "search": reverse("search") + "?q=evil",
    }[page]
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;script&gt;alert(" in html or page in ("search",)
    assert_inert(html)


def test_a_hostile_object_is_escaped_in_htmx_fragments_too(client, evil):
    response = client.get(reverse("machine_list") + "?q=evil", headers={"HX-Request": "true", "HX-Target": "results"})
    html = response.content.decode()
    assert "<html" not in html and "evil" in html
    assert_inert(html)


def test_a_documentation_link_is_made_only_for_http_urls(client, evil):
    html = client.get(evil.get_absolute_url()).content.decode()
    assert 'href="javascript:' not in html
    assert "javascript:alert(document.cookie)" in html  # shown as text
    stack_html = client.get(evil.cluster.vitistacks.get().get_absolute_url()).content.decode()
    assert 'href="https://docs.example.com/k8s"' in stack_html and 'rel="noopener noreferrer nofollow"' in stack_html


def test_recommended_labels_and_annotations_are_shown_where_set(client):
    data = fleet()
    client.force_login(viewer())
    html = client.get(data.stack.get_absolute_url()).content.decode()
    for text in (
        "Environment",
        "production",
        "Team",
        "platform",
        "The main production stack",
        "platform-team@example.com",
    ):
        assert text in html


def test_attributes_are_always_quoted(client, evil):
    html = client.get(evil.get_absolute_url()).content.decode()
    # The quote in the hostile label value cannot close an attribute.
    assert "x&quot; onmouseover=&quot;alert(1)" in html


def test_the_content_security_policy_runs_only_our_scripts_or_nonced_ones(client, evil):
    response = client.get(reverse("home"))
    policy = response["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src")).split()
    assert "'self'" in script_src
    # The nonce sentinel becomes a real 'nonce-...' source when a page uses one, never the literal 'nonce'.
    assert "'nonce'" not in script_src
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in policy
    html = response.content.decode()
    # No inline script runs: only src= scripts, and JSON data blocks (not executable).
    for chunk in html.split("<script")[1:]:
        tag = chunk.split(">", 1)[0]
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert " on" + "click=" not in html and "hx-on" not in html


def test_a_page_that_uses_the_nonce_gets_it_in_the_policy(rf):
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    def view(request):
        return HttpResponse(f'<script nonce="{request.csp_nonce}"></script>')

    request = rf.get("/")
    response = CSPMiddleware(view)(request)
    assert f"'nonce-{request.csp_nonce}'" in response["Content-Security-Policy"]


def test_pages_cannot_be_framed_and_are_not_sniffed(client, evil):
    response = client.get(evil.get_absolute_url())
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_figures_travel_as_json_data_never_as_markup(client, evil):
    html = client.get(reverse("home")).content.decode()
    assert '<script id="fig-quota" type="application/json">' in html
    assert "|safe" not in Path(__file__).resolve().parents[2].joinpath("templates/vitiweb/overview.html").read_text()


def test_no_template_marks_object_data_safe():
    root = Path(__file__).resolve().parents[2]
    for template in list(root.glob("templates/**/*.html")) + list(root.glob("*/templates/**/*.html")):
        text = template.read_text()
        assert "|safe" not in text and "autoescape off" not in text, template


def test_production_settings_use_secure_cookies_and_hsts():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "example.com",
        "VITIWEB_CREDENTIALS_KEYS": "Gkqvq8n4b3oGEF7bQmZs3w6a8h3n7Lq1p1zq4KcZ5pU=",
        "DJANGO_SETTINGS_MODULE": "vitiweb.settings",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.SESSION_COOKIE_HTTPONLY, "
        "s.X_FRAME_OPTIONS)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    ).stdout.split()
    assert out == ["True", "True", "True", "True", "DENY"]


def test_the_yaml_download_is_an_attachment_with_a_safe_file_name(client, evil):
    response = client.get(reverse("machine_manifest", args=[evil.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="prod-east_production_machine_evil.yaml"'
    assert response["Content-Type"].startswith("application/yaml")
    assert XSS.encode() in response.content  # the file is the data, verbatim; it is not HTML


def test_plotly_is_served_from_the_package_with_long_cache_headers(client):
    import plotly

    response = client.get(reverse("plotly_js", args=[plotly.__version__]))
    assert response.status_code == 200
    assert "max-age=31536000" in response["Cache-Control"] and "immutable" in response["Cache-Control"]
    assert response["Content-Type"].startswith("text/javascript")
    assert client.get(reverse("plotly_js", args=["0.0.0"])).status_code == 404
