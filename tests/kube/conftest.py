"""Fixtures for the Kubernetes access layer: throwaway PKI, kubeconfigs, a sandbox cluster."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import threading
import time
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Pair:
    cert_pem: bytes
    key_pem: bytes
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_b64(self) -> str:
        return base64.b64encode(self.cert_pem).decode()

    @property
    def key_b64(self) -> str:
        return base64.b64encode(self.key_pem).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate, key) -> Pair:
    return Pair(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        cert,
        key,
    )


def make_ca(common_name: str = "test-ca") -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _pem(cert, key)


def issue(
    ca: Pair, common_name: str, *, server: bool = True, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    )
    if server:
        names = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return _pem(builder.sign(ca.key, hashes.SHA256()), key)


@dataclass
class PKI:
    ca: Pair
    server: Pair
    client: Pair
    other_ca: Pair


@pytest.fixture(scope="session")
def pki() -> PKI:
    ca = make_ca("vitiweb-test-ca")
    return PKI(
        ca=ca, server=issue(ca, "sandbox"), client=issue(ca, "alice", server=False), other_ca=make_ca("someone-else")
    )


def kubeconfig_for(
    server: str,
    *,
    token: str | None = None,
    ca_b64: str | None = None,
    context: str = "test",
    user: dict | None = None,
    cluster_extra: dict | None = None,
) -> dict:
    cluster = {"server": server}
    if ca_b64:
        cluster["certificate-authority-data"] = ca_b64
    cluster.update(cluster_extra or {})
    user_entry = dict(user or {})
    if token is not None:
        user_entry["token"] = token
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "clusters": [{"name": f"{context}-cluster", "cluster": cluster}],
        "users": [{"name": f"{context}-user", "user": user_entry}],
        "contexts": [{"name": context, "context": {"cluster": f"{context}-cluster", "user": f"{context}-user"}}],
    }


class EchoServer:
    """A tiny HTTPS (or HTTP) server that answers /version and remembers what it was sent."""

    def __init__(self, tmp_path, server_pair: Pair | None, *, client_ca: Pair | None = None, status: int = 200):
        import http.server
        import json
        import ssl
        import threading

        self.requests: list[dict] = []
        self.status = status
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                peer = None
                if hasattr(self.connection, "getpeercert"):
                    cert = self.connection.getpeercert()
                    if cert:
                        peer = dict(x[0] for x in cert["subject"])["commonName"]
                outer.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "peer": peer}
                )
                body = json.dumps(
                    {"gitVersion": "v1.31.0-echo"}
                    if outer.status == 200
                    else {"kind": "Status", "code": outer.status, "reason": "Unauthorized", "message": "Unauthorized"}
                ).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if server_pair is not None:
            cert_path, key_path = tmp_path / "server.crt", tmp_path / "server.key"
            cert_path.write_bytes(server_pair.cert_pem)
            key_path.write_bytes(server_pair.key_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_path, key_path)
            if client_ca is not None:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(cadata=client_ca.cert_pem.decode())
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def echo_server(tmp_path):
    servers = []

    def start(server_pair=None, **kwargs):
        server = EchoServer(tmp_path, server_pair, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(name="kubeconfig_for")
def kubeconfig_for_fixture():
    return kubeconfig_for


@pytest.fixture(name="issue_cert")
def issue_cert_fixture():
    return issue


class ScriptedServer:
    """An HTTP server answering each request with the next scripted reply for its route.

    ``server.script(path, *replies)``: each reply is a callable ``reply(handler, query)``
    that writes the whole response. ``server.requests`` records (time, "METHOD /path[?watch]", query).
    A route whose script is used up repeats its last reply.
    """

    def __init__(self):
        import http.server
        import threading
        import time
        from urllib.parse import parse_qs, urlsplit

        self.routes: dict[str, list] = {}
        self.requests: list[tuple[float, str, str, dict]] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_one(self):
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                key = f"{self.command} {parts.path}" + ("?watch" if query.get("watch") in ("true", "1") else "")
                with outer.lock:
                    outer.requests.append((time.monotonic(), key, query))
                    route = next((r for r in sorted(outer.routes, key=len, reverse=True) if key.startswith(r)), None)
                    replies = outer.routes.get(route) or []
                    reply = (replies.pop(0) if len(replies) > 1 else replies[0]) if replies else None
                if reply is None:
                    json_reply(
                        404,
                        {"kind": "Status", "code": 404, "reason": "NotFound", "message": f"no script for {self.path}"},
                    )(self, query)
                    return
                reply(self, query)

            do_GET = do_POST = do_PATCH = do_DELETE = handle_one

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def script(self, route: str, *replies):
        with self.lock:
            self.routes[route] = list(replies)

    def calls(self, route: str) -> list[tuple[float, dict]]:
        """(time, query) of each request whose "METHOD /path[?watch]" is exactly ``route``."""
        with self.lock:
            return [(at, query) for at, key, query in self.requests if key == route]

    def close(self):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def json_reply(status: int, body, headers: dict | None = None):
    import orjson

    def reply(handler, query):
        data = orjson.dumps(body)
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    return reply


def status_reply(code: int, reason: str, message: str = "", headers: dict | None = None):
    return json_reply(
        code,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "code": code,
            "reason": reason,
            "message": message or reason,
        },
        headers,
    )


def stream_reply(events, *, hold: float = 0.0, end: str = "close", server: ScriptedServer | None = None):
    """A chunked watch stream of ``events`` (dicts), held open ``hold`` seconds, then
    ended cleanly (``end="close"``) or cut without the final chunk (``end="drop"``)."""
    import time

    import orjson

    def reply(handler, query):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for event in events:
            line = orjson.dumps(event) + b"\n"
            handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            handler.wfile.flush()
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline and not (server and server.closing.is_set()):
            time.sleep(0.02)
        if end == "close":
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        else:
            handler.close_connection = True
            import socket

            handler.connection.shutdown(socket.SHUT_RDWR)

    return reply


@pytest.fixture
def scripted():
    server = ScriptedServer()
    yield server
    server.close()


# -- the sandbox cluster -------------------------------------------------------------------------

from vitiweb.sandbox.pytest_plugin import sandbox, sandbox_factory  # noqa: E402,F401  (fixtures)


@pytest.fixture
def client_for(tmp_path):
    """client_for(sandbox, token=..., ca_pem=...) -> an ApiClient built from a kubeconfig *text*,
    as a stored cluster's would be."""
    from vitiweb.kube.clients import api_client_from_kubeconfig

    made = []

    def make(sb, *, token: str | None = "<sandbox's>", ca_pem: bytes | None = None, **kwargs):
        path = sb.write_kubeconfig(tmp_path / f"{sb.name}-{len(made)}.kubeconfig")
        import yaml

        config = yaml.safe_load(path.read_text())
        user = config["users"][0]["user"]
        if token != "<sandbox's>":
            user.pop("token", None)
            if token is not None:
                user["token"] = token
        if ca_pem is not None:
            config["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
        client = api_client_from_kubeconfig(yaml.safe_dump(config), **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def machine_manifest(name: str, namespace: str = "production", instance_type: str = "m5.large", **spec) -> dict:
    return {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "Machine",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "machineProvider": {"name": "aws-prod"},
            "instanceType": instance_type,
            "machineImage": "ubuntu-22.04",
            **spec,
        },
    }


class Recorder:
    """Collects what a reflector reports, and waits for it."""

    def __init__(self):
        self.lists: list[tuple[list, str]] = []
        self.events: list[tuple[str, dict]] = []
        self.states: list[tuple[str, object]] = []
        self.cond = threading.Condition()
        self.fail_events = 0

    def on_list(self, items, rv):
        with self.cond:
            self.lists.append((list(items), rv))
            self.cond.notify_all()

    def on_event(self, kind, obj):
        with self.cond:
            if self.fail_events:
                self.fail_events -= 1
                raise RuntimeError("database is locked")
            self.events.append((kind, obj))
            self.cond.notify_all()

    def on_state(self, state, error=None):
        with self.cond:
            self.states.append((state, error))
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            # Polls too: some predicates look at the server, which does not notify us.
            while not predicate():
                remaining = deadline - time.monotonic()
                assert remaining > 0, (
                    f"timed out; states={self.state_names()} lists={len(self.lists)} events={len(self.events)}"
                )
                self.cond.wait(min(remaining, 0.02))

    def state_names(self):
        return [s for s, _ in self.states]

    def names(self, index=-1):
        return sorted(o["metadata"]["name"] for o in self.lists[index][0])
