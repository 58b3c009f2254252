"""Errors decoded from `kind: Status` bodies and from what the transport raises."""

from __future__ import annotations

import pickle
import socket
import ssl

import orjson
import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from vitiweb.kube import errors
from vitiweb.kube.errors import ApiStatusError, ApplyConflict, status_error, to_kube_error, transport_error

CONFLICT = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'Apply failed with 2 conflicts: conflict with "kubectl-client-side-apply" using vitistack.io/v1alpha1: .spec.region'
    ', conflict with "ops-controller": .spec.priority',
    "reason": "Conflict",
    "details": {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-client-side-apply" using vitistack.io/v1alpha1',
                "field": ".spec.region",
            },
            {"reason": "FieldManagerConflict", "message": 'conflict with "ops-controller"', "field": ".spec.priority"},
        ]
    },
    "code": 409,
}

INVALID = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "message": 'Vitistack.vitistack.io "prod" is invalid: spec.priority: Invalid value: "high": spec.priority in body must be of type integer',
    "reason": "Invalid",
    "details": {
        "name": "prod",
        "group": "vitistack.io",
        "kind": "Vitistack",
        "causes": [
            {
                "reason": "FieldValueTypeInvalid",
                "message": 'Invalid value: "high": must be of type integer',
                "field": "spec.priority",
            }
        ],
    },
    "code": 422,
}


def test_a_status_body_is_decoded_into_code_reason_message_and_causes():
    error = status_error(422, orjson.dumps(INVALID))
    assert isinstance(error, ApiStatusError)
    assert (error.code, error.reason, error.category) == (422, "Invalid", errors.INVALID)
    assert error.message == INVALID["message"]
    assert error.causes[0].field == "spec.priority"
    assert error.causes[0].reason == "FieldValueTypeInvalid"
    assert error.details["kind"] == "Vitistack"
    assert str(error).startswith('invalid: Vitistack.vitistack.io "prod" is invalid')


def test_an_apply_conflict_names_each_disputed_field_and_its_manager():
    error = status_error(409, orjson.dumps(CONFLICT))
    assert isinstance(error, ApplyConflict)
    assert [(c.field, c.manager) for c in error.conflicts] == [
        (".spec.region", "kubectl-client-side-apply"),
        (".spec.priority", "ops-controller"),
    ]
    assert error.managers == ("kubectl-client-side-apply", "ops-controller")
    assert error.category == errors.CONFLICT


def test_already_exists_is_not_mistaken_for_an_apply_conflict():
    body = {
        "kind": "Status",
        "status": "Failure",
        "reason": "AlreadyExists",
        "message": 'secrets "x" already exists',
        "code": 409,
    }
    error = status_error(409, orjson.dumps(body))
    assert not isinstance(error, ApplyConflict)
    assert error.category == errors.ALREADY_EXISTS
    assert str(error) == 'already exists: secrets "x" already exists'


def test_a_body_that_is_not_a_status_gives_the_status_line_never_the_body():
    # Whatever answered is not an API server: its page may be an internal service's (finding 5 of issue 16).
    error = status_error(502, b"<html>internal admin: secret=hunter2</html>", {"Retry-After": "3"})
    assert (error.code, error.reason, error.category, error.retry_after) == (502, "BadGateway", errors.SERVER, 3.0)
    assert str(error) == "server error (502): Bad Gateway"
    assert error.transient


def test_throttling_carries_retry_after_from_the_header_or_the_status():
    header = status_error(
        429,
        orjson.dumps({"kind": "Status", "code": 429, "reason": "TooManyRequests", "message": "slow down"}),
        {"Retry-After": "2"},
    )
    assert header.retry_after == 2.0 and header.category == errors.THROTTLED and header.transient
    details = ApiStatusError.from_status(
        {"kind": "Status", "code": 429, "reason": "TooManyRequests", "details": {"retryAfterSeconds": 4}}
    )
    assert details.retry_after == 4.0


def test_an_expired_watch_error_event_is_recognised_by_code_or_reason():
    assert (
        ApiStatusError.from_status(
            {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version: 1 (50)"}
        ).category
        == errors.EXPIRED
    )
    assert (
        ApiStatusError.from_status({"kind": "Status", "reason": "Expired", "message": "x"}).category == errors.EXPIRED
    )
    assert ApiStatusError.from_status({"kind": "Status", "code": 410, "reason": "Gone"}).category == errors.EXPIRED


@pytest.mark.parametrize(
    "auth, reason",
    [
        ("token", "unauthorized: the token was rejected"),
        ("client-certificate", "unauthorized: the client certificate was rejected"),
        ("basic", "unauthorized: the username and password were rejected"),
        ("none", "unauthorized: the server requires credentials"),
    ],
)
def test_unauthorized_says_which_credential_was_rejected(auth, reason):
    body = orjson.dumps({"kind": "Status", "code": 401, "reason": "Unauthorized", "message": "Unauthorized"})
    error = status_error(401, body, auth_method=auth)
    assert str(error) == reason
    assert error.category == errors.UNAUTHORIZED and not error.transient


def test_forbidden_keeps_the_servers_message():
    message = 'machines.vitistack.io is forbidden: User "bob" cannot list resource "machines" in API group "vitistack.io" at the cluster scope'
    error = status_error(403, orjson.dumps({"kind": "Status", "code": 403, "reason": "Forbidden", "message": message}))
    assert str(error) == f"forbidden: {message}"


def test_status_errors_survive_pickling():
    error = status_error(409, orjson.dumps(CONFLICT))
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, ApplyConflict) and again.conflicts == error.conflicts and str(again) == str(error)


def test_the_clients_api_exception_is_converted_with_body_and_headers():
    class Response:
        status = 429
        reason = "Too Many Requests"
        data = orjson.dumps({"kind": "Status", "code": 429, "reason": "TooManyRequests", "message": "slow down"})
        headers = {"Retry-After": "5"}

    error = to_kube_error(ApiException(http_resp=Response()))
    assert error.code == 429 and error.retry_after == 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_names_the_server():
    port = _free_port()
    pool = urllib3.PoolManager(retries=urllib3.Retry(0))
    with pytest.raises(Exception) as caught:
        pool.request("GET", f"http://127.0.0.1:{port}/version")
    error = transport_error(caught.value, server=f"https://127.0.0.1:{port}")
    assert str(error) == f"unreachable: connection refused at https://127.0.0.1:{port}"
    assert error.category == errors.UNREACHABLE and error.transient


def test_a_read_timeout_says_how_long_was_waited():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        pool = urllib3.PoolManager(retries=urllib3.Retry(0))
        with pytest.raises(Exception) as caught:
            pool.request("GET", f"http://127.0.0.1:{port}/", timeout=urllib3.Timeout(connect=1, read=0.2))
    error = transport_error(caught.value)
    assert str(error) == "timeout after 0.2s"
    assert error.category == errors.TIMEOUT


def test_an_unknown_certificate_authority_is_named_as_such():
    cause = ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate"
    )
    cause.verify_code = 20
    cause.verify_message = "unable to get local issuer certificate"
    wrapped = urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.SSLError(cause))
    assert str(transport_error(wrapped)) == "TLS: unknown certificate authority"


def test_a_dropped_connection_is_transient():
    error = transport_error(
        urllib3.exceptions.ProtocolError("Connection broken", ConnectionResetError(104, "reset")), server="https://h"
    )
    assert error.category == errors.DROPPED and error.transient
