"""``kubernetes.client.ApiClient`` instances built from in-memory credentials.

The client library's own kubeconfig loader writes CA data and client keys to
temporary files that live until the process exits. Here the TLS context is
built in memory instead: CA data goes to ``load_verify_locations(cadata=...)``;
only a client key needs a file (``ssl`` cannot load one from memory), and that
file is private (0600) and deleted as soon as the context has read it.

Every request gets a connect and a read timeout unless the caller gives its
own, the User-Agent is ``vitiweb/<version>``, and the transport does not
retry on its own: retrying is the caller's decision (the reflector has a
backoff; a form submit should fail fast).

A kubeconfig pasted into a form is untrusted: by default its ``exec`` plugins
are refused (they run a command on this machine) and so are its file paths
(``tokenFile: /etc/...`` would send a local file to the server it names).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kubernetes.client
import urllib3
from urllib3.util.ssl_ import create_urllib3_context

from . import user_agent as default_user_agent
from .errors import KubeconfigError
from .kubeconfig import resolve_context


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a TCP+TLS connection and between bytes of a response."""

    connect: float = 5.0
    read: float = 30.0

    def pair(self) -> tuple[float, float]:
        return (self.connect, self.read)


DEFAULT_TIMEOUTS = Timeouts()

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class KubeApiClient(kubernetes.client.ApiClient):
    """An ``ApiClient`` with default timeouts, our User-Agent and an in-memory TLS context.

    ``auth_method`` ("token", "client-certificate", "basic", "exec",
    "auth-provider", "none") lets errors say which credential was rejected.
    """

    def __init__(
        self,
        configuration: kubernetes.client.Configuration,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        auth_method: str = "none",
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str | None = None,
        context_name: str | None = None,
    ):
        super().__init__(configuration)
        self.timeouts = timeouts
        self.auth_method = auth_method
        self.context_name = context_name
        self.user_agent = user_agent or default_user_agent()
        if ssl_context is not None:
            # Every pool the manager creates from now on (one per host) wraps
            # its sockets with this context instead of building one from files.
            self.rest_client.pool_manager.connection_pool_kw["ssl_context"] = ssl_context

    @property
    def server(self) -> str:
        return self.configuration.host

    def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        if _request_timeout is None:
            _request_timeout = self.timeouts.pair()
        return super().call_api(
            method,
            url,
            header_params=header_params,
            body=body,
            post_params=post_params,
            _request_timeout=_request_timeout,
        )

    def __repr__(self) -> str:  # never the credentials
        return f"<KubeApiClient {self.server} auth={self.auth_method}>"


def _no_transport_retries() -> urllib3.Retry:
    return urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0, raise_on_status=False)


def _decode_b64(value: Any, field: str) -> bytes:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    try:
        return base64.b64decode("".join(str(value).split()), validate=True)
    except (binascii.Error, ValueError):
        raise KubeconfigError(f"{field} is not valid base64") from None


def _read_file(path: str, field: str) -> bytes:
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise KubeconfigError(f"{field}: cannot read {path}: {exc.strerror}") from None


def _pem_or_der(data: bytes) -> str | bytes:
    # load_verify_locations takes PEM as str, DER as bytes.
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        return stripped.decode("ascii", "replace")
    return data


def load_client_certificate(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """Load a client certificate and key held in memory into ``context``.

    ``ssl`` reads keys only from files: write both to a private temp file,
    load, and delete it before returning, whatever happens.
    """
    fd, path = tempfile.mkstemp(prefix="vitiweb-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(cert_pem.strip() + b"\n" + key_pem.strip() + b"\n")
        try:
            context.load_cert_chain(path)
        except ssl.SSLError as exc:
            raise KubeconfigError(f"client certificate and key cannot be used: {exc.reason or exc}") from None
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def build_ssl_context(
    *,
    verify: bool = True,
    ca_data: bytes | None = None,
    client_cert: bytes | None = None,
    client_key: bytes | None = None,
    client_cert_file: str | None = None,
    client_key_file: str | None = None,
) -> ssl.SSLContext:
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE)
    if verify:
        if ca_data:
            try:
                context.load_verify_locations(cadata=_pem_or_der(ca_data))
            except (ssl.SSLError, ValueError) as exc:
                raise KubeconfigError(
                    f"certificate authority data cannot be used: {getattr(exc, 'reason', None) or exc}"
                ) from None
        else:
            context.load_default_certs()
    if client_cert and client_key:
        load_client_certificate(context, client_cert, client_key)
    elif client_cert_file and client_key_file:
        try:
            context.load_cert_chain(os.path.expanduser(client_cert_file), os.path.expanduser(client_key_file))
        except (ssl.SSLError, OSError) as exc:
            raise KubeconfigError(
                f"client certificate and key cannot be used: {getattr(exc, 'reason', None) or exc}"
            ) from None
    elif client_cert or client_key or client_cert_file or client_key_file:
        raise KubeconfigError("a client certificate needs both the certificate and its key")
    return context


def api_client_from_kubeconfig(
    kubeconfig: str | bytes | Mapping[str, Any],
    context: str | None = None,
    *,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    allow_exec: bool = False,
    allow_file_references: bool = False,
    user_agent: str | None = None,
) -> KubeApiClient:
    """An ``ApiClient`` for one context of a kubeconfig given as YAML text or a dict.

    Nothing is written to disk except a client key, briefly (see module docstring).
    """
    resolved = resolve_context(kubeconfig, context)
    cluster, user = resolved.cluster, resolved.user
    where_cluster = f"clusters[{resolved.cluster_name}].cluster"
    where_user = f"users[{resolved.user_name}].user"

    def file_allowed(field: str) -> None:
        if not allow_file_references:
            raise KubeconfigError(
                f"{field} names a file on this machine; paste the kubeconfig with the content inlined (*-data fields) instead"
            )

    server = str(cluster["server"]).rstrip("/")
    config = kubernetes.client.Configuration()
    config.host = server
    config.retries = _no_transport_retries()
    if cluster.get("proxy-url"):
        config.proxy = cluster["proxy-url"]
    if cluster.get("tls-server-name"):
        config.tls_server_name = cluster["tls-server-name"]
    verify = not bool(cluster.get("insecure-skip-tls-verify"))
    config.verify_ssl = verify

    ca_data = None
    if cluster.get("certificate-authority-data"):
        ca_data = _decode_b64(cluster["certificate-authority-data"], f"{where_cluster}.certificate-authority-data")
    elif cluster.get("certificate-authority"):
        file_allowed(f"{where_cluster}.certificate-authority")
        ca_data = _read_file(cluster["certificate-authority"], f"{where_cluster}.certificate-authority")

    auth_method = "none"
    client_cert = client_key = None
    cert_file = key_file = None
    token = None

    if user.get("client-certificate-data") or user.get("client-key-data"):
        client_cert = _decode_b64(user.get("client-certificate-data") or "", f"{where_user}.client-certificate-data")
        client_key = _decode_b64(user.get("client-key-data") or "", f"{where_user}.client-key-data")
        auth_method = "client-certificate"
    elif user.get("client-certificate") or user.get("client-key"):
        file_allowed(f"{where_user}.client-certificate")
        cert_file, key_file = user.get("client-certificate"), user.get("client-key")
        auth_method = "client-certificate"

    if isinstance(user.get("auth-provider"), Mapping):
        provider = user["auth-provider"]
        provider_config = provider.get("config") or {}
        token = (
            provider_config.get("id-token") if provider.get("name") == "oidc" else provider_config.get("access-token")
        )
        if not token:
            raise KubeconfigError(
                f"{where_user}.auth-provider {provider.get('name')!r} is not supported without a stored token; use a token or an exec plugin"
            )
        auth_method = "auth-provider"
    elif user.get("token"):
        token = str(user["token"]).strip()
        auth_method = "token"
    elif user.get("tokenFile"):
        file_allowed(f"{where_user}.tokenFile")
        token = _read_file(user["tokenFile"], f"{where_user}.tokenFile").decode().strip()
        auth_method = "token"
    elif isinstance(user.get("exec"), Mapping):
        if not allow_exec:
            raise KubeconfigError(
                f"{where_user}.exec runs a command on this machine and is disabled for this kubeconfig"
            )
        _configure_exec(config, user["exec"], cluster)
        auth_method = "exec"
    elif user.get("username") is not None and user.get("password") is not None:
        basic = urllib3.util.make_headers(basic_auth=f"{user['username']}:{user['password']}")["authorization"]
        config.api_key["authorization"] = basic
        if auth_method == "none":
            auth_method = "basic"

    if token:
        config.api_key["BearerToken"] = f"Bearer {token}"

    ssl_context = None
    if server.startswith("https://"):
        ssl_context = build_ssl_context(
            verify=verify,
            ca_data=ca_data,
            client_cert=client_cert,
            client_key=client_key,
            client_cert_file=cert_file,
            client_key_file=key_file,
        )
    client = KubeApiClient(
        config,
        timeouts=timeouts,
        auth_method=auth_method,
        ssl_context=ssl_context,
        user_agent=user_agent,
        context_name=resolved.name,
    )
    if user.get("as"):
        client.set_default_header("Impersonate-User", str(user["as"]))
    if user.get("as-uid"):
        client.set_default_header("Impersonate-Uid", str(user["as-uid"]))
    groups = user.get("as-groups") or []
    if len(groups) > 1:
        # The API wants one Impersonate-Group header per group; the client's
        # header dict can carry only one, and "a, b" would be one group named so.
        client.close()
        raise KubeconfigError(f"{where_user}.as-groups: impersonating more than one group is not supported")
    if groups:
        client.set_default_header("Impersonate-Group", str(groups[0]))
    return client


def _configure_exec(
    config: kubernetes.client.Configuration, exec_config: Mapping[str, Any], cluster: Mapping[str, Any]
) -> None:
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.exec_provider import ExecProvider
    from kubernetes.config.kube_config import ConfigNode

    provider = ExecProvider(ConfigNode("exec", dict(exec_config)), None, ConfigNode("cluster", dict(cluster)))
    lock = threading.Lock()
    state: dict[str, Any] = {"expiry": None}

    def refresh(force: bool = False) -> None:
        with lock:
            expiry = state["expiry"]
            if not force and expiry is not None and expiry > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30):
                return
            if not force and expiry is None and "BearerToken" in config.api_key:
                return
            try:
                status = provider.run()
            except (ConfigException, OSError) as exc:
                raise KubeconfigError(f"exec credential plugin failed: {exc}") from None
            if "token" not in status:
                raise KubeconfigError(
                    "exec credential plugin returned no token (client certificates from exec are not supported)"
                )
            config.api_key["BearerToken"] = f"Bearer {status['token']}"
            stamp = status.get("expirationTimestamp")
            state["expiry"] = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None

    refresh(force=True)
    config.refresh_api_key_hook = lambda _config: refresh()


def api_client_in_cluster(
    *,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
    environ: Mapping[str, str] | None = None,
    token_reload_seconds: float = 60.0,
    user_agent: str | None = None,
) -> KubeApiClient:
    """An ``ApiClient`` for the cluster this process runs in, with its service account.

    Bound service-account tokens rotate, so the token file is read again every
    ``token_reload_seconds``.
    """
    environ = os.environ if environ is None else environ
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise KubeconfigError(
            "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set"
        )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    token_path = os.path.join(service_account_dir, "token")
    ca_path = os.path.join(service_account_dir, "ca.crt")
    ca_data = _read_file(ca_path, "service account CA")

    config = kubernetes.client.Configuration()
    config.host = f"https://{host}:{port}"
    config.retries = _no_transport_retries()
    config.verify_ssl = True
    lock = threading.Lock()
    loaded = {"at": None}

    def reload(_config=None, force: bool = False) -> None:
        with lock:
            now = time.monotonic()
            if not force and loaded["at"] is not None and now - loaded["at"] < token_reload_seconds:
                return
            token = _read_file(token_path, "service account token").decode().strip()
            if not token:
                raise KubeconfigError("service account token file is empty")
            config.api_key["BearerToken"] = f"Bearer {token}"
            loaded["at"] = now

    reload(force=True)
    config.refresh_api_key_hook = reload
    return KubeApiClient(
        config,
        timeouts=timeouts,
        auth_method="token",
        ssl_context=build_ssl_context(ca_data=ca_data),
        user_agent=user_agent,
        context_name="in-cluster",
    )
