"""Logs for operators: one line per event, plain or JSON (``LOG_FORMAT=json``), never a secret.

Each line carries what it is about, where that applies: the ``request_id`` of
the HTTP request being served, the ``cluster`` and ``kind`` being synced.
They are bound with ``bind(...)`` for a block of code and inherited by the
threads that code starts with ``thread(...)``; ``ContextFilter`` puts them on
every record. Whatever a message holds, ``redact`` removes bearer tokens,
passwords in URLs, ``key: value`` pairs whose key names a secret, and the
configured keys themselves before the line is written.

No Django here: the Kubernetes access layer logs through it too.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import orjson

FIELDS = ("request_id", "cluster", "kind")
_context: dict[str, contextvars.ContextVar[str]] = {name: contextvars.ContextVar(name, default="") for name in FIELDS}


@contextmanager
def bind(**values: str) -> Iterator[None]:
    """Attach ``request_id``, ``cluster`` or ``kind`` to every line logged in this block."""
    tokens = [(_context[name], _context[name].set(str(value))) for name, value in values.items() if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> dict[str, str]:
    return {name: var.get() for name, var in _context.items() if var.get()}


def thread(target: Callable, *, name: str, **bound: str) -> threading.Thread:
    """A daemon thread that logs with the starter's context, plus ``bound``."""
    context = contextvars.copy_context()

    def run():
        with bind(**bound):
            target()

    return threading.Thread(target=context.run, args=(run,), name=name, daemon=True)


# -- redaction ---------------------------------------------------------------------------------------

_SECRET_KEYS = (
    r"password|passwd|token|secret|secret_key|api[_-]?key|client[_-]?key[_-]?data|"
    r"client[_-]?certificate[_-]?data|authorization|credentials?"
)
_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 [redacted]"),
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1[redacted]@"),
    (
        re.compile(rf"(?i)([\"']?(?:{_SECRET_KEYS})[\"']?\s*[:=]\s*)([\"']?)[^\s\"',}}]+"),
        r"\1\2[redacted]",
    ),
]


def _configured_secrets() -> list[str]:
    values = [os.environ.get("SECRET_KEY", "")]
    values += os.environ.get("VITIWEB_CREDENTIALS_KEYS", "").split(",")
    return [value.strip() for value in values if len(value.strip()) >= 8]


def redact(text: str) -> str:
    for secret in _configured_secrets():
        text = text.replace(secret, "[redacted]")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# -- logging plumbing (named in settings.LOGGING) ------------------------------------------------------


class ContextFilter(logging.Filter):
    """Puts the bound request id, cluster and kind on each record (``extra=`` given ones win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not getattr(record, name, ""):
                setattr(record, name, value)
        return True


class PlainFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        about = " ".join(f"{name}={getattr(record, name)}" for name in FIELDS if getattr(record, name, ""))
        # One event, one line: tracebacks are folded so collectors never split them.
        return redact(f"{line} [{about}]" if about else line).replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in FIELDS:
            if getattr(record, name, ""):
                entry[name] = str(getattr(record, name))
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()
