"""Operator logs: one line per event, JSON on request, with what the event is about, never a secret."""

import json
import logging

import pytest

from vitiweb import logs


def record(message, *args, exc_info=None, **extra):
    rec = logging.LogRecord("vitiweb.sync", logging.WARNING, __file__, 1, message, args, exc_info)
    for key, value in extra.items():
        setattr(rec, key, value)
    logs.ContextFilter().filter(rec)
    return rec


def test_json_lines_carry_the_bound_cluster_kind_and_request_id():
    with logs.bind(cluster="prod-east", kind="Machine"), logs.bind(request_id="r-1"):
        line = logs.JsonFormatter().format(record("watch dropped after %d events", 12))
    entry = json.loads(line)
    assert entry["message"] == "watch dropped after 12 events"
    assert (entry["cluster"], entry["kind"], entry["request_id"]) == ("prod-east", "Machine", "r-1")
    assert entry["level"] == "WARNING" and entry["logger"] == "vitiweb.sync"
    assert "cluster" not in json.loads(logs.JsonFormatter().format(record("outside")))


def test_threads_started_in_a_bound_block_log_with_its_context():
    seen = []
    with logs.bind(cluster="prod-east"):
        thread = logs.thread(lambda: seen.append(logs.current()), name="t", kind="Machine")
    thread.start()
    thread.join()
    assert seen == [{"cluster": "prod-east", "kind": "Machine"}]


def test_a_traceback_stays_on_one_line():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys

        rec = record("failed", exc_info=sys.exc_info())
    plain = logs.PlainFormatter().format(rec)
    assert "\n" not in plain and "ValueError" in plain
    assert "\n" not in logs.JsonFormatter().format(rec)


@pytest.mark.parametrize(
    "message",
    [
        "GET https://10.0.0.1:6443/apis with Authorization: Bearer eyJhbGciOiJSUzI1NiIs.abc-def_123",
        "connecting to postgres://vitiweb:hunter2-pw@db:5432/vitiweb",
        "kubeconfig user {'token': 'sandbox-token-123456', 'client-key-data': 'LS0tLS1CRUdJTg=='}",
        'password="s3cr3t-value" accepted',
    ],
)
def test_secrets_never_reach_a_line(message):
    for formatter in (logs.PlainFormatter(), logs.JsonFormatter()):
        line = formatter.format(record(message))
        for secret in ("eyJhbGciOiJSUzI1NiIs", "hunter2-pw", "sandbox-token-123456", "LS0tLS1CRUdJTg", "s3cr3t-value"):
            assert secret not in line
        assert "[redacted]" in line


def test_the_configured_keys_are_redacted_wherever_they_appear(monkeypatch):
    monkeypatch.setenv("VITIWEB_CREDENTIALS_KEYS", "first-fernet-key-abcdef,second-fernet-key-123456")
    line = logs.JsonFormatter().format(record("rotating from %s", "second-fernet-key-123456"))
    assert "second-fernet-key-123456" not in line and "[redacted]" in line
