"""A list's filter choices come from the indexes, never from a DISTINCT over a mirrored table.

A ``SELECT DISTINCT`` reads every row of the table on every list request: at
500,000 machines that is the whole request's budget. The choices are the
column's values, found by hopping through its index one value at a time.
"""

import re

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from machines.models import Machine
from providers.models import MachineProvider
from tests.factories import fleet, k8s_object, make_cluster, mirror, status, viewer
from vitiweb import registry
from vitiweb.filters import distinct_values
from vitiweb.models import DiscoveredObject, MirroredObject

pytestmark = pytest.mark.django_db

MIRRORED_TABLES = {
    model._meta.db_table for model in apps.get_models() if issubclass(model, MirroredObject) and not model._meta.proxy
}


def distinct_reads_of_mirrored_tables(queries) -> list[str]:
    found = []
    for query in queries:
        sql = query["sql"]
        if re.search(r"\bDISTINCT\b", sql, re.IGNORECASE) and any(f'"{table}"' in sql for table in MIRRORED_TABLES):
            found.append(sql)
    return found


def list_urls() -> list[str]:
    urls = [reverse(declaration.url_name("list")) for declaration in registry.declarations()]
    return [*urls, reverse("discoveredobject_list")]


def test_no_list_page_reads_its_filter_choices_with_a_distinct_over_a_mirrored_table(client):
    client.force_login(viewer())
    fleet()
    for url in list_urls():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        assert distinct_reads_of_mirrored_tables(queries.captured_queries) == [], url


def test_the_filter_choices_are_the_values_present_in_order_without_the_empty_one(client):
    client.force_login(viewer())
    cluster = make_cluster("choices")
    mirror(
        cluster,
        *[
            k8s_object("Machine", f"m-{index}", status=status(phase) if phase else None, spec={"instanceType": kind})
            for index, (phase, kind) in enumerate(
                [("Running", "m5.large"), ("Failed", "c5.xlarge"), ("Running", ""), ("", "m5.large")]
            )
        ],
    )
    assert distinct_values(Machine, "phase") == ["Failed", "Running"]
    assert distinct_values(Machine, "instance_type") == ["c5.xlarge", "m5.large"]

    form = client.get(reverse("machine_list")).context["filter"].form
    assert [value for value, _ in form.fields["phase"].choices][1:] == ["Failed", "Running", "(none)"]
    assert [value for value, _ in form.fields["instance_type"].choices][1:] == ["c5.xlarge", "m5.large"]


def test_choices_of_a_column_in_no_index_are_refused_rather_than_read_with_a_scan_per_value():
    assert distinct_values(MachineProvider, "region") == []  # indexed: read
    assert distinct_values(DiscoveredObject, "kind") == []  # leads the (kind, cluster) index
    with pytest.raises(ImproperlyConfigured, match="index it"):
        distinct_values(Machine, "machine_image")


def test_the_search_over_every_kind_reads_no_filter_choices_it_does_not_draw(client):
    client.force_login(viewer())
    fleet()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("search") + "?q=worker")
    assert response.status_code == 200
    assert [query["sql"] for query in queries.captured_queries if "WITH RECURSIVE" in query["sql"]] == []
