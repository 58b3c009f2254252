"""The production topology, as processes: what the manifests run, started from their own commands.

Two web processes (``DEBUG=0``, daphne), two sync workers, a Celery worker and
beat share PostgreSQL (a database of this test's own) and Redis (db 6), with
the settings of the example overlay's ConfigMap. A browser on web 2 follows
what is applied through the form on web 1; the sync worker holding the
cluster is killed with SIGKILL and the other takes the cluster (and the
derivation of findings) within the lease; a restarted web process's page
reconnects and catches up on what it missed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import psycopg
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import expect

from tests.deploy.manifests import ROOT, containers, of_kind, pod_specs, render
from tests.processes import free_port, wait_for_port
from tests.sync.conftest import EXAMPLES

pytestmark = pytest.mark.e2e

LEASE_SECONDS = 6
BIN = Path(sys.executable).parent


def postgres_admin_url() -> str:
    """The PostgreSQL server the suite uses (CI's), else the one these machines always run on 127.0.0.1:5432."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else "postgres://postgres@127.0.0.1:5432/postgres"


def redis_url() -> str:
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return f"{parts.scheme}://{parts.netloc}/6"


@pytest.fixture
def database():
    """A fresh PostgreSQL database for this test; its URL."""
    admin = dj_database_url.parse(postgres_admin_url())
    name = f"vitiweb_prod_topology_{os.getpid()}"
    params = {
        "host": admin["HOST"] or "127.0.0.1",
        "port": admin["PORT"] or 5432,
        "user": admin["USER"],
        "password": admin["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    password = f":{params['password']}" if params["password"] else ""
    yield f"postgres://{params['user']}{password}@{params['host']}:{params['port']}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Deployment:
    """The example overlay's workloads as local processes; their logs go to files under ``tmp``."""

    def __init__(self, tmp: Path, database_url: str):
        self.tmp = tmp
        documents = render("overlays/example")
        self.specs = pod_specs(documents)
        config = of_kind(documents, "ConfigMap")["vitiweb"]["data"]
        self.env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_ALLOW_ASYNC_UNSAFE",)}
        self.env.update(config)  # DEBUG=0, LOG_FORMAT=json, ...: what the pods get
        # The sandbox cluster serves on loopback, which add_cluster refuses unless allowed.
        self.env["VITIWEB_ALLOW_INTERNAL_ADDRESSES"] = "127.0.0.1"
        self.env.update(
            {
                "ALLOWED_HOSTS": "127.0.0.1",
                "CSRF_TRUSTED_ORIGINS": "",
                # The Secret's keys:
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url(),
                "SECRET_KEY": "topology-test-" + os.urandom(16).hex(),
                "VITIWEB_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
                # The image's environment, with this test's folders for its volumes:
                "DJANGO_SETTINGS_MODULE": "vitiweb.settings",
                "VITIWEB_STATIC_ROOT": str(tmp / "static"),
                "VITIWEB_VAR_DIR": str(tmp / "var"),
                "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
                "HOSTNAME": socket.gethostname(),
            }
        )
        self.processes: dict[str, subprocess.Popen] = {}
        self.web_ports = {"web-1": free_port(), "web-2": free_port()}

    def command(self, workload: str, index: int = 0, **replace: str) -> list[str]:
        """A container's command from the manifests, with this machine's paths and ports."""
        paths = {"/var/lib/vitiweb": str(self.tmp / "var"), "/tmp": str(self.tmp)}
        words = []
        for word in containers(self.specs[workload])[index]["command"]:
            word = replace.get(word, word)
            for container_path, local in paths.items():
                if word.startswith(container_path + "/"):
                    word = local + word[len(container_path) :]
                    break
            words.append(word)
        if words[0] == "python":
            words[0] = sys.executable
        return words

    def run(self, argv: list[str]) -> str:
        done = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"{argv}: {done.stderr[-3000:]}"
        return done.stdout

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        # Logs go to stderr (one JSON object a line); banners to stdout. Files never block a process.
        out = open(self.tmp / f"{name}.out", "a")  # noqa: SIM115 (kept open while the process lives)
        err = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=err)
        return self.processes[name]

    def start_web(self, name: str) -> None:
        argv = self.command("vitiweb-web", **{"0.0.0.0": "127.0.0.1", "8000": str(self.web_ports[name])})
        argv[0] = str(BIN / argv[0])
        self.start(name, argv)
        # Starting Django takes seconds, many more on a loaded machine: wait for the port, not a guess.
        wait_for_port(self.web_ports[name], timeout=120)

    def start_sync(self, name: str) -> None:
        argv = self.command("vitiweb-sync", **{"/tmp/sync-heartbeat": f"/tmp/{name}-heartbeat"})
        # A short lease so the takeover is seen quickly; the manifests keep the default (20 s).
        self.start(name, [*argv, "--name", name, "--lease-seconds", str(LEASE_SECONDS), "--tick-seconds", "1"])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.web_ports[name]}"

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-2500:]}" for path in sorted(self.tmp.glob("*.log")) if path.is_file()
        )


def query(database_url: str, sql: str, *params):
    with psycopg.connect(database_url, autocommit=True) as connection:
        return connection.execute(sql, params).fetchall()


def wait_until(predicate, timeout: float, message: str) -> float:
    """Seconds it took for ``predicate`` to hold."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"{message}: not within {timeout}s"
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture
def deployment(tmp_path, database, sandbox_factory):
    sandbox = sandbox_factory(load=EXAMPLES)
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    (tmp_path / "var").mkdir()
    deployment = Deployment(tmp_path, database)
    deployment.database = database
    # The build, then the release's migrate Job (its first container), then registration.
    deployment.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"])
    deployment.run(deployment.command("vitiweb-migrate", 0))
    password = re.search(r"password: (\S+)", deployment.run([sys.executable, "manage.py", "ensure_admin"])).group(1)
    deployment.password = password
    deployment.run([sys.executable, "manage.py", "add_cluster", "sandbox", "--kubeconfig", str(kubeconfig)])

    try:
        deployment.start_sync("sync-1")
        deployment.start_sync("sync-2")
        deployment.start("worker", deployment.command("vitiweb-worker"))
        deployment.start("beat", deployment.command("vitiweb-beat"))
        deployment.start_web("web-1")
        deployment.start_web("web-2")
        wait_until(
            lambda: query(database, "SELECT count(*) FROM stacks_vitistack")[0][0] > 0,
            timeout=60,
            message="the first sync",
        )
        yield deployment
    finally:
        print(deployment.logs())  # shown when the test fails
        for name in list(deployment.processes):
            deployment.stop(name)


def holder(database_url: str, lease: str = "cluster") -> str:
    if lease == "cluster":
        return query(database_url, "SELECT lease_holder FROM vitiweb_cluster WHERE name = 'sandbox'")[0][0]
    rows = query(database_url, "SELECT holder FROM vitiweb_lease WHERE name = %s", lease)
    return rows[0][0] if rows else ""


def settle_preview(page, text: str) -> None:
    """Leave the field and let the live preview finish: the editor form syncs its requests with
    ``hx-sync="this:replace"``, so a preview fired by the field's change event (as a click on the
    dry-run button blurs it) cancels a dry-run sent at the same moment."""
    page.keyboard.press("Tab")
    expect(page.locator("#preview-yaml")).to_contain_text(text)
    page.wait_for_load_state("networkidle")


def apply_description(page, deployment, detail_path: str, text: str) -> None:
    """Edit the stack's description through the form on web 1: dry-run, then apply."""
    page.goto(deployment.url("web-1") + detail_path + "edit/")
    page.locator('[id="f-spec.description"]').fill(text)
    settle_preview(page, text)
    page.click("#dry-run-button")
    expect(page.locator("#result")).to_contain_text("would be", timeout=15_000)
    page.click("#apply-button")
    expect(page.locator("#result")).to_contain_text("pplied", timeout=15_000)


@pytest.mark.timeout(1200)  # seven processes started, migrated and stopped: minutes on a busy machine
def test_two_web_two_sync_workers_celery_and_beat_serve_one_live_fleet(deployment, browser):
    database = deployment.database
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    form = context.new_page()
    # Sessions live in PostgreSQL: one login serves both web processes (cookies are per host, not port).
    form.goto(deployment.url("web-1") + "/login/")
    form.fill("#id_username", "admin")
    form.fill("#id_password", deployment.password)
    form.click("button[type=submit]")
    form.wait_for_url(deployment.url("web-1") + "/")

    # 1. A stack created through the form on web 1 appears on web 2's list without a reload.
    watcher = context.new_page()
    watcher.goto(deployment.url("web-2") + "/vitistacks/")
    expect(watcher.locator("#live-status")).to_have_attribute("data-state", "up", timeout=10_000)
    watcher.evaluate("window.__notReloaded = true")

    form.goto(deployment.url("web-1") + "/vitistacks/new/")
    form.locator('[id="f-metadata.namespace"]').fill("production")
    form.locator('[id="f-metadata.name"]').fill("topology-test-stack")
    form.locator('[id="f-spec.region"]').fill("eu-north-1")
    form.locator('[id="f-spec.description"]').fill("created through web 1")
    settle_preview(form, "created through web 1")
    form.click("#dry-run-button")
    expect(form.locator("#result")).to_contain_text("would be created", timeout=15_000)
    form.click("#apply-button")
    form.wait_for_selector("#synced-link", timeout=30_000)
    expect(watcher.locator("#results")).to_contain_text("topology-test-stack", timeout=5_000)
    assert watcher.evaluate("window.__notReloaded") is True

    stack_id = query(database, "SELECT id FROM stacks_vitistack WHERE name = 'topology-test-stack'")[0][0]
    detail_path = f"/vitistacks/{stack_id}/"
    watcher.goto(deployment.url("web-2") + detail_path)
    expect(watcher.locator("#live-status")).to_have_attribute("data-state", "up", timeout=10_000)
    watcher.evaluate("window.__notReloaded = true")
    apply_description(form, deployment, detail_path, "edited through web 1")
    expect(watcher.locator("#tab-panel")).to_contain_text("edited through web 1", timeout=5_000)

    # 2. One sync worker holds the cluster; SIGKILL it and the other takes over within the lease.
    first = holder(database)
    assert first in ("sync-1", "sync-2")
    other = "sync-2" if first == "sync-1" else "sync-1"
    derive_holder = holder(database, "derive")
    assert derive_holder in ("sync-1", "sync-2")
    assert query(database, "SELECT count(*) FROM vitiweb_findingsrun")[0][0] >= 1
    deployment.stop(first, signal.SIGKILL)
    took = wait_until(lambda: holder(database) == other, timeout=LEASE_SECONDS + 5, message="the takeover")
    # Expiry plus at most one tick of the other worker (1 s) and the poll.
    assert took <= LEASE_SECONDS + 2.5, took
    wait_until(lambda: holder(database, "derive") == other, timeout=LEASE_SECONDS + 5, message="derive takeover")
    apply_description(form, deployment, detail_path, "synced by the other worker")
    expect(watcher.locator("#tab-panel")).to_contain_text("synced by the other worker", timeout=10_000)
    assert watcher.evaluate("window.__notReloaded") is True

    # 3. Web 2 restarts: its page shows it is down, reconnects, and catches up on what it missed.
    deployment.stop("web-2")
    expect(watcher.locator("#live-status")).to_have_attribute("data-state", "down", timeout=5_000)
    apply_description(form, deployment, detail_path, "changed while web 2 was down")
    deployment.start_web("web-2")
    expect(watcher.locator("#live-status")).to_have_attribute("data-state", "up", timeout=20_000)
    expect(watcher.locator("#tab-panel")).to_contain_text("changed while web 2 was down", timeout=5_000)
    assert watcher.evaluate("window.__notReloaded") is True

    # The probes the manifests declare hold on these processes.
    for name in ("web-1", "web-2"):
        with urllib.request.urlopen(deployment.url(name) + "/readyz", timeout=10) as response:
            assert response.status == 200
    sync_probe = containers(deployment.specs["vitiweb-sync"])[0]["livenessProbe"]["exec"]["command"]
    deployment.run(
        [part.replace("/tmp/sync-heartbeat", str(deployment.tmp / f"{other}-heartbeat")) for part in sync_probe]
    )
    worker_probe = containers(deployment.specs["vitiweb-worker"])[0]["livenessProbe"]["exec"]["command"]
    deployment.run(worker_probe)
    context.close()

    # Operators' logs: every line of every process is one JSON object.
    for path in deployment.tmp.glob("*.log"):
        for line in path.read_text().splitlines():
            assert line.startswith("{"), f"{path.name}: {line}"
