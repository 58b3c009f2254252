"""Values only one process knows (its open websockets), written where /metrics in any process can add them up.

Each process keeps its own count in memory and writes it, with a heartbeat,
to its `ProcessGauge` row; /metrics sums the rows refreshed recently, so a
process that died stops counting after `metrics.PROCESS_STALE`.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from vitiweb.monitoring.models import ProcessGauge

PROCESS = f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"
HEARTBEAT = 60.0

_lock = threading.Lock()
_values: dict[str, float] = {}
_written: dict[str, float] = {}


def adjust(name: str, delta: float) -> None:
    """Change this process's value by ``delta`` and write it (call from a thread that may use the ORM)."""
    with _lock:
        _values[name] = _values.get(name, 0.0) + delta
        value = _values[name]
    _write(name, value)


def heartbeat(name: str) -> None:
    """Refresh the row at most once per ``HEARTBEAT`` seconds so a live process keeps counting."""
    with _lock:
        if time.monotonic() - _written.get(name, 0.0) < HEARTBEAT:
            return
        value = _values.get(name, 0.0)
    _write(name, value)


def _write(name: str, value: float) -> None:
    _written[name] = time.monotonic()
    ProcessGauge.objects.update_or_create(process=PROCESS, name=name, defaults={"value": value})
