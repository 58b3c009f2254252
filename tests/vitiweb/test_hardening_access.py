"""Who may reach what, and where credentials may go (issue 16, findings 3, 5, 6, 7, 8, 11 and 12).

Each test is the finding as the review found it: the request an attacker
(or a careless Admin) would send, and what the dashboard must answer.
"""

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.views.debug import SafeExceptionReporterFilter
from rest_framework.authtoken.models import Token

from tests.factories import admin, make_cluster, user, viewer
from tests.vitiweb.test_cluster_pages import KUBECONFIG, TOKEN, report
from vitiweb.asgi import application
from vitiweb.models import AuditEntry, Cluster

pytestmark = pytest.mark.django_db


def kubeconfig_at(server: str, proxy: str | None = None) -> str:
    text = KUBECONFIG.replace("https://prod.example.com:6443", server)
    return text.replace(f"    server: {server}", f"    server: {server}\n    proxy-url: {proxy}") if proxy else text


@pytest.fixture
def ada(client):
    client.force_login(admin(username="ada"))
    return client


@pytest.fixture
def no_network_test(monkeypatch):
    """The connection test answers at once: these tests are about what is refused before it."""
    calls = []
    monkeypatch.setattr("vitiweb.kube.discovery.connection_test", lambda client, **kw: calls.append(1) or report())
    return calls


# -- 3. the admin cannot redirect stored credentials -----------------------------------------------------


def test_the_admin_cannot_point_a_cluster_s_credentials_at_another_server(client):
    cluster = make_cluster("prod", server="https://prod.example.com:6443", context="prod")
    cluster.set_credentials('{"users": {"ops": {"token": "t"}}}')
    cluster.save()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-for-tests-1"))
    response = client.post(
        f"/admin/vitiweb/cluster/{cluster.pk}/change/",
        {
            "name": "prod",
            "source": "kubeconfig",
            "server": "https://attacker.example.com",
            "context": "other",
            "manifest_path": "/etc",
            "kubeconfig_public": '{"clusters": [{"name": "x", "cluster": {"server": "https://attacker.example.com"}}]}',
            "kind_states": "{}",
        },
    )
    assert response.status_code == 302  # saved: only what may change did
    cluster.refresh_from_db()
    assert (cluster.server, cluster.context, cluster.manifest_path, cluster.kubeconfig_public) == (
        "https://prod.example.com:6443",
        "prod",
        "",
        {},
    )
    assert client.get("/admin/vitiweb/cluster/add/").status_code == 403


# -- 5. add-cluster does not reach internal addresses, and never echoes a reply ------------------------


@pytest.mark.parametrize(
    "server, proxy, says",
    [
        ("https://169.254.169.254", None, "169.254.169.254 is a link-local address"),
        ("https://127.0.0.1:6443", None, "127.0.0.1 is a loopback address"),
        ("https://[::1]:6443", None, "::1 is a loopback address"),
        ("https://[fd00:ec2::254]", None, "the EC2 metadata address"),
        ("https://metadata.google.internal", None, "metadata.google.internal is a cloud metadata service"),
        ("https://prod.example.com:6443", "http://169.254.169.254:80", "proxy-url: 169.254.169.254 is a link-local"),
        ("https://localhost:6443", None, "localhost is a loopback address"),
    ],
)
def test_add_cluster_refuses_link_local_loopback_and_metadata_addresses(ada, no_network_test, server, proxy, says):
    html = ada.post(
        "/clusters/add/", {"name": "inside", "kubeconfig_text": kubeconfig_at(server, proxy), "action": "test"}
    ).content.decode()
    assert says in html and no_network_test == []
    assert not Cluster.objects.filter(name="inside").exists()


def test_a_setting_allows_an_internal_address(ada, no_network_test, settings):
    settings.VITIWEB_ALLOW_INTERNAL_ADDRESSES = ["127.0.0.0/8"]
    ada.post("/clusters/add/", {"name": "lab", "kubeconfig_text": kubeconfig_at("https://127.0.0.1:6443")})
    assert no_network_test == [1]


def test_the_add_cluster_command_refuses_them_too(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_at("https://169.254.169.254"))
    with pytest.raises(CommandError, match="server: 169.254.169.254 is a link-local address"):
        call_command("add_cluster", "inside", "--kubeconfig", str(path), "--skip-test")
    assert not Cluster.objects.exists()


@pytest.fixture
def internal_service():
    """An HTTP service that is not an API server, with something to hide on its error page."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>internal admin console: db-password=hunter2</html>"
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_reply_that_is_not_a_kubernetes_status_is_never_shown_or_stored(ada, settings, internal_service):
    settings.VITIWEB_ALLOW_INTERNAL_ADDRESSES = ["127.0.0.1"]
    data = {"name": "probe", "kubeconfig_text": kubeconfig_at(internal_service), "action": "save"}
    html = ada.post("/clusters/add/", {**data, "save_unreachable": "on"}).content.decode()
    cluster = Cluster.objects.get(name="probe")
    shown = ada.get(f"/clusters/{cluster.pk}/").content.decode() + html
    stored = cluster.last_error + str(cluster.permissions)
    assert "Internal Server Error" in stored
    assert "hunter2" not in shown and "hunter2" not in stored
    assert "hunter2" not in ada.get("/api/v1/clusters/").content.decode()


# -- 6. login throttling ---------------------------------------------------------------------------------


def fail_logins(client, url, username, times):
    for _ in range(times):
        client.post(url, {"username": username, "password": "wrong-guess"})


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_repeated_failed_logins_lock_the_account_out_with_a_clear_message_and_an_audit_entry(client, url):
    get_user_model().objects.create_superuser("root", password="right-password-1")
    fail_logins(client, url, "root", 5)
    response = client.post(url, {"username": "root", "password": "right-password-1"})
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # One entry when the limit is reached, one for each attempt refused while locked out.
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.LOCKOUT)
    assert entries.count() == 2
    assert all(entry.name == "root" and "127.0.0.1" in entry.message for entry in entries)


def test_a_few_failures_do_not_lock_anyone_out(client):
    get_user_model().objects.create_user("vera", password="right-password-1")
    fail_logins(client, "/login/", "vera", 3)
    response = client.post("/login/", {"username": "vera", "password": "right-password-1"})
    assert response.status_code == 302 and client.session["_auth_user_id"]


def test_the_api_takes_no_passwords_only_sessions_and_tokens(client):
    account = viewer(username="vera", password="right-password-1")
    basic = "Basic " + base64.b64encode(b"vera:right-password-1").decode()
    assert client.get("/api/v1/clusters/", HTTP_AUTHORIZATION=basic).status_code in (401, 403)
    token = Token.objects.create(user=account)
    assert client.get("/api/v1/clusters/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


# -- 7. every page needs the Viewer role; the schema needs a login -----------------------------------------


@pytest.mark.parametrize("url", ["/", "/search/?q=prod", "/export/fleet.zip"])
def test_a_user_without_a_role_sees_nothing_of_the_fleet(client, url):
    make_cluster("prod")
    client.force_login(user(None, username="nobody"))
    assert client.get(url).status_code == 403


def test_a_viewer_sees_the_overview(client):
    client.force_login(viewer(username="vera"))
    assert client.get("/").status_code == 200


def test_the_api_schema_needs_a_login(client):
    assert client.get("/api/schema/").status_code in (401, 403)
    client.force_login(viewer(username="vera"))
    assert client.get("/api/schema/").status_code == 200


# -- 8. clear errors, and no credentials in error reports --------------------------------------------------


@pytest.mark.parametrize(
    "user_part, says",
    [
        (
            "exec: {command: /bin/sh, args: ['-c', 'id'], apiVersion: client.authentication.k8s.io/v1}",
            "cannot be used from the web form",
        ),
        ("tokenFile: /var/run/secrets/token", "names a file on this machine"),
    ],
)
def test_saving_anyway_a_kubeconfig_the_web_cannot_use_is_a_form_error_not_a_500(ada, no_network_test, user_part, says):
    text = KUBECONFIG.replace(f"token: {TOKEN}", user_part)
    response = ada.post(
        "/clusters/add/", {"name": "prod", "kubeconfig_text": text, "action": "save", "save_unreachable": "on"}
    )
    assert response.status_code == 200 and says in response.content.decode()
    assert not Cluster.objects.exists()


def test_error_reports_of_the_add_cluster_page_never_carry_the_kubeconfig(ada, no_network_test):
    response = ada.post("/clusters/add/", {"name": "prod", "kubeconfig_text": KUBECONFIG, "action": "test"})
    hidden = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert TOKEN not in str(hidden["kubeconfig_text"])
    response = ada.post("/apply/", {"cluster": make_cluster("prod").pk, "manifests": "kind: Secret"})
    assert "kind: Secret" not in str(SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request))


# -- 11. the request size is checked before the body is read ---------------------------------------------


def call_asgi(headers, chunks):
    """POST /apply/ to the ASGI application; (status, number of body chunks it read)."""
    read = []
    sent = []

    async def receive():
        read.append(1)
        return {"type": "http.request", "body": next(chunks), "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/apply/",
        "raw_path": b"/apply/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    async_to_sync(application)(scope, receive, send)
    return sent[0]["status"], len(read)


def endless(size=1024 * 1024):
    while True:
        yield b"x" * size


def test_a_50_mib_upload_is_refused_from_its_content_length_before_any_of_it_is_read():
    status, read = call_asgi([(b"content-length", str(50 * 1024 * 1024).encode())], endless())
    assert (status, read) == (413, 0)


def test_a_body_without_a_length_is_refused_once_it_passes_the_limit(settings):
    status, read = call_asgi([(b"transfer-encoding", b"chunked")], endless())
    assert status == 413 and read == settings.VITIWEB_MAX_REQUEST_BYTES // (1024 * 1024) + 1


# -- 10. a label selector too large for the database is a clear 400-level answer ----------------------------


@pytest.fixture
def vera(client):
    client.force_login(viewer(username="vera"))
    return client


def test_a_selector_of_1200_requirements_is_refused_with_its_reason(vera):
    selector = ",".join(["a"] * 1200)  # 1,200 requirements in 2,399 characters
    api = vera.get("/api/v1/machines/", {"label": selector})
    assert api.status_code == 400 and "at most 50 requirements, this has 1200" in api.content.decode()
    page = vera.get("/machines/", {"label": selector})
    assert page.status_code == 200 and "at most 50 requirements, this has 1200" in page.content.decode()


def test_a_selector_with_a_percent_sign_is_a_400_not_a_500(vera):
    # django-filter formats error messages with %: user text must not be in the message itself.
    response = vera.get("/api/v1/machines/", {"label": "%(x)s%"})
    assert response.status_code == 400 and "not a label selector requirement" in response.content.decode()


def upload_to(port: int, headers: bytes, framing) -> tuple[bytes, int]:
    """(answer, bytes sent) of a 50 MiB POST to a server on ``port``, stopped when the server hangs up."""
    import socket

    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /apply/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n" + headers
        )
        chunk = b"x" * 65536
        try:
            while sent < 50 * 1024 * 1024:
                sock.sendall(framing(chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server hung up: what the tests want
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
    return answer, sent


@pytest.mark.django_db(transaction=True)
def test_daphne_hangs_up_on_a_50_mib_upload_instead_of_receiving_it():
    from tests.processes import free_port, manage, stop, wait_for_port

    port = free_port()
    server = manage(
        "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks", VITIWEB_MAX_REQUEST_BYTES=str(1024 * 1024)
    )
    try:
        wait_for_port(port)
        answer, sent = upload_to(port, f"Content-Length: {50 * 1024 * 1024}\r\n\r\n".encode(), lambda chunk: chunk)
        assert answer.startswith(b"HTTP/1.1 413") and sent < 50 * 1024 * 1024
        answer, sent = upload_to(
            port, b"Transfer-Encoding: chunked\r\n\r\n", lambda chunk: b"%x\r\n%s\r\n" % (len(chunk), chunk)
        )
        assert answer.startswith(b"HTTP/1.1 413") and sent < 50 * 1024 * 1024
    finally:
        stop(server)
        server.wait(timeout=10)
