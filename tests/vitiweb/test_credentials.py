"""Credentials in plain text inside specs: dropped by the mirror, masked on the write path.

``ProxmoxConfig.spec.token`` is the one such field of the published API
(FIELDS.md has no other plain-text credential: Secrets are referenced by name).
"""

import json

import pytest

from tests import factories
from vitiweb import credentials
from vitiweb.editing.operations import record
from vitiweb.models import AuditEntry, JournalEntry

TOKEN = "PVE-plain-text-token-42"


def proxmox(token=TOKEN, last_applied=True):
    obj = factories.k8s_object(
        "ProxmoxConfig",
        "pve",
        namespace="",
        spec={"name": "pve", "endpoint": "https://pve.example", "port": "8006", "username": "u@pve", "token": token},
    )
    if last_applied:
        applied = {"apiVersion": obj["apiVersion"], "kind": "ProxmoxConfig", "spec": dict(obj["spec"])}
        obj["metadata"]["annotations"] = {credentials.LAST_APPLIED: json.dumps(applied)}
    return obj


def test_strip_drops_the_token_from_the_spec_and_from_kubectls_last_applied_copy():
    stripped = credentials.strip(proxmox())
    assert "token" not in stripped["spec"]
    assert TOKEN not in json.dumps(stripped)
    assert json.loads(stripped["metadata"]["annotations"][credentials.LAST_APPLIED])["spec"]["endpoint"] == (
        "https://pve.example"
    )


def test_mask_keeps_the_field_visible_as_write_only():
    masked = credentials.mask(proxmox())
    assert masked["spec"]["token"] == credentials.MASK
    assert TOKEN not in json.dumps(masked)


def test_kinds_without_credentials_pass_unchanged():
    machine = factories.k8s_object("Machine", "m", spec={"token": "not a credential of this kind"})
    assert credentials.strip(machine) is machine and credentials.mask(machine) is machine


@pytest.mark.django_db
def test_the_mirror_stores_neither_the_token_nor_a_journal_of_it():
    cluster = factories.make_cluster("pve")
    first = proxmox()
    factories.mirror(cluster, first)
    # The token rotates: an update arrives, and neither token reaches a row or the change journal.
    rotated = proxmox(token="a-new-token")
    rotated["metadata"].update(uid=first["metadata"]["uid"], resourceVersion="2")
    rotated["spec"]["port"] = "8007"
    from vitiweb.kinds import model_for
    from vitiweb.sync.mirror import apply_events

    apply_events(cluster, "ProxmoxConfig", [("MODIFIED", rotated)])
    row = model_for("ProxmoxConfig").objects.get()
    assert row.spec["port"] == "8007" and "token" not in row.spec
    journal = json.dumps(list(JournalEntry.objects.values()), default=str)
    assert TOKEN not in journal and "a-new-token" not in journal and "8007" in journal


@pytest.mark.django_db
def test_an_audited_manifest_holds_the_mask_not_the_token():
    entry = record(None, None, AuditEntry.Action.DRY_RUN, proxmox(last_applied=False), True, message="ok")
    assert TOKEN not in entry.manifest and credentials.MASK in entry.manifest
