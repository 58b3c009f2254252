"""The README's production command serves complete, live pages: styles, scripts and the websocket.

Runs exactly the daphne line of the README's Deploy section (address and
port changed to a free local one) with ``DEBUG=0`` and production settings,
after ``collectstatic`` as the image build runs it, then fetches a page as a
browser would: every stylesheet and script it links, with the cache and
compression headers WhiteNoise gives, and the live-updates websocket.
"""

import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
import pytest
from cryptography.fernet import Fernet

from tests import factories
from tests.deploy.manifests import ROOT, production_command
from tests.processes import database_url, free_port, output, stop, wait_for_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def production(tmp_path):
    """(base URL, server process) of the README's production command, on collected static files."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": "production-test-" + os.urandom(16).hex(),
        "VITIWEB_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "VITIWEB_SECURE_SSL_REDIRECT": "0",
        "VITIWEB_STATIC_ROOT": str(tmp_path / "static"),
        "VITIWEB_VAR_DIR": str(tmp_path / "var"),
        "LOG_FORMAT": "json",
        "DJANGO_SETTINGS_MODULE": "vitiweb.settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.pop("REDIS_URL", None)  # one web process: the in-memory channel layer is enough here
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**env, "DEBUG": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr

    port = free_port()
    argv = production_command()
    assignments = dict(word.split("=", 1) for word in argv if re.match(r"^\w+=", word))
    assert assignments == {"DEBUG": "0"}
    command = [word for word in argv if word not in {f"{k}={v}" for k, v in assignments.items()}]
    command = [{"0.0.0.0": "127.0.0.1", "8000": str(port)}.get(word, word) for word in command]
    command[0] = str(Path(sys.executable).parent / command[0])  # daphne from this virtualenv
    # Its log goes to a file, never to a pipe nobody reads while it serves (a full pipe blocks the server).
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    server = subprocess.Popen(command, cwd=ROOT, env={**env, **assignments}, stdout=subprocess.DEVNULL, stderr=log)
    server.log = log
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", server
    finally:
        stop(server)


async def log_in(session, base, username):
    """Log in as a browser would; cookies are carried by hand (they are Secure, and this is plain HTTP)."""
    async with session.get(f"{base}/login/") as response:
        assert response.status == 200
        page = await response.text()
        cookies = {name: morsel.value for name, morsel in response.cookies.items()}
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"csrfmiddlewaretoken": token, "username": username, "password": "pw-for-tests-1"}
    async with session.post(
        f"{base}/login/", data=form, headers={"Cookie": cookie_header(cookies)}, allow_redirects=False
    ) as response:
        assert response.status == 302, await response.text()
        cookies.update({name: morsel.value for name, morsel in response.cookies.items()})
    return cookies


def cookie_header(cookies: dict) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def assets(page: str) -> list[str]:
    return re.findall(r'<link rel="stylesheet" href="([^"]+)"', page) + re.findall(r'<script src="([^"]+)"', page)


async def fetch_page_and_assets(base, username):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        cookies = await log_in(session, base, username)
        headers = {"Cookie": cookie_header(cookies)}
        async with session.get(f"{base}/", headers=headers) as response:
            assert response.status == 200
            page = await response.text()
        fetched = {}
        for url in assets(page):
            async with session.get(f"{base}{url}", headers={"Accept-Encoding": "gzip"}) as response:
                fetched[url] = (response.status, dict(response.headers), len(await response.read()))
        async with session.ws_connect(
            f"{base.replace('http', 'ws')}/ws/live/?page=/", headers={**headers, "Origin": base}
        ) as socket:
            first = await socket.receive(timeout=10)
        return page, fetched, first


def test_the_readme_production_command_serves_complete_live_pages(production):
    base, server = production
    factories.viewer(username="operator-1")
    page, fetched, first = asyncio.run(fetch_page_and_assets(base, "operator-1"))

    urls = list(fetched)
    # The page links its own CSS and JS, htmx from django-htmx and plotly.js from the plotly package.
    for expected in (r"/static/vitiweb/vitiweb\.[0-9a-f]{12}\.css", r"/static/vitiweb/live\.[0-9a-f]{12}\.js"):
        assert any(re.fullmatch(expected, url) for url in urls), (expected, urls)
    assert any(re.fullmatch(r"/static/django_htmx/htmx-2\.min\.[0-9a-f]{12}\.js", url) for url in urls), urls
    assert any("plotly" in url for url in urls), urls
    for url, (status, headers, size) in fetched.items():
        assert status == 200 and size > 0, (url, status)
        assert "max-age" in headers["Cache-Control"], url
        if url.startswith("/static/"):
            # Hashed names never change content: browsers keep them for good, served compressed.
            assert "immutable" in headers["Cache-Control"], url
            assert headers.get("Content-Encoding") == "gzip" or size < 1000, url

    # The websocket accepts the logged-in page and sends its live regions at once (the catch-up).
    assert first.type == aiohttp.WSMsgType.TEXT, first
    assert 'hx-swap-oob="innerHTML"' in first.data

    stop(server)
    logged = output(server)
    lines = [line for line in logged.splitlines() if line.strip()]
    assert lines and all(line.startswith("{") for line in lines), logged[:2000]
    assert '"logger":"vitiweb.request"' in logged and "pw-for-tests-1" not in logged
