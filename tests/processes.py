"""Running parts of Vitiweb as separate processes against the test database, as production does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]

#: Processes ``manage`` started and ``stop`` has not ended. One left running after its test would go on
#: writing to the test database under the next tests (and hold locks their flush waits for): the
#: suite's conftest stops whatever a test leaves here and fails that test.
running: set[subprocess.Popen] = set()


def database_url() -> str:
    """The URL of the test database this test runs against (committed data only: use transactional tests)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings["HOST"] or "127.0.0.1"
    return f"postgres://{settings['USER']}{password}@{host}:{settings['PORT'] or 5432}/{settings['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, **env: str) -> subprocess.Popen:
    """``manage.py ARGS`` in a new process sharing the test database.

    Its stderr goes to a file, never to a pipe nobody reads: a process that logs more than a
    pipe holds (64 KiB) would block on its next log line, and stop serving or syncing.
    ``output(process)`` reads what it wrote.
    """
    environment = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "vitiweb.settings", **env}
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    process.log = log
    running.add(process)
    return process


def output(process: subprocess.Popen) -> str:
    """What a process started by ``manage`` wrote to stderr so far."""
    process.log.seek(0)
    return process.log.read()


def wait_for_port(port: int, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process for port {port} exited ({process.returncode}):\n{output(process)}")
        time.sleep(0.1)
    detail = f":\n{output(process)}" if process is not None else ""
    raise AssertionError(f"nothing listens on port {port} after {timeout}s{detail}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    running.discard(process)
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
