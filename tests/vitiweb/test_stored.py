"""Derived results stored as JSON text come back as the same objects, without a query."""

from collections import Counter
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from machines.models import Machine
from tests.factories import fleet
from vitiweb import overview, stored
from vitiweb.models import Cluster, OverviewRun

pytestmark = pytest.mark.django_db


def test_plain_values_keep_their_types():
    value = {
        "tuple": (1, "a", None),
        "list": [1.5, True],
        "set": {3, 4},
        "frozen": frozenset({"x"}),
        "counter": Counter({"Running": 2, None: 1}),
        "int keys": {1: "one", 2: "two"},
        "~tilde": "a key that looks like a tag",
        "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "money": Decimal("0.096"),
        "model": Machine,
    }
    back = stored.loads(stored.dumps(value))
    assert back == value
    assert [type(back[key]) for key in value] == [type(item) for item in value.values()]
    assert list(back["int keys"]) == [1, 2]  # order kept (text, not jsonb)


def test_what_cannot_be_stored_is_refused_not_turned_into_text():
    with pytest.raises(TypeError, match="bytes"):
        stored.dumps({"credentials": b"secret"})
    with pytest.raises(TypeError):
        stored.dumps(object())


@dataclass
class Outsider:
    value: int


def test_only_the_projects_dataclasses_are_rebuilt(monkeypatch):
    text = stored.dumps(Outsider(1)).replace(__name__, "json.decoder")
    with pytest.raises(ValueError, match="not a class of this project"):
        stored.loads(text)


def test_the_derived_overview_comes_back_as_the_objects_derived_without_a_query():
    fleet()
    derived = overview.derive_overview()
    text = stored.dumps(derived)
    with CaptureQueriesContext(connection) as queries:
        back = stored.loads(text)
        for summary, original in zip(back["summaries"], derived["summaries"], strict=True):
            assert [getattr(summary, f.name) for f in fields(summary)] == [
                getattr(original, f.name) for f in fields(original)
            ]
            assert summary.urls == original.urls and summary.phase_list == original.phase_list
        rows = zip(back["usages"] + back["usage_others"], derived["usages"] + derived["usage_others"], strict=True)
        for row, original in rows:
            assert row.urls == original.urls and row.stale_names == original.stale_names
            for f in fields(row.bucket):
                assert getattr(row.bucket, f.name) == getattr(original.bucket, f.name), f.name
            if row.bucket.stack is not None:
                assert row.bucket.label == original.bucket.label  # the stack's cluster came along
                assert row.bucket.stack.get_deferred_fields() == original.bucket.stack.get_deferred_fields()
        assert back["attention"] == derived["attention"]  # same models, same primary keys
        for obj, original in zip(back["attention"], derived["attention"], strict=True):
            assert (obj.name, obj.message, obj.phase, obj.cluster.name) == (
                original.name,
                original.message,
                original.phase,
                original.cluster.name,
            )
            assert obj.get_deferred_fields() == original.get_deferred_fields()
        assert [row.reference.pk for row in back["broken"]] == [row.reference.pk for row in derived["broken"]]
        assert [row.other for row in back["broken"]] == [row.other for row in derived["broken"]]
        assert back["figures"] == derived["figures"]
        assert back["kind_counts"] == derived["kind_counts"]
    assert len(queries) == 0


def test_no_credentials_are_stored_with_the_overview():
    data = fleet()
    data.east.set_credentials("kubeconfig-with-a-token")
    data.east.save()
    overview.store_overview("another state")
    assert OverviewRun.objects.first().fingerprint == "another state"
    for cluster in Cluster.objects.all():
        assert cluster.credentials_encrypted is not None
    text = OverviewRun.objects.first().data
    assert "credentials_encrypted" not in text and "discovered_kinds" not in text
